"""The ``atrs`` kind: the GOV.UK search API paged by count/start, one content API request per record
made through the shared loop, the record's facets and narrative body mapped onto the canonical
algorithms, and its failure modes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq
import pytest

from inventory import crosswalk
from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, harvest_source
from inventory.http import FetchedResponse
from inventory.sources import atrs
from inventory.staging import Batch

FIXTURE = "plugins/inventory/demo/fixtures/atrs/records.json"


def source(agencies, prefix: str = "", **options) -> SourceConfig:
    return SourceConfig(id="uk-atrs", kind="atrs", url=f"{agencies.url}{prefix}/atrs", allow_private_network=True,
                        options={"count": 10, **options})


def rows(run: str, source_id: str = "uk-atrs") -> dict[str, dict]:
    table = pq.read_table(Batch.for_run(source_id, run).harvested("algorithms")).to_pylist()
    return {r["source_record_id"]: r for r in table}


def fixture_records() -> list[dict]:
    from tests.conftest import PROJECT

    return json.loads((PROJECT / FIXTURE).read_text(encoding="utf-8"))["records"]


def by_title(title: str) -> str:
    return next(r["search"]["link"] for r in fixture_records() if r["search"]["title"] == title)


# ------------------------------------------------------------------------------------- paging


def test_pages_by_count_and_start_and_fetches_each_record_through_the_loop(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(source(sample_agencies), "t1")
    assert report["status"] == "complete", report["message"]
    assert (report["records_reported"], report["records_received"], report["pages"]) == (25, 25, 3 + 25)
    log = [urlsplit(path) for method, path, _ in sample_agencies.request_log if method == "GET"]
    kinds = ["search" if p.path.endswith("/api/search.json") else "content" for p in log]
    # Each search page is followed by the content requests of its own results, then the next search page.
    assert kinds == ["search"] + ["content"] * 10 + ["search"] + ["content"] * 10 + ["search"] + ["content"] * 5
    searches = [parse_qs(p.query) for p in log if p.path.endswith("/api/search.json")]
    assert [q["start"] for q in searches] == [["0"], ["10"], ["20"]] and all(q["count"] == ["10"] for q in searches)
    assert all(q["filter_content_store_document_type"] == ["algorithmic_transparency_record"] for q in searches)
    assert all(q["order"] == ["public_timestamp"] and "algorithmic_transparency_record_phase" in q["fields"] for q in searches)
    contents = [p.path.split("/api/content", 1)[1] for p in log if "/api/content/" in p.path]
    assert sorted(contents) == sorted(r["search"]["link"] for r in fixture_records())
    # Every response, search and content alike, is landed before it is parsed.
    landing = Batch.for_run("uk-atrs", "t1").path.parents[2] / "landing" / "uk-atrs" / "t1"
    assert len(list(landing.glob("*.body"))) == 28


def test_the_content_request_carries_only_this_pages_pending_records(sample_agencies):
    harvest_source(source(sample_agencies), "t2")
    landing = Batch.for_run("uk-atrs", "t2").path.parents[2] / "landing" / "uk-atrs" / "t2"
    metas = [json.loads(p.read_text()) for p in sorted(landing.glob("*.json"))]
    contexts = [m["request"]["context"] for m in metas]
    assert contexts[0] == {"kind": "search", "start": 0}
    assert contexts[1]["kind"] == "content" and len(contexts[1]["pending"]) == 9 and contexts[1]["next_start"] == 10
    assert max(len(c.get("pending", [])) for c in contexts) < 10
    assert contexts[-1]["pending"] == [] and contexts[-1]["next_start"] is None


def test_count_is_capped_and_defaults_to_100(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(SourceConfig(id="uk-atrs", kind="atrs", url=f"{sample_agencies.url}/atrs", allow_private_network=True), "t3")
    searches = [parse_qs(urlsplit(p).query) for m, p, _ in sample_agencies.request_log if "search.json" in p]
    assert [q["count"] for q in searches] == [["100"]] and report["pages"] == 26
    assert atrs._search_request(source(sample_agencies, count=5000), 0).params["count"] == atrs.MAX_COUNT


def test_details_false_reads_the_search_api_only(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(source(sample_agencies, details=False), "t4")
    assert report["status"] == "complete" and report["pages"] == 3 and report["records_received"] == 25
    assert not any("/api/content/" in p for _, p, _ in sample_agencies.request_log)
    record = rows("t4")[by_title("DVLA: Medical notification triage")]
    assert record["organization"] == "Driver and Vehicle Licensing Agency" and record["status"] == "In gebruik"
    assert record["goal"] is None and record["standard_version"] == "ATRS 3.0"


# ------------------------------------------------------------------------------------- mapping


def test_facets_and_narrative_body_map_onto_the_canonical_fields(sample_agencies):
    harvest_source(source(sample_agencies), "t5")
    got = rows("t5")
    assert len(got) == 25 and all(r["jurisdiction"] == "UK" and r["language"] == "eng" for r in got.values())
    dwp = got[by_title("DWP: Advances fraud risk model")]
    assert dwp["name"] == "Advances fraud risk model"
    assert dwp["organization"] == "Department for Work and Pensions"  # the facet's label, not the collection's publishers
    assert dwp["status"] == "In gebruik" and dwp["original_status"] == "Production"
    assert dwp["publication_category"] is None and dwp["original_category"] is None  # the ATRS has no risk category
    assert dwp["description_short"].startswith("A machine learning model that flags Universal Credit")
    assert "governance board" in dwp["goal"] and "Faster handling" in dwp["goal"]  # detailed description + benefit
    assert dwp["human_intervention"].startswith("Every output is reviewed")
    assert "Mitigation: Staff review every output" in dwp["risks"]
    assert dwp["impact_assessments"] == [
        "Data Protection Impact Assessment (DPIA) <https://www.example.gov.uk/advances-fraud-risk-model/dpia>",
        "Equality Impact Assessment (EqIA, UK)",
    ]
    assert len(dwp["source_data"]) == 2
    assert dwp["contact_email"].startswith("algorithmic-transparency@") and "mailto" not in dwp["contact_email"]
    assert dwp["website"] == "https://www.example.gov.uk/advances-fraud-risk-model"
    assert dwp["standard_version"] == "ATRS 3.0" and dwp["algorithm_uid"] and dwp["raw_sha256"]
    assert dwp["source_record_id"] == "/algorithmic-transparency-records/dwp-advances-fraud-risk-model"


def test_statuses_dates_and_older_record_shapes(sample_agencies):
    harvest_source(source(sample_agencies), "t6")
    got = rows("t6")
    statuses = {r["original_status"]: r["status"] for r in got.values()}
    assert statuses == {"Production": "In gebruik", "Beta/Pilot": "In gebruik", "Pre-deployment": "In ontwikkeling",
                        "Retired": "Buiten gebruik", "private-beta": None}
    assert got[by_title("DVLA: Medical notification triage")]["begin_date"] == "2023-03"
    assert got[by_title("Ofsted: Inspection risk assessment")]["end_date"] == "2024-08"
    assert got[by_title("Maritime and Coastguard Agency: Online exam proctoring")]["end_date"] == "2025-03"
    # v2.1 records list their assessments as list items, with the link on the name.
    home = got[by_title("Home Office: Visa application routing")]
    assert home["standard_version"] == "ATRS 2.1"
    assert home["impact_assessments"][0] == "Data Protection Impact Assessment (DPIA) <https://www.example.gov.uk/visa-application-routing/dpia>"
    assert got[by_title("Food Standards Agency: Food hygiene rating prioritisation")]["lawful_basis"].startswith("Article 6(1)(e)")
    # No organisation facet and no colon in the title: the body says who owns the tool.
    nameless = got[by_title("Identity document verification")]
    assert nameless["organization"] == "Government Internal Audit Agency" and nameless["name"] == "Identity document verification"
    # The website falls back to the record's own GOV.UK page when the body gives none.
    assert all(r["website"].startswith("https://") for r in got.values())
    assert all(r["description_short"] and len(r["description_short"]) <= 400 for r in got.values())


def test_unmapped_phase_and_assessment_are_kept_and_reported(sample_agencies, caplog):
    crosswalk.reset_unmapped()
    with caplog.at_level("WARNING", logger="inventory.crosswalk"):
        report = harvest_source(source(sample_agencies), "t7")
    assert report["status"] == "complete" and report["records_quarantined"] == 0  # a warning, not a quarantine
    nhs = rows("t7")[by_title("NHS England: Prescription query assistant")]
    assert nhs["status"] is None and nhs["original_status"] == "private-beta"
    unmapped = {(u["register"], u["field"], u["value"]): u["count"] for u in crosswalk.unmapped()}
    assert unmapped[("atrs", "status", "private-beta")] == 1
    assert unmapped[("atrs", "impact_assessment", "Children's Rights Impact Assessment")] == 2
    assert "private-beta" in caplog.text and "left empty" in caplog.text
    police = rows("t7")[by_title("West Midlands Police: Missing persons risk triage")]
    assert "Children's Rights Impact Assessment" in police["impact_assessments"]


def test_body_sections_and_truncation():
    html = ("<div class='govspeak'><h2>Tier 1 Information</h2><h3>1 - Name</h3><p>Tool &amp; co</p>"
            "<h3>2.3 - Benefit</h3><ul><li>One</li><li>Two <a href='https://x.example/'>link</a></li></ul>"
            "<h3>5.2 - Risks</h3><p><strong>Risk name:</strong> Bias</p></div>")
    sections = {s.key: s for s in atrs.body_sections(html)}
    assert sections["name"].text == "Tool & co"
    assert [b.text for b in sections["benefit"].blocks] == ["One", "Two link"] and sections["benefit"].blocks[1].hrefs == ["https://x.example/"]
    assert sections["risks"].text == "Risk name: Bias"
    assert atrs.heading_key("4.1.2 - Phase") == "phase" and atrs.heading_key("Tier 2 - Owner and Responsibility") == "owner and responsibility"
    long = "word " * 200
    cut = atrs._truncate(long)
    assert len(cut) <= 400 and cut.endswith("…") and not cut[:-1].endswith(" ")


# ---------------------------------------------------------------------------------- failure modes


class FakeGovUk:
    """A scripted GOV.UK: ``search`` pages by start, ``content`` by path (bytes or (status, bytes))."""

    def __init__(self, search: dict[int, bytes], content: dict[str, bytes | tuple[int, bytes]]):
        self.search, self.content, self.calls = search, content, []

    def request(self, method, url, *, params=None, json_body=None, data=None, headers=None):
        self.calls.append(url)
        if url.endswith("/api/search.json"):
            status, body = 200, self.search[int(params["start"])]
        else:
            answer = self.content[url.split("/api/content", 1)[1]]
            status, body = answer if isinstance(answer, tuple) else (200, answer)
        return FetchedResponse(url=url, status=status, headers={"Content-Type": "application/json"}, body=body, elapsed_s=0.0)


FAKE = SourceConfig(id="fake-atrs", kind="atrs", url="https://www.gov.uk.example", options={"count": 2})


def result(slug: str, **extra) -> dict:
    return {"title": f"Org: Tool {slug}", "description": "A tool.", "link": f"/algorithmic-transparency-records/{slug}",
            "algorithmic_transparency_record_phase": {"value": "production", "label": "Production"}, **extra}


def item(slug: str) -> bytes:
    return json.dumps({"base_path": f"/algorithmic-transparency-records/{slug}", "title": f"Org: Tool {slug}",
                       "document_type": "algorithmic_transparency_record", "locale": "en", "phase": "live",
                       "details": {"metadata": {"algorithmic_transparency_record_phase": "production"}, "body": "<p>x</p>"}}).encode()


def page(total: int, *results: dict) -> bytes:
    return json.dumps({"results": list(results), "total": total, "start": 0}).encode()


def test_a_record_gone_between_search_and_content_breaks_the_listing_off_as_partial():
    client = FakeGovUk({0: page(3, result("a"), result("b")), 2: page(3, result("c"))},
                       {"/algorithmic-transparency-records/a": item("a"),
                        "/algorithmic-transparency-records/b": (404, b'{"error": {"code": 404, "message": "Could not find content item"}}'),
                        "/algorithmic-transparency-records/c": item("c")})
    with pytest.raises(HarvestFailed) as info:
        harvest_source(FAKE, "f1", client=client)
    report = info.value.report
    assert report["status"] == "partial" and report["records_received"] == 1
    assert "/api/content/algorithmic-transparency-records/b answered HTTP 404" in report["error"]
    assert "Nothing is deleted" in report["message"]


def test_bad_links_and_duplicates_on_a_page_are_refused_without_a_request():
    client = FakeGovUk({0: page(3, result("a"), result("a")), 2: page(3, {**result("x"), "link": "https://evil.example/steal"})},
                       {"/algorithmic-transparency-records/a": item("a")})
    report = harvest_source(FAKE, "f2", client=client)
    assert report["records_received"] == 1 and report["refused"] == 2 and report["status"] == "complete"
    assert not any("evil" in c for c in client.calls) and sum("/api/content/" in c for c in client.calls) == 1
    quarantine = pq.read_table(Batch.for_run("fake-atrs", "f2").parse_quarantine).to_pylist()
    assert {q["expectation"] for q in quarantine} == {"record_id_unique_in_listing", "link_is_govuk_path"}


def test_a_record_repeated_on_a_later_page_ends_the_listing_as_partial():
    # The listing shifted while paged: the loop's request check stops it, nothing is fetched twice.
    client = FakeGovUk({0: page(4, result("a"), result("b")), 2: page(4, result("b"), result("c"))},
                       {f"/algorithmic-transparency-records/{s}": item(s) for s in "abc"})
    report = harvest_source(FAKE, "f9", client=client)
    assert report["status"] == "partial" and "asked for the same page twice" in report["message"]
    assert sum(c.endswith("/b") for c in client.calls) == 1


def test_without_a_total_paging_goes_on_while_pages_are_full():
    no_total = lambda *results: json.dumps({"results": list(results)}).encode()  # noqa: E731
    client = FakeGovUk({0: no_total(result("a"), result("b")), 2: no_total(result("c"))},
                       {f"/algorithmic-transparency-records/{s}": item(s) for s in "abc"})
    report = harvest_source(FAKE, "f0", client=client)
    assert report["records_received"] == 3 and report["records_reported"] is None and report["status"] == "complete"
    assert sum(c.endswith("search.json") for c in client.calls) == 2


def test_a_content_page_that_is_not_a_content_item_fails_with_a_clear_message():
    client = FakeGovUk({0: page(1, result("a"))}, {"/algorithmic-transparency-records/a": b'{"results": []}'})
    with pytest.raises(HarvestFailed) as info:
        harvest_source(FAKE, "f3", client=client)
    assert "not a GOV.UK content item" in info.value.report["error"]


def test_a_content_item_of_another_type_is_quarantined():
    other = json.dumps({"base_path": "/x", "document_type": "guide", "details": {}}).encode()
    client = FakeGovUk({0: page(1, result("a"))}, {"/algorithmic-transparency-records/a": other})
    report = harvest_source(FAKE, "f4", client=client)
    assert report["refused"] == 1 and report["records_received"] == 1  # seen (it exists), not usable


def test_html_maintenance_page_fails_the_source(sample_agencies):
    sample_agencies.reset()
    with pytest.raises(HarvestFailed) as info:
        harvest_source(source(sample_agencies, prefix="/faults/html"), "f5")
    assert info.value.report["status"] == "failed" and "HTML page where JSON was expected" in info.value.report["error"]


def test_short_count_is_partial_and_500_once_is_retried(sample_agencies):
    sample_agencies.reset()
    report = harvest_source(source(sample_agencies, prefix="/faults/short-count"), "f6")
    assert report["status"] == "partial" and "reported 45 records but 25 were received" in report["message"]
    sample_agencies.reset()
    report = harvest_source(source(sample_agencies, prefix="/faults/500-once"), "f7")
    assert report["status"] == "complete" and report["records_received"] == 25


def test_the_search_api_rejects_unknown_parameters_like_govuk(sample_agencies):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{sample_agencies.url}/atrs/api/search.json?page=2")
    assert info.value.code == 422 and "Unexpected parameters: page" in info.value.read().decode()
