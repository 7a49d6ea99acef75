"""Publish scenarios shared by the DuckDB and the PostgreSQL store tests.

Each scenario is a function ``scenario(env)`` where ``env`` is a ``StoreEnv`` (data dir already
pointing at a temporary folder, the store selected through the environment). Staging batches are
written by hand, the way the harvest and validate steps leave them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from inventory import model, settings, staging
from inventory.publish import core, export, exports, open_store, publish, read_summary
from inventory.staging import Batch

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
_clock = {"n": 0}


@dataclass
class StoreEnv:
    kind: str
    data_dir: Path
    monkeypatch: pytest.MonkeyPatch

    def rows(self, table: str, source_id: str | None = None) -> dict[str, tuple]:
        """Rows of a record table keyed by uid (all columns, model order)."""
        uid = model.UID_COLUMN[table]
        names = ", ".join(f'"{n}"' for n in model.RECORD_TABLES[table].names)
        with open_store(self.kind) as st:
            if source_id is None:
                rows = st.fetchall(f'SELECT {names} FROM "{table}"')
            else:
                rows = st.fetchall(f'SELECT {names} FROM "{table}" WHERE "source_id" = ?', [source_id])
        i = model.RECORD_TABLES[table].names.index(uid)
        return {r[i]: r for r in rows}

    def dump(self) -> dict[str, list]:
        """Every table of the store, sorted, for before/after comparisons."""
        out = {}
        with open_store(self.kind) as st:
            for table, schema in model.ALL_TABLES.items():
                names = ", ".join(f'"{n}"' for n in schema.names)
                out[table] = sorted(map(repr, st.fetchall(f'SELECT {names} FROM "{table}"')))
        return out

    def harvest_runs(self, source_id: str) -> list[dict]:
        names = model.HARVEST_RUNS.names
        with open_store(self.kind) as st:
            rows = st.fetchall(f'SELECT {", ".join(chr(34) + n + chr(34) for n in names)} FROM "harvest_runs" '
                               'WHERE "source_id" = ? ORDER BY "started_at"', [source_id])
        return [dict(zip(names, r)) for r in rows]

    def quarantine(self, source_id: str) -> list[str]:
        with open_store(self.kind) as st:
            return sorted(r[0] for r in st.fetchall(
                'SELECT "record_uid" FROM "quarantine" WHERE "source_id" = ?', [source_id]))


# ------------------------------------------------------------------------------------ builders
def dataset(source: str, n: int, run_id: str = "run1", **over) -> dict:
    row = model.empty_row("datasets")
    row.update(
        dataset_uid=model.stable_uid(source, f"ds-{n}"), identifier=f"https://example.nl/ds/{n}",
        title=f"Dataset {n}", description=f"Beschrijving {n}", publisher="Gemeente Voorbeeld",
        theme=["http://standaarden.overheid.nl/owms/terms/Bestuur"], keyword=["a", f"k{n}"],
        language=["nl"], license="http://creativecommons.org/publicdomain/zero/1.0/deed.nl",
        source_id=source, source_record_id=f"ds-{n}", harvested_at=T0, run_id=run_id,
        raw_sha256=f"sha-{run_id}-{n}",
    )
    row.update(over)
    return row


def distribution(source: str, n: int, run_id: str = "run1", **over) -> dict:
    row = model.empty_row("distributions")
    row.update(
        distribution_uid=model.stable_uid(source, f"ds-{n}", "csv"), dataset_uid=model.stable_uid(source, f"ds-{n}"),
        access_url=f"https://example.nl/ds/{n}.csv", format="CSV", byte_size=1000 + n,
        source_id=source, source_record_id=f"ds-{n}", harvested_at=T0, run_id=run_id, raw_sha256=f"sha-{n}",
    )
    row.update(over)
    return row


def algorithm(source: str, n: int, run_id: str = "run1", **over) -> dict:
    row = model.empty_row("algorithms")
    row.update(
        algorithm_uid=model.stable_uid(source, f"alg-{n}"), name=f"Algoritme {n}", organization="Gemeente X",
        status="in_use", impact_assessments=["DPIA"], source_data=["BRP", "BAG"], jurisdiction="NL",
        standard_version="1.0", source_id=source, source_record_id=f"alg-{n}", harvested_at=T0,
        run_id=run_id, raw_sha256=f"sha-{n}",
    )
    row.update(over)
    return row


def data_service(source: str, n: int, run_id: str = "run1", **over) -> dict:
    """An API of the national API register, as the api-register kind stages it."""
    row = model.empty_row("data_services")
    row.update(
        service_uid=model.stable_uid(source, f"api-{n}"), title=f"API {n}", description=f"Beschrijving van API {n}",
        publisher="Kadaster", publisher_uri="https://identifier.overheid.nl/tooi/id/zbo/zb000143",
        endpoint_url=f"https://api.example.nl/{n}/v1", endpoint_description=f"https://api.example.nl/{n}/v1/openapi.json",
        api_type="rest", authentication=["api_key", "mutual_tls"], lifecycle_status="active", version="1.0.0",
        adr_score=87.5, docs_url=f"https://api.example.nl/{n}/docs", contact="api@example.nl",
        authentication_original=["API Key", "PKIoverheid"], lifecycle_status_original="Actief",
        source_id=source, source_record_id=f"api-{n}", harvested_at=T0, run_id=run_id, raw_sha256=f"sha-{n}",
    )
    row.update(over)
    return row


def quarantine_row(source: str, uid: str, run_id: str = "run1") -> dict:
    return {"record_type": "datasets", "record_uid": uid, "source_id": source, "source_record_id": uid,
            "run_id": run_id, "suite": "datasets", "expectation": "expect_column_values_to_not_be_null",
            "column": "title", "observed_value": None, "reason": "title is missing",
            "record": json.dumps({"id": uid}), "quarantined_at": T0}


def make_batch(source: str, run_id: str, *, status: str = "complete", kind: str = "ckan",
               datasets: list[dict] | None = None, distributions: list[dict] | None = None,
               algorithms: list[dict] | None = None, quarantine: list[dict] | None = None,
               state: str = "validated", incremental: bool = False,
               data_services: list[dict] | None = None) -> Batch:
    """A staging batch as validate leaves it. Tables given as None get no file at all."""
    batch = Batch.for_run(source, run_id)
    for table, rows in (("datasets", datasets), ("distributions", distributions), ("algorithms", algorithms),
                        ("data_services", data_services)):
        if rows is not None:
            w = staging.TableWriter(batch.validated(table), model.RECORD_TABLES[table])
            w.write_many(rows)
            w.close()
    if quarantine is not None:
        w = staging.TableWriter(batch.quarantine, model.QUARANTINE)
        w.write_many(quarantine)
        w.close()
    received = sum(len(r or []) for r in (datasets, algorithms, data_services))
    _clock["n"] += 1
    started = T0 + timedelta(minutes=_clock["n"])
    report = {
        "run_id": run_id, "source_id": source, "kind": kind, "status": status,
        "started_at": started.isoformat(), "finished_at": (started + timedelta(seconds=30)).isoformat(),
        "duration_s": 30.0, "pages": 1, "records_reported": received, "records_received": received,
        "records_valid": received, "records_quarantined": len(quarantine or []),
        "added": None, "changed": None, "removed": None,
        "message": f"{status} harvest", "error": "boom" if status == "failed" else None,
        "state": state, "incremental": incremental,
    }
    batch.write_report(report)
    # staging.batches() orders by report mtime: make it strictly increasing whatever the clock.
    stamp = 1_800_000_000 + _clock["n"]
    os.utime(batch.report_path, (stamp, stamp))
    return batch


def first_publish(env: StoreEnv) -> tuple[Batch, Batch]:
    a = make_batch("gem-a", "run1", datasets=[dataset("gem-a", i) for i in range(5)],
                   distributions=[distribution("gem-a", i) for i in range(5)],
                   quarantine=[quarantine_row("gem-a", "bad-1")])
    b = make_batch("alg-reg", "run1", kind="algoritmeregister",
                   algorithms=[algorithm("alg-reg", i) for i in range(3)], quarantine=[])
    summary = publish()
    assert summary["sources"]["gem-a"]["added"] == 10  # 5 datasets + 5 distributions
    return a, b


def report(batch: Batch) -> dict:
    return batch.read_report()


# ------------------------------------------------------------------------------------ scenarios
def scenario_first_publish_loads_rows(env: StoreEnv) -> None:
    a, b = first_publish(env)
    assert len(env.rows("datasets", "gem-a")) == 5
    assert len(env.rows("distributions", "gem-a")) == 5
    assert len(env.rows("algorithms", "alg-reg")) == 3
    ds = env.rows("datasets", "gem-a")[model.stable_uid("gem-a", "ds-2")]
    names = model.DATASETS.names
    assert ds[names.index("title")] == "Dataset 2"
    assert list(ds[names.index("keyword")]) == ["a", "k2"]
    assert ds[names.index("harvested_at")] == T0
    assert env.quarantine("gem-a") == ["bad-1"]
    ra, rb = report(a), report(b)
    assert ra["state"] == "published" and rb["state"] == "published"
    assert (ra["added"], ra["changed"], ra["removed"]) == (10, 0, 0)
    assert (rb["added"], rb["changed"], rb["removed"]) == (3, 0, 0)
    runs = env.harvest_runs("gem-a")
    assert len(runs) == 1 and runs[0]["status"] == "complete" and runs[0]["added"] == 10
    assert runs[0]["started_at"] == datetime.fromisoformat(ra["started_at"])
    # Nothing left to publish: a second call applies nothing and keeps the export release.
    latest = exports.current_release()
    again = publish()
    assert again["publish_id"] is None and again["sources"] == {}
    assert again["exports"]["written"] is False and exports.current_release() == latest
    assert list(again["timings_s"]) == ["store"]  # no release written, so none of its parts timed


def scenario_summary_shape(env: StoreEnv) -> None:
    first_publish(env)
    b = make_batch("gem-a", "run2", status="partial", datasets=[dataset("gem-a", 9, "run2")])
    summary = publish([b])
    json.dumps(summary)  # JSON-able
    src = summary["sources"]["gem-a"]
    assert src["status"] == "partial" and src["batch"] == b.batch_id
    assert src["records"] == {"datasets": 6, "distributions": 5, "data_services": 0, "algorithms": 0}
    assert (src["added"], src["changed"], src["removed"]) == (1, 0, 0)
    assert src["quarantined"] == 0  # the batch's (zero) quarantine rows replace the previous ones
    assert summary["store"]["kind"] == env.kind and summary["store"]["location"]
    assert summary["exports"]["path"].endswith("latest") and summary["exports"]["written"] is True
    # where the publish spent its time: the transaction, then each part of the export release
    assert list(summary["timings_s"]) == ["store", "tables", "catalog", "algorithm_register"]
    assert all(isinstance(s, float) and s >= 0 for s in summary["timings_s"].values())
    [row] = [r for r in read_summary() if r["source_id"] == "gem-a"]
    assert row["run_id"] == "run2" and row["status"] == "partial" and row["added"] == 1
    assert row["records"] == {"datasets": 6, "distributions": 5, "data_services": 0, "algorithms": 0}
    assert row["started_at"].endswith("Z") and row["kind"] == "ckan"
    assert [r["source_id"] for r in read_summary()] == ["alg-reg", "gem-a"]
    json.dumps(read_summary())


def scenario_unchanged_republish_counts_nothing(env: StoreEnv) -> None:
    first_publish(env)
    later = T0 + timedelta(days=1)
    b = make_batch("gem-a", "run2",
                   datasets=[dataset("gem-a", i, "run2", harvested_at=later, raw_sha256=f"new-{i}") for i in range(5)],
                   distributions=[distribution("gem-a", i, "run2", harvested_at=later) for i in range(5)],
                   quarantine=[quarantine_row("gem-a", "bad-1", "run2")])
    summary = publish()
    src = summary["sources"]["gem-a"]
    assert (src["added"], src["changed"], src["removed"]) == (0, 0, 0)
    assert (report(b)["added"], report(b)["changed"], report(b)["removed"]) == (0, 0, 0)
    rows = env.rows("datasets", "gem-a")
    assert len(rows) == 5
    # the store carries the newest provenance
    assert {r[model.DATASETS.names.index("run_id")] for r in rows.values()} == {"run2"}
    runs = env.harvest_runs("gem-a")
    assert [r["run_id"] for r in runs] == ["run1", "run2"]  # both runs kept
    assert (runs[1]["added"], runs[1]["changed"], runs[1]["removed"]) == (0, 0, 0)


def allow_withdrawals(env: StoreEnv, share: str = "50%") -> None:
    """These small sources lose more than the default 10 % in one listing, on purpose."""
    env.monkeypatch.setenv("INVENTORY_MAX_REMOVED_SHARE", share)


def scenario_complete_removes_missing_records(env: StoreEnv) -> None:
    allow_withdrawals(env)
    first_publish(env)
    gone = model.stable_uid("gem-a", "ds-4")
    ds = [dataset("gem-a", i, "run2") for i in range(4)]
    ds[1]["title"] = "Dataset 1 (herzien)"
    ds[2]["keyword"] = ["a", "k2", "nieuw"]
    b = make_batch("gem-a", "run2", datasets=ds, distributions=[distribution("gem-a", i, "run2") for i in range(4)],
                   quarantine=[])
    summary = publish()
    src = summary["sources"]["gem-a"]
    assert (src["added"], src["changed"], src["removed"]) == (0, 2, 2)  # 1 dataset + 1 distribution gone
    [outcome] = summary["batches"]
    assert outcome["changes"]["datasets"] == {"added": 0, "changed": 2, "removed": 1}
    assert outcome["changes"]["distributions"] == {"added": 0, "changed": 0, "removed": 1}
    rows = env.rows("datasets", "gem-a")
    assert gone not in rows and len(rows) == 4
    assert rows[model.stable_uid("gem-a", "ds-1")][model.DATASETS.names.index("title")] == "Dataset 1 (herzien)"
    assert env.quarantine("gem-a") == []  # replaced by the batch's (empty) quarantine
    assert report(b)["removed"] == 2
    # the other source is untouched
    assert len(env.rows("algorithms", "alg-reg")) == 3


def scenario_partial_deletes_nothing(env: StoreEnv) -> None:
    first_publish(env)
    ds = [dataset("gem-a", 0, "run2", title="Nieuwe titel"), dataset("gem-a", 7, "run2")]
    b = make_batch("gem-a", "run2", status="partial", datasets=ds, distributions=[],
                   quarantine=[quarantine_row("gem-a", "bad-2", "run2")])
    summary = publish()
    src = summary["sources"]["gem-a"]
    assert (src["added"], src["changed"], src["removed"]) == (1, 1, 0)
    rows = env.rows("datasets", "gem-a")
    assert len(rows) == 6  # 5 kept + 1 new
    assert rows[model.stable_uid("gem-a", "ds-0")][model.DATASETS.names.index("title")] == "Nieuwe titel"
    assert len(env.rows("distributions", "gem-a")) == 5  # an empty partial listing deletes nothing
    assert env.quarantine("gem-a") == ["bad-2"]
    assert report(b)["state"] == "published"


def scenario_incremental_complete_deletes_nothing(env: StoreEnv) -> None:
    # An incremental listing holds only what changed since the last run: complete, yet no deletions.
    first_publish(env)
    make_batch("gem-a", "run2", datasets=[dataset("gem-a", 1, "run2", title="Bijgewerkt")], distributions=[],
               quarantine=[], incremental=True)
    src = publish()["sources"]["gem-a"]
    assert (src["added"], src["changed"], src["removed"]) == (0, 1, 0)
    assert len(env.rows("datasets", "gem-a")) == 5 and len(env.rows("distributions", "gem-a")) == 5


def scenario_failed_keeps_previous_records(env: StoreEnv) -> None:
    first_publish(env)
    before = {t: env.rows(t, "gem-a") for t in model.RECORD_TABLES}
    # A failed batch, even one that somehow carries (empty) validated files, changes no records.
    b = make_batch("gem-a", "run2", status="failed", datasets=[], quarantine=[])
    summary = publish()
    src = summary["sources"]["gem-a"]
    assert src["status"] == "failed"
    assert (src["added"], src["changed"], src["removed"]) == (0, 0, 0)
    assert src["records"]["datasets"] == 5 and src["quarantined"] == 1
    assert {t: env.rows(t, "gem-a") for t in model.RECORD_TABLES} == before
    assert env.quarantine("gem-a") == ["bad-1"]  # old quarantine kept
    runs = env.harvest_runs("gem-a")
    assert [(r["run_id"], r["status"]) for r in runs] == [("run1", "complete"), ("run2", "failed")]
    assert runs[1]["error"] == "boom"
    assert report(b)["state"] == "published"
    [row] = [r for r in read_summary() if r["source_id"] == "gem-a"]
    assert row["status"] == "failed" and row["records"]["datasets"] == 5


def scenario_later_batch_supersedes_earlier(env: StoreEnv) -> None:
    allow_withdrawals(env)
    b1 = make_batch("gem-a", "run1", datasets=[dataset("gem-a", i) for i in range(3)])
    b2 = make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2", title=f"v2 {i}") for i in (0, 1)])
    summary = publish([b2, b1])  # given out of order: applied oldest first
    assert [o["batch_id"] for o in summary["batches"]] == [b1.batch_id, b2.batch_id]
    rows = env.rows("datasets", "gem-a")
    assert sorted(r[model.DATASETS.names.index("title")] for r in rows.values()) == ["v2 0", "v2 1"]
    assert (report(b1)["added"], report(b2)["changed"], report(b2)["removed"]) == (3, 2, 1)
    assert [r["run_id"] for r in env.harvest_runs("gem-a")] == ["run1", "run2"]
    # already published batches given again are skipped, not re-applied
    again = publish([b1, b2])
    assert again["publish_id"] is None
    assert [o["result"] for o in again["batches"]] == ["skipped", "skipped"]


def scenario_only_validated_batches_are_selected(env: StoreEnv) -> None:
    make_batch("gem-a", "run1", datasets=[dataset("gem-a", 1)], state="harvested")
    summary = publish()
    assert summary["sources"] == {} and env.rows("datasets") == {}
    with pytest.raises(ValueError, match="state 'harvested'"):
        publish([Batch.for_run("gem-a", "run1")])


def scenario_bad_batch_is_refused_whole(env: StoreEnv) -> None:
    first_publish(env)
    before = env.dump()
    make_batch("gem-b", "run1", datasets=[dataset("gem-b", 1)])
    make_batch("gem-c", "run1", datasets=[dataset("gem-a", 1)])  # rows of another source
    with pytest.raises(ValueError, match="source_id is not 'gem-c'"):
        publish()
    assert env.dump() == before


def scenario_duplicate_uids_are_collapsed(env: StoreEnv) -> None:
    make_batch("gem-a", "run1", datasets=[dataset("gem-a", 1), dataset("gem-a", 1, title="dubbel"), dataset("gem-a", 2)])
    summary = publish()
    assert summary["sources"]["gem-a"]["records"]["datasets"] == 2
    assert summary["sources"]["gem-a"]["added"] == 2


def scenario_exports_released_atomically(env: StoreEnv) -> None:
    first_publish(env)
    root = settings.exports_dir()
    latest = root / "latest"
    assert latest.is_symlink()
    for table, schema in model.ALL_TABLES.items():
        pq_path, csv_path = latest / f"{table}.parquet", latest / f"{table}.csv"
        assert pq_path.exists() and csv_path.exists(), table
        t = pq.read_table(pq_path)
        assert t.column_names == schema.names, table
        assert t.cast(schema).schema.equals(schema)
        c = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        assert c.column_names == schema.names and c.num_rows == t.num_rows, table
    ds = pq.read_table(latest / "datasets.parquet").to_pylist()
    assert len(ds) == 5 and ds[0]["keyword"][0] == "a"
    csv_rows = pacsv.read_csv(latest / "datasets.csv").to_pylist()
    assert json.loads(csv_rows[0]["keyword"])[0] == "a"
    assert str(csv_rows[0]["harvested_at"]).startswith("2026-11-28")
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["tables"]["datasets"]["rows"] == 5 and manifest["store"] == env.kind
    assert pq.read_table(latest / "harvest_runs.parquet").num_rows == 2

    releases = []
    for n in range(2, 6):
        make_batch("gem-a", f"run{n}", status="partial", datasets=[dataset("gem-a", 10 + n, f"run{n}")])
        summary = publish()
        releases.append(Path(summary["exports"]["release"]))
        assert latest.resolve() == releases[-1]
        assert Path(summary["exports"]["path"]) == latest
    kept = sorted(p for p in (root / "releases").iterdir())
    assert kept == releases[-3:]  # the three newest
    assert pq.read_table(latest / "datasets.parquet").num_rows == 9
    assert not [p for p in root.iterdir() if p.name.startswith(".latest.tmp")]
    # exports missing or stale (e.g. a crash after COMMIT) are rewritten by the next publish
    os.unlink(latest)
    summary = publish()
    assert summary["publish_id"] is None and summary["exports"]["written"] is True
    assert pq.read_table(latest / "datasets.parquet").num_rows == 9


class Boom(RuntimeError):
    pass


def _catalogue(summary: dict | None = None) -> tuple[dict, dict[str, bytes], dict[str, int]]:
    """A publish's release (default: the latest): its manifest's catalogue entry, the catalogue's
    files and their inodes."""
    folder = Path(summary["exports"]["release"] if summary else exports.current_release()) / "catalog"
    entry = json.loads((folder.parent / "manifest.json").read_text())["catalog"]
    files = sorted(folder.iterdir())
    return entry, {f.name: f.read_bytes() for f in files}, {f.name: f.stat().st_ino for f in files}


def _publish_algorithms(run_id: str, n: int) -> dict:
    """A publish of the algorithm register alone: it changes no record the catalogue is written from."""
    return publish([make_batch("alg-reg", run_id, kind="algoritmeregister",
                               algorithms=[algorithm("alg-reg", i, run_id) for i in range(n)], quarantine=[])])


def _reused(summary: dict) -> str | None:
    return _catalogue(summary)[0].get("reused_from")


def scenario_catalogue_reused_until_its_records_change(env: StoreEnv) -> None:
    make_batch("api-reg", "run1", kind="api-register", data_services=[data_service("api-reg", i) for i in range(2)],
               quarantine=[])
    first_publish(env)
    written, pages, inodes = _catalogue()
    first = Path(exports.current_release()).name
    assert "reused_from" not in written and written["fingerprint"] and written["datasets"] == 5
    assert written["data_services"] == 2 and written["source_changes"] == 12  # 5 + 5 + 2 added
    assert b"Dataset 4" in pages["page-000001.ttl"]
    # written as it would be written again: the pages are the records' own bytes
    assert _catalogue({"exports": {"release": export()}})[1] == pages

    # The algorithm register's publish changes no dataset: the catalogue's pages are the same files.
    summary = _publish_algorithms("run2", 4)
    assert summary["sources"]["alg-reg"]["added"] == 1
    entry, again, linked = _catalogue(summary)
    assert entry == {**written, "reused_from": entry["reused_from"]} and again == pages and linked != inodes
    reuser = Path(summary["exports"]["release"]).name
    assert linked == _catalogue({"exports": {"release": str(exports.releases_dir() / entry["reused_from"])}})[2]

    # A harvest that finds nothing new (only provenance differs) changes no record either.
    summary = publish([make_batch("gem-a", "run3", datasets=[
        dataset("gem-a", i, "run3", harvested_at=T0 + timedelta(days=1)) for i in range(5)], distributions=[
        distribution("gem-a", i, "run3") for i in range(5)], quarantine=[])])
    assert summary["sources"]["gem-a"]["changed"] == 0
    unchanged = summary
    assert _reused(unchanged) == entry["reused_from"] != reuser

    # A changed title: written anew, with the new title.
    summary = publish([make_batch("gem-a", "run4", status="partial", datasets=[
        dataset("gem-a", 2, "run4", title="Dataset 2, herzien")], quarantine=[])])
    entry, changed, _ = _catalogue(summary)
    assert _reused(summary) is None and b"Dataset 2, herzien" in changed["page-000001.ttl"]
    # the releases that wrote the pages are pruned now; the releases that link them still hold them
    assert not (settings.exports_dir() / "releases" / first).exists()
    assert _catalogue(unchanged)[1] == pages
    assert _reused(_publish_algorithms("run3", 4)) is not None

    # Only a distribution changed, then only a data service: each is a change of the catalogue.
    summary = publish([make_batch("gem-a", "run5", status="partial", distributions=[
        distribution("gem-a", 1, "run5", byte_size=4242)], quarantine=[])])
    assert summary["sources"]["gem-a"]["changed"] == 1
    assert _reused(summary) is None and b"4242" in _catalogue(summary)[1]["page-000001.ttl"]
    summary = publish([make_batch("api-reg", "run2", kind="api-register", status="partial",
                                  data_services=[data_service("api-reg", 1, "run2", title="API 1, versie 2")],
                                  quarantine=[])])
    assert _reused(summary) is None and b"API 1, versie 2" in _catalogue(summary)[1]["page-000001.ttl"]

    # A publish that took its time before another one's but committed after it: its change still counts.
    later_release = _publish_algorithms("run4", 4)
    assert _reused(later_release) is not None
    clock = core.datetime

    class Earlier(clock):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):
            return clock(2026, 1, 1, tzinfo=timezone.utc)

    env.monkeypatch.setattr(core, "datetime", Earlier)
    summary = publish([make_batch("gem-a", "run6", status="partial", datasets=[
        dataset("gem-a", 3, "run6", title="Dataset 3, eerder begonnen")], quarantine=[])])
    env.monkeypatch.setattr(core, "datetime", clock)
    assert _reused(summary) is None and b"eerder begonnen" in _catalogue(summary)[1]["page-000001.ttl"]

    # A manifest from another store (its publish unknown here) is not trusted.
    manifest_path = exports.current_release() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "publish_id": "elsewhere"}))
    assert _reused(_publish_algorithms("run5", 4)) is None

    # Other settings make another catalogue, whatever the records did.
    assert _reused(_publish_algorithms("run6", 4)) is not None
    env.monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    summary = _publish_algorithms("run7", 5)
    entry = _catalogue(summary)[0]
    assert _reused(summary) is None and entry["pages"] == 4 and entry["fingerprint"] != written["fingerprint"]

    # A withdrawal is a change too.
    allow_withdrawals(env)
    summary = publish([make_batch("gem-a", "run7", datasets=[dataset("gem-a", i, "run7") for i in range(4)],
                                  distributions=[distribution("gem-a", i, "run7") for i in range(4)], quarantine=[])])
    assert summary["sources"]["gem-a"]["removed"] == 2
    assert _reused(summary) is None and _catalogue(summary)[0]["datasets"] == 4


def scenario_crash_halfway_keeps_previous_inventory(env: StoreEnv) -> None:
    allow_withdrawals(env, "100%")
    first_publish(env)
    before = env.dump()
    release_before = exports.current_release()
    b1 = make_batch("gem-a", "run2", datasets=[dataset("gem-a", 0, "run2", title="half")], distributions=[],
                    quarantine=[])
    b2 = make_batch("alg-reg", "run2", kind="algoritmeregister", algorithms=[algorithm("alg-reg", 9, "run2")])
    real = core._apply_batch
    calls = {"n": 0}

    def flaky(store, batch, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first batch is applied, then the second blows up
            store.load_stage("algorithms", model.ALGORITHMS, batch.validated("algorithms"))
            raise Boom("disk on fire")
        return real(store, batch, *args, **kwargs)

    env.monkeypatch.setattr(core, "_apply_batch", flaky)
    with pytest.raises(Boom):
        publish()
    assert calls["n"] == 2
    assert env.dump() == before
    assert report(b1)["state"] == "validated" and report(b2)["state"] == "validated"
    assert exports.current_release() == release_before

    env.monkeypatch.setattr(core, "_apply_batch", real)
    summary = publish()
    assert set(summary["sources"]) == {"gem-a", "alg-reg"}
    assert len(env.rows("datasets", "gem-a")) == 1
    assert report(b1)["state"] == report(b2)["state"] == "published"


def scenario_crash_after_commit_is_reconciled(env: StoreEnv) -> None:
    first_publish(env)
    b = make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2") for i in range(6)])
    real = core._mark_published

    def crash(*args, **kwargs):
        raise Boom("killed after commit")

    env.monkeypatch.setattr(core, "_mark_published", crash)
    with pytest.raises(Boom):
        publish()
    assert report(b)["state"] == "validated"
    assert len(env.rows("datasets", "gem-a")) == 6  # committed
    env.monkeypatch.setattr(core, "_mark_published", real)
    summary = publish()
    [outcome] = summary["batches"]
    assert outcome["result"] == "reconciled"
    rep = report(b)
    assert rep["state"] == "published" and (rep["added"], rep["changed"], rep["removed"]) == (1, 0, 0)
    runs = env.harvest_runs("gem-a")
    assert (runs[-1]["run_id"], runs[-1]["added"]) == ("run2", 1)  # not overwritten by a second apply  # not overwritten by a second apply


def scenario_bulk_load_in_record_batches(env: StoreEnv) -> None:
    n = 25_000  # more than one record batch / row group
    make_batch("gem-big", "run1", datasets=[dataset("gem-big", i) for i in range(n)], quarantine=[])
    summary = publish()
    assert summary["sources"]["gem-big"]["records"]["datasets"] == n
    assert summary["sources"]["gem-big"]["added"] == n
    assert pq.read_table(settings.exports_dir() / "latest" / "datasets.parquet").num_rows == n
    make_batch("gem-big", "run2", datasets=[dataset("gem-big", i, "run2") for i in range(1, n)])  # 1 of 25,000 gone
    summary = publish()
    src = summary["sources"]["gem-big"]
    assert (src["added"], src["changed"], src["removed"]) == (0, 0, 1)


def scenario_duplicate_uids_keep_the_last_row(env: StoreEnv) -> None:
    make_batch("gem-a", "run1", datasets=[dataset("gem-a", 1), dataset("gem-a", 1, title="dubbel"), dataset("gem-a", 2),
                                          dataset("gem-a", 1, title="derde keer")])
    publish()
    rows = env.rows("datasets", "gem-a")
    assert len(rows) == 2
    assert rows[model.stable_uid("gem-a", "ds-1")][model.DATASETS.names.index("title")] == "derde keer"


def scenario_quarantine_rows_belong_to_the_batch_source(env: StoreEnv) -> None:
    other = dict(quarantine_row("gem-a", "bad-x"), source_id="somewhere-else")
    missing = dict(quarantine_row("gem-a", "bad-y"), source_id=None)
    make_batch("gem-a", "run1", datasets=[dataset("gem-a", 1)], quarantine=[quarantine_row("gem-a", "bad-1"), other, missing])
    publish()
    assert env.quarantine("gem-a") == ["bad-1", "bad-x", "bad-y"]
    with open_store(env.kind) as st:
        assert st.counts_by_source("quarantine") == {"gem-a": 3}


def scenario_mixed_changes_in_one_batch(env: StoreEnv) -> None:
    """Added, changed (content and lists, a list emptied or gone), removed and unchanged rows at once."""
    allow_withdrawals(env)
    first = [dataset("gem-a", i) for i in range(6)]
    first[4]["keyword"] = None
    make_batch("gem-a", "run1", datasets=first, distributions=[distribution("gem-a", i) for i in range(6)])
    publish()
    later = T0 + timedelta(days=1)
    ds = [dataset("gem-a", i, "run2", harvested_at=later, raw_sha256=f"new-{i}") for i in range(1, 8)]  # 0 gone, 6, 7 new
    ds[0]["description"] = None  # ds-1: a value gone
    ds[1]["keyword"] = []  # ds-2: a list emptied
    ds[2]["keyword"] = None  # ds-3: a list gone
    ds[3]["keyword"] = []  # ds-4: a list where there was none
    # ds-5: unchanged apart from its provenance
    dists = [distribution("gem-a", i, "run2", harvested_at=later) for i in range(6)]
    dists[2]["byte_size"] = None
    b = make_batch("gem-a", "run2", datasets=ds, distributions=dists)
    summary = publish()
    [outcome] = summary["batches"]
    assert outcome["changes"]["datasets"] == {"added": 2, "changed": 4, "removed": 1}
    assert outcome["changes"]["distributions"] == {"added": 0, "changed": 1, "removed": 0}
    assert (report(b)["added"], report(b)["changed"], report(b)["removed"]) == (2, 5, 1)
    rows = env.rows("datasets", "gem-a")
    names = model.DATASETS.names
    assert sorted(rows) == sorted(model.stable_uid("gem-a", f"ds-{i}") for i in range(1, 8))
    by_n = {int(r[names.index("source_record_id")].split("-")[1]): r for r in rows.values()}
    assert by_n[1][names.index("description")] is None
    assert list(by_n[2][names.index("keyword")]) == []
    assert by_n[3][names.index("keyword")] is None
    assert list(by_n[4][names.index("keyword")]) == []
    for r in rows.values():  # every row carries the newest provenance, changed or not
        assert (r[names.index("run_id")], r[names.index("harvested_at")]) == ("run2", later)
    assert by_n[5][names.index("raw_sha256")] == "new-5"
    dist_rows = env.rows("distributions", "gem-a")
    assert dist_rows[model.stable_uid("gem-a", "ds-2", "csv")][model.DISTRIBUTIONS.names.index("byte_size")] is None
    assert {r[model.DISTRIBUTIONS.names.index("run_id")] for r in dist_rows.values()} == {"run2"}


def scenario_a_key_another_source_holds_moves(env: StoreEnv) -> None:
    shared = dataset("gem-a", 1)
    make_batch("gem-a", "run1", datasets=[shared, dataset("gem-a", 2)])
    make_batch("gem-b", "run1", datasets=[dataset("gem-b", 1)])
    publish()
    # gem-b now lists a record under the key gem-a's record has (a record that moved catalogue)
    moved = dict(shared, source_id="gem-b", run_id="run2", title="Verhuisd")
    make_batch("gem-b", "run2", datasets=[dataset("gem-b", 1, "run2"), moved])
    summary = publish()
    assert summary["sources"]["gem-b"]["added"] == 1
    assert sorted(env.rows("datasets", "gem-b")) == sorted([model.stable_uid("gem-b", "ds-1"), shared["dataset_uid"]])
    assert list(env.rows("datasets", "gem-a")) == [model.stable_uid("gem-a", "ds-2")]
    assert env.rows("datasets")[shared["dataset_uid"]][model.DATASETS.names.index("title")] == "Verhuisd"
    # one current version of the moved record, the new source's
    versions = history(env, "datasets", shared["dataset_uid"])
    assert [(v["source_id"], v["valid_to"] is None, v["withdrawn_run_id"]) for v in versions] == [
        ("gem-a", False, None), ("gem-b", True, None)]


def scenario_data_services_round_trip(env: StoreEnv) -> None:
    """The API register's data services: stored with their list and number columns, diffed, exported."""
    allow_withdrawals(env)  # one of four APIs is withdrawn below
    services = [data_service("api-reg", i) for i in range(4)]
    services[1].update(adr_score=None, authentication=[], authentication_original=["DigiD Machtigen"], lifecycle_status=None)
    make_batch("api-reg", "run1", kind="api-register", data_services=services, quarantine=[])
    summary = publish()
    assert summary["sources"]["api-reg"]["added"] == 4
    assert summary["sources"]["api-reg"]["records"]["data_services"] == 4
    names = model.DATA_SERVICES.names
    stored = env.rows("data_services", "api-reg")
    first = stored[model.stable_uid("api-reg", "api-0")]
    assert first[names.index("adr_score")] == 87.5
    assert list(first[names.index("authentication")]) == ["api_key", "mutual_tls"]
    assert list(first[names.index("authentication_original")]) == ["API Key", "PKIoverheid"]
    second = stored[model.stable_uid("api-reg", "api-1")]
    assert second[names.index("adr_score")] is None and list(second[names.index("authentication")]) == []
    assert [r["records"]["data_services"] for r in read_summary() if r["source_id"] == "api-reg"] == [4]

    latest = settings.exports_dir() / "latest"
    exported = {r["service_uid"]: r for r in pq.read_table(latest / "data_services.parquet").to_pylist()}
    assert exported[model.stable_uid("api-reg", "api-0")]["authentication"] == ["api_key", "mutual_tls"]
    csv_rows = {r["service_uid"]: r for r in pacsv.read_csv(
        latest / "data_services.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True)).to_pylist()}
    row = csv_rows[model.stable_uid("api-reg", "api-0")]
    assert json.loads(row["authentication"]) == ["api_key", "mutual_tls"] and row["adr_score"] == 87.5
    assert json.loads(csv_rows[model.stable_uid("api-reg", "api-1")]["authentication"]) == []
    assert json.loads((latest / "manifest.json").read_text())["tables"]["data_services"]["rows"] == 4

    # The next complete run: one API withdrawn, one with a new score, the rest unchanged.
    again = [data_service("api-reg", i, "run2") for i in (0, 2, 3)]
    again[1]["adr_score"] = 91.0
    make_batch("api-reg", "run2", kind="api-register", data_services=again, quarantine=[])
    summary = publish()
    counts = summary["sources"]["api-reg"]
    assert (counts["added"], counts["changed"], counts["removed"]) == (0, 1, 1)
    stored = env.rows("data_services", "api-reg")
    assert set(stored) == {model.stable_uid("api-reg", f"api-{i}") for i in (0, 2, 3)}
    assert stored[model.stable_uid("api-reg", "api-2")][names.index("adr_score")] == 91.0
    # History and tombstones come with every record table of the model
    [tombstone] = history(env, "data_services", model.stable_uid("api-reg", "api-1"))
    assert tombstone["withdrawn_run_id"] == "run2" and tombstone["valid_to"] is not None
    assert [v["adr_score"] for v in history(env, "data_services", model.stable_uid("api-reg", "api-2"))] == [87.5, 91.0]


# ------------------------------------------------------------------ history, changes, tombstones, holds
def history(env: StoreEnv, table: str, uid: str) -> list[dict]:
    """The versions of one record, oldest first, as dicts."""
    schema = model.history_schema(table)
    names = ", ".join(f'"{n}"' for n in schema.names)
    with open_store(env.kind) as st:
        rows = st.fetchall(f'SELECT {names} FROM "{model.history_table(table)}" WHERE "{model.UID_COLUMN[table]}" = ? '
                           'ORDER BY "valid_from", "valid_to" NULLS LAST', [uid])
    return [dict(zip(schema.names, r)) for r in rows]


def changes(env: StoreEnv, run_id: str | None = None) -> list[tuple]:
    """(run_id, record_type, record_uid, change, fields) rows of the changes table, sorted."""
    with open_store(env.kind) as st:
        rows = st.fetchall('SELECT "run_id", "record_type", "record_uid", "change", "fields" FROM "changes"'
                           + (' WHERE "run_id" = ?' if run_id else ""), [run_id] if run_id else None)
    return sorted((r[0], r[1], r[2], r[3], list(r[4]) if r[4] is not None else None) for r in rows)


def as_of(env: StoreEnv, table: str, when: datetime) -> dict[str, tuple]:
    """The README's "inventory as it was at time D" query: uid -> title (or name)."""
    uid, label = model.UID_COLUMN[table], "name" if table == "algorithms" else "title"
    with open_store(env.kind) as st:
        rows = st.fetchall(f'SELECT "{uid}", "{label}" FROM "{model.history_table(table)}" '
                           'WHERE "valid_from" <= ? AND ("valid_to" IS NULL OR "valid_to" > ?)', [when, when])
    return dict(rows)


def published_at(summary: dict) -> datetime:
    return datetime.fromisoformat(summary["published_at"])


def scenario_withdrawn_record_becomes_a_tombstone(env: StoreEnv) -> None:
    allow_withdrawals(env)
    first_publish(env)
    gone = model.stable_uid("gem-a", "ds-4")
    summary = publish([make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2") for i in range(4)])])
    assert gone not in env.rows("datasets", "gem-a")  # consumers of `datasets` see current records only
    [version] = history(env, "datasets", gone)  # ...but the record is kept, marked withdrawn
    assert version["withdrawn_run_id"] == "run2" and version["valid_to"] == published_at(summary)
    assert version["title"] == "Dataset 4" and version["run_id"] == "run1"
    with open_store(env.kind) as st:
        tombstones = st.fetchall('SELECT "dataset_uid", "withdrawn_run_id" FROM "datasets_withdrawn"')
    assert tombstones == [(gone, "run2")]
    assert changes(env, "run2") == [("run2", "datasets", gone, "withdrawn", None)]
    [run] = [r for r in env.harvest_runs("gem-a") if r["run_id"] == "run2"]
    assert run["removed"] == 1 and "1 withdrawn" in run["message"]
    # The record comes back: a new current version; the tombstone stays in the history.
    make_batch("gem-a", "run3", datasets=[dataset("gem-a", i, "run3") for i in range(5)])
    publish()
    assert gone in env.rows("datasets", "gem-a")
    versions = history(env, "datasets", gone)
    assert [v["withdrawn_run_id"] for v in versions] == ["run2", None] and versions[1]["valid_to"] is None
    with open_store(env.kind) as st:
        assert st.fetchall('SELECT count(*) FROM "datasets_withdrawn"') == [(0,)]
    assert changes(env, "run3") == [("run3", "datasets", gone, "added", None)]


def scenario_partial_and_failed_withdraw_nothing(env: StoreEnv) -> None:
    first_publish(env)
    make_batch("gem-a", "run2", status="partial", datasets=[dataset("gem-a", 0, "run2")], distributions=[])
    make_batch("gem-a", "run3", status="failed", datasets=[], distributions=[])
    publish()
    assert len(env.rows("datasets", "gem-a")) == 5 and len(env.rows("distributions", "gem-a")) == 5
    assert changes(env, "run2") == [] and changes(env, "run3") == []
    with open_store(env.kind) as st:
        assert st.fetchall('SELECT count(*) FROM "datasets_history" WHERE "valid_to" IS NOT NULL') == [(0,)]
        assert st.fetchall('SELECT count(*) FROM "distributions_withdrawn"') == [(0,)]
    runs = {r["run_id"]: r for r in env.harvest_runs("gem-a")}
    assert runs["run3"]["status"] == "failed" and "previous records stay (5 datasets, 5 distributions)" in runs["run3"]["message"]
    assert runs["run2"]["message"].endswith("Published: no changes (5 datasets, 5 distributions).")


def scenario_history_keeps_every_version(env: StoreEnv) -> None:
    first_publish(env)
    uid = model.stable_uid("gem-a", "ds-1")
    s2 = publish([make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2", **({"title": "Tweede"} if i == 1 else {}))
                                                      for i in range(5)])])
    s3 = publish([make_batch("gem-a", "run3", datasets=[dataset("gem-a", i, "run3", **({"title": "Derde", "keyword": ["b"]} if i == 1 else {}))
                                                      for i in range(5)])])
    versions = history(env, "datasets", uid)
    assert [v["title"] for v in versions] == ["Dataset 1", "Tweede", "Derde"]
    assert [v["run_id"] for v in versions] == ["run1", "run2", "run3"]
    t2, t3 = published_at(s2), published_at(s3)
    assert [(v["valid_to"]) for v in versions] == [t2, t3, None]
    assert versions[1]["valid_from"] == t2 and versions[2]["valid_from"] == t3
    assert {v["withdrawn_run_id"] for v in versions} == {None}
    # The inventory as it was at a moment between the two changes
    assert as_of(env, "datasets", t2 + (t3 - t2) / 2)[uid] == "Tweede"
    assert as_of(env, "datasets", t3)[uid] == "Derde" and len(as_of(env, "datasets", t3)) == 5
    assert as_of(env, "datasets", T0 - timedelta(days=365)) == {}
    # One version per record per change: the four unchanged records kept their only version.
    with open_store(env.kind) as st:
        assert st.scalar('SELECT count(*) FROM "datasets_history"') == 7
        assert st.scalar('SELECT count(*) FROM "datasets_history" WHERE "valid_to" IS NULL') == 5


def scenario_changes_name_the_fields(env: StoreEnv) -> None:
    allow_withdrawals(env)
    first_publish(env)
    ds = [dataset("gem-a", i, "run2") for i in range(1, 6)]  # ds-0 gone, ds-5 new
    ds[0]["title"], ds[0]["keyword"] = "Nieuw", ["a", "k1", "extra"]
    ds[1]["description"] = None
    dists = [distribution("gem-a", i, "run2") for i in range(5)]
    dists[3]["format"] = "JSON"
    make_batch("gem-a", "run2", datasets=ds, distributions=dists)
    publish()
    u = lambda n: model.stable_uid("gem-a", f"ds-{n}")  # noqa: E731
    assert changes(env, "run2") == sorted([
        ("run2", "datasets", u(0), "withdrawn", None),
        ("run2", "datasets", u(1), "changed", ["title", "keyword"]),
        ("run2", "datasets", u(2), "changed", ["description"]),
        ("run2", "datasets", u(5), "added", None),
        ("run2", "distributions", model.stable_uid("gem-a", "ds-3", "csv"), "changed", ["format"]),
    ])
    assert len(changes(env, "run1")) == 13  # the first publish: every record added
    with open_store(env.kind) as st:
        row = st.fetchall('SELECT "source_id", "source_record_id", "publish_id", "changed_at" FROM "changes" '
                          'WHERE "run_id" = ? AND "change" = ?', ["run2", "withdrawn"])[0]
    assert row[:2] == ("gem-a", "ds-0") and row[2] and row[3] is not None


def scenario_unchanged_rerun_changes_nothing(env: StoreEnv) -> None:
    first_publish(env)
    before = {t: env.rows(t) for t in model.RECORD_TABLES}
    with open_store(env.kind) as st:
        versions = {t: st.scalar(f'SELECT count(*) FROM "{model.history_table(t)}"') for t in model.RECORD_TABLES}
        logged = st.scalar('SELECT count(*) FROM "changes"')
    # The same listing harvested again: same content, same page hashes.
    b = make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2", raw_sha256=f"sha-run1-{i}") for i in range(5)],
                   distributions=[distribution("gem-a", i, "run2") for i in range(5)],
                   quarantine=[quarantine_row("gem-a", "bad-1", "run2")])
    summary = publish()
    assert (report(b)["added"], report(b)["changed"], report(b)["removed"]) == (0, 0, 0)
    assert summary["sources"]["gem-a"]["message"].endswith("Published: no changes (5 datasets, 5 distributions).")
    with open_store(env.kind) as st:
        assert {t: st.scalar(f'SELECT count(*) FROM "{model.history_table(t)}"') for t in model.RECORD_TABLES} == versions
        assert st.scalar('SELECT count(*) FROM "changes"') == logged
    names = model.DATASETS.names
    after = env.rows("datasets")
    strip = lambda r: tuple(v for n, v in zip(names, r) if n != "run_id")  # noqa: E731
    assert {k: strip(v) for k, v in after.items()} == {k: strip(v) for k, v in before["datasets"].items()}
    assert {t: env.rows(t) for t in ("algorithms",)} == {"algorithms": before["algorithms"]}


def scenario_mass_withdrawal_is_held(env: StoreEnv) -> None:
    first_publish(env)
    before = env.dump()
    # A complete listing that lost 2 of 5 datasets (40 %) and 2 of 5 distributions: above 10 %.
    b = make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2", title="nieuw") for i in range(3)],
                   distributions=[distribution("gem-a", i, "run2") for i in range(3)], quarantine=[])
    summary = publish()
    src = summary["sources"]["gem-a"]
    assert src["status"] == "held" and src["result"] == "held"
    assert (src["added"], src["changed"], src["removed"]) == (0, 0, 0)
    assert "would withdraw 2 of the 5 published datasets (40%)" in src["message"]
    assert "more than the 10% allowed" in src["message"]
    assert "inventory release gem-a run2" in src["message"]
    after = env.dump()
    # nothing of the source changed: records, quarantine, history, changes; harvest_runs gained the held row
    assert {t: v for t, v in after.items() if t != "harvest_runs"} == {t: v for t, v in before.items() if t != "harvest_runs"}
    [run] = [r for r in env.harvest_runs("gem-a") if r["run_id"] == "run2"]
    assert run["status"] == "held" and run["message"] == src["message"]
    assert report(b)["state"] == "held"
    assert publish()["sources"] == {}  # a held batch is not picked up again
    [row] = [r for r in read_summary() if r["source_id"] == "gem-a"]
    assert row["status"] == "held" and row["records"]["datasets"] == 5
    # Exports say the same: the previous inventory and the held run.
    latest = settings.exports_dir() / "latest"
    assert pq.read_table(latest / "datasets.parquet").num_rows == 5
    assert "held" in pq.read_table(latest / "harvest_runs.parquet").column("status").to_pylist()


def scenario_replaced_distributions_are_not_held(env: StoreEnv) -> None:
    """An agency that publishes this month's files in place of last month's withdraws most
    distributions while every dataset stays: an update, published, not held as a mass deletion."""
    first_publish(env)
    b = make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2") for i in range(5)],
                   distributions=[distribution("gem-a", i, "run2", distribution_uid=model.stable_uid("gem-a", f"ds-{i}", "2026-11"),
                                               access_url=f"https://example.nl/ds/{i}-2026-11.csv") for i in range(5)],
                   quarantine=[])
    src = publish()["sources"]["gem-a"]
    assert src["status"] == "complete" and src["result"] == "published", src["message"]
    assert report(b)["state"] == "published"
    assert {r[model.DISTRIBUTIONS.names.index("access_url")] for r in env.rows("distributions", "gem-a").values()} == {
        f"https://example.nl/ds/{i}-2026-11.csv" for i in range(5)}


def scenario_held_run_is_released(env: StoreEnv) -> None:
    first_publish(env)
    make_batch("gem-a", "run2", datasets=[dataset("gem-a", 0, "run2")], distributions=[distribution("gem-a", 0, "run2")])
    assert publish()["sources"]["gem-a"]["status"] == "held"
    with pytest.raises(core.ReleaseError, match="not held"):
        core.release("gem-a", "run1")
    with pytest.raises(core.ReleaseError, match="no run"):
        core.release("gem-a", "run9")
    summary = core.release("gem-a", "run2", by="steward@example.nl")
    src = summary["sources"]["gem-a"]
    assert src["status"] == "complete" and (src["added"], src["changed"], src["removed"]) == (0, 0, 8)
    assert src["message"].startswith("complete harvest Released for publication by steward@example.nl")
    assert len(env.rows("datasets", "gem-a")) == 1
    runs = {r["run_id"]: r for r in env.harvest_runs("gem-a")}
    assert runs["run2"]["status"] == "complete" and runs["run2"]["removed"] == 8
    assert report(Batch.for_run("gem-a", "run2"))["state"] == "published"
    with open_store(env.kind) as st:
        assert st.scalar('SELECT count(*) FROM "datasets_withdrawn"') == 4
    assert [c[3] for c in changes(env, "run2")] == ["withdrawn"] * 8


def scenario_release_refuses_a_superseded_run(env: StoreEnv) -> None:
    first_publish(env)
    make_batch("gem-a", "run2", datasets=[], distributions=[])
    publish()
    make_batch("gem-a", "run3", status="partial", datasets=[dataset("gem-a", 7, "run3")])
    publish()
    with pytest.raises(core.ReleaseError, match="superseded by the newer run 'run3'"):
        core.release("gem-a", "run2")
    assert report(Batch.for_run("gem-a", "run2"))["state"] == "held"


def scenario_share_allowed_per_source_in_the_sources_file(env: StoreEnv) -> None:
    sources = env.data_dir / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - id: gem-a\n    kind: ckan\n    url: https://data.gem-a.example/api/3/action/\n"
        "    options: {max_removed_share: '50%'}\n"
        "  - id: alg-reg\n    kind: algoritmeregister\n    url: https://alg.example/api/\n", encoding="utf-8")
    env.monkeypatch.setenv("INVENTORY_SOURCES", str(sources))
    first_publish(env)
    make_batch("gem-a", "run2", datasets=[dataset("gem-a", i, "run2") for i in range(3)])  # 40 % gone: allowed
    make_batch("alg-reg", "run2", kind="algoritmeregister", algorithms=[algorithm("alg-reg", 0, "run2")])  # 67 %: held
    summary = publish()
    assert summary["sources"]["gem-a"]["status"] == "complete" and summary["sources"]["gem-a"]["removed"] == 2
    assert summary["sources"]["alg-reg"]["status"] == "held"
    # the global setting moves the default for every source the file does not override
    env.monkeypatch.setenv("INVENTORY_MAX_REMOVED_SHARE", "0.7")
    make_batch("alg-reg", "run3", kind="algoritmeregister", algorithms=[algorithm("alg-reg", 0, "run3")])
    assert publish()["sources"]["alg-reg"]["status"] == "complete"
    assert len(env.rows("algorithms", "alg-reg")) == 1


SCENARIOS = [
    scenario_first_publish_loads_rows,
    scenario_summary_shape,
    scenario_unchanged_republish_counts_nothing,
    scenario_complete_removes_missing_records,
    scenario_partial_deletes_nothing,
    scenario_incremental_complete_deletes_nothing,
    scenario_failed_keeps_previous_records,
    scenario_later_batch_supersedes_earlier,
    scenario_only_validated_batches_are_selected,
    scenario_bad_batch_is_refused_whole,
    scenario_duplicate_uids_are_collapsed,
    scenario_exports_released_atomically,
    scenario_catalogue_reused_until_its_records_change,
    scenario_crash_halfway_keeps_previous_inventory,
    scenario_crash_after_commit_is_reconciled,
    scenario_bulk_load_in_record_batches,
    scenario_duplicate_uids_keep_the_last_row,
    scenario_quarantine_rows_belong_to_the_batch_source,
    scenario_mixed_changes_in_one_batch,
    scenario_a_key_another_source_holds_moves,
    scenario_data_services_round_trip,
    scenario_withdrawn_record_becomes_a_tombstone,
    scenario_partial_and_failed_withdraw_nothing,
    scenario_history_keeps_every_version,
    scenario_changes_name_the_fields,
    scenario_unchanged_rerun_changes_nothing,
    scenario_mass_withdrawal_is_held,
    scenario_held_run_is_released,
    scenario_replaced_distributions_are_not_held,
    scenario_release_refuses_a_superseded_run,
    scenario_share_allowed_per_source_in_the_sources_file,
]
