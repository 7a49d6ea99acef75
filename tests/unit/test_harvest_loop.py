"""The shared harvest loop: seen-set, duplicates, loop detection, count reconciliation, replay.

A fake HTTP client answers from a script of CKAN-shaped pages (the data.overheid.nl
``package_search`` envelope), so each paging fault can be staged exactly.
"""

from __future__ import annotations

import json
from typing import Callable

import pyarrow.parquet as pq
import pytest

from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, SeenIds, harvest_source
from inventory.http import FetchedResponse, HarvestHTTPError
from inventory.staging import Batch

SOURCE = SourceConfig(id="fake-portal", kind="ckan", url="https://portal.example/api/3/action/", options={"rows": 2})
RUN = "manual__2026-11-28T10:00:00+00:00"


def package(n: int, **extra) -> dict:
    # Shaped like a data.overheid.nl package (DCAT-AP-DONL CKAN schema), trimmed to what matters here.
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"dataset-{n}",
        "title": f"Dataset {n}",
        "notes": "Beschrijving",
        "license_id": "cc-0",
        "metadata_modified": f"2026-01-{n % 28 + 1:02d}T10:00:00",
        "organization": {"title": "Gemeente Voorbeeld"},
        "resources": [{"id": f"r{n}", "url": f"https://portal.example/files/{n}.csv", "format": "CSV"}],
        **extra,
    }


def envelope(count: int, results: list[dict]) -> bytes:
    return json.dumps({"help": "package_search", "success": True, "result": {"count": count, "results": results}}).encode()


class FakeClient:
    """Answers each request with ``respond(start)``; counts calls."""

    def __init__(self, respond: Callable[[int], bytes | Exception]):
        self.respond = respond
        self.calls: list[int] = []

    def request(self, method, url, *, params=None, json_body=None, data=None, headers=None):
        start = int(params["start"])
        self.calls.append(start)
        body = self.respond(start)
        if isinstance(body, Exception):
            raise body
        return FetchedResponse(url=f"{url}?start={start}", status=200, headers={"Content-Type": "application/json"}, body=body, elapsed_s=0.0)


def paged(packages: list[dict], count: int | None = None) -> Callable[[int], bytes]:
    return lambda start: envelope(len(packages) if count is None else count, packages[start : start + 2])


def test_complete_listing_stages_every_record_and_lands_every_page():
    client = FakeClient(paged([package(i) for i in range(5)]))
    report = harvest_source(SOURCE, RUN, client=client)
    assert report["status"] == "complete", report["message"]
    assert (report["pages"], report["records_reported"], report["records_received"]) == (3, 5, 5)
    batch = Batch.for_run(SOURCE.id, RUN)
    assert pq.read_table(batch.harvested("datasets")).num_rows == 5
    assert pq.read_table(batch.harvested("distributions")).num_rows == 5
    landed = sorted((batch.path.parents[2] / "landing" / SOURCE.id / batch.batch_id).glob("*.json"))
    meta = json.loads(landed[0].read_text())
    assert len(landed) == 3 and meta["sha256"] and meta["status"] == 200 and meta["request"]["params"]["start"] == 0


def test_fewer_records_than_reported_is_partial():
    # The listing ran to its end without an error, so the task succeeds, but the run is not complete.
    report = harvest_source(SOURCE, RUN, client=FakeClient(paged([package(i) for i in range(4)], count=6)))
    assert report["status"] == "partial"
    assert "reported 6 records but 4 were received" in report["message"]


def test_duplicate_id_is_quarantined_and_kept_once():
    packages = [package(0), package(1), package(1), package(2)]
    report = harvest_source(SOURCE, RUN, client=FakeClient(paged(packages, count=3)))
    assert report["status"] == "complete"
    assert report["duplicates"] == 1 and report["records_received"] == 3
    quarantine = pq.read_table(Batch.for_run(SOURCE.id, RUN).parse_quarantine).to_pylist()
    assert [q["expectation"] for q in quarantine] == ["record_id_unique_in_listing"]
    assert quarantine[0]["source_record_id"] == package(1)["id"]



def test_duplicate_ids_across_pages_are_found_exactly_when_every_id_shares_one_hash(monkeypatch):
    # The compact seen-set keeps hashes; a hash hit must be confirmed against the id itself, so
    # with every id colliding (and the arrays merged after every id) only the true repeats count.
    monkeypatch.setattr(SeenIds, "_hash", staticmethod(lambda record_id: 7))
    monkeypatch.setattr(SeenIds, "MERGE_EVERY", 1)
    packages = [package(0), package(1), package(2), package(1), package(3), package(0)]
    report = harvest_source(SOURCE, RUN, client=FakeClient(paged(packages, count=6)))
    assert report["duplicates"] == 2 and report["records_received"] == 4
    quarantine = pq.read_table(Batch.for_run(SOURCE.id, RUN).parse_quarantine).to_pylist()
    assert [q["source_record_id"] for q in quarantine] == [package(1)["id"], package(0)["id"]]
    staged = pq.read_table(Batch.for_run(SOURCE.id, RUN).harvested("datasets")).column("source_record_id").to_pylist()
    assert staged == [package(i)["id"] for i in range(4)]


@pytest.mark.parametrize("distinct_hashes", [1, 3, 2**62])
@pytest.mark.parametrize("merge_every,move_chunk", [(1, 65_536), (4, 65_536), (4, 3), (65_536, 65_536)])
def test_seen_ids_agree_with_a_plain_set(monkeypatch, tmp_path, distinct_hashes, merge_every, move_chunk):
    # Few distinct hashes force collisions (1: every id collides); many leave the hash alone. A
    # small move_chunk makes every in-place merge move the merged ids in several chunks.
    import random

    import numpy as np

    hash_of = lambda record_id: hash(record_id) % distinct_hashes  # noqa: E731
    monkeypatch.setattr(SeenIds, "_hash", staticmethod(hash_of))
    monkeypatch.setattr(SeenIds, "MERGE_EVERY", merge_every)
    monkeypatch.setattr(SeenIds, "MOVE_CHUNK", move_chunk)
    rng = random.Random(distinct_hashes * merge_every)
    ids = [f"id-{rng.randrange(60)}" for _ in range(300)] + ["caf\u00e9", "\ud800 lone surrogate", "", "caf\u00e9"]
    seen, plain = SeenIds(tmp_path / "scratch"), set()
    # Pages of 1-7 ids, added one by one (``add``) or as a page (``add_many``) in turn.
    pages, at = [], 0
    while at < len(ids):
        size = rng.randrange(1, 8)
        pages.append(ids[at : at + size])
        at += size
    for number, page in enumerate(pages):
        expected = []
        for record_id in page:
            expected.append(record_id not in plain)
            plain.add(record_id)
        got = seen.add_many(page) if number % 2 else [seen.add(record_id) for record_id in page]
        assert got == expected, page
        assert len(seen) == len(plain)
    assert all(record_id in seen for record_id in plain)
    assert "id-60" not in seen and "id-6" + "0" * 3 not in seen
    # The merged arrays: sorted, every hash once, each beside the offset of an id that has it.
    hashes, offsets = seen._hashes, seen._offsets
    assert len(hashes) == len(offsets)
    assert set(hashes.tolist()) | set(seen._recent) == {hash_of(record_id) for record_id in plain}
    assert np.all(hashes[1:] > hashes[:-1])
    assert all(hash_of(seen._read(int(offset))) == h for h, offset in zip(hashes.tolist(), offsets.tolist()))
    seen.close()


def test_server_ignoring_start_is_detected_as_a_repeated_page():
    # A server that answers every start with the first page would loop for ever.
    client = FakeClient(lambda start: envelope(10, [package(0), package(1)]))
    report = harvest_source(SOURCE, RUN, client=client)
    assert report["status"] == "partial"
    assert "repeated an earlier page" in report["message"]
    assert client.calls == [0, 2]


def test_error_mid_listing_keeps_what_was_received_and_says_partial():
    packages = [package(i) for i in range(6)]

    def respond(start):
        return HarvestHTTPError("GET https://portal.example/ kept failing after 4 retries: 503") if start == 4 else paged(packages)(start)

    with pytest.raises(HarvestFailed) as info:
        harvest_source(SOURCE, RUN, client=FakeClient(respond))
    report = info.value.report
    assert report["status"] == "partial" and report["records_received"] == 4
    assert "kept failing" in report["error"] and "Nothing is deleted" in report["message"]
    assert Batch.for_run(SOURCE.id, RUN).read_report()["status"] == "partial"


def test_dead_endpoint_is_failed():
    with pytest.raises(HarvestFailed) as info:
        harvest_source(SOURCE, RUN, client=FakeClient(lambda start: HarvestHTTPError("connection refused")))
    assert info.value.report["status"] == "failed"
    assert "before any record was received" in info.value.report["message"]


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"<!DOCTYPE html><html><body>Onderhoud</body></html>", "HTML page where JSON was expected"),
        (b'{"help": "x", "success": true, "result": {"count": 3, "results": [', "not valid JSON: Expecting value at line 1"),
        (json.dumps({"success": False, "error": {"message": "Solr down"}, "result": None}).encode(), "CKAN reported an error: Solr down"),
    ],
)
def test_bad_page_fails_the_source_with_a_clear_reason(body, expected):
    with pytest.raises(HarvestFailed) as info:
        harvest_source(SOURCE, RUN, client=FakeClient(lambda start: body))
    assert expected in info.value.report["error"]


def test_retry_resumes_from_the_landing_zone():
    packages = [package(i) for i in range(6)]
    failed_once = []

    def flaky(start):
        if start == 4 and not failed_once:
            failed_once.append(start)
            return HarvestHTTPError("read timed out")
        return paged(packages)(start)

    with pytest.raises(HarvestFailed):
        harvest_source(SOURCE, RUN, client=FakeClient(flaky))
    retry_client = FakeClient(flaky)
    report = harvest_source(SOURCE, RUN, client=retry_client)
    assert report["status"] == "complete" and report["records_received"] == 6
    assert retry_client.calls == [4], "pages landed by the first attempt must be replayed, not fetched again"
    assert report["pages_replayed"] == 2


def test_incremental_run_filters_on_metadata_modified_of_last_complete_run():
    packages = [package(i) for i in range(3)]
    source = SourceConfig(id="fake-portal", kind="ckan", url=SOURCE.url, options={"rows": 2, "incremental": True})
    first = harvest_source(source, "run-1", client=FakeClient(paged(packages)))
    assert first["incremental"] is False or first["since"] is None
    seen_params = []

    class Recording(FakeClient):
        def request(self, method, url, *, params=None, **kw):
            seen_params.append(dict(params))
            return super().request(method, url, params=params, **kw)

    second = harvest_source(source, "run-2", client=Recording(paged(packages)))
    assert second["since"] == first["high_water_mark"]
    assert seen_params[0]["fq"] == f"metadata_modified:[{first['high_water_mark']}Z TO *]"
