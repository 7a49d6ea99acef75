"""DAG integrity: the DAG files import cleanly, touch no network, database or connection while being
parsed, and carry what operators rely on (docs, tags, retries, mapped tasks named by source)."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import PROJECT

DAG_IDS = {"harvest_catalogues", "harvest_algorithm_registers", "publish_inventory"}


class _NoNetwork(AssertionError):
    pass


@pytest.fixture
def dagbag(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise _NoNetwork(f"a DAG file opened a network connection while being parsed: {args!r}")

    # Parsing must not reach out: no sockets, no DNS, no Airflow connections.
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from airflow.sdk import BaseHook

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, *a, **k: refuse("connection", a)))
    return DagBag(dag_folder=str(PROJECT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


def test_every_dag_has_docs_tags_and_retries(dagbag):
    for dag_id in DAG_IDS:
        dag = dagbag.dags[dag_id]
        assert dag.doc_md and dag.doc_md.lstrip().startswith(f"# {dag_id}"), dag_id
        assert "inventory" in dag.tags, dag_id
        for t in dag.tasks:
            assert t.retries is not None, (dag_id, t.task_id)
        harvest_like = [t for t in dag.tasks if t.task_id.endswith(("harvest", "publish"))]
        assert harvest_like and all(t.retries >= 2 and t.retry_exponential_backoff for t in harvest_like), dag_id


def test_harvest_tasks_are_mapped_per_source_and_named_by_source(dagbag):
    from inventory.config import load_sources
    from inventory.sources import CATALOGUE_KINDS

    dag = dagbag.dags["harvest_catalogues"]
    harvest = dag.get_task("source.harvest")
    assert harvest.map_index_template == "{{ source_id }}"
    catalogue_ids = [s.id for s in load_sources() if s.kind in CATALOGUE_KINDS]
    group = dag.task_group_dict["source"]
    assert group._expand_input.value["source_id"] == catalogue_ids
    validate = dag.get_task("source.validate")
    assert validate.trigger_rule == "all_done"  # a failed harvest must still reach harvest_runs


def test_publish_is_scheduled_on_the_harvest_assets(dagbag):
    from inventory.assets import PUBLISHED_INVENTORY, STAGED_ALGORITHM_REGISTERS, STAGED_CATALOGUES

    publish = dagbag.dags["publish_inventory"]
    scheduled = {a.uri for a in publish.timetable.asset_condition.objects}
    assert scheduled == {STAGED_CATALOGUES.uri, STAGED_ALGORITHM_REGISTERS.uri}
    outlets = {o.uri for o in publish.get_task("publish").outlets}
    assert outlets == {PUBLISHED_INVENTORY.uri}
    for dag_id, asset in (("harvest_catalogues", STAGED_CATALOGUES), ("harvest_algorithm_registers", STAGED_ALGORITHM_REGISTERS)):
        assert {o.uri for o in dagbag.dags[dag_id].get_task("announce").outlets} == {asset.uri}


def test_malformed_sources_file_is_one_clear_import_error(tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - {id: cbs, kind: ckan, url: 'https://cbs.example/', rowz: 5}\n", encoding="utf-8")
    monkeypatch.setenv("INVENTORY_SOURCES", str(bad))
    bag = DagBag(dag_folder=str(PROJECT / "dags" / "harvest_catalogues.py"))
    (error,) = bag.import_errors.values()
    assert "source #1 ('cbs'), field 'rowz': is not a known field" in error
    # The sentence, not a deep traceback through pydantic and the library.
    assert "pydantic" not in error and "config.py" not in error


def test_dag_files_hold_no_business_logic():
    """Thin DAGs: no HTTP, SQL or file handling in dags/ itself."""
    for path in (PROJECT / "dags").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("import requests", "import duckdb", "import psycopg", "open(", "great_expectations"):
            assert forbidden not in text, f"{path.name} contains {forbidden!r}"


def test_failed_and_held_sources_alert_the_operators(dagbag):
    """The check tasks that fail on a failed, partial or held source carry the inventory notifier."""
    from inventory.notify import InventoryNotifier

    checks = {"harvest_catalogues": "check_sources", "harvest_algorithm_registers": "check_sources",
              "publish_inventory": "check_published"}
    for dag_id, task_id in checks.items():
        callbacks = dagbag.dags[dag_id].get_task(task_id).on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(isinstance(cb, InventoryNotifier) for cb in callbacks), dag_id
