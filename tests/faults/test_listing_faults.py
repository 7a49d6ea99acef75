"""Listing faults: a catalogue that changes while it is paged, listings that loop, duplicate ids,
and a harvest task that is retried half-way (it resumes from the landing zone).

A partial listing deletes nothing: every record the good run published is still there afterwards.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.faults.conftest import CKAN_PATH, DCAT_PATH, FAULTY_RUN, GOOD_RUN, PACKAGES, ckan_envelope, ckan_listing, dcat_page, package
from tests.faults.hostile_server import Reply


def test_pagination_drift_is_partial_and_deletes_nothing(inventory, hostile, good):
    # Package 0 is withdrawn after the first page was served: offsets shift by one, so package 2
    # slides onto page 1 and is never served. The reported total changes from 5 to 4.
    def drifting(req):
        start = int(req.param("start"))
        current = PACKAGES if start == 0 else PACKAGES[1:]
        return Reply(200, ckan_envelope(len(current), current[start : start + 2]))

    hostile.route(CKAN_PATH, drifting)
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "partial"
    assert "the catalogue changed while it was paged (the reported total went from 5 to 4 at page 2)" in row["message"]
    assert "nothing is deleted" in row["message"]
    assert row["records_received"] == 4
    inventory.assert_unchanged(good, provenance_may_change=True)  # package 0 and package 2 are still published


def test_records_inserted_while_paging_are_caught_by_the_seen_set(inventory, hostile, good):
    # A new package sorts first after page 1: the last record of page 1 is served again on page 2.
    newcomer = package(99, id="00000000-0000-4000-8000-000000000000")

    def drifting(req):
        start = int(req.param("start"))
        current = PACKAGES if start == 0 else [newcomer, *PACKAGES]
        return Reply(200, ckan_envelope(len(current), current[start : start + 2]))

    hostile.route(CKAN_PATH, drifting)
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "partial"
    assert "went from 5 to 6" in row["message"] and "1 duplicate id(s) quarantined" in row["message"]
    assert inventory.report("hostile-portal")["duplicates"] == 1
    inventory.assert_kept(good)  # the newcomer is added; nothing published before is removed or altered


def test_next_link_loop_ends_the_listing_as_partial(inventory, hostile, good_catalogue):
    # Page 3 links back to page 2 (a Hydra view that loops), instead of ending.
    pages = {1: [0, 1], 2: [2, 3], 3: [4]}

    def looping(req):
        page = int(req.param("page", "1"))
        return Reply(200, dcat_page(hostile.url, pages[page], page=page, next_page=2 if page == 3 else page + 1, total=5), "text/turtle")

    hostile.route(DCAT_PATH, looping)
    row = inventory.run("hostile-catalogue", FAULTY_RUN)
    assert row["status"] == "partial"
    assert "asked for the same page twice" in row["message"] and "stopped to avoid a loop" in row["message"]
    assert hostile.hits_on(DCAT_PATH) == 3, "the link back to page 2 was not followed"
    inventory.assert_unchanged(good_catalogue, provenance_may_change=True)


def test_server_repeating_a_page_ends_the_listing_as_partial(inventory, hostile, good):
    # A server that ignores ``start`` answers page 1 for every page: it would never end.
    hostile.route(CKAN_PATH, Reply(200, ckan_envelope(5, PACKAGES[:2])))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "partial"
    assert "repeated an earlier page byte for byte" in row["message"]
    assert hostile.hits_on(CKAN_PATH) == 2
    inventory.assert_unchanged(good, provenance_may_change=True)


def test_duplicate_ids_within_a_source_are_reported_and_across_sources_kept_apart(inventory, hostile, good):
    # The portal lists package 1 twice; a second portal re-publishes the same packages (same ids).
    hostile.route(CKAN_PATH, ckan_listing([*PACKAGES[:2], PACKAGES[1], *PACKAGES[2:]]))
    hostile.route("/mirror/api/3/action/package_search", ckan_listing(PACKAGES))
    inventory.add_source("hostile-mirror", "ckan", "/mirror/api/3/action/", rows=2)
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "complete", row["message"]
    assert "1 duplicate id(s) quarantined" in row["message"]
    mirror = inventory.run("hostile-mirror", FAULTY_RUN)
    assert mirror["status"] == "complete", mirror["message"]
    con = duckdb.connect(str(inventory.data_dir / "inventory.duckdb"), read_only=True)
    try:
        quarantined = con.execute("SELECT source_record_id, expectation FROM quarantine WHERE source_id = 'hostile-portal'").fetchall()
        same = con.execute("SELECT source_id, dataset_uid FROM datasets WHERE source_record_id = ? ORDER BY source_id",
                           [PACKAGES[1]["id"]]).fetchall()
    finally:
        con.close()
    assert quarantined == [(PACKAGES[1]["id"], "record_id_unique_in_listing")]
    assert [s for s, _ in same] == ["hostile-mirror", "hostile-portal"] and same[0][1] != same[1][1]
    inventory.assert_kept(good)


def test_retried_task_resumes_from_the_landing_zone(inventory, hostile, good):
    from inventory import pipeline
    from inventory.harvest import HarvestFailed

    listing = ckan_listing(PACKAGES)
    hostile.route(CKAN_PATH, lambda req: Reply(503, b"busy", "text/plain") if req.param("start") == "4" else listing(req))
    with pytest.raises(HarvestFailed):
        pipeline.harvest("hostile-portal", FAULTY_RUN)  # the first try of the Airflow task fails on page 3
    starts = [r.param("start") for r in hostile.requests]
    assert starts == ["0", "2", "4", "4", "4"]  # page 3 tried 1 + 2 retries

    hostile.reset_counters()
    hostile.route(CKAN_PATH, listing)
    report = pipeline.harvest("hostile-portal", FAULTY_RUN)  # Airflow's retry of the same task
    assert report["status"] == "complete", report["message"]
    assert [r.param("start") for r in hostile.requests] == ["4"], "landed pages must be replayed, not fetched again"
    assert "2 page(s) replayed from the landing zone" in report["message"]
    pipeline.validate("hostile-portal", FAULTY_RUN, build_docs=False)
    pipeline.publish()
    assert inventory.harvest_run("hostile-portal", FAULTY_RUN)["status"] == "complete"
    inventory.assert_unchanged(good, provenance_may_change=True)
    assert inventory.harvest_run("hostile-portal", GOOD_RUN)["status"] == "complete"


def test_rerun_with_unchanged_input_changes_nothing(inventory, hostile, good):
    """Idempotent: the same catalogue harvested again lands the same bytes and publishes zero changes."""
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "complete", row["message"]
    assert (row["added"], row["changed"], row["removed"]) == (0, 0, 0)

    def hashes(run_id: str) -> list[str]:
        return [json.loads(p.read_text())["sha256"] for p in inventory.landing_files("hostile-portal", run_id) if p.suffix == ".json"]

    assert hashes(FAULTY_RUN) == hashes(GOOD_RUN) and len(hashes(GOOD_RUN)) == 3
    inventory.assert_unchanged(good, provenance_may_change=True)
