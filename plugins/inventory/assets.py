"""The Airflow assets that connect the DAGs (data-aware scheduling).

Harvest DAGs update a staging asset when their batches are validated; ``publish_inventory`` is
scheduled on those and updates the published inventory asset. Defined once here so that producer
and consumer can never disagree on a name.
"""

from __future__ import annotations

from airflow.sdk import Asset

STAGED_CATALOGUES = Asset("inventory://staging/catalogues", group="inventory")
STAGED_ALGORITHM_REGISTERS = Asset("inventory://staging/algorithm-registers", group="inventory")
PUBLISHED_INVENTORY = Asset("inventory://published/inventory", group="inventory")
