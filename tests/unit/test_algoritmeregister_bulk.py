"""The ``algoritmeregister`` kind's ``bulk`` option: the register's bulk export instead of the paged
API, giving the same canonical records (compared by lars) in one page."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, harvest_source
from inventory.http import FetchedResponse
from inventory.staging import Batch

PROVENANCE = {"harvested_at", "run_id", "raw_sha256"}


def register(agencies, **options) -> SourceConfig:
    return SourceConfig(id="algoritmeregister", kind="algoritmeregister", url=f"{agencies.url}/algoritmeregister",
                        allow_private_network=True, options={"language": "NLD", "limit": 10, **options})


def by_lars(run: str) -> dict[str, dict]:
    rows = pq.read_table(Batch.for_run("algoritmeregister", run).harvested("algorithms")).to_pylist()
    return {r["source_record_id"]: {k: v for k, v in r.items() if k not in PROVENANCE} for r in rows}


def quarantined(run: str) -> set[tuple[str, str]]:
    rows = pq.read_table(Batch.for_run("algoritmeregister", run).parse_quarantine).to_pylist()
    return {(q["expectation"], q["observed_value"]) for q in rows}


def test_bulk_gives_the_same_canonical_records_as_the_paged_api(sample_agencies):
    sample_agencies.reset()
    bulk = harvest_source(register(sample_agencies, bulk=True), "bulk")
    assert [(m, p) for m, p, _ in sample_agencies.request_log] == [("GET", "/algoritmeregister/api/downloads/site-data/json")]
    paged = harvest_source(register(sample_agencies), "paged")
    assert bulk["status"] == paged["status"] == "complete", (bulk["message"], paged["message"])
    assert bulk["pages"] == 1 and paged["pages"] == 4
    assert bulk["records_reported"] == paged["records_reported"] == 39  # the NLD versions
    assert bulk["records_received"] == paged["records_received"]
    bulk_rows, paged_rows = by_lars("bulk"), by_lars("paged")
    assert bulk_rows.keys() == paged_rows.keys() and len(bulk_rows) > 30
    for lars, row in paged_rows.items():
        assert bulk_rows[lars] == row, lars
    # The same refusals and duplicates, quarantined the same way.
    assert quarantined("bulk") == quarantined("paged")
    assert ("lars_check_digit", "50761814") in quarantined("bulk")


def test_only_the_chosen_language_is_read(sample_agencies):
    report = harvest_source(register(sample_agencies, bulk=True, language="ENG"), "eng")
    assert report["records_reported"] == 4 and report["records_received"] == 4
    assert {r["language"] for r in by_lars("eng").values()} == {"eng", "English"}
    report = harvest_source(register(sample_agencies, bulk=True, language="FRY"), "fry")
    assert report["records_reported"] == 0 and report["status"] == "complete"


def test_concept_records_in_the_export_are_refused_not_published():
    export = {"algoritme_versions": [
        {"lars": "16268148", "language": "NLD", "name": "Druktebeeld", "organization": "Gemeente Amsterdam", "standard_version": "0.1"},
        {"lars": "C3428140", "language": "NLD", "name": "Concept", "organization": "Gemeente Amsterdam"},
        {"lars": "97246956", "lang": "English", "name": "Wmo forecasting model", "organization": "Municipality of Amsterdam"},
    ], "organisation_details": []}
    client = Export(json.dumps(export).encode())
    source = SourceConfig(id="algoritmeregister", kind="algoritmeregister", url="https://register.example", options={"bulk": "true"})
    report = harvest_source(source, "c1", client=client)
    assert client.calls == ["https://register.example/api/downloads/site-data/json"]
    assert report["records_reported"] == 2 and report["records_received"] == 2 and report["refused"] == 1
    assert set(by_lars("c1")) == {"16268148"}


class Export:
    def __init__(self, body: bytes):
        self.body, self.calls = body, []

    def request(self, method, url, *, params=None, json_body=None, data=None, headers=None):
        self.calls.append(url)
        return FetchedResponse(url=url, status=200, headers={"Content-Type": "application/json"}, body=self.body, elapsed_s=0.0)


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'{"results": [], "total_count": 0}', "not an Algoritmeregister bulk export (no 'algoritme_versions' list)"),
        (b"<!DOCTYPE html><html><body>Onderhoud</body></html>", "HTML page where JSON was expected"),
        (b'{"algoritme_versions": [', "not valid JSON"),
    ],
)
def test_a_bad_export_fails_with_a_clear_message(body, expected):
    source = SourceConfig(id="algoritmeregister", kind="algoritmeregister", url="https://register.example", options={"bulk": True})
    with pytest.raises(HarvestFailed) as info:
        harvest_source(source, "x1", client=Export(body))
    assert info.value.report["status"] == "failed" and expected in info.value.report["error"]
