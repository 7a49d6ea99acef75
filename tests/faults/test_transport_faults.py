"""Transport faults: errors, throttling, hangs, resets, huge bodies, a failing host, politeness.

Each test publishes a good run of a CKAN source (data.overheid.nl ``package_search`` pages) from
the hostile server, scripts the fault, runs the source again through the real pipeline and checks
what ``harvest_runs`` recorded and that the published inventory is still the good one.
"""

from __future__ import annotations

import threading
import time
from email.utils import formatdate

import pytest

from tests.faults.conftest import CKAN_PATH, FAULTY_RUN, PACKAGES, ckan_listing, package
from tests.faults.hostile_server import Hang, Reply, Reset, Stream


def test_500_then_success_is_retried_and_the_run_is_complete(inventory, hostile, good):
    hostile.route(CKAN_PATH, Reply(500, b"<h1>Internal Server Error</h1>", "text/html"), ckan_listing(PACKAGES))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "complete", row["message"]
    assert "1 request(s) retried" in row["message"]
    assert hostile.hits_on(CKAN_PATH) == 3 + 1  # three pages, one of them asked twice
    inventory.assert_unchanged(good, provenance_may_change=True)


@pytest.mark.parametrize("retry_after", ["seconds", "http-date"])
def test_429_retry_after_is_honoured_up_to_the_cap(inventory, hostile, good, retry_after):
    # The cap is 0.2 s here: the server's one second (or one hour, as a date) is waited as 0.2 s.
    asked = "1" if retry_after == "seconds" else formatdate(time.time() + 3600, usegmt=True)
    inventory.add_ckan(retry_after_max=0.2)
    hostile.route(CKAN_PATH, Reply(429, b'{"error": "Too Many Requests"}', headers={"Retry-After": asked}), ckan_listing(PACKAGES))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "complete", row["message"]
    assert "Retry-After" in row["message"]
    waits = inventory.report("hostile-portal")["retry_after"]
    assert [w["waited_s"] for w in waits] == [0.2]
    assert waits[0]["asked_s"] >= (1 if retry_after == "seconds" else 3500)
    first, second = hostile.arrivals[:2]
    assert second - first >= 0.2, "the retry came before the wait the server asked for (capped) was over"
    inventory.assert_unchanged(good, provenance_may_change=True)


def test_hanging_response_times_out_and_fails_the_run(inventory, hostile, good):
    inventory.add_ckan(read_timeout=0.2, retries=1)
    hostile.route(CKAN_PATH, Hang(30))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "no answer within 0.2 s" in row["message"] and "Previous records are kept" in row["message"]
    assert hostile.hits_on(CKAN_PATH) == 2  # the first try and one retry, each given up after the read timeout
    inventory.assert_unchanged(good)


def test_connection_reset_is_retried_then_fails_the_run(inventory, hostile, good):
    hostile.route(CKAN_PATH, Reset())
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "connection" in row["message"].lower() and "reset" in row["message"].lower()
    assert hostile.hits_on(CKAN_PATH) == 3  # retries: 2
    inventory.assert_unchanged(good)


@pytest.mark.parametrize("declare_length", [False, True], ids=["streamed", "content-length"])
def test_200_mb_response_is_aborted_at_the_cap(inventory, hostile, good, declare_length):
    inventory.add_ckan(max_bytes=1_000_000)
    hostile.route(CKAN_PATH, Stream(200 * 1024 * 1024, declare_length=declare_length))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "cap of 1,000,000 bytes" in row["message"]
    # The client stopped reading: the server wrote a small part of the 200 MB (socket buffers at most).
    assert hostile.bytes_sent < 32 * 1024 * 1024
    assert not [p for p in inventory.landing_files("hostile-portal") if p.suffix == ".body"], "nothing of it was landed"
    inventory.assert_unchanged(good)


def test_circuit_breaker_stops_hammering_a_failing_host(inventory, hostile, good, monkeypatch):
    import inventory.http as http

    clock = [1000.0]
    monkeypatch.setattr(http, "monotonic", lambda: clock[0])
    # Ten retries allowed, but the breaker opens after three consecutive failures of the host.
    inventory.add_ckan(retries=10, circuit_failures=3, circuit_cooldown=60)
    inventory.add_source("hostile-mirror", "ckan", "/mirror/api/3/action/", rows=2, retries=10, circuit_failures=3, circuit_cooldown=60)
    hostile.route(CKAN_PATH, Reply(503, b"Service Unavailable", "text/plain"))
    hostile.route("/mirror/api/3/action/package_search", ckan_listing(PACKAGES))

    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert hostile.hits_on(CKAN_PATH) == 3, "the breaker must stop the retries after three failures"
    assert "circuit breaker" in row["message"] and "3 consecutive failures" in row["message"]
    inventory.assert_unchanged(good)

    # Another source on the same host is not sent a single request while the breaker is open.
    mirror = inventory.run("hostile-mirror", FAULTY_RUN)
    assert mirror["status"] == "failed"
    assert hostile.hits_on("/mirror/api/3/action/package_search") == 0
    assert f"127.0.0.1:{hostile.port}" in mirror["message"] and "not asked again" in mirror["message"]

    # After the cool-down one probe goes through; the host answers again, so the breaker closes.
    clock[0] += 61
    recovered = inventory.run("hostile-mirror", "manual__2026-11-28T01:00:00+00:00")
    assert recovered["status"] == "complete", recovered["message"]
    assert hostile.hits_on("/mirror/api/3/action/package_search") == 3


def test_per_host_concurrency_limit_is_respected(inventory, hostile):
    """Four sources on one host harvested at once: never more than two requests in flight there."""
    from inventory import pipeline

    ids = [f"agency-{i}" for i in range(4)]
    for source_id in ids:
        path = f"/{source_id}/api/3/action/"
        hostile.route(f"{path}package_search", lambda req: Reply(200, ckan_listing(PACKAGES)(req).body, delay=0.1))
        inventory.add_source(source_id, "ckan", path, rows=2, max_connections_per_host=2)
    reports: dict[str, dict] = {}

    def harvest(source_id: str) -> None:
        reports[source_id] = pipeline.harvest(source_id, FAULTY_RUN)

    threads = [threading.Thread(target=harvest, args=(s,)) for s in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(reports[s]["status"] == "complete" for s in ids), reports
    assert hostile.peak_in_flight == 2, f"peak of {hostile.peak_in_flight} requests in flight at the host"


def test_per_host_rate_limit_spaces_requests_at_the_server(inventory, hostile):
    from inventory import pipeline

    hostile.route(CKAN_PATH, ckan_listing([package(i) for i in range(9)]))
    inventory.add_ckan(requests_per_second=10)
    report = pipeline.harvest("hostile-portal", FAULTY_RUN)
    assert report["status"] == "complete" and report["pages"] == 5
    # Starts are spaced exactly 0.1 s apart by the client; arrivals at the server jitter by a few
    # milliseconds of scheduling. Without the limit the pages would arrive ~1 ms apart.
    gaps = [b - a for a, b in zip(hostile.arrivals, hostile.arrivals[1:])]
    assert len(gaps) == 4 and min(gaps) >= 0.07, f"requests arrived closer than 1/10 s apart: {gaps}"
    assert hostile.arrivals[-1] - hostile.arrivals[0] >= 0.35
