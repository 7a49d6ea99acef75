"""The Airflow plugin of the inventory: the read-only inventory API (FastAPI, mounted under
``/inventory``) and the "Inventory" page in Airflow's navigation (an external view framing the API's
``/inventory/ui/``). The app itself lives in the library, ``inventory.api``; building it touches no
database or network (every request opens the published store read-only).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from inventory.api.app import create_app

URL_PREFIX = "/inventory"


class InventoryPlugin(AirflowPlugin):
    name = "inventory"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Inventory API"}]
    external_views = [{
        "name": "Inventory",
        "href": f"{URL_PREFIX}/ui/",
        "url_route": "inventory",
        "destination": "nav",
        "category": "browse",
    }]
