"""Content faults: what a page says it is and what it is disagree.

HTML or an error text served with 200 where JSON or RDF was expected, a truncated JSON page, a
malformed RDF page, and a page that is not UTF-8 (no charset, or a wrong one). The first ones fail
the page with the reason and, for a syntax error, where in the body it is; the last one is read as
Windows-1252 and the run says so.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.faults.conftest import CKAN_PATH, DCAT_PATH, FAULTY_RUN, PACKAGES, ckan_envelope, ckan_listing, dcat_page, package
from tests.faults.hostile_server import Reply

MAINTENANCE_PAGE = b"""<!DOCTYPE html>
<html lang="nl"><head><title>Onderhoud</title></head>
<body><h1>data.overheid.nl is tijdelijk niet beschikbaar</h1><p>Wij zijn bezig met onderhoud.</p></body></html>"""


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json"])
def test_html_with_200_is_an_error_not_data(inventory, hostile, good, content_type):
    # A maintenance page served with 200 (also when it is mislabelled as JSON).
    hostile.route(CKAN_PATH, Reply(200, MAINTENANCE_PAGE, content_type))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "HTML page where JSON was expected" in row["message"]
    inventory.assert_unchanged(good)


def test_html_with_200_where_rdf_was_expected(inventory, hostile, good_catalogue):
    hostile.route(DCAT_PATH, Reply(200, MAINTENANCE_PAGE, "text/turtle"))
    row = inventory.run("hostile-catalogue", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "HTML page where an RDF catalogue was expected" in row["message"]
    inventory.assert_unchanged(good_catalogue)


def test_error_body_with_200_is_an_error_not_data(inventory, hostile, good):
    # A gateway that answers 200 with its own JSON error instead of the CKAN envelope.
    hostile.route(CKAN_PATH, Reply(200, json.dumps({"error": "upstream timed out", "code": 504}).encode()))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "failed"
    assert "not a CKAN package_search response" in row["message"]
    inventory.assert_unchanged(good)


def test_truncated_json_fails_the_page_with_the_position(inventory, hostile, good):
    full = ckan_envelope(5, PACKAGES[2:4])
    cut = full[: len(full) // 2]
    pages = ckan_listing(PACKAGES)
    hostile.route(CKAN_PATH, lambda req: Reply(200, cut) if req.param("start") == "2" else pages(req))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    # Page 1 arrived, page 2 was cut off: partial, nothing deleted, and where the body broke.
    assert row["status"] == "partial"
    assert "not valid JSON" in row["message"]
    assert re.search(rf"at line 1, column \d+ \(byte \d+ of {len(cut):,}\)", row["message"]), row["message"]
    inventory.assert_unchanged(good, provenance_may_change=True)


def test_malformed_rdf_fails_the_page_with_the_position(inventory, hostile, good_catalogue):
    body = dcat_page(hostile.url, [0, 1], page=1, next_page=None, total=2)
    cut = body[: body.index(b"dcat:distribution") + 10]  # ends in the middle of a statement
    hostile.route(DCAT_PATH, Reply(200, cut, "text/turtle"))
    row = inventory.run("hostile-catalogue", FAULTY_RUN)
    assert row["status"] == "failed", row["message"]
    assert "cut off" in row["message"] and re.search(r"line \d+ column \d+", row["message"]), row["message"]
    inventory.assert_unchanged(good_catalogue)


FRISIAN = [package(i, title=f"Fietspaden in Súdwest-Fryslân {i}: ’t overzicht") for i in range(5)]


def served_in(codec: str, content_type: str):
    """The CKAN pages as a portal writes them: real characters (not \\u escapes) in ``codec``."""
    pages = ckan_listing(FRISIAN)

    def answer(req):
        body = json.loads(pages(req).body)
        return Reply(200, json.dumps(body, ensure_ascii=False).encode(codec), content_type)

    return answer


@pytest.mark.parametrize(
    "codec, content_type, recorded",
    [
        ("cp1252", "application/json", "cp1252 (windows 1252 fallback)"),  # no charset, not UTF-8
        ("cp1252", "application/json; charset=utf-8", "cp1252 (windows 1252 fallback)"),  # a wrong charset
        ("cp1252", "application/json; charset=windows-1252", "cp1252 (declared)"),  # declared right
    ],
    ids=["undeclared", "wrongly-declared", "declared"],
)
def test_non_utf8_page_is_decoded_and_the_charset_is_recorded(inventory, hostile, codec, content_type, recorded):
    # The good run: the same catalogue in UTF-8. The faulty one must publish exactly the same text.
    hostile.route(CKAN_PATH, served_in("utf-8", "application/json; charset=utf-8"))
    inventory.add_ckan()
    good = inventory.published_good_run(same_as="ckan-frisian")
    hostile.route(CKAN_PATH, served_in(codec, content_type))
    row = inventory.run("hostile-portal", FAULTY_RUN)
    assert row["status"] == "complete", row["message"]
    assert inventory.report("hostile-portal")["charsets"] == {recorded: 3}
    meta = json.loads(next(p for p in inventory.landing_files("hostile-portal") if p.name == "000001.json").read_text())
    assert meta["charset"]["codec"] == "cp1252"
    if "fallback" in recorded:
        assert "charset not reliably declared: page 1" in row["message"] and "read as cp1252" in row["message"]
    else:
        assert "charset" not in row["message"]
    inventory.assert_unchanged(good, provenance_may_change=True)
