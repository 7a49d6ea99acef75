"""A secret in a source's Airflow connection goes to the agency and nowhere else.

Three sources on the hostile server need credentials (it answers 401 without them, so the test
cannot pass by not sending them): an API key in a header, HTTP basic auth, and OAuth2 client
credentials (the token is a secret too). After a harvest, validation and publish (and, in the e2e
variant, ``dag.test()`` runs of the harvest and publish DAGs), every place the pipeline writes is
searched for each secret: logs (caplog, stdout/stderr, Airflow's log folder), XCom (the task return
values in Airflow's metadata database), the landing zone (bodies and stored headers), staging, the
store and the exports.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from pathlib import Path

import duckdb
import pytest

from tests.faults.conftest import FAULTY_RUN, PACKAGES, ckan_listing
from tests.faults.hostile_server import Reply, Request

API_KEY = f"key-{secrets.token_hex(12)}"
BASIC_PASSWORD = f"pw-{secrets.token_hex(12)}"
CLIENT_SECRET = f"cs-{secrets.token_hex(12)}"
ACCESS_TOKEN = f"at-{secrets.token_hex(12)}"
SECRETS = (API_KEY, BASIC_PASSWORD, CLIENT_SECRET, ACCESS_TOKEN)


def guarded(check):
    """The CKAN listing, but 401 unless ``check(request)`` accepts the credentials."""
    listing = ckan_listing(PACKAGES)
    return lambda req: listing(req) if check(req) else Reply(401, b'{"error": "unauthorised"}')


def token_endpoint(req: Request) -> Reply:
    form = req.body.decode()
    if f"client_secret={CLIENT_SECRET}" not in form:
        return Reply(401, b'{"error": "invalid_client"}')
    return Reply(200, json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300}).encode())


@pytest.fixture
def secured(inventory, hostile, monkeypatch):
    """Three sources whose connections hold the secrets, and a server that insists on them."""
    basic = "Basic " + base64.b64encode(f"harvester:{BASIC_PASSWORD}".encode()).decode()
    hostile.route("/key/api/3/action/package_search", guarded(lambda r: r.headers.get("X-Gemeente-Key") == API_KEY))
    hostile.route("/basic/api/3/action/package_search", guarded(lambda r: r.headers.get("Authorization") == basic))
    hostile.route("/oauth/api/3/action/package_search", guarded(lambda r: r.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}"))
    hostile.route("/oauth/token", token_endpoint)
    connections = {
        "gemeente_key": {"conn_type": "http", "password": API_KEY, "extra": {"api_key_header": "X-Gemeente-Key"}},
        "gemeente_basic": {"conn_type": "http", "login": "harvester", "password": BASIC_PASSWORD},
        "gemeente_oauth": {"conn_type": "http", "login": "inventory", "password": CLIENT_SECRET,
                           "extra": {"token_url": f"{hostile.url}/oauth/token", "scope": "catalog:read"}},
    }
    for conn_id, fields in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
    ids = {"secured-key": ("/key/api/3/action/", "gemeente_key"), "secured-basic": ("/basic/api/3/action/", "gemeente_basic"),
           "secured-oauth": ("/oauth/api/3/action/", "gemeente_oauth")}
    for source_id, (path, conn_id) in ids.items():
        inventory.add_source(source_id, "ckan", path, conn_id=conn_id, rows=2)
    return list(ids)


def _store_text(data_dir: Path) -> str:
    """Every table of the DuckDB store as text (its file may compress strings)."""
    con = duckdb.connect(str(data_dir / "inventory.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(json.dumps(con.execute(f'SELECT * FROM "{t}"').fetchall(), default=str) for t in tables)
    finally:
        con.close()


def assert_nowhere(secret_places: dict[str, bytes | str]) -> None:
    for where, content in secret_places.items():
        blob = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
        for secret in SECRETS:
            assert secret.encode() not in blob, f"a secret leaked into {where}"


def _files_under(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}


def test_secrets_appear_nowhere_the_pipeline_writes(inventory, hostile, secured, data_dir, caplog, capfd):
    from inventory import pipeline

    caplog.set_level(logging.DEBUG)
    returned = {}
    for source_id in secured:
        returned[source_id] = pipeline.harvest(source_id, FAULTY_RUN)  # what the Airflow task returns (XCom)
        assert returned[source_id]["status"] == "complete", returned[source_id]["message"]
        returned[f"{source_id}.validate"] = pipeline.validate(source_id, FAULTY_RUN, build_docs=False)
    returned["publish"] = pipeline.publish()
    assert {k: v["status"] for k, v in returned.items() if k in secured} == dict.fromkeys(secured, "complete")
    assert hostile.hits_on("/oauth/token") == 1

    out, err = capfd.readouterr()
    places: dict[str, bytes | str] = {"caplog": caplog.text, "stdout": out, "stderr": err,
                                      "task return values (XCom)": json.dumps(returned, default=str),
                                      "store tables": _store_text(data_dir)}
    places.update(_files_under(data_dir))  # landing bodies and .json (stored headers), staging, store, exports
    assert any("/landing/secured-key/" in p for p in places) and any("/exports/" in p for p in places)
    assert_nowhere(places)


@pytest.mark.e2e
def test_secrets_appear_nowhere_in_a_dag_test_run(inventory, hostile, secured, data_dir, caplog, capfd):
    """The same through Airflow: dag.test() of the harvest and publish DAGs, then Airflow's own
    database (XCom, rendered fields, task instances) and log folder are searched too."""
    import os

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import initdb

    from tests.conftest import PROJECT

    initdb()
    caplog.set_level(logging.DEBUG)
    bag = DagBag(dag_folder=str(PROJECT / "dags"))
    assert bag.import_errors == {}
    for dag_id in ("harvest_catalogues", "publish_inventory"):
        run = bag.dags[dag_id].test()
        assert run.state == "success", f"{dag_id} ended {run.state}"
    for source_id in secured:
        assert inventory.harvest_run(source_id, _latest_run(data_dir, source_id))["status"] == "complete"

    airflow_home = Path(os.environ["AIRFLOW_HOME"])
    out, err = capfd.readouterr()
    places: dict[str, bytes | str] = {"caplog": caplog.text, "stdout": out, "stderr": err, "store tables": _store_text(data_dir)}
    places.update(_files_under(data_dir))
    places.update(_files_under(airflow_home))  # airflow.db (XCom, task instances) and the task logs
    xcom = _xcom_values()
    assert any(source_id in xcom for source_id in secured), "the harvest tasks' XCom was found and searched"
    places["xcom"] = xcom
    assert_nowhere(places)


def _latest_run(data_dir: Path, source_id: str) -> str:
    con = duckdb.connect(str(data_dir / "inventory.duckdb"), read_only=True)
    try:
        return con.execute("SELECT run_id FROM harvest_runs WHERE source_id = ? ORDER BY started_at DESC LIMIT 1",
                           [source_id]).fetchone()[0]
    finally:
        con.close()


def _xcom_values() -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return json.dumps([row.value for row in session.query(XComModel).all()], default=str)
