"""The ``algoritmeregister`` kind against the sample register: the POST listing (page from 1, limit
at most 100), every standard version onto the 1.0 fields, lars check digits, concept ids."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from inventory.config import SourceConfig
from inventory.harvest import harvest_source
from inventory.sources.algoritmeregister import lars_check_digit_ok
from inventory.staging import Batch


def register(agencies, **options) -> SourceConfig:
    return SourceConfig(
        id="algoritmeregister",
        kind="algoritmeregister",
        url=f"{agencies.url}/algoritmeregister",
        allow_private_network=True,
        options={"language": "NLD", "limit": 10, **options},
    )


@pytest.mark.parametrize("lars, ok", [("16268148", True), ("97246956", True), ("16268149", False), ("1626814", False), ("C3428140", False)])
def test_lars_check_digit(lars, ok):
    assert lars_check_digit_ok(lars) is ok


def test_pages_from_one_with_limit_at_most_100(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(register(sample_agencies, limit=500), "a1")
    bodies = [json.loads(body) for method, path, body in sample_agencies.request_log if method == "POST"]
    assert [b["page"] for b in bodies] == [1] and bodies[0]["limit"] == 100
    sample_agencies.reset()
    report = harvest_source(register(sample_agencies), "a2")
    bodies = [json.loads(body) for method, path, body in sample_agencies.request_log if method == "POST"]
    assert [b["page"] for b in bodies] == [1, 2, 3, 4] and {b["limit"] for b in bodies} == {10}
    assert report["status"] == "complete", report["message"]
    assert report["records_reported"] == 39


def test_never_requests_a_concept_id(sample_agencies):
    sample_agencies.reset()
    harvest_source(register(sample_agencies), "a3")
    assert not any("/C" in path for _, path, _ in sample_agencies.request_log)


def test_every_standard_version_maps_onto_1_0(sample_agencies):
    harvest_source(register(sample_agencies), "a4")
    rows = {r["source_record_id"]: r for r in pq.read_table(Batch.for_run("algoritmeregister", "a4").harvested("algorithms")).to_pylist()}
    assert {r["standard_version"] for r in rows.values()} == {"0.1", "0.3.1", "0.4.0", "1.0"}
    assert all(r["jurisdiction"] == "NL" and r["algorithm_uid"] for r in rows.values())
    legacy_active = [r for r in rows.values() if r["standard_version"] == "0.1" and r["original_status"] in ("Actief", "Active")]
    assert legacy_active and all(r["status"] == "In gebruik" for r in legacy_active)
    planned = [r for r in rows.values() if r["original_status"] == "Gepland"]
    assert planned and all(r["status"] is None for r in planned), "an unmappable free-text status is kept, not guessed"
    strict = [r for r in rows.values() if r["standard_version"] == "1.0" and r["original_status"] == "Actief"]
    assert strict and all(r["status"] == "Actief" for r in strict), "a 1.0 record's status goes to validation as written"
    with_grouping = [r for r in rows.values() if r["standard_version"] == "1.0" and r["impact_assessments"]]
    assert with_grouping


def test_wrong_check_digit_and_duplicates_are_quarantined_at_harvest(sample_agencies):
    report = harvest_source(register(sample_agencies), "a5")
    quarantine = pq.read_table(Batch.for_run("algoritmeregister", "a5").parse_quarantine).to_pylist()
    checks = {(q["expectation"], q["observed_value"]) for q in quarantine}
    assert ("lars_check_digit", "50761814") in checks
    assert ("record_id_unique_in_listing", "41593898") in checks
    assert report["refused"] >= 1 and report["duplicates"] == 1
    # A seven-digit lars is not refused here: validation quarantines it on its format.
    rows = pq.read_table(Batch.for_run("algoritmeregister", "a5").harvested("algorithms")).to_pylist()
    assert "4784513" in {r["source_record_id"] for r in rows}
