"""Big listings parsed and mapped in the harvest's page worker process: they stage exactly what the
harvest loop stages when it parses the pages itself, and a worker that cannot start or dies costs
nothing but the overlap."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from inventory import page_worker
from inventory.config import SourceConfig
from inventory.harvest import harvest_source
from inventory.staging import Batch


def national_portal(agencies) -> SourceConfig:
    # The national portal's CKAN pages: one id listed twice, defective packages.
    return SourceConfig(id="national-portal", kind="ckan", url=f"{agencies.url}/ckan/national-portal/api/3/action/",
                        allow_private_network=True, options={"rows": 50, "retries": 2, "backoff_factor": 0.01})


def staged(source_id: str, run_id: str, table: str) -> list[dict]:
    return pq.read_table(Batch.for_run(source_id, run_id).harvested(table)).to_pylist()


def comparable(rows: list[dict]) -> list[dict]:
    """Staged rows without what differs between two runs (run id, times), in a fixed order."""
    volatile = {"run_id", "harvested_at", "quarantined_at"}
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in volatile}
        if row.get("record"):
            row["record"] = {k: v for k, v in json.loads(row["record"]).items() if k not in volatile}
        out.append(row)
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_pages_mapped_in_the_worker_process_stage_the_same_records(sample_agencies, monkeypatch):
    source = national_portal(sample_agencies)
    sample_agencies.reset()
    in_process = harvest_source(source, "in-process")
    assert in_process["status"] == "complete", in_process["message"]

    started = page_worker.start

    def start_and_wait():  # the worker takes the next pages only once it is up: wait for it here
        worker = started()
        worker.submit(page_worker.warm_up, "ckan").result()
        return worker

    unpickled = []
    setstate = page_worker.ArrowColumns.__setstate__

    def count_pages(self, state):
        unpickled.append(1)
        setstate(self, state)

    monkeypatch.setattr(page_worker, "MIN_RECORDS", 0)
    monkeypatch.setattr(page_worker, "start", start_and_wait)
    monkeypatch.setattr(page_worker.ArrowColumns, "__setstate__", count_pages)
    sample_agencies.reset()
    in_worker = harvest_source(source, "in-worker")

    assert in_worker["pages"] >= 4 and len(unpickled) >= in_worker["pages"] - 2  # the first page (and one fetched meanwhile) maps here
    for key in ("status", "pages", "records_reported", "records_received", "records_quarantined", "duplicates", "refused", "rows_staged"):
        assert in_worker[key] == in_process[key], key
    for table in ("datasets", "distributions", "quarantine"):
        assert comparable(staged(source.id, "in-worker", table)) == comparable(staged(source.id, "in-process", table)), table


def test_a_worker_process_that_cannot_start_leaves_the_pages_to_the_loop(sample_agencies, monkeypatch):
    def refuse():
        raise OSError("no processes allowed here")

    monkeypatch.setattr(page_worker, "MIN_RECORDS", 0)
    monkeypatch.setattr(page_worker, "start", refuse)
    report = harvest_source(national_portal(sample_agencies), "no-worker")
    assert report["status"] == "complete" and report["records_received"] == 299, report["message"]


DEATHS = ["before its first page", "when page 4 comes", "between parsing page 3 and mapping it"]


@pytest.mark.parametrize("dies", DEATHS)
def test_when_the_page_worker_dies_the_pages_are_parsed_in_the_loop(sample_agencies, monkeypatch, caplog, dies):
    """An out-of-memory kill of the worker: the harvest goes on in its own process, the pages the
    worker had not answered (or had parsed and not mapped) included, and stages every record;
    the log says what happened, once."""
    started = page_worker.start
    workers = []

    def kill(worker):
        worker.process.kill()
        worker.process.wait()
        worker._reader.join()  # the worker's end is known before the next call is sent

    def start_then_kill():
        worker = started()
        worker.submit(page_worker.warm_up, "ckan").result()
        workers.append(worker)
        if dies == DEATHS[0]:
            kill(worker)
            return worker
        submit = worker.submit

        def submit_or_die(fn, *args):
            if dies == DEATHS[1] and fn is page_worker.parse and args[2].seq == 4:
                kill(worker)
            if dies == DEATHS[2] and fn is page_worker.columns and args[0] == 3:
                kill(worker)
            return submit(fn, *args)
        worker.submit = submit_or_die
        return worker

    monkeypatch.setattr(page_worker, "MIN_RECORDS", 0)
    monkeypatch.setattr(page_worker, "start", start_then_kill)
    sample_agencies.reset()
    report = harvest_source(national_portal(sample_agencies), f"worker-killed-{DEATHS.index(dies)}")
    assert report["status"] == "complete" and report["records_received"] == 299, report["message"]
    assert report["rows_staged"] == {"datasets": 299, "distributions": 663}
    assert workers and workers[0].process.poll() is not None
    assert caplog.text.count("the page worker process ended (exit code -9); the remaining pages are parsed") == 1
