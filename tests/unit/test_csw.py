"""The ``csw`` kind against the sample agencies' Nationaal-Georegister-like CSW 2.0.2 endpoint: paging by
``startPosition``/``nextRecord``, count reconciliation, the mapping of ISO 19139 records (Dutch profile on
ISO 19115) and the failure modes (exceptions, loops, wrong charset, DTDs, HTML, truncation)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq
import pytest
import requests
from lxml import etree

from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, harvest_source
from inventory.landing import LandedPage, PageRequest
from inventory.model import stable_uid
from inventory.sources import csw
from inventory.sources.base import PageError, ParseContext
from inventory.staging import Batch
from tests.conftest import PROJECT

FIXTURES = PROJECT / "plugins" / "inventory" / "demo" / "fixtures" / "csw"
EU = "http://publications.europa.eu/resource/authority/"
INSPIRE = "http://inspire.ec.europa.eu/"
GMD_NS = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco"}


def register(agencies, agency: str = "nationaal-georegister", source_id: str = "nationaal-georegister", prefix: str = "",
             **options) -> SourceConfig:
    return SourceConfig(id=source_id, kind="csw", url=f"{agencies.url}{prefix}/csw/{agency}/csw", allow_private_network=True,
                        options={"max_records": 15, "retries": 1, "backoff_factor": 0.01, **options})


def run(source: SourceConfig, run_id: str) -> dict:
    try:
        return harvest_source(source, run_id)
    except HarvestFailed as exc:
        return exc.report


def staged(source_id: str, run_id: str, table: str) -> list[dict]:
    return pq.read_table(Batch.for_run(source_id, run_id).harvested(table)).to_pylist()


def fixture_records(name: str = "nationaal-georegister") -> list[etree._Element]:
    return list(etree.parse(str(FIXTURES / f"{name}.xml")).getroot())


def text_of(record: etree._Element, path: str) -> str | None:
    found = record.find(path, GMD_NS)
    return found.text.strip() if found is not None and found.text else None


def queries(agencies) -> list[dict[str, str]]:
    return [{k: v[-1] for k, v in parse_qs(urlsplit(p).query).items()} for _, p, _ in agencies.request_log if "/csw/" in p]


# ------------------------------------------------------------------------------------------ paging


def test_pages_by_start_position_and_next_record(sample_agencies):
    sample_agencies.reset()
    report = run(register(sample_agencies), "p1")
    assert report["status"] == "complete", report["message"]
    assert report["pages"] == 3 and report["records_reported"] == 40  # 38 datasets + 2 series; services filtered out
    assert report["records_received"] == 39 and report["refused"] == 1  # one record has no id at all
    asked = queries(sample_agencies)
    assert [q["startPosition"] for q in asked] == ["1", "16", "31"]
    first = asked[0]
    assert first["request"] == "GetRecords" and first["service"] == "CSW" and first["version"] == "2.0.2"
    assert first["outputSchema"] == "http://www.isotc211.org/2005/gmd" and first["resultType"] == "results"
    assert first["typeNames"] == "gmd:MD_Metadata" and first["maxRecords"] == "15" and first["elementSetName"] == "full"
    assert first["constraintLanguage"] == "CQL_TEXT" and first["constraint"] == "type='dataset' OR type='series'"


def test_service_records_are_entries_not_datasets(sample_agencies):
    report = run(register(sample_agencies, source_id="ngr-all-types", record_types=[]), "p2")
    assert report["status"] == "complete" and report["records_reported"] == 44
    assert report["records_received"] == 39  # the 4 services (srv:SV_ServiceIdentification) are not datasets
    titles = {r["title"] for r in staged("ngr-all-types", "p2", "datasets")}
    assert not any(t.endswith("(WMS)") for t in titles)


def test_short_count_is_partial(sample_agencies):
    report = run(register(sample_agencies, prefix="/faults/short-count", source_id="ngr-short"), "p3")
    assert report["status"] == "partial"
    assert "reported 60 records but 40 were received" in report["message"]


def test_next_record_pointing_back_ends_the_listing_as_partial(sample_agencies):
    sample_agencies.reset()
    report = run(register(sample_agencies, agency="loop", source_id="csw-loop", max_records=5, record_types=[]), "p4")
    assert report["status"] == "partial"
    assert "asked for the same page twice" in report["message"] and "stopped to avoid a loop" in report["message"]
    assert report["records_received"] == 15 and [q["startPosition"] for q in queries(sample_agencies)] == ["1", "6", "11"]


def test_next_record_zero_or_past_the_total_ends_the_listing():
    def response(next_record: str, matched: str = "2") -> bytes:
        return (f'<csw:GetRecordsResponse xmlns:csw="{csw.CSW}"><csw:SearchResults numberOfRecordsMatched="{matched}" '
                f'numberOfRecordsReturned="0" nextRecord="{next_record}"/></csw:GetRecordsResponse>').encode()

    source = SourceConfig(id="unit-csw", kind="csw", url="https://geo.example/csw")
    for body in (response("0"), response("3"), response("5", matched="4")):
        assert csw.parse_page(source, landed(body), CTX).next_request is None


# ----------------------------------------------------------------------------------------- mapping


def test_iso_19139_record_maps_every_canonical_field(sample_agencies):
    run(register(sample_agencies), "m1")
    record = fixture_records()[0]
    file_id = text_of(record, "gmd:fileIdentifier/gco:CharacterString")
    rows = {r["source_record_id"]: r for r in staged("nationaal-georegister", "m1", "datasets")}
    row = rows[file_id]
    assert row["dataset_uid"] == stable_uid("nationaal-georegister", file_id)
    assert row["identifier"] == text_of(record, ".//gmd:citation/gmd:CI_Citation/gmd:identifier/gmd:MD_Identifier/gmd:code/gco:CharacterString")
    assert row["title"] == "Bestuurlijke gebieden Nederland 2012"
    assert row["description"] == text_of(record, ".//gmd:abstract/gco:CharacterString")
    assert row["publisher_original"] == "Rijkswaterstaat"  # the custodian (no publisher or owner role on this record)
    assert row["publisher_uri_original"] == "https://identifier.overheid.nl/tooi/id/oorg/oorg10275"  # the gmx:Anchor href
    assert row["contact_point"] == "servicedesk-data@rws.nl"
    assert row["theme"] == [INSPIRE + "theme/au", INSPIRE + "metadata-codelist/TopicCategory/boundaries"]
    assert row["theme_original"] == [INSPIRE + "theme/au", "boundaries"]
    assert row["keyword"] == ["Administratieve eenheden", "bestuurlijke grenzen", "gemeenten", "provincies"]
    assert row["license"] == row["license_original"] == "http://creativecommons.org/publicdomain/mark/1.0/deed.nl"
    assert row["access_rights"] == EU + "access-right/PUBLIC"
    assert row["access_rights_original"] == INSPIRE + "metadata-codelist/LimitationsOnPublicAccess/noLimitations"
    assert (row["issued"], row["modified"]) == ("2012-03-04", "2014-06-08")  # publication and revision dates
    assert row["landing_page"] == "https://www.example-geo.nl/bestuurlijke_gebieden"
    assert row["language"] == [EU + "language/NLD"]
    assert row["spatial"] == "POLYGON((3.2 50.75, 7.22 50.75, 7.22 53.7, 3.2 53.7, 3.2 50.75))"
    assert (row["temporal_start"], row["temporal_end"]) == ("2012-01-01", None)  # indeterminatePosition="now"
    assert row["frequency"] == EU + "frequency/ANNUAL" and row["frequency_original"] == "annually"
    assert row["source_id"] == "nationaal-georegister" and row["run_id"] == "m1" and len(row["raw_sha256"]) == 64
    dists = [d for d in staged("nationaal-georegister", "m1", "distributions") if d["dataset_uid"] == row["dataset_uid"]]
    assert [(d["format"], d["download_url"] is not None) for d in dists] == [("OGC:WMS", False), ("OGC:WFS", False), ("INSPIRE Atom", False)]
    wms = dists[0]
    assert wms["access_url"] == "https://service.pdok.nl/bestuurlijke_gebieden/wms/v1_0?request=GetCapabilities&service=WMS"
    assert wms["title"] == "bestuurlijke_gebieden" and wms["license"] == row["license"] and wms["source_record_id"] == file_id
    assert all(d["access_url"] != row["landing_page"] for d in dists)  # the WWW:LINK is the landing page, not a distribution


def test_downloads_datetimes_owner_role_and_licence_variants(sample_agencies):
    run(register(sample_agencies), "m2")
    records = fixture_records()
    rows = {r["source_record_id"]: r for r in staged("nationaal-georegister", "m2", "datasets")}
    dists = staged("nationaal-georegister", "m2", "distributions")
    one = rows[text_of(records[1], "gmd:fileIdentifier/gco:CharacterString")]
    assert one["publisher"] == "Kadaster" and one["publisher_uri"] is None  # an owner, without a TOOI anchor
    assert one["issued"] == "2017-04-05T10:00:00" and one["modified"] is None  # gco:DateTime, no revision
    assert one["license"] == "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"
    assert one["frequency_original"] == "asNeeded" and one["frequency"] == EU + "frequency/IRREG"
    download = next(d for d in dists if d["dataset_uid"] == one["dataset_uid"] and d["download_url"])
    assert download["format"] == "GeoPackage" and download["download_url"].endswith("/2017.gpkg")
    assert download["byte_size"] == 683_800_000  # transferSize 683.8 (megabytes)
    # A licence as a text plus a second otherConstraints with the URL; one with only the text "Geen beperkingen".
    two = rows[text_of(records[2], "gmd:fileIdentifier/gco:CharacterString")]
    assert two["license"] == "http://creativecommons.org/licenses/by/4.0/deed.nl"
    three = rows[text_of(records[3], "gmd:fileIdentifier/gco:CharacterString")]
    assert three["license"] == three["license_original"] == "Geen beperkingen"  # unknown to the list: kept as written
    assert three["title"] == "Bodemgebruik Zuid-Holland 2015"  # the CharacterString, not the PT_FreeText translation
    amp = rows[text_of(records[9], "gmd:fileIdentifier/gco:CharacterString")]
    assert "& landschap" in amp["title"]
    english = rows[text_of(records[21], "gmd:fileIdentifier/gco:CharacterString")]
    assert english["language"] == [EU + "language/ENG"]


def test_record_id_falls_back_to_the_citation_identifier_else_refused(sample_agencies):
    run(register(sample_agencies), "m3")
    records = fixture_records()
    rows = {r["source_record_id"]: r for r in staged("nationaal-georegister", "m3", "datasets")}
    code = text_of(records[12], ".//gmd:citation/gmd:CI_Citation/gmd:identifier/gmd:MD_Identifier/gmd:code/gco:CharacterString")
    assert records[12].find("gmd:fileIdentifier", GMD_NS) is None and code in rows
    (refused,) = pq.read_table(Batch.for_run("nationaal-georegister", "m3").parse_quarantine).to_pylist()
    assert refused["expectation"] == "record_has_id" and refused["source_record_id"] is None
    assert "neither a gmd:fileIdentifier nor a citation identifier" in refused["reason"]
    assert json.loads(refused["record"])["title"] == "Vervoersnetwerken - wegen Gelderland 2017"


def test_landing_page_template_when_the_record_has_no_information_link(sample_agencies):
    template = "https://www.nationaalgeoregister.nl/geonetwork/srv/dut/catalog.search#/metadata/{id}"
    run(register(sample_agencies, source_id="ngr-series", landing_page_template=template, record_types=["series"]), "m4")
    rows = staged("ngr-series", "m4", "datasets")
    assert len(rows) == 2 and all(r["landing_page"] == template.format(id=r["source_record_id"]) for r in rows)


# ------------------------------------------------------------------------------- real-world mess


def test_a_wrongly_declared_charset_is_read_right(sample_agencies):
    report = run(register(sample_agencies, agency="provincie-oud", source_id="provincie-oud"), "c1")
    assert report["status"] == "complete" and report["records_received"] == 5
    rows = staged("provincie-oud", "c1", "datasets")
    assert all(r["publisher_original"] == "Provinsje Fryslân" for r in rows)
    assert not any("Ã" in (r["description"] or "") for r in rows)
    answer = requests.get(f"{sample_agencies.url}/csw/provincie-oud/csw", params={
        "service": "CSW", "request": "GetRecords", "typeNames": "gmd:MD_Metadata", "resultType": "results",
        "outputSchema": "http://www.isotc211.org/2005/gmd"}, timeout=10)
    assert answer.content.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>') and "Fryslân".encode() in answer.content


def test_doctype_and_entities_are_refused_before_parsing(sample_agencies):
    report = run(register(sample_agencies, agency="hostile", source_id="csw-hostile"), "x1")
    assert report["status"] == "failed" and "declares a DOCTYPE" in report["error"]
    # Behind the refusal, the parser itself never expands an entity (resolve_entities=False, no_network, no DTD).
    tree = etree.fromstring(b'<!DOCTYPE x [<!ENTITY e "boom"><!ENTITY f SYSTEM "file:///etc/hostname">]><x>&e;&f;</x>', csw._PARSER)
    assert tree.text is None and b"boom" not in etree.tostring(tree)
    with pytest.raises(PageError, match="DOCTYPE"):
        csw.parse_xml(landed(b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "http://evil.example/x.dtd">\n<x/>'))


def test_an_exception_report_fails_with_the_servers_words(sample_agencies):
    report = run(register(sample_agencies, source_id="ngr-bad-cql", constraint="AnyText LIKE '%water%'"), "e1")
    assert report["status"] == "failed"
    assert "the CSW answered an exception: InvalidParameterValue (constraint): cannot parse the CQL constraint" in report["error"]


def test_an_html_page_and_a_truncated_page_fail(sample_agencies):
    html = run(register(sample_agencies, prefix="/faults/html", source_id="ngr-html"), "e2")
    assert html["status"] == "failed" and "HTML page where a CSW response was expected" in html["error"]
    cut = run(register(sample_agencies, prefix="/faults/truncated", source_id="ngr-cut"), "e3")
    assert cut["status"] == "failed" and "not well-formed XML" in cut["error"]


def test_dublin_core_instead_of_iso_is_refused(sample_agencies):
    answer = requests.get(f"{sample_agencies.url}/csw/nationaal-georegister/csw", params={
        "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typeNames": "csw:Record", "resultType": "results",
        "outputSchema": "http://www.opengis.net/cat/csw/2.0.2", "maxRecords": "2"}, timeout=10)
    with pytest.raises(PageError, match="ignored outputSchema"):
        csw.parse_page(SourceConfig(id="unit-csw", kind="csw", url="https://geo.example/csw"), landed(answer.content), CTX)


def test_post_xml_getrecords(sample_agencies):
    source = register(sample_agencies, method="post")
    document = csw.getrecords_xml(source, 16)
    answer = requests.post(source.url, data=document, headers={"Content-Type": "application/xml"}, timeout=10)
    results = etree.fromstring(answer.content).find(f"{{{csw.CSW}}}SearchResults")
    assert results.get("numberOfRecordsMatched") == "40" and results.get("numberOfRecordsReturned") == "15"
    assert results.get("nextRecord") == "31"
    get = requests.get(source.url, params=csw._request(register(sample_agencies), 16).params, timeout=10)
    ids = lambda body: re.findall(rb"<gmd:fileIdentifier><gco:CharacterString>([^<]+)", body)  # noqa: E731
    assert ids(answer.content) == ids(get.content)
    sample_agencies.reset()
    report = run(source, "post")
    assert report["status"] == "complete" and report["records_received"] == 39
    posts = [body for method, _, body in sample_agencies.request_log if method == "POST"]
    assert posts and all("<csw:GetRecords" in body for body in posts)


def test_demo_source_is_healthy(sample_agencies):
    from inventory.config import load_sources

    (source,) = [s for s in load_sources(PROJECT / "config" / "sources.demo.yaml") if s.kind == "csw"]
    report = run(source, "demo")
    assert report["status"] == "complete" and report["records_received"] == 39 and report["pages"] == 3


CTX = ParseContext("unit", datetime(2026, 11, 28, tzinfo=timezone.utc))


def landed(body: bytes, url: str = "https://geo.example/csw?request=GetRecords") -> LandedPage:
    return LandedPage("unit", 1, PageRequest("GET", url, context={"start": 1}), url, 200, {"Content-Type": "application/xml"},
                      body, "0" * 64, "")
