"""Shared test set-up: Airflow and the inventory point at throw-away folders, never at the project's.

Set before anything imports Airflow: AIRFLOW_HOME (SQLite metadata DB, logs) lives in a temporary
folder for the whole session, and every test gets its own INVENTORY_DATA_DIR.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

_airflow_home = Path(tempfile.mkdtemp(prefix="inventory-tests-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_airflow_home)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_airflow_home / 'airflow.db'}"
os.environ.setdefault("INVENTORY_SOURCES", str(PROJECT / "config" / "sources.demo.yaml"))
os.environ.pop("INVENTORY_STORE", None)
# Link checks would reach the catalogues' real URLs: tests that check links pass their own settings.
os.environ["INVENTORY_LINK_CHECKS"] = "off"
# The demo sources' API register needs an API key from this Airflow connection (as scripts/sample-agencies.sh sets it).
os.environ.setdefault("AIRFLOW_CONN_API_REGISTER_DEMO", '{"conn_type": "http", "password": "demo-register-key"}')


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    """Each test writes its landing zone, staging, store and exports under its own folder."""
    path = tmp_path / "data"
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def sample_agencies():
    """The bundled sample agencies, served on a free local port for the whole session."""
    from inventory.demo.sample_agencies import SampleAgencies

    with SampleAgencies() as agencies:
        os.environ["SAMPLE_AGENCIES_URL"] = agencies.url
        yield agencies
    os.environ.pop("SAMPLE_AGENCIES_URL", None)
