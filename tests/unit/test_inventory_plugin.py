"""The Airflow plugin: Airflow's own plugin manager loads plugins/inventory_plugin.py (and nothing of
the library package, which .airflowignore keeps out), and the api-server's own mounting code puts the
inventory API under /inventory, where it serves the API and the Inventory page."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from inventory.publish import publish
from tests.unit import publish_scenarios as sc


@pytest.fixture
def airflow_plugins():
    from airflow import plugins_manager

    caches = [plugins_manager._get_plugins, plugins_manager._get_ui_plugins, plugins_manager.get_fastapi_plugins]
    for cached in caches:
        cached.cache_clear()
    yield plugins_manager
    for cached in caches:
        cached.cache_clear()


def test_plugin_manager_loads_the_inventory_plugin(airflow_plugins):
    plugins, errors = airflow_plugins._get_plugins()
    assert not errors, errors
    [plugin] = [p for p in plugins if p.name == "inventory"]
    assert [a["url_prefix"] for a in plugin.fastapi_apps] == ["/inventory"]
    external_views, _ = airflow_plugins._get_ui_plugins()
    [view] = [v for v in external_views if v["url_route"] == "inventory"]
    assert view["name"] == "Inventory" and view["href"] == "/inventory/ui/" and view["destination"] == "nav"
    # The library package is never imported file by file (its http.py would shadow the standard library).
    import http

    assert hasattr(http, "HTTPStatus")


def test_api_server_mounts_the_app_under_inventory(airflow_plugins, data_dir):
    from airflow.api_fastapi.app import init_plugins

    sc.make_batch("gem-a", "run1", datasets=[sc.dataset("gem-a", i) for i in range(3)], quarantine=[])
    publish()
    app = FastAPI()
    init_plugins(app)
    client = TestClient(app)
    assert client.get("/inventory/datasets").json()["total"] == 3
    page = client.get("/inventory/ui/")
    assert page.status_code == 200 and "<h1>Inventory</h1>" in page.text
    assert client.get("/inventory/openapi.json").json()["info"]["title"] == "One Government Inventory API"
