"""The ``ckan`` kind against the sample agencies' national portal (data.overheid.nl's CKAN schema)
and a 2015-style municipal portal: paging, count reconciliation, mapping, incremental runs."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from inventory import vocab
from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, harvest_source
from inventory.staging import Batch
from tests.conftest import PROJECT

FIXTURES = PROJECT / "plugins" / "inventory" / "demo" / "fixtures" / "ckan"


def portal(agencies, agency="national-portal", prefix="", **options) -> SourceConfig:
    return SourceConfig(
        id=agency,
        kind="ckan",
        url=f"{agencies.url}{prefix}/ckan/{agency}/api/3/action/",
        allow_private_network=True,
        options={"rows": 100, "retries": 2, "backoff_factor": 0.01, **options},
    )


def staged(source_id: str, run_id: str, table: str) -> list[dict]:
    return pq.read_table(Batch.for_run(source_id, run_id).harvested(table)).to_pylist()


def fixture_packages(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["packages"]


def test_pages_with_rows_and_start_under_a_stable_sort(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(portal(sample_agencies, rows=100), "r1")
    assert report["status"] == "complete", report["message"]
    assert report["records_reported"] == 300 and report["pages"] == 3
    assert report["records_received"] == 299 and report["duplicates"] == 1  # one id is listed twice
    searches = [path for method, path, _ in sample_agencies.request_log if "package_search" in path]
    assert all("sort=id+asc" in p for p in searches)
    assert [int(p.split("start=")[1].split("&")[0]) for p in searches] == [0, 100, 200]


def test_rows_is_capped_at_ckans_maximum(sample_agencies):
    source = portal(sample_agencies, rows=5000)
    sample_agencies.reset()
    harvest_source(source, "r-cap")
    assert all("rows=1000" in p for _, p, _ in sample_agencies.request_log if "package_search" in p)


def test_short_count_is_partial(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(portal(sample_agencies, prefix="/faults/short-count"), "r2")
    assert report["status"] == "partial"
    assert "reported 320 records but 300 were received" in report["message"]


def test_pagination_drift_is_detected(sample_agencies):
    # A record inserted at the head while paging pushes a record across the page boundary: it is
    # received twice (quarantined once), the new record is never seen, and the reported total changes.
    sample_agencies.reset()
    report = harvest_source(portal(sample_agencies, prefix="/faults/drift"), "r3")
    assert report["status"] == "partial"
    assert "the reported total went from 300 to 301" in report["message"]
    assert report["duplicates"] == 2  # the fixture's own duplicate and the shifted record


def test_html_maintenance_page_fails_the_source(sample_agencies):
    sample_agencies.reset()
    with pytest.raises(HarvestFailed) as info:
        harvest_source(portal(sample_agencies, prefix="/faults/html"), "r4")
    assert info.value.report["status"] == "failed"
    assert "HTML page where JSON was expected" in info.value.report["error"]


def test_500_once_is_retried_transparently(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(portal(sample_agencies, prefix="/faults/500-once"), "r5")
    assert report["status"] == "complete"


def test_current_schema_maps_every_canonical_field(sample_agencies):
    sample_agencies.reset()
    harvest_source(portal(sample_agencies), "r6")
    package = next(p for p in fixture_packages("national-portal") if "_defect" not in p and p.get("resources") and p.get("frequency"))
    (row,) = [r for r in staged("national-portal", "r6", "datasets") if r["source_record_id"] == package["id"]]
    assert row["title"] == package["title"]
    assert row["description"] == package["notes"].strip()
    assert row["identifier"] == package["identifier"]
    # As the portal wrote them (publisher/publisher_uri hold the canonical organisation: test_organizations.py)
    assert row["publisher_uri_original"] == package["publisher"]
    assert row["publisher_original"] == package["organization"]["title"]
    assert row["contact_point"] == package["contact_point_email"]
    assert row["theme"] == package["theme"] and row["theme_original"] == package["theme"]
    assert row["keyword"] == [t["display_name"] for t in package["tags"]]
    assert row["license_original"] == package["license_id"]
    assert row["license"].startswith("http")  # slug mapped onto the controlled URI
    assert row["access_rights"] == package["access_rights"]
    assert row["issued"] == package["issued"] and row["modified"] == package["modified"]
    assert row["landing_page"] == package["url"]
    assert row["language"] == package["language"]
    assert row["spatial"] == package["spatial_value"][0]
    assert row["temporal_start"] == package["temporal_start"]
    assert row["frequency"] == row["frequency_original"] == package["frequency"]
    assert row["source_id"] == "national-portal" and len(row["raw_sha256"]) == 64 and row["run_id"] == "r6"
    distributions = [d for d in staged("national-portal", "r6", "distributions") if d["dataset_uid"] == row["dataset_uid"]]
    assert len(distributions) == len(package["resources"])
    first = package["resources"][0]
    (dist,) = [d for d in distributions if d["access_url"] == first["url"]]
    assert dist["format_original"] == first.get("format")
    assert dist["media_type"] == first.get("mimetype")


def test_2015_schema_maps_slugs_and_old_field_names(sample_agencies):
    harvest_source(portal(sample_agencies, agency="gemeente-utrecht", rows=25), "r7")
    rows = staged("gemeente-utrecht", "r7", "datasets")
    assert len(rows) == 60
    by_id = {r["source_record_id"]: r for r in rows}
    with_frequency = [p for p in fixture_packages("gemeente-utrecht") if p.get("accrual_periodicity")]
    for package in with_frequency:  # purl.org/cld and ISO 19115 codes (notPlanned) all map onto the EU list
        assert by_id[package["id"]]["frequency_original"] == package["accrual_periodicity"]
        assert by_id[package["id"]]["frequency"].startswith("http://publications.europa.eu/resource/authority/frequency/")
    package = next(p for p in with_frequency if "_defect" not in p)
    row = by_id[package["id"]]
    assert row["license_original"] == package["license_id"]
    assert row["license"] in vocab.uris("licenses")
    if package.get("landingpage"):
        assert row["landing_page"] == package["landingpage"]
    assert row["temporal_start"] == package.get("temporal_from")


def test_stable_uid_is_the_same_in_every_run(sample_agencies):
    harvest_source(portal(sample_agencies), "run-a")
    harvest_source(portal(sample_agencies), "run-b")
    a = {r["source_record_id"]: r["dataset_uid"] for r in staged("national-portal", "run-a", "datasets")}
    b = {r["source_record_id"]: r["dataset_uid"] for r in staged("national-portal", "run-b", "datasets")}
    assert a == b and len(set(a.values())) == len(a)


def test_incremental_run_asks_only_for_newer_packages(sample_agencies):
    source = portal(sample_agencies, incremental=True)
    first = harvest_source(source, "inc-1")
    sample_agencies.reset()
    second = harvest_source(source, "inc-2")
    assert second["incremental"] and second["since"] == first["high_water_mark"]
    searches = [p for _, p, _ in sample_agencies.request_log if "package_search" in p]
    assert "fq=metadata_modified" in searches[0]
    assert second["records_received"] < first["records_received"]
