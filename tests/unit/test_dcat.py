"""The ``dcat`` kind against the sample agencies' DCAT-AP catalogues: Hydra paging (``hydra:next`` and
``hydra:nextPage``), count reconciliation, the mapping of DCAT-AP-NL 3.0, DCAT-AP 2.x/1.1 and DCAT-AP-DONL
1.1, every RDF syntax, and the real-world mess (bad IRIs, wrong charsets, loops, DTDs, remote contexts)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest

from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, harvest_source
from inventory.landing import LandedPage, PageRequest
from inventory.model import stable_uid
from inventory.sources import dcat
from inventory.sources.base import PageError, ParseContext
from inventory.staging import Batch
from tests.conftest import PROJECT

FIXTURES = PROJECT / "plugins" / "inventory" / "demo" / "fixtures" / "dcat"
EU = "http://publications.europa.eu/resource/authority/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"
IENW = "https://data.rijksoverheid.nl/ienw/dataset/"


def catalogue(agencies, path: str, source_id: str = "ministerie-ienw", **options) -> SourceConfig:
    return SourceConfig(id=source_id, kind="dcat", url=f"{agencies.url}{path}", allow_private_network=True,
                        options={"retries": 1, "backoff_factor": 0.01, **options})


def run(source: SourceConfig, run_id: str) -> dict:
    try:
        return harvest_source(source, run_id)
    except HarvestFailed as exc:
        return exc.report


def staged(source_id: str, run_id: str, table: str) -> list[dict]:
    return pq.read_table(Batch.for_run(source_id, run_id).harvested(table)).to_pylist()


def quarantined(source_id: str, run_id: str) -> list[dict]:
    return pq.read_table(Batch.for_run(source_id, run_id).parse_quarantine).to_pylist()


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["source_record_id"]: r for r in rows}


def page_of(body: bytes, url: str = "https://catalogus.example.nl/catalog?page=1", content_type: str = "text/turtle") -> LandedPage:
    return LandedPage("unit", 1, PageRequest("GET", url), url, 200, {"Content-Type": content_type}, body, "0" * 64, "")


CTX = ParseContext("unit", datetime(2026, 11, 28, tzinfo=timezone.utc))
UNIT = SourceConfig(id="unit-dcat", kind="dcat", url="https://catalogus.example.nl/catalog")
PREFIXES = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
"""


# ------------------------------------------------------------------------------------------ paging


def test_hydra_next_pages_and_reconciles_the_total(sample_agencies):
    sample_agencies.reset()
    report = run(catalogue(sample_agencies, "/dcat/ienw/catalog"), "p1")
    assert report["status"] == "complete", report["message"]
    assert report["pages"] == 4 and report["records_reported"] == 45
    assert report["records_received"] == 45 and report["refused"] == 1  # the dataset with a relative theme IRI
    assert "the server reported 45" in report["message"]
    asked = [path for _, path, _ in sample_agencies.request_log if path.startswith("/dcat/ienw/")]
    assert asked == ["/dcat/ienw/catalog", "/dcat/ienw/catalog?page=2", "/dcat/ienw/catalog?page=3", "/dcat/ienw/catalog?page=4"]
    assert len(staged("ministerie-ienw", "p1", "datasets")) == 44


def test_older_hydra_next_page_literal_on_a_paged_collection(sample_agencies):
    sample_agencies.reset()
    report = run(catalogue(sample_agencies, "/dcat/fryslan/catalog.xml", "fryslan"), "p2")
    assert report["status"] == "complete", report["message"]
    assert report["pages"] == 2 and report["records_reported"] == 15 and report["records_received"] == 15
    assert [p for _, p, _ in sample_agencies.request_log] == ["/dcat/fryslan/catalog.xml", "/dcat/fryslan/catalog.xml?page=2"]


def test_next_link_resolves_relative_and_last_page_ends_the_listing():
    body = PREFIXES + b"""<https://c.example/catalog> a hydra:Collection ; hydra:totalItems 2 ; hydra:view <?page=1> .
<?page=1> a hydra:PartialCollectionView ; hydra:next <?page=2> .
<https://c.example/d/1> a dcat:Dataset ; dct:title "Een"@nl .
"""
    parsed = dcat.parse_page(UNIT, page_of(body, "https://c.example/catalog?page=1"), CTX)
    assert parsed.reported_total == 2 and parsed.entries == 1
    assert parsed.next_request.url == "https://c.example/catalog?page=2"
    last = PREFIXES + b'<https://c.example/d/2> a dcat:Dataset ; dct:title "Twee"@nl .\n'
    assert dcat.parse_page(UNIT, page_of(last, "https://c.example/catalog?page=2"), CTX).next_request is None


def test_a_total_the_listing_does_not_reach_is_partial(sample_agencies):
    # The looping catalogue claims 12 datasets; whatever stops it, 9 distinct ones are all there is.
    sample_agencies.reset()
    report = run(catalogue(sample_agencies, "/dcat/loop/catalog?page=1", "loop-total"), "p3")
    assert report["status"] == "partial" and report["records_reported"] == 12 and report["records_received"] == 9


def test_pages_linked_in_a_loop_end_as_partial(sample_agencies):
    sample_agencies.reset()
    report = run(catalogue(sample_agencies, "/dcat/loop/catalog?page=1", "zwolle-loop"), "loop")
    assert report["status"] == "partial"
    assert "stopped to avoid a loop" in report["message"] and "Nothing is deleted" in report["message"]
    assert report["pages"] == 3 and report["records_received"] == 9
    assert [p for _, p, _ in sample_agencies.request_log] == [f"/dcat/loop/catalog?page={n}" for n in (1, 2, 3)]


# ----------------------------------------------------------------------------------------- mapping


def test_dcat_ap_nl_3_maps_every_canonical_field(sample_agencies):
    run(catalogue(sample_agencies, "/dcat/ienw/catalog"), "m1")
    rows = by_id(staged("ministerie-ienw", "m1", "datasets"))
    row = rows[IENW + "000-waterstanden-en-afvoeren"]
    assert row["identifier"] == "https://data.rijksoverheid.nl/ienw/id/000-waterstanden-en-afvoeren"
    assert row["title"] == "Waterstanden en afvoeren 2014"
    assert row["description"].startswith("Waterstanden en afvoeren over 2014, verzameld en beheerd door Rijkswaterstaat.")
    assert row["publisher_original"] == "Rijkswaterstaat"  # as the catalogue wrote it; canonical: test_organizations.py
    assert row["publisher_uri_original"] == "https://identifier.overheid.nl/tooi/id/oorg/oorg10275"
    assert row["contact_point"] == "servicedesk-data@rws.nl"
    assert row["theme"] == row["theme_original"] == [EU + "data-theme/ENVI"]
    assert row["keyword"] == ["water", "waterstand", "afvoer", "getij"]
    # DCAT-AP 3 puts the licence on the distribution; the dataset takes it from there.
    assert row["license"] == row["license_original"] == "http://creativecommons.org/licenses/by/4.0/deed.nl"
    assert row["access_rights"] == row["access_rights_original"] == EU + "access-right/PUBLIC"
    assert row["issued"] == "2014-01-10" and row["modified"] == "2024-01-10T00:15:00+01:00"
    assert row["landing_page"] == "https://www.rijksoverheid.nl/onderwerpen/data/000-waterstanden-en-afvoeren"
    assert row["language"] == [EU + "language/NLD"]
    assert row["spatial"] == EU + "country/NLD"
    assert (row["temporal_start"], row["temporal_end"]) == ("2014-01-01", "2014-12-31")
    assert row["frequency"] == row["frequency_original"] == EU + "frequency/ANNUAL"
    assert row["dataset_uid"] == stable_uid("ministerie-ienw", row["source_record_id"])
    assert row["run_id"] == "m1" and len(row["raw_sha256"]) == 64 and row["source_id"] == "ministerie-ienw"
    (dist,) = [d for d in staged("ministerie-ienw", "m1", "distributions") if d["dataset_uid"] == row["dataset_uid"]]
    assert dist["access_url"] == dist["download_url"] == "https://downloads.rijksoverheid.nl/ienw/000-waterstanden-en-afvoeren/2014.csv"
    assert dist["format"] == dist["format_original"] == EU + "file-type/CSV"
    assert dist["media_type"] == "text/csv"  # the IANA media-type IRI, shortened
    assert dist["byte_size"] == 85953810
    assert dist["title"] == "Waterstanden en afvoeren 2014 (CSV)"
    assert dist["license"] == dist["license_original"] == "http://creativecommons.org/licenses/by/4.0/deed.nl"
    assert dist["distribution_uid"] == stable_uid("ministerie-ienw", row["source_record_id"], IENW + "000-waterstanden-en-afvoeren/distributie/1")


def test_dcat_ap_2_and_1_1_leftovers_in_the_same_catalogue(sample_agencies):
    run(catalogue(sample_agencies, "/dcat/ienw/catalog"), "m2")
    rows = by_id(staged("ministerie-ienw", "m2", "datasets"))
    dists = staged("ministerie-ienw", "m2", "distributions")
    # DCAT-AP 2.x: the period as time:hasBeginning / time:hasEnd instants.
    ap2 = rows[IENW + "002-vaarwegkenmerken"]
    assert (ap2["temporal_start"], ap2["temporal_end"]) == ("2017-01-01", "2017-12-31")
    # DCAT-AP 1.1: schema:startDate, purl.org/cld frequency, licence on the dataset, literal format and media type,
    # the e-mail as a "mailto:" literal, a decimal byte size.
    ap1 = rows[IENW + "004-luchtkwaliteit-langs-rijkswegen"]
    assert ap1["temporal_start"].endswith("-01-01") and ap1["temporal_end"].endswith("-12-31")
    assert ap1["frequency_original"] == "http://purl.org/cld/freq/monthly"
    assert ap1["frequency"] == EU + "frequency/MONTHLY"
    assert ap1["license_original"] == CC0 and ap1["license"] == CC0
    assert ap1["contact_point"] == "opendata@minienw.nl"
    ap1_dists = [d for d in dists if d["dataset_uid"] == ap1["dataset_uid"]]
    assert ap1_dists and all(d["license"] == CC0 and d["license_original"] is None for d in ap1_dists)  # inherited
    assert [(d["format"], d["format_original"], d["media_type"]) for d in ap1_dists] == [
        ("ZIP", "ZIP", "application/zip"), ("NETCDF", "NETCDF", "application/x-netcdf")]
    assert ap1_dists[0]["byte_size"] == 46905344  # "46905344.0"^^xsd:decimal
    # A dct:Location with a WKT bbox.
    located = rows[IENW + "003-nationaal-wegenbestand"]
    assert located["spatial"].startswith("POLYGON((3.36 50.75")


def test_dcat_ap_donl_1_1_rdf_xml_mapping(sample_agencies):
    run(catalogue(sample_agencies, "/dcat/fryslan/catalog.xml", "fryslan"), "m3")
    rows = by_id(staged("fryslan", "m3", "datasets"))
    row = rows["https://data.fryslan.frl/dataset/1000"]
    assert row["title"] == "Natura 2000-gebieden Fryslân 2015"  # nl preferred over the Frisian title listed first
    assert row["publisher"] == "Provincie Fryslân" and row["publisher_uri"] == "https://identifier.overheid.nl/tooi/id/provincie/pv21"
    assert row["contact_point"] == "geoloket@fryslan.frl"
    assert row["theme"] == ["http://standaarden.overheid.nl/owms/terms/Natuur_en_milieu"]
    assert row["license"] == CC0 and row["license_original"] == CC0
    assert row["language"] == [EU + "language/NLD", EU + "language/FRY"]
    assert row["spatial"] == "https://identifier.overheid.nl/tooi/id/provincie/pv21"
    assert (row["temporal_start"], row["temporal_end"]) == ("2015-01-01", "2016-12-31")
    assert row["issued"] == "2015-01-01T09:30:00"
    dist = next(d for d in staged("fryslan", "m3", "distributions") if d["dataset_uid"] == row["dataset_uid"])
    assert dist["media_type"] == "text/csv" and dist["format"] == EU + "file-type/CSV"
    assert isinstance(dist["byte_size"], int) and dist["byte_size"] > 0  # "….0"^^xsd:decimal


def test_dcat_ap_3_json_ld_with_semic_term_names(sample_agencies):
    report = run(catalogue(sample_agencies, "/dcat/zuid-holland/catalog.jsonld", "zuid-holland"), "m4")
    assert report["status"] == "complete" and report["records_received"] == 9 and report["pages"] == 2
    row = by_id(staged("zuid-holland", "m4", "datasets"))["https://opendata.zuid-holland.nl/dataset/provinciale-wegen"]
    assert row["title"] == "Provinciale wegen 2018" and row["publisher"] == "Provincie Zuid-Holland"
    assert row["issued"] == "2018-03-01" and row["modified"] == "2024-01-15T12:00:00Z"  # releaseDate, modificationDate
    assert row["license"] == "http://creativecommons.org/licenses/by/4.0/deed.nl"  # licence of the distribution
    assert row["temporal_start"] == "2018-01-01" and row["frequency"] == EU + "frequency/ANNUAL"
    assert row["contact_point"] == "opendata@pzh.nl" and row["keyword"] == ["provinciale", "wegen", "open data"]
    dist = next(d for d in staged("zuid-holland", "m4", "distributions") if d["dataset_uid"] == row["dataset_uid"])
    assert dist["access_url"] == "https://opendata.zuid-holland.nl/download/0.geojson" and dist["media_type"] == "application/geo+json"


def test_language_preference_nl_then_en_then_any(sample_agencies):
    run(catalogue(sample_agencies, "/dcat/ienw/catalog"), "m5")
    rows = by_id(staged("ministerie-ienw", "m5", "datasets"))
    assert rows[IENW + "009-kunstwerken-in-beheer-bij-rijkswaterstaa"]["title"].startswith("Kunstwerken in beheer")  # en listed first
    assert rows[IENW + "023-inspectieresultaten-vervoer-gevaarlijke-"]["title"].startswith("Inspections of dangerous goods")  # only en
    assert rows[IENW + "031-verkeersintensiteiten-rijkswegen"]["title"] == "Verkeersintensiteiten rijkswegen 2022"  # untagged
    body = PREFIXES + b'<https://c.example/d> a dcat:Dataset ; dct:title "Titel"@de , "Title"@en-GB , "Titel"@nl-NL .\n'
    assert next(dcat.iter_records(UNIT, page_of(body), CTX))["title"] == "Titel" and next(
        dcat.iter_records(UNIT, page_of(body.replace(b'"Titel"@nl-NL', b'"Ohne"')), CTX))["title"] == "Title"


def test_blank_node_dataset_takes_its_identifier_as_guid(sample_agencies):
    run(catalogue(sample_agencies, "/dcat/ienw/catalog"), "m6")
    rows = by_id(staged("ministerie-ienw", "m6", "datasets"))
    row = rows["https://data.rijksoverheid.nl/ienw/id/017-vaarwegkenmerken"]
    assert row["title"].startswith("Vaarwegkenmerken") and row["identifier"] == row["source_record_id"]
    body = PREFIXES + b'[] a dcat:Dataset ; dct:title "Zonder id"@nl .\n'
    columns = dcat.parse_page(UNIT, page_of(body), CTX).columns()
    assert not columns.record_ids and columns.refusals[0].check == "dataset_has_id"


def test_same_records_in_every_syntax(sample_agencies):
    """The same catalogue as Turtle, RDF/XML, JSON-LD and N-Triples (picked by extension and Content-Type)."""
    results = {}
    for ext in ("ttl", "rdf", "jsonld", "nt"):
        report = run(catalogue(sample_agencies, f"/dcat/ienw/catalog.{ext}", f"ienw-{ext}"), "s1")
        assert report["status"] == "complete" and report["pages"] == 4 and report["refused"] == 1, (ext, report["message"])
        rows = staged(f"ienw-{ext}", "s1", "datasets")
        results[ext] = sorted(json.dumps({k: v for k, v in r.items() if k not in ("dataset_uid", "source_id", "raw_sha256", "harvested_at")},
                                         sort_keys=True, default=str) for r in rows)
        asked = [p for _, p, _ in sample_agencies.request_log if p.startswith(f"/dcat/ienw/catalog.{ext}")]
        assert f"/dcat/ienw/catalog.{ext}?page=4" in asked  # the page links keep the syntax
    assert results["ttl"] == results["rdf"] == results["jsonld"] == results["nt"]


def test_format_option_forces_the_parser_and_is_checked_against_the_body(sample_agencies):
    # N-Triples served as text/plain: the option picks the N-Triples parser.
    report = run(catalogue(sample_agencies, "/dcat/ienw/catalog.nt", "ienw-forced", format="ntriples"), "f1")
    assert report["status"] == "complete" and report["records_received"] == 45
    wrong = run(catalogue(sample_agencies, "/dcat/ienw/catalog.ttl", "ienw-wrong", format="jsonld"), "f2")
    assert wrong["status"] == "failed" and "format option says jsonld, but the body looks like TURTLE" in wrong["error"]
    unknown = run(catalogue(sample_agencies, "/dcat/ienw/catalog.ttl", "ienw-unknown", format="n3-ish"), "f3")
    assert unknown["status"] == "failed" and "unknown format option 'n3-ish'" in unknown["error"]
    page = page_of(b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
                   content_type="application/octet-stream")
    assert dcat.detect_format(UNIT, page, page.body.decode()).name == "rdfxml"  # generic type: the body decides
    assert dcat.detect_format(UNIT, page_of(b"{}", content_type="text/turtle"), "{}").name == "jsonld"  # a lying Content-Type


def test_requests_ask_for_rdf_by_accept_header(sample_agencies):
    source = catalogue(sample_agencies, "/dcat/ienw/catalog")
    request = dcat.first_request(source)
    assert request.context["accept"].startswith("text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8")
    forced = dcat.first_request(catalogue(sample_agencies, "/dcat/ienw/catalog", format="rdfxml"))
    assert forced.context["accept"] == "application/rdf+xml, */*;q=0.1"
    assert request.headers["Accept"] == request.context["accept"]


def test_sample_server_negotiates_the_syntax_from_accept(sample_agencies):
    from inventory.demo import routes_geo_dcat

    def answer(accept: str):
        return routes_geo_dcat.route(sample_agencies, "GET", ["dcat", "ienw", "catalog"], "page=2", b"", set(), {"Accept": accept})

    assert answer("application/rdf+xml").content_type == "application/rdf+xml"
    assert answer("text/turtle;q=0.5, application/ld+json").content_type == "application/ld+json"
    assert answer("").content_type.startswith("text/turtle")
    assert answer("text/html").status == 406
    rdf = answer("application/rdf+xml").body
    assert f"{sample_agencies.url}/dcat/ienw/catalog?page=3".encode() in rdf  # conneg links stay extension-less


# ------------------------------------------------------------------------------- real-world mess


def test_a_bad_iri_costs_only_that_dataset(sample_agencies):
    report = run(catalogue(sample_agencies, "/dcat/ienw/catalog"), "b1")
    assert report["status"] == "complete" and report["refused"] == 1
    (refused,) = quarantined("ministerie-ienw", "b1")
    assert refused["source_record_id"] == IENW + "026-meetpunten-oppervlaktewaterkwaliteit"
    assert refused["expectation"] == "iri_valid" and refused["column"] == "theme" and refused["observed_value"] == "thema/mobiliteit"
    assert "relative IRI" in refused["reason"] and "the rest of the catalogue is harvested" in refused["reason"]
    assert json.loads(refused["record"])["invalid"][0]["property"] == "dcat:theme"
    assert IENW + "026-meetpunten-oppervlaktewaterkwaliteit" not in by_id(staged("ministerie-ienw", "b1", "datasets"))
    # An e-mail with a space, in RDF/XML: the DONL catalogue loses that one dataset too.
    report = run(catalogue(sample_agencies, "/dcat/fryslan/catalog.xml", "fryslan"), "b2")
    (refused,) = quarantined("fryslan", "b2")
    assert refused["source_record_id"] == "https://data.fryslan.frl/dataset/1187" and refused["column"] == "contact_point"
    assert refused["observed_value"] == "mailto:gis loket@fryslan.frl" and "contains ' '" in refused["reason"]
    assert len(staged("fryslan", "b2", "datasets")) == 14


def test_a_syntax_error_costs_the_dataset_it_is_in():
    body = PREFIXES + b"""<https://c.example/d/1> a dcat:Dataset ; dct:title "Goed"@nl .
<https://c.example/d/2> a dcat:Dataset ; dct:title "Kapot"@nl ; dct:issued "2020-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ;
    dcat:keyword "a" "b" .
<https://c.example/d/3> a dcat:Dataset ; dct:title "Ook goed"@nl .
"""
    columns = dcat.parse_page(UNIT, page_of(body), CTX).columns()
    assert "https://c.example/d/1" in columns.record_ids and "https://c.example/d/3" in columns.record_ids
    assert "https://c.example/d/2" not in columns.record_ids
    refusal = next(r for r in columns.refusals if r.record_id == "https://c.example/d/2")
    assert refusal.check == "rdf_statement_parses" and "could not be parsed" in refusal.reason


def test_a_truncated_page_fails_the_page_not_a_dataset(sample_agencies):
    for path, source_id in (("/dcat/ienw/catalog", "ienw-truncated"), ("/dcat/fryslan/catalog.xml", "fryslan-truncated"),
                            ("/dcat/zuid-holland/catalog.jsonld", "zh-truncated")):
        report = run(catalogue(sample_agencies, f"/faults/truncated{path}", source_id), "t1")
        assert report["status"] in ("failed", "partial"), (source_id, report["message"])
        assert any(words in report["error"] for words in ("cut off", "not valid JSON-LD")), report["error"]


def test_a_wrongly_declared_charset_is_read_right(sample_agencies):
    sample_agencies.reset()
    run(catalogue(sample_agencies, "/dcat/fryslan/catalog.xml", "fryslan"), "c1")
    rows = staged("fryslan", "c1", "datasets")
    page1 = [r for r in rows if int(r["source_record_id"].rsplit("/", 1)[1]) < 1136]  # page 1: UTF-8 said to be ISO-8859-1
    page2 = [r for r in rows if int(r["source_record_id"].rsplit("/", 1)[1]) >= 1136]  # page 2: Windows-1252 said to be UTF-8
    assert page1 and page2
    for row in rows:
        assert "Ã" not in row["description"] and "\ufffd" not in row["description"]
        assert "coördinaten" in row["description"] and row["publisher"] == "Provincie Fryslân"
    assert any("Fryslân" in r["title"] for r in page2)
    assert dcat.decode_text("Fryslân".encode("cp1252"), "text/turtle; charset=utf-8") == "Fryslân"
    assert dcat.decode_text("Fryslân".encode("utf-8"), "text/turtle; charset=ISO-8859-1") == "Fryslân"
    assert dcat.decode_text(b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe2</a>', None) == '<?xml version="1.0" encoding="UTF-8"?><a>â</a>'


def test_doctype_and_entities_are_refused_before_parsing(sample_agencies):
    report = run(catalogue(sample_agencies, "/dcat/hostile/entities.rdf", "hostile-rdf"), "x1")
    assert report["status"] == "failed"
    assert "declares a DOCTYPE" in report["error"] and "refused unparsed" in report["error"]
    with pytest.raises(PageError, match="ENTITY"):
        dcat.refuse_dtd('<rdf:RDF>\n<!ENTITY x "y">', "u")


def test_json_ld_remote_context_is_replaced_never_fetched(sample_agencies):
    sample_agencies.reset()
    report = run(catalogue(sample_agencies, "/dcat/zuid-holland/catalog.jsonld", "zuid-holland"), "j1")
    assert report["status"] == "complete" and report["records_received"] == 9
    # An unknown remote context (one the sample server would even answer) refuses the page and is not fetched.
    unknown = run(catalogue(sample_agencies, "/dcat/hostile/unknown-context.jsonld", "unknown-context"), "j2")
    assert unknown["status"] == "failed"
    assert "remote contexts are never fetched" in unknown["error"] and "mystery.jsonld" in unknown["error"]
    assert not any("contexts/mystery" in path for _, path, _ in sample_agencies.request_log)
    assert all(path.startswith(("/dcat/zuid-holland/", "/dcat/hostile/")) for _, path, _ in sample_agencies.request_log)
    inline = dcat.localise_contexts(json.dumps({"@context": {"t": "http://purl.org/dc/terms/title"}, "t": "x"}), "u")
    assert json.loads(inline)["@context"] == {"t": "http://purl.org/dc/terms/title"}  # inline contexts untouched


def test_an_html_page_fails_with_what_came_back(sample_agencies):
    report = run(catalogue(sample_agencies, "/faults/html/dcat/ienw/catalog", "ienw-html"), "h1")
    assert report["status"] == "failed" and "HTML page where an RDF catalogue was expected" in report["error"]


def test_the_inlined_uid_is_the_models_stable_uid():
    body = PREFIXES + b"""<https://c.example/d/1> a dcat:Dataset ; dct:title "Een"@nl ; dcat:distribution <https://c.example/d/1/csv> .
<https://c.example/d/1/csv> dcat:accessURL <https://c.example/1.csv> .
"""
    columns = dcat.parse_page(UNIT, page_of(body), CTX).columns()
    assert columns.tables["datasets"]["dataset_uid"] == [stable_uid("unit-dcat", "https://c.example/d/1")]
    assert columns.tables["distributions"]["distribution_uid"] == [stable_uid("unit-dcat", "https://c.example/d/1", "https://c.example/d/1/csv")]


def test_demo_source_is_healthy(sample_agencies):
    from inventory.config import load_sources

    (source,) = [s for s in load_sources(PROJECT / "config" / "sources.demo.yaml") if s.kind == "dcat"]
    report = run(source, "demo")
    assert report["status"] == "complete" and report["records_received"] == 45


@pytest.mark.parametrize("syntax, media_type", [("jsonld", "application/ld+json"), ("rdfxml", "application/rdf+xml"), ("ntriples", "application/n-triples")])
def test_content_negotiation_end_to_end(sample_agencies, syntax, media_type):
    """The Accept header reaches the agency, which answers in that syntax; the same datasets result."""
    source = catalogue(sample_agencies, "/dcat/ienw/catalog", format=syntax)
    report = run(source, f"conneg-{syntax}")
    assert report["status"] == "complete"
    landed = Batch.for_run(source.id, f"conneg-{syntax}").path.parents[2] / "landing" / source.id / f"conneg-{syntax}"
    meta = json.loads(sorted(landed.glob("*.json"))[0].read_text())
    assert meta["request"]["headers"]["Accept"].startswith(media_type)
    assert meta["headers"]["Content-Type"].startswith(media_type)
    turtle = run(catalogue(sample_agencies, "/dcat/ienw/catalog"), f"conneg-turtle-{syntax}")
    assert report["records_received"] == turtle["records_received"]
