"""The sample agencies: the local server that speaks CKAN and the Algoritmeregister over the fixtures."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from inventory.demo import generated, make_fixtures
from inventory.demo.sample_agencies import SampleAgencies

FIXTURES = Path(make_fixtures.FIXTURES_DIR)
SEARCH = "/ckan/{agency}/api/3/action/package_search"
NATIONAL = SEARCH.format(agency="national-portal")
UTRECHT = SEARCH.format(agency="gemeente-utrecht")
GENERATED = SEARCH.format(agency="generated")
REGISTER = "/algoritmeregister/api/algoritme/{lang}"
N_GENERATED = 2500

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def call(base: str, path: str, body=None, method: str | None = None, timeout: float = 20):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def get_json(base: str, path: str, body=None):
    status, headers, raw = call(base, path, body)
    return status, json.loads(raw)


def fixture(rel: str) -> dict:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


def lars_ok(lars: str) -> bool:
    """The register's check, written out again here: 8 digits, weights 8..1, sum divisible by 11."""
    return len(lars) == 8 and lars.isdigit() and sum(int(d) * w for d, w in zip(lars, range(8, 0, -1))) % 11 == 0


def all_packages(base: str, path: str, sort: str, rows: int, fq: str | None = None) -> tuple[list[dict], int]:
    out, start, count = [], 0, None
    while True:
        q = f"?q=*:*&sort={quote(sort)}&rows={rows}&start={start}" + (f"&fq={quote(fq)}" if fq else "")
        status, body = get_json(base, path + q)
        assert status == 200, body
        count = body["result"]["count"]
        page = body["result"]["results"]
        out += page
        start += len(page)
        if not page or start >= count:
            return out, count


@pytest.fixture(scope="module")
def agencies():
    with SampleAgencies(generated_datasets=N_GENERATED, slow_seconds=5.0) as server:
        yield server


@pytest.fixture
def base(agencies) -> str:
    agencies.reset()
    return agencies.url


# ------------------------------------------------------------------------------------- server


def test_start_stop_and_context_manager():
    server = SampleAgencies()
    url = server.start()
    assert url == server.url and url.startswith("http://127.0.0.1:") and server.port > 0
    assert call(url, "/")[0] == 200
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    with SampleAgencies() as other:
        assert call(other.url, NATIONAL)[0] == 200


def test_http_details_keepalive_and_quiet(base, capfd):
    conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=10)
    conn.request("GET", NATIONAL + "?rows=3")
    first = conn.getresponse()
    raw = first.read()
    sock = conn.sock
    assert first.status == 200 and first.version == 11
    assert first.getheader("Content-Type") == "application/json; charset=utf-8"
    assert int(first.getheader("Content-Length")) == len(raw)
    assert (first.getheader("Connection") or "").lower() != "close"
    conn.request("GET", NATIONAL + "?rows=3&start=3")
    second = conn.getresponse()
    second.read()
    assert second.status == 200 and conn.sock is sock  # the same connection, kept alive
    conn.close()
    assert capfd.readouterr().err == ""  # no per-request log lines


def test_request_log_records_method_path_and_body(agencies, base):
    call(base, NATIONAL + "?rows=1&start=2")
    call(base, REGISTER.format(lang="NLD"), {"page": 2, "limit": 5, "search": "", "filters": {}})
    assert agencies.request_log[0] == ("GET", NATIONAL + "?rows=1&start=2", "")
    method, path, body = agencies.request_log[1]
    assert (method, path) == ("POST", "/algoritmeregister/api/algoritme/NLD") and json.loads(body)["page"] == 2


# --------------------------------------------------------------------------------------- CKAN


def test_package_search_envelope(base):
    status, headers, raw = call(base, NATIONAL)
    body = json.loads(raw)
    assert status == 200
    assert set(body) == {"help", "success", "result"} and body["success"] is True
    assert set(body["result"]) == {"count", "sort", "facets", "results", "search_facets"}
    assert body["result"]["count"] == 300 and len(body["result"]["results"]) == 10  # rows defaults to 10
    assert body["result"]["sort"] == "score desc, metadata_modified desc"


def test_paging_rows_start_count(base):
    status, whole = get_json(base, NATIONAL + "?sort=id%20asc&rows=1000")
    assert status == 200 and len(whole["result"]["results"]) == whole["result"]["count"] == 300
    paged, count = all_packages(base, NATIONAL, "id asc", rows=7)
    assert count == 300 and paged == whole["result"]["results"]
    status, body = get_json(base, NATIONAL + "?rows=5&start=298&sort=id%20asc")
    assert [p["id"] for p in body["result"]["results"]] == [p["id"] for p in paged[298:]]
    status, body = get_json(base, NATIONAL + "?rows=5&start=5000")
    assert status == 200 and body["result"]["results"] == [] and body["result"]["count"] == 300
    status, body = get_json(base, UTRECHT + "?rows=1000")
    assert body["result"]["count"] == 60 and body["help"] == "package_search"  # the 2015 CKAN's help


def test_rows_over_1000_capped(base):
    status, body = get_json(base, GENERATED + "?rows=5000")
    assert status == 200 and body["result"]["count"] == N_GENERATED and len(body["result"]["results"]) == 1000


@pytest.mark.parametrize("query,field", [("rows=abc", "rows"), ("rows=-1", "rows"), ("start=x", "start"), ("start=-5", "start")])
def test_bad_rows_or_start_is_409(base, query, field):
    status, body = get_json(base, NATIONAL + "?" + query)
    assert status == 409 and body["success"] is False
    assert body["error"]["__type"] == "Validation Error" and isinstance(body["error"][field], list)


@pytest.mark.parametrize("sort,key,reverse", [
    ("id asc", lambda p: p["id"], False),
    ("name asc", lambda p: p["name"], False),
    ("metadata_modified asc", lambda p: p["metadata_modified"], False),
    ("metadata_modified desc", lambda p: p["metadata_modified"], True),
])
def test_sort_is_ordered_and_stable(base, sort, key, reverse):
    first, _ = all_packages(base, NATIONAL, sort, rows=1000)
    paged, _ = all_packages(base, NATIONAL, sort, rows=13)
    again, _ = all_packages(base, NATIONAL, sort, rows=50)
    assert paged == first == again
    keys = [key(p) for p in first]
    assert keys == sorted(keys, reverse=reverse)
    ids = [p["id"] for p in first]
    assert len(ids) == 300 and len(set(ids)) == 299  # the one duplicate id, served twice


def test_ties_keep_one_order(base):
    """Six packages share a metadata_modified: their order is the same whichever page they fall on."""
    whole, _ = all_packages(base, NATIONAL, "metadata_modified desc", rows=1000)
    stamps = [p["metadata_modified"] for p in whole]
    tied = [s for s in set(stamps) if stamps.count(s) >= 6]
    assert tied
    for rows in (4, 5, 11):
        paged, _ = all_packages(base, NATIONAL, "metadata_modified desc", rows=rows)
        assert [p["id"] for p in paged] == [p["id"] for p in whole]


def test_fq_metadata_modified_range(base):
    packages = fixture("ckan/national-portal.json")["packages"]
    expected = sum(1 for p in packages if p["metadata_modified"] >= "2020-01-01T00:00:00")
    got, count = all_packages(base, NATIONAL, "id asc", rows=100, fq="metadata_modified:[2020-01-01T00:00:00Z TO *]")
    assert count == len(got) == expected and 0 < expected < 300
    assert all(p["metadata_modified"] >= "2020-01-01T00:00:00" for p in got)
    _, before = get_json(base, NATIONAL + "?fq=" + quote("metadata_modified:[* TO 2020-01-01T00:00:00Z}"))
    assert before["result"]["count"] + expected == 300
    status, body = get_json(base, NATIONAL + "?fq=" + quote("metadata_modified:[2020-13-45 TO *]"))
    assert status == 409 and body["error"]["__type"] == "Search Query Error"


def test_q_and_term_filters(base):
    _, everything = get_json(base, NATIONAL + "?q=*:*")
    assert everything["result"]["count"] == 300
    _, kadaster = get_json(base, NATIONAL + "?fq=organization:kadaster&rows=100")
    assert kadaster["result"]["count"] == 31
    assert {p["organization"]["name"] for p in kadaster["result"]["results"]} == {"kadaster"}
    _, text = get_json(base, NATIONAL + "?q=" + quote("Rijkswaterstaat") + "&rows=100")
    assert 0 < text["result"]["count"] < 300


def test_bad_sort_is_409(base):
    status, body = get_json(base, NATIONAL + "?sort=" + quote("popularity asc"))
    assert status == 409 and body["error"]["__type"] == "Search Query Error"


def test_package_show(base):
    _, listing = get_json(base, NATIONAL + "?rows=1&sort=name%20asc")
    pkg = listing["result"]["results"][0]
    for ident in (pkg["id"], pkg["name"]):
        status, body = get_json(base, "/ckan/national-portal/api/3/action/package_show?id=" + quote(ident))
        assert status == 200 and body["success"] is True and body["result"] == pkg
    status, body = get_json(base, "/ckan/national-portal/api/3/action/package_show?id=does-not-exist")
    assert status == 404 and body["success"] is False
    assert body["error"] == {"__type": "Not Found Error", "message": "Not found"}
    status, body = get_json(base, "/ckan/national-portal/api/3/action/no_such_action")
    assert status == 400 and body["success"] is False


def test_defect_keys_never_served(base):
    texts = [call(base, path)[2] for path in (
        NATIONAL + "?rows=1000", UTRECHT + "?rows=1000", "/algoritmeregister/api/downloads/site-data/json")]
    texts.append(call(base, REGISTER.format(lang="NLD"), {"page": 1, "limit": 100})[2])
    texts.append(call(base, REGISTER.format(lang="ENG"), {"page": 1, "limit": 100})[2])
    for raw in texts:
        assert b"_defect" not in raw and b"_comment" not in raw
    # ... though the fixtures have them.
    assert sum("_defect" in p for p in fixture("ckan/national-portal.json")["packages"]) >= 15


# ---------------------------------------------------------------------------- Algoritmeregister


def test_register_listing_pages_from_one(base):
    register = fixture("algoritmeregister/register.json")["algoritme_versions"]
    expected = [r["lars"] for r in register if r["language"] == "NLD" and not r["lars"].startswith("C")]
    seen, page = [], 1
    while True:
        status, body = get_json(base, REGISTER.format(lang="NLD"), {"page": page, "limit": 10, "search": "", "filters": {}})
        assert status == 200 and set(body) == {"results", "total_count", "page", "limit"}
        assert body["page"] == page and body["limit"] == 10 and body["total_count"] == len(expected)
        if not body["results"]:
            break
        seen += [r["lars"] for r in body["results"]]
        page += 1
    assert seen == expected and page == 5  # 39 records: pages 1-4, page 5 empty
    _, biggest = get_json(base, REGISTER.format(lang="NLD"), {"page": 1, "limit": 100})
    assert len(biggest["results"]) == len(expected)


@pytest.mark.parametrize("body", [
    {"page": 0, "limit": 10}, {"page": -1, "limit": 10}, {"page": 1, "limit": 101}, {"page": 1, "limit": 0},
    {"page": "one", "limit": 10}, [1, 2], b"{not json",
])
def test_register_listing_422(base, body):
    status, _, raw = call(base, REGISTER.format(lang="NLD"), body)
    assert status == 422 and "detail" in json.loads(raw)


def test_register_languages(base):
    _, eng = get_json(base, REGISTER.format(lang="ENG"), {"page": 1, "limit": 100})
    assert eng["total_count"] == 4 and {r["language"] for r in eng["results"]} == {"ENG"}
    _, fry = get_json(base, REGISTER.format(lang="FRY"), {"page": 1, "limit": 100})
    assert fry == {"results": [], "total_count": 0, "page": 1, "limit": 100}
    status, _ = get_json(base, REGISTER.format(lang="DEU"), {"page": 1, "limit": 10})
    assert status == 422


def test_register_search_and_filters(base):
    _, found = get_json(base, REGISTER.format(lang="NLD"), {"page": 1, "limit": 100, "search": "parkeer"})
    assert found["total_count"] >= 1 and all("arkeer" in r["name"] for r in found["results"])
    _, utrecht = get_json(base, REGISTER.format(lang="NLD"),
                          {"page": 1, "limit": 100, "filters": {"organization": ["Gemeente Utrecht"]}})
    assert utrecht["total_count"] >= 1 and {r["organization"] for r in utrecht["results"]} == {"Gemeente Utrecht"}


def test_concept_ids_hidden_and_detail(agencies, base):
    register = fixture("algoritmeregister/register.json")["algoritme_versions"]
    concept = next(r["lars"] for r in register if r["lars"].startswith("C"))
    _, listing = get_json(base, REGISTER.format(lang="NLD"), {"page": 1, "limit": 100})
    assert all(not r["lars"].startswith("C") for r in listing["results"])
    _, bulk = get_json(base, "/algoritmeregister/api/downloads/site-data/json")
    assert all(not r["lars"].startswith("C") for r in bulk["algoritme_versions"])

    record = listing["results"][0]
    status, detail = get_json(base, f"/algoritmeregister/api/algoritme/NLD/{record['lars']}")
    assert status == 200 and detail == record
    assert get_json(base, "/algoritmeregister/api/algoritme/NLD/12345678")[0] == 404

    agencies.reset()
    status, body = get_json(base, f"/algoritmeregister/api/algoritme/NLD/{concept}")
    assert status == 403 and "detail" in body
    assert [p for m, p, _ in agencies.request_log if p.rsplit("/", 1)[-1].startswith("C")] == [
        f"/algoritmeregister/api/algoritme/NLD/{concept}"]  # a test can prove a harvester never asked


def test_register_bulk_export(base):
    status, bulk = get_json(base, "/algoritmeregister/api/downloads/site-data/json")
    assert status == 200 and set(bulk) == {"algoritme_versions", "organisation_details"}
    assert len(bulk["algoritme_versions"]) == 43  # 39 NLD + 4 ENG, no concept record
    assert {r["standard_version"] for r in bulk["algoritme_versions"]} == {"1.0", "0.1", "0.4.0", "0.3.1"}
    assert {"name", "language", "code", "type", "show_page"} <= set(bulk["organisation_details"][0])


# ------------------------------------------------------------------------------------- faults


def test_fault_500_once(base):
    path = "/faults/500-once" + NATIONAL + "?rows=2"
    assert call(base, path)[0] == 500
    assert call(base, path)[0] == 200
    assert call(base, "/faults/500-once" + NATIONAL + "?rows=3")[0] == 500  # per path+query
    listing = "/faults/500-once" + REGISTER.format(lang="NLD")
    assert call(base, listing, {"page": 1, "limit": 10})[0] == 500
    assert call(base, listing, {"page": 1, "limit": 10})[0] == 200


def test_fault_always_500(base):
    assert [call(base, "/faults/always-500" + NATIONAL)[0] for _ in range(3)] == [500, 500, 500]


def test_fault_429(base):
    status, headers, _ = call(base, "/faults/429" + NATIONAL)
    assert status == 429 and headers["Retry-After"] == "1"
    assert call(base, "/faults/429" + NATIONAL)[0] == 200


def test_fault_html(base):
    status, headers, raw = call(base, "/faults/html" + NATIONAL)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert raw.lstrip().startswith(b"<!DOCTYPE html>")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_fault_truncated(base):
    _, _, whole = call(base, NATIONAL + "?rows=20")
    status, headers, raw = call(base, "/faults/truncated" + NATIONAL + "?rows=20")
    assert status == 200 and int(headers["Content-Length"]) == len(raw) == len(whole) // 2
    assert whole.startswith(raw)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_fault_cut_connection(base):
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", "/faults/cut-connection" + NATIONAL + "?rows=50")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()


def test_fault_slow(base):
    started = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        call(base, "/faults/slow" + NATIONAL, timeout=1)
    assert time.monotonic() - started < 4
    with SampleAgencies(slow_seconds=0.4) as quick:
        started = time.monotonic()
        assert call(quick.url, "/faults/slow" + NATIONAL)[0] == 200
        assert time.monotonic() - started >= 0.4


def test_fault_drift_ckan(base):
    path = "/faults/drift" + NATIONAL + "?sort=id%20asc&rows=10&start={}"
    _, page1 = get_json(base, path.format(0))
    _, page2 = get_json(base, path.format(10))
    assert page2["result"]["count"] == page1["result"]["count"] + 1
    assert page2["result"]["results"][0]["id"] == page1["result"]["results"][-1]["id"]  # shifted across the boundary
    _, again = get_json(base, path.format(0))
    assert again["result"]["results"][0]["name"] == "aaa-nieuw-toegevoegd-tijdens-het-ophalen"


def test_fault_drift_register(base):
    listing = "/faults/drift" + REGISTER.format(lang="NLD")
    _, page1 = get_json(base, listing, {"page": 1, "limit": 10})
    _, page2 = get_json(base, listing, {"page": 2, "limit": 10})
    assert page2["total_count"] == page1["total_count"] + 1
    assert page2["results"][0]["lars"] == page1["results"][-1]["lars"]
    _, again = get_json(base, listing, {"page": 1, "limit": 10})
    assert lars_ok(again["results"][0]["lars"])


def test_fault_short_count(base):
    got, count = all_packages(base, "/faults/short-count" + NATIONAL, "id asc", rows=1000)
    assert count == 320 and len(got) == 300
    _, body = get_json(base, "/faults/short-count" + REGISTER.format(lang="NLD"), {"page": 1, "limit": 100})
    assert body["total_count"] == len(body["results"]) + 20


def test_faults_stack_and_unknown_mode(base):
    path = "/faults/500-once/faults/short-count" + NATIONAL
    assert call(base, path)[0] == 500
    _, body = get_json(base, path)
    assert body["result"]["count"] == 320
    assert call(base, "/faults/teapot" + NATIONAL)[0] == 404


# ----------------------------------------------------------------------------------- generated


def test_generated_paging_and_determinism(base):
    whole, count = all_packages(base, GENERATED, "id asc", rows=1000)
    assert count == len(whole) == N_GENERATED
    assert [p["id"] for p in whole] == sorted(p["id"] for p in whole) and len({p["id"] for p in whole}) == N_GENERATED
    for i in (0, 1, 777, N_GENERATED - 1):
        assert whole[i] == generated.package_for(i)
    with SampleAgencies(generated_datasets=N_GENERATED) as twin:
        for q in ("?rows=1000&start=1000&sort=id%20asc", "?rows=17&start=3"):
            mine, theirs = call(base, GENERATED + q)[2], call(twin.url, GENERATED + q)[2]
            # byte for byte, after the help URL (which names the port)
            assert mine.split(b'"success"', 1)[1] == theirs.split(b'"success"', 1)[1]


def test_generated_shape_and_size(base):
    _, _, raw = call(base, GENERATED + "?rows=1000&sort=id%20asc")
    packages = json.loads(raw)["result"]["results"]
    per_package = len(raw) / len(packages)
    assert 3000 <= per_package <= 5000
    for p in packages[:100]:
        assert 2 <= len(p["resources"]) <= 4 and len(p["notes"]) >= 200 and p["tags"]
        assert p["resources"][0]["package_id"] == p["id"] and p["num_resources"] == len(p["resources"])
        assert {"id", "name", "title", "notes", "identifier", "authority", "publisher", "license_id", "theme",
                "metadata_modified", "organization", "resources"} <= set(p)


def test_generated_sort_filter_and_show(base):
    _, desc = get_json(base, GENERATED + "?rows=3")  # default sort: metadata_modified desc
    assert [p["id"] for p in desc["result"]["results"]] == [generated.package_for(i)["id"] for i in (2499, 2498, 2497)]
    since = generated.modified_of(2000).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, recent = get_json(base, GENERATED + "?rows=1000&sort=metadata_modified%20asc&fq=" + quote(f"metadata_modified:[{since} TO *]"))
    assert recent["result"]["count"] == 500 and recent["result"]["results"][0] == generated.package_for(2000)
    pkg = generated.package_for(1234)
    status, body = get_json(base, "/ckan/generated/api/3/action/package_show?id=" + pkg["id"])
    assert status == 200 and body["result"] == pkg
    assert get_json(base, "/ckan/generated/api/3/action/package_show?id=" + generated.package_for(N_GENERATED)["id"])[0] == 404


def test_generated_throughput_smoke(base):
    """A smoke check only (shared CI machines); `--bench` measures for real."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    started, total = time.perf_counter(), 0
    for start in range(0, N_GENERATED, 1000):
        conn.request("GET", GENERATED + f"?rows=1000&start={start}&sort=id%20asc")
        resp = conn.getresponse()
        resp.read()
        total += min(1000, N_GENERATED - start)
    rate = total / (time.perf_counter() - started)
    conn.close()
    print(f"generated packages served: {rate:,.0f}/s")
    assert rate > 2000


# ------------------------------------------------------------------------------------ fixtures


def test_fixtures_are_what_the_generator_writes(tmp_path):
    make_fixtures.main(["--out", str(tmp_path)])
    for rel in ("ckan/national-portal.json", "ckan/gemeente-utrecht.json", "algoritmeregister/register.json", "README.md"):
        assert (tmp_path / rel).read_bytes() == (FIXTURES / rel).read_bytes(), f"{rel}: run python -m inventory.demo.make_fixtures"


def test_fixture_counts_and_defect_tags():
    national = fixture("ckan/national-portal.json")
    utrecht = fixture("ckan/gemeente-utrecht.json")
    register = fixture("algoritmeregister/register.json")
    for payload in (national, utrecht, register):
        assert "imitates" in payload["_comment"] or payload["_comment"].startswith("Sample agency")
    assert len(national["packages"]) == 300 and len({p["organization"]["name"] for p in national["packages"]}) >= 8
    assert len(utrecht["packages"]) == 60
    defects = [p["_defect"] for p in national["packages"] if "_defect" in p]
    assert len(defects) >= 15 and all(set(d) == {"code", "severity", "detail"} for d in defects)
    assert all(d["severity"] in ("critical", "warning") for d in defects)
    by_code = {d["code"]: p for p in national["packages"] if (d := p.get("_defect"))}
    assert "title" not in by_code["title-missing"]
    assert by_code["landing-page-not-url"]["url"] == "www.example nl/data"
    assert by_code["modified-in-future"]["modified"].startswith("2031-")
    assert by_code["licence-unknown"]["license_id"] == "licentie-onbekend-xyz"
    assert [p["id"] for p in national["packages"]].count(by_code["duplicate-id"]["id"]) == 2
    assert "&amp;" in by_code["title-html-escaped"]["title"]
    # The 2015 agency really is 2015-shaped.
    old = utrecht["packages"][0]
    assert old["language"] == "nl-NL" and old["license_id"] in ("cc-by3", "cc-0", "publiek-domein") and "maintainer" in old
    # Mixed versions in the register.
    versions = [r["standard_version"] for r in register["algoritme_versions"] if r["language"] == "NLD"]
    assert versions.count("1.0") >= 20 and versions.count("0.1") >= 8 and {"0.4.0", "0.3.1"} <= set(versions)
    statuses_1_0 = {"In ontwikkeling", "In gebruik", "Buiten gebruik"}
    for r in register["algoritme_versions"]:
        code = (r.get("_defect") or {}).get("code")
        if r["standard_version"] == "1.0" and r["language"] == "NLD":
            assert (r["status"] in statuses_1_0) == (code != "status-not-in-list")
            assert r["lang"] == "nld"
        if r["standard_version"] == "0.1":
            assert r["lang"] in ("Nederlands", "English") and not r["publication_category"]


def test_fixture_lars_check_digits_as_tagged():
    assert lars_ok("16268148") and lars_ok("97246956")  # real register ids
    assert make_fixtures.lars_is_valid("16268148") and not make_fixtures.lars_is_valid("16268149")
    records = fixture("algoritmeregister/register.json")["algoritme_versions"]
    seen: dict[str, int] = {}
    for r in records:
        lars, code = r["lars"], (r.get("_defect") or {}).get("code")
        if code == "lars-check-digit":
            assert len(lars) == 8 and lars.isdigit() and not lars_ok(lars)
        elif code == "lars-seven-digits":
            assert len(lars) == 7 and lars.isdigit() and not lars_ok(lars)
        elif code == "concept-id":
            assert lars.startswith("C")
        else:
            assert lars_ok(lars), (lars, r["name"])
        if r["language"] == "NLD":
            seen[lars] = seen.get(lars, 0) + 1
    duplicate = next(r["lars"] for r in records if (r.get("_defect") or {}).get("code") == "duplicate-lars")
    assert seen[duplicate] == 2 and sum(n > 1 for n in seen.values()) == 1


# ----------------------------------------------------------------------------------------- CLI


def test_cli_runs_in_the_foreground():
    proc = subprocess.Popen([sys.executable, "-m", "inventory.demo.sample_agencies", "--port", "0", "--generated", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        status, body = get_json(url, GENERATED + "?rows=100")
        assert status == 200 and body["result"]["count"] == 50
        status, root = get_json(url, "/")
        assert root["agencies"]["national-portal"] == f"{url}/ckan/national-portal/api/3/action/"
        assert root["agencies"]["algoritmeregister"] == f"{url}/algoritmeregister"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "GET /" not in err  # quiet: no per-request lines
