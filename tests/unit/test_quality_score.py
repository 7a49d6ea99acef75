"""MQA scores in the embedded DuckDB store: the shared scenarios, the rating bands, the vocabularies."""

from __future__ import annotations

import duckdb
import pytest

from inventory import vocab
from inventory.quality import score as mqa
from tests.unit import quality_scenarios as qs
from tests.unit.test_publish import duck_env  # noqa: F401  (fixture)


@pytest.mark.parametrize("scenario", qs.SCENARIOS, ids=lambda f: f.__name__.removeprefix("scenario_"))
def test_quality_duckdb(scenario, duck_env):  # noqa: F811
    scenario(duck_env)


# Each band edge of DESIGN.md (Excellent 351-405, Good 221-350, Sufficient 121-220, Bad 0-120), and
# the fractions between two bands that distribution shares produce.
BAND_EDGES = [
    (0, "Bad"), (120, "Bad"), (120.99, "Bad"), (121, "Sufficient"), (220, "Sufficient"),
    (220.5, "Sufficient"), (221, "Good"), (350, "Good"), (350.999, "Good"), (351, "Excellent"),
    (405, "Excellent"),
]


@pytest.mark.parametrize("total,expected", BAND_EDGES)
def test_rating_band_edges_in_sql_and_python(total, expected):
    sql = f"SELECT {mqa.rating_sql('t')} FROM (SELECT CAST(? AS DOUBLE) AS t)"
    assert duckdb.execute(sql, [total]).fetchone()[0] == expected
    assert mqa.rating(total) == expected


def test_metrics_add_up_to_the_design():
    assert sum(m.points for m in mqa.METRICS) == 405
    assert {d: sum(m.points for m in mqa.METRICS if m.dimension == d) for d, _ in mqa.DIMENSIONS} == {
        "findability": 100, "accessibility": 100, "interoperability": 110, "reusability": 75, "contextuality": 20}


@pytest.mark.parametrize("spelling,machine_readable,non_proprietary", [
    ("CSV", True, True), (".csv", True, True), ("text/csv", True, True),
    ("https://publications.europa.eu/resource/authority/file-type/CSV", True, True),
    ("http://publications.europa.eu/resource/authority/file-type/XLSX/", True, False),
    ("PDF", False, True), ("application/pdf", False, True), ("SHP", True, False),
    ("https://www.iana.org/assignments/media-types/application/json", True, True),
])
def test_format_vocabulary_flags(spelling, machine_readable, non_proprietary):
    entry = vocab.format_flags()[vocab.normalise_key(spelling)]
    assert (entry["machine_readable"], entry["non_proprietary"]) == (machine_readable, non_proprietary)


def test_vocabularies_resolve_common_spellings():
    assert vocab.access_rights_uri("Publiek").endswith("access-right/PUBLIC")
    assert vocab.access_rights_uri(
        "http://inspire.ec.europa.eu/metadata-codelist/LimitationsOnPublicAccess/noLimitations").endswith("/PUBLIC")
    assert vocab.theme_uri("http://standaarden.overheid.nl/owms/terms/Bestuur").endswith("data-theme/GOVE")
    assert vocab.language_uri("nl-NL").endswith("language/NLD")
    assert vocab.license_uri("http://publications.europa.eu/resource/authority/licence/CC_BY_4_0") == \
        "http://creativecommons.org/licenses/by/4.0/deed.nl"
    assert vocab.file_type_uri("geojson").endswith("file-type/GEOJSON")
    assert vocab.media_type_uri("TEXT/CSV").endswith("text/csv")
    assert vocab.file_type_uri("not a format") is None


def test_every_media_type_names_a_known_file_type():
    codes = {r["uri"].rsplit("/", 1)[-1] for r in vocab.rows("file_types")}
    assert {r["file_type"] for r in vocab.rows("media_types")} <= codes


@pytest.mark.parametrize("column,vocabulary", [("access_rights", "access_rights"), ("frequency", "frequencies")])
def test_the_dataset_suite_checks_against_the_vocabulary_files(column, vocabulary):
    """The GX suite's value lists are the vocabulary files' URIs: a steward edits one place."""
    import json

    from inventory import settings

    suite = json.loads((settings.expectations_dir() / "datasets.json").read_text(encoding="utf-8"))
    (value_set,) = [e["kwargs"]["value_set"] for e in suite["expectations"]
                    if e["kwargs"].get("column") == column and "value_set" in e["kwargs"]]
    assert value_set == vocab.uris(vocabulary)
