"""Hostile input: entity bombs and external entities in XML, remote JSON-LD contexts, redirects
into the private network, and source URLs that are not http(s).

Nothing hostile is ever parsed or fetched: the XML is refused before a parser sees it, the context
and the entity targets are canaries on the hostile server that must get no request.
"""

from __future__ import annotations

import json

import pytest

from tests.faults.conftest import CKAN_PATH, DCAT_PATH, FAULTY_RUN
from tests.faults.hostile_server import Redirect, Reply

CANARY = "/canary"  # an entity or context target: it must never be requested

def _laughs() -> str:
    """The classic entity bomb: lol9 expands to 10^9 "lol"s (3 GB) in a parser that expands entities."""
    lines = ['  <!ENTITY lol "lol">']
    for level in range(1, 10):
        inner = "lol" if level == 1 else f"lol{level - 1}"
        lines.append(f'  <!ENTITY lol{level} "{("&" + inner + ";") * 10}">')
    return "\n".join(lines)


BILLION_LAUGHS_ENTITIES = _laughs()


def rdfxml(dtd: str, title: str) -> bytes:
    # An RDF/XML DCAT page (the Fryslân catalogue's shape) carrying a DTD.
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE rdf:RDF [
{dtd}
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dct="http://purl.org/dc/terms/" xmlns:dcat="http://www.w3.org/ns/dcat#">
  <dcat:Dataset rdf:about="https://data.fryslan.frl/dataset/fietspaden">
    <dct:title>{title}</dct:title>
  </dcat:Dataset>
</rdf:RDF>""".encode()


def csw_response(dtd: str, payload: str) -> bytes:
    # A CSW 2.0.2 GetRecordsResponse (Nationaal Georegister) carrying a DTD.
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE csw:GetRecordsResponse [
{dtd}
]>
<csw:GetRecordsResponse xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" version="2.0.2">
  <csw:SearchStatus timestamp="2026-11-28T10:00:00Z"/>
  <csw:SearchResults numberOfRecordsMatched="1" numberOfRecordsReturned="1" nextRecord="0" elementSet="full">{payload}</csw:SearchResults>
</csw:GetRecordsResponse>""".encode()


def _xml_source(inventory, hostile, kind: str, body: bytes) -> str:
    if kind == "dcat":
        hostile.route(DCAT_PATH, Reply(200, body, "application/rdf+xml"))
        inventory.add_dcat()
        return "hostile-catalogue"
    hostile.route("/csw", Reply(200, body, "application/xml"))
    inventory.add_source("hostile-georegister", "csw", "/csw", method="get")
    return "hostile-georegister"


@pytest.mark.parametrize("kind", ["dcat", "csw"])
def test_billion_laughs_is_refused_before_parsing(inventory, hostile, good, kind):
    body = (rdfxml(BILLION_LAUGHS_ENTITIES, "&lol9;") if kind == "dcat" else csw_response(BILLION_LAUGHS_ENTITIES, "&lol9;"))
    source_id = _xml_source(inventory, hostile, kind, body)
    row = inventory.run(source_id, FAULTY_RUN)
    assert row["status"] == "failed"
    assert "declares a DOCTYPE (line 2)" in row["message"] and "refused unparsed" in row["message"]
    inventory.assert_unchanged(good)


@pytest.mark.parametrize("kind", ["dcat", "csw"])
def test_xxe_is_refused_and_the_entity_never_fetched(inventory, hostile, good, kind):
    dtd = f'  <!ENTITY secret SYSTEM "file:///etc/passwd">\n  <!ENTITY remote SYSTEM "{hostile.url}{CANARY}">'
    body = rdfxml(dtd, "&secret;&remote;") if kind == "dcat" else csw_response(dtd, "&secret;&remote;")
    source_id = _xml_source(inventory, hostile, kind, body)
    hostile.route(CANARY, Reply(200, b"root:x:0:0"))
    row = inventory.run(source_id, FAULTY_RUN)
    assert row["status"] == "failed"
    assert "entity declarations are refused unparsed" in row["message"]
    assert hostile.hits_on(CANARY) == 0
    landed = b"".join(p.read_bytes() for p in inventory.data_dir.rglob("*") if p.is_file() and p.suffix != ".duckdb")
    assert b"root:x:0:0" not in landed
    inventory.assert_unchanged(good)


def test_jsonld_remote_context_is_never_fetched(inventory, hostile, good_catalogue):
    document = {
        "@context": f"{hostile.url}{CANARY}/context.jsonld",
        "@graph": [{"@id": "https://data.zuid-holland.nl/dataset/1", "@type": "Dataset", "title": "Fietsroutes"}],
    }
    hostile.route(DCAT_PATH, Reply(200, json.dumps(document).encode(), "application/ld+json"))
    hostile.route(f"{CANARY}/context.jsonld", Reply(200, b'{"@context": {}}', "application/ld+json"))
    row = inventory.run("hostile-catalogue", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "remote contexts are never fetched" in row["message"]
    assert hostile.hits_on(f"{CANARY}/context.jsonld") == 0
    inventory.assert_unchanged(good_catalogue)


def test_redirect_to_loopback_is_refused_for_a_public_source(inventory, hostile, good, monkeypatch):
    import inventory.http as http

    real = http.resolve
    # The source's host name looks public (as an agency's would); its redirect points at 127.0.0.1.
    monkeypatch.setattr(http, "resolve", lambda host, port: ["93.184.216.34"] if host == "localhost" else real(host, port))
    inventory.add_source("hostile-portal", "ckan", "/ckan/api/3/action/", rows=2, allow_private_network=False,
                         base_url=f"http://localhost:{hostile.port}")
    hostile.route(CKAN_PATH, Redirect(f"{hostile.url}{CANARY}"))
    hostile.route(CANARY, Reply(200, b'{"secret": "cloud metadata"}'))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert f"Refused {hostile.url}{CANARY}" in row["message"] and "non-public address 127.0.0.1" in row["message"]
    assert hostile.hits_on(CKAN_PATH) == 1 and hostile.hits_on(CANARY) == 0
    inventory.assert_unchanged(good)


def test_private_address_without_permission_is_refused(inventory, hostile, good):
    inventory.add_source("hostile-portal", "ckan", "/ckan/api/3/action/", allow_private_network=False, rows=2)
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed" and "non-public address 127.0.0.1" in row["message"]
    assert hostile.hits_on(CKAN_PATH) == 0
    inventory.assert_unchanged(good)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://ftp.example.org/catalog.json", "gopher://127.0.0.1:70/"])
def test_only_http_and_https_source_urls(tmp_path, url):
    from inventory.config import SourcesConfigError, load_sources

    file = tmp_path / "sources.yaml"
    file.write_text(f"sources:\n  - id: odd-source\n    kind: ckan\n    url: {url}\n", encoding="utf-8")
    with pytest.raises(SourcesConfigError, match=r"source #1 \('odd-source'\), field 'url': .*must be an http:// or https:// URL"):
        load_sources(file)
