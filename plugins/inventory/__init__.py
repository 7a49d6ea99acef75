"""One Government Inventory: harvest, validate and publish the inventory of Dutch government
datasets, data services and algorithms. Plain Python; the Airflow DAGs in ``dags/`` only wire it."""

__version__ = "0.1.0"
