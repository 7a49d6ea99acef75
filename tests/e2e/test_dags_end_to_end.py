"""End to end: the three DAGs run with ``dag.test()`` against the sample agencies, then the
published DuckDB tables, exports, Data Docs and harvest_runs are checked."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def airflow_db():
    """Airflow's metadata database (SQLite in the session's AIRFLOW_HOME), migrated once."""
    from airflow.utils.db import initdb

    initdb()


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT / "dags"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def test_harvest_and_publish_the_sample_agencies(airflow_db, sample_agencies, data_dir, monkeypatch):
    monkeypatch.setenv("INVENTORY_SOURCES", str(PROJECT / "config" / "sources.demo.yaml"))
    for dag_id in ("harvest_catalogues", "harvest_algorithm_registers", "publish_inventory"):
        run = load_dag(dag_id).test()
        assert run.state == "success", f"{dag_id} ended {run.state}"
        states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
        assert all(state == "success" for state in states.values()), states
        if dag_id == "harvest_catalogues":
            # One mapped harvest per catalogue source, named by its source id.
            from inventory.config import load_sources
            from inventory.sources import CATALOGUE_KINDS

            names = sorted(ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "source.harvest")
            assert names == sorted(s.id for s in load_sources() if s.kind in CATALOGUE_KINDS)

    con = duckdb.connect(str(data_dir / "inventory.duckdb"), read_only=True)
    counts = dict(con.execute("SELECT source_id, count(*) FROM datasets GROUP BY ALL").fetchall())
    assert counts["national-portal"] > 250 and counts["gemeente-utrecht"] > 50
    assert con.execute("SELECT count(*) FROM algorithms").fetchone()[0] > 25
    assert con.execute("SELECT count(*) FROM distributions").fetchone()[0] > counts["national-portal"]
    runs = {r[0]: r[1:] for r in con.execute("SELECT source_id, status, records_reported, records_received, message FROM harvest_runs").fetchall()}
    from inventory.config import load_sources

    assert set(runs) == {s.id for s in load_sources()}
    assert all(status == "complete" for status, *_ in runs.values()), runs
    # Every uid unique, every record carries its provenance.
    assert con.execute("SELECT count(*) = count(DISTINCT dataset_uid) FROM datasets").fetchone()[0]
    assert con.execute("SELECT count(*) FROM datasets WHERE raw_sha256 IS NULL OR run_id IS NULL OR harvested_at IS NULL").fetchone()[0] == 0

    # The fixtures' deliberately bad records are in quarantine with the reason, not in the tables.
    quarantined = con.execute("SELECT source_id, expectation, observed_value, reason FROM quarantine").fetchall()
    expectations = {(s, e) for s, e, _, _ in quarantined}
    assert ("national-portal", "expect_column_values_to_be_in_set") in expectations  # the unknown licence
    assert ("national-portal", "expect_column_values_to_not_be_in_the_future") in expectations
    assert ("national-portal", "record_id_unique_in_listing") in expectations
    assert ("algoritmeregister", "lars_check_digit") in expectations
    assert any(o == "licentie-onbekend-xyz" for s, e, o, _ in quarantined)
    assert all(reason for *_, reason in quarantined)
    assert con.execute("SELECT count(*) FROM datasets WHERE license = 'licentie-onbekend-xyz'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM algorithms WHERE source_record_id = '50761814'").fetchone()[0] == 0
    # The API register (harvested with the API key of its Airflow connection): its data services, and its mess
    # in quarantine (a detail that answers 404, an out-of-range API Design Rules score).
    services = dict(con.execute("SELECT source_record_id, lifecycle_status FROM data_services WHERE source_id = 'developer-overheid-nl'").fetchall())
    assert len(services) == 22 and services["rvig0BRP1"] == "active" and services["gm0518OBJ"] == "sunset"
    assert ("developer-overheid-nl", "detail_available") in expectations
    assert ("developer-overheid-nl", "expect_column_values_to_be_between") in expectations
    con.close()

    latest = data_dir / "exports" / "latest"
    for table in ("datasets", "distributions", "data_services", "algorithms", "quarantine", "harvest_runs"):
        assert (latest / f"{table}.parquet").exists() and (latest / f"{table}.csv").exists(), table
    assert (data_dir / "reports" / "data_docs" / "index.html").exists()
    assert any((data_dir / "landing" / "national-portal").rglob("*.body"))


def test_a_failed_source_keeps_its_records_and_fails_the_run(airflow_db, sample_agencies, data_dir, tmp_path, monkeypatch):
    """The second run cannot reach one agency: its previous records stay, the run says why."""
    def sources_file(name: str, prefix: str, options: str) -> str:
        path = tmp_path / name
        path.write_text(
            f"sources:\n  - id: gemeente-utrecht\n    kind: ckan\n"
            f"    url: {sample_agencies.url}{prefix}/ckan/gemeente-utrecht/api/3/action/\n"
            f"    allow_private_network: true\n    options: {options}\n",
            encoding="utf-8",
        )
        return str(path)

    good = sources_file("good.yaml", "", "{rows: 25}")
    broken = sources_file("broken.yaml", "/faults/always-500", "{rows: 25, retries: 1, backoff_factor: 0.01}")

    monkeypatch.setenv("INVENTORY_SOURCES", good)
    assert load_dag("harvest_catalogues").test().state == "success"
    assert load_dag("publish_inventory").test().state == "success"
    con = duckdb.connect(str(data_dir / "inventory.duckdb"), read_only=True)
    before = con.execute("SELECT count(*) FROM datasets").fetchone()[0]
    con.close()

    monkeypatch.setenv("INVENTORY_SOURCES", broken)
    dag = load_dag("harvest_catalogues")
    for task in dag.tasks:
        task.retries = 0  # dag.test() would otherwise wait out the retry delays
    run = dag.test()
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["source.harvest"] == "failed" and states["source.validate"] == "success"
    assert states["announce"] == "success" and states["check_sources"] == "failed"
    assert load_dag("publish_inventory").test().state == "success"

    con = duckdb.connect(str(data_dir / "inventory.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM datasets").fetchone()[0] == before
    status, message = con.execute(
        "SELECT status, message FROM harvest_runs WHERE source_id = 'gemeente-utrecht' ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    con.close()
    assert status == "failed"
    assert "Previous records are kept" in message and "500" in message
