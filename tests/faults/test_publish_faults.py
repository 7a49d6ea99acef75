"""Publish faults: an empty listing from a source that had 1,000 records, and a crash of the publish
step half-way. Each test asserts what the run recorded and that the previously published inventory
(store and the exports' latest release) is intact and unchanged.

The catalogue is served by a local CKAN ``package_search`` endpoint on 127.0.0.1 whose packages are
the benchmark's synthetic data.overheid.nl packages (DCAT-AP-DONL 1.1, see
``inventory.demo.generated``); the crash is a real one: the publishing process is killed (``os._exit``)
in the middle of its transaction, without any chance to roll back or clean up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq
import pytest

from inventory import model, settings
from inventory.cli import main
from inventory.demo import generated
from inventory.publish import exports, open_store, publish, read_summary, release
from tests.unit import publish_scenarios as sc
from tests.unit.local_sinks import SmtpSink, WebhookSink
from tests.unit.test_publish_postgres import pg_database, pg_env  # noqa: F401 - fixtures

PROJECT = Path(__file__).resolve().parents[2]


class Catalogue:
    """A CKAN catalogue of ``size`` synthetic packages that can be told to answer an empty listing
    (``count: 0``, no results): what a misconfigured or half-migrated portal really sends."""

    def __init__(self, size: int):
        self.size = size
        self.empty = False
        catalogue = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if not parts.path.endswith("/package_search"):
                    self.send_error(404)
                    return
                count = 0 if catalogue.empty else catalogue.size
                start, rows = int(params.get("start", 0)), int(params.get("rows", 10))
                packages = generated.render_many(range(start, min(start + rows, count)))
                body = ('{"help": "package_search", "success": true, "result": {"count": %d, "sort": "id asc", '
                        '"facets": {}, "results": [%s], "search_facets": {}}}' % (count, ",".join(packages))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/3/action/"

    def __enter__(self) -> "Catalogue":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def datasets_snapshot() -> dict[str, tuple]:
    names = ", ".join(f'"{n}"' for n in model.DATASETS.names)
    with open_store() as st:
        return {r[0]: r for r in st.fetchall(f'SELECT {names} FROM "datasets" ORDER BY "dataset_uid"')}


def latest_datasets() -> list[dict]:
    return sorted(pq.read_table(settings.exports_dir() / "latest" / "datasets.parquet").to_pylist(),
                  key=lambda r: r["dataset_uid"])


def test_empty_listing_from_a_source_that_had_1000_records(tmp_path, monkeypatch, capsys):
    with Catalogue(1000) as catalogue, SmtpSink() as smtp, WebhookSink() as hook:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n  - id: gemeente-voorbeeld\n    kind: ckan\n"
            f"    url: {catalogue.url}\n    allow_private_network: true\n    options: {{rows: 500, retries: 0}}\n",
            encoding="utf-8")
        notifications = tmp_path / "notifications.yaml"
        notifications.write_text(
            "email: {to: [datateam@example.nl], conn_id: smtp_faults}\n"
            "webhook: {conn_id: webhook_faults, allow_private_network: true}\n", encoding="utf-8")
        monkeypatch.setenv("INVENTORY_SOURCES", str(sources))
        monkeypatch.setenv("INVENTORY_NOTIFICATIONS", str(notifications))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_FAULTS", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
            "extra": {"from_email": "inventory@example.nl", "disable_ssl": True, "disable_tls": True, "retry_limit": 0}}))
        monkeypatch.setenv("AIRFLOW_CONN_WEBHOOK_FAULTS", json.dumps({"conn_type": "http", "host": hook.url}))

        assert main(["run", "--run-id", "faults-1"]) == 0
        capsys.readouterr()
        before = datasets_snapshot()
        exported_before = latest_datasets()
        assert len(before) == 1000 and len(exported_before) == 1000
        assert smtp.messages == [] and hook.requests == []

        catalogue.empty = True  # the next day the portal answers an empty listing
        assert main(["run", "--run-id", "faults-2"]) == 1

    err = capsys.readouterr().err
    assert "Held for review" in err and "gemeente-voorbeeld" in err
    # What the run recorded, in plain words
    [row] = read_summary()
    assert (row["run_id"], row["status"], row["records_received"]) == ("faults-2", "held", 0)
    assert "would withdraw 1,000 of the 1,000 published datasets (100%)" in row["message"]
    assert "more than the 10% allowed" in row["message"]
    assert "inventory release gemeente-voorbeeld faults-2" in row["message"]
    assert (row["added"], row["changed"], row["removed"]) == (0, 0, 0)
    # The previous inventory is intact and unchanged, in the store and in the exports
    assert datasets_snapshot() == before
    assert latest_datasets() == exported_before
    with open_store() as st:
        assert st.scalar('SELECT count(*) FROM "changes" WHERE "run_id" = ?', ["faults-2"]) == 0
        assert st.scalar('SELECT count(*) FROM "datasets_withdrawn"') == 0
        assert st.scalar('SELECT count(*) FROM "datasets_history" WHERE "valid_to" IS NULL') == 1000
    # The operators were alerted, by e-mail and webhook
    [mail] = smtp.messages
    assert mail["to"] == ["datateam@example.nl"] and "1 held for review" in mail["message"]["Subject"]
    assert "would withdraw 1,000 of the 1,000 published datasets" in mail["message"].get_body(("html",)).get_content()
    [post] = hook.requests
    assert "gemeente-voorbeeld" in post["json"]["text"]

    # A steward decides the withdrawals are real: 1,000 tombstones, nothing hard-deleted
    summary = release("gemeente-voorbeeld", "faults-2", by="steward")
    assert summary["sources"]["gemeente-voorbeeld"]["removed"] == 1000 + row["records"]["distributions"]
    with open_store() as st:
        assert st.scalar('SELECT count(*) FROM "datasets"') == 0
        assert st.scalar('SELECT count(*) FROM "datasets_withdrawn"') == 1000
        assert st.scalar('SELECT count(*) FROM "datasets_withdrawn" WHERE "withdrawn_run_id" = ?', ["faults-2"]) == 1000


# ------------------------------------------------------------------------------------ crash half-way
CRASHING_PUBLISH = textwrap.dedent("""
    import os, sys
    from inventory.publish import core
    from inventory.publish.store import Store

    real_apply, applied = Store.apply, []

    def apply_then_die(self, table, source_id, complete):
        real_apply(self, table, source_id, complete)
        applied.append((source_id, table))
        if len(applied) == int(sys.argv[1]):
            print("applied", applied, flush=True)
            os._exit(137)  # killed half-way: inside the transaction, no rollback, no clean-up

    Store.apply = apply_then_die
    core.publish()
    print("publish finished without crashing", flush=True)
""")


def stage_second_run() -> list:
    """The next run's batches: gem-a changes, adds and withdraws a dataset (and its distribution);
    alg-reg adds two algorithms."""
    ds = [sc.dataset("gem-a", i, "run2") for i in range(1, 6)]
    ds[0]["title"] = "Dataset 1 (herzien)"
    return [sc.make_batch("gem-a", "run2", datasets=ds, distributions=[sc.distribution("gem-a", i, "run2") for i in range(1, 6)],
                          quarantine=[]),
            sc.make_batch("alg-reg", "run2", kind="algoritmeregister",
                          algorithms=[sc.algorithm("alg-reg", i, "run2") for i in range(5)], quarantine=[])]


def history_dump(kind: str) -> dict[str, list]:
    out = {}
    with open_store(kind) as st:
        for table in model.RECORD_TABLES:
            out[table] = sorted(map(repr, st.fetchall(f'SELECT * FROM "{model.history_table(table)}"')))
    return out


def crash_halfway_then_recover(env: sc.StoreEnv) -> None:
    sc.allow_withdrawals(env)  # gem-a withdraws one of five records on purpose
    sc.first_publish(env)
    before, history_before = env.dump(), history_dump(env.kind)
    release_before = exports.current_release()
    manifest_before = (release_before / "manifest.json").read_text()
    batches = stage_second_run()

    # datasets and distributions of gem-a applied, then the process dies
    child = subprocess.run([sys.executable, "-c", CRASHING_PUBLISH, "2"], cwd=PROJECT, capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == 137, child.stdout + child.stderr
    assert "applied [('gem-a', 'datasets'), ('gem-a', 'distributions')]" in child.stdout

    # The previous inventory is intact, readable and unchanged: store, history, exports, reports
    assert env.dump() == before
    assert history_dump(env.kind) == history_before
    assert exports.current_release() == release_before
    assert (exports.latest_link() / "manifest.json").read_text() == manifest_before
    assert pq.read_table(exports.latest_link() / "datasets.parquet").num_rows == 5
    assert [sc.report(b)["state"] for b in batches] == ["validated", "validated"]

    # The next run publishes correctly, once
    summary = publish()
    assert {s: (v["added"], v["changed"], v["removed"]) for s, v in summary["sources"].items()} == {
        "gem-a": (2, 1, 2), "alg-reg": (2, 0, 0)}
    assert len(env.rows("datasets", "gem-a")) == 5 and len(env.rows("algorithms", "alg-reg")) == 5
    assert sc.changes(env, "run2") == sorted([
        ("run2", "datasets", model.stable_uid("gem-a", "ds-0"), "withdrawn", None),
        ("run2", "datasets", model.stable_uid("gem-a", "ds-1"), "changed", ["title"]),
        ("run2", "datasets", model.stable_uid("gem-a", "ds-5"), "added", None),
        ("run2", "distributions", model.stable_uid("gem-a", "ds-5", "csv"), "added", None),
        ("run2", "distributions", model.stable_uid("gem-a", "ds-0", "csv"), "withdrawn", None),
        ("run2", "algorithms", model.stable_uid("alg-reg", "alg-3"), "added", None),
        ("run2", "algorithms", model.stable_uid("alg-reg", "alg-4"), "added", None),
    ])
    assert [v["title"] for v in sc.history(env, "datasets", model.stable_uid("gem-a", "ds-1"))] == [
        "Dataset 1", "Dataset 1 (herzien)"]
    assert [sc.report(b)["state"] for b in batches] == ["published", "published"]
    assert exports.current_release() != release_before
    assert pq.read_table(exports.latest_link() / "datasets.parquet").num_rows == 5


def test_crash_of_the_publish_step_halfway_duckdb(tmp_path, monkeypatch):
    monkeypatch.delenv("INVENTORY_STORE", raising=False)
    crash_halfway_then_recover(sc.StoreEnv("duckdb", tmp_path, monkeypatch))


@pytest.mark.postgres
def test_crash_of_the_publish_step_halfway_postgres(pg_env):  # noqa: F811
    crash_halfway_then_recover(pg_env)
