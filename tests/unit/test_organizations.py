"""Canonical organisations: the curated file, the matching rules, the staging hook and the run report.

The spellings below are the ones that really occur: CKAN organisation names and titles of
data.overheid.nl (``rijkswaterstaat`` / ``Rijkswaterstaat`` with an OWMS URI), TOOI URIs of DCAT-AP-NL
catalogues, and the Dutch and English organisation names of the Algoritmeregister export.
"""

from __future__ import annotations

import csv
import textwrap

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inventory import model, organizations, settings
from inventory.config import get_source
from inventory.harvest import HarvestFailed, harvest_source
from inventory.organizations import OrganizationMatcher, OrganizationsConfigError, load, normalise_name
from inventory.staging import Batch

from .test_harvest_loop import FakeClient, SOURCE, envelope, package

RWS_TOOI = "https://identifier.overheid.nl/tooi/id/oorg/oorg10004"
AMSTERDAM_TOOI = "https://identifier.overheid.nl/tooi/id/gemeente/gm0363"
ROTTERDAM_TOOI = "https://identifier.overheid.nl/tooi/id/gemeente/gm0599"

FILE = """\
organizations:
  - name: Rijkswaterstaat
    tooi: https://identifier.overheid.nl/tooi/id/oorg/oorg10004
    uris: [http://standaarden.overheid.nl/owms/terms/Rijkswaterstaat]
    aliases: [RWS]
  - name: Gemeente Amsterdam
    tooi: https://identifier.overheid.nl/tooi/id/gemeente/gm0363
    aliases: [Municipality of Amsterdam]
    match_without_prefix: true
  - name: Gemeente Utrecht
    tooi: https://identifier.overheid.nl/tooi/id/gemeente/gm0344
    match_without_prefix: true
  - name: Provincie Utrecht
    tooi: https://identifier.overheid.nl/tooi/id/provincie/pv26
    match_without_prefix: true
  - name: Gemeente Groningen
  - name: Provincie Fryslân
"""


@pytest.fixture
def directory(tmp_path):
    path = tmp_path / "organizations.yaml"
    path.write_text(FILE, encoding="utf-8")
    return load(path)


def write(tmp_path, text: str):
    path = tmp_path / "organizations.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ matching


def test_names_match_whatever_the_case_spacing_diacritics_and_punctuation(directory):
    for spelling in ("Rijkswaterstaat", "rijkswaterstaat", "  RIJKSWATERSTAAT ", "rws"):
        assert directory.match(spelling, None).name == "Rijkswaterstaat", spelling
    assert directory.match("gemeente-amsterdam", None).name == "Gemeente Amsterdam"
    assert directory.match("Gemeente  Amsterdam.", None).name == "Gemeente Amsterdam"
    assert directory.match("Provincie Fryslan", None).name == "Provincie Fryslân"
    assert normalise_name("Gemeente 's-Hertogenbosch") == "gemeente s hertogenbosch"


def test_uri_comes_first_and_ignores_scheme_and_trailing_slash(directory):
    # The URI says Rijkswaterstaat although the name says Amsterdam: the identifier wins.
    assert directory.match("Gemeente Amsterdam", RWS_TOOI).name == "Rijkswaterstaat"
    assert directory.match(None, "http://identifier.overheid.nl/tooi/id/oorg/oorg10004/").name == "Rijkswaterstaat"
    assert directory.match(None, "http://standaarden.overheid.nl/owms/terms/Rijkswaterstaat").tooi == RWS_TOOI
    # An unknown URI falls back to the name.
    assert directory.match("Rijkswaterstaat", "https://identifier.overheid.nl/tooi/id/oorg/oorg99999").name == "Rijkswaterstaat"
    assert directory.match(None, "https://identifier.overheid.nl/tooi/id/oorg/oorg99999") is None


def test_bare_names_only_where_curated_and_never_when_ambiguous(directory):
    assert directory.match("Amsterdam", None).name == "Gemeente Amsterdam"  # match_without_prefix: true
    assert directory.match("Groningen", None) is None  # not curated for Groningen
    assert directory.match("Gemeente Groningen", None).name == "Gemeente Groningen"
    assert directory.match("Utrecht", None) is None  # the municipality and the province share it
    assert directory.match("Gemeente Utrecht", None).name == "Gemeente Utrecht"
    assert directory.match("Provincie Utrecht", None).name == "Provincie Utrecht"


def test_the_project_file_loads_and_knows_the_sample_agencies():
    project = load()
    assert project.match("Ministerie van Infrastructuur en Waterstaat", None).tooi == "https://identifier.overheid.nl/tooi/id/ministerie/mnre1130"
    assert project.match("Municipality of Rotterdam", None).name == "Gemeente Rotterdam"
    assert project.match(None, "http://standaarden.overheid.nl/owms/terms/Utrecht_(gemeente)").name == "Gemeente Utrecht"
    assert project.match("Department of Veterans Affairs", None).name == "Department of Veterans Affairs"


# ------------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "text, expected",
    [
        ("organizations:\n  - name: Gemeente X\n    tooi: gm0363\n",
         "organisation #1 ('Gemeente X'), field 'tooi': Value error, must be a TOOI URI"),
        ("organizations:\n  - name: Gemeente X\n    alias: [X]\n",
         "organisation #1 ('Gemeente X'), field 'alias': is not a known field (check the spelling)"),
        ("organizations:\n  - tooi: https://identifier.overheid.nl/tooi/id/gemeente/gm0363\n",
         "organisation #1, field 'name': is required but missing"),
        ("organizations:\n  - name: Gemeente A\n    aliases: [Stad]\n  - name: Gemeente B\n    aliases: [stad]\n",
         "organisation #2 ('Gemeente B'), field 'aliases': 'stad' already identifies organisation #1 ('Gemeente A')"),
        ("organizations:\n  - name: A\n    tooi: https://identifier.overheid.nl/tooi/id/gemeente/gm0363\n"
         "  - name: B\n    uris: [http://identifier.overheid.nl/tooi/id/gemeente/gm0363]\n",
         "organisation #2 ('B'), field 'uris'"),
        ("organizations: [\n", "is not valid YAML at line"),
        ("orgs: []\n", "must have a top-level 'organizations:' list"),
    ],
)
def test_a_bad_file_is_one_sentence_naming_entry_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(OrganizationsConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"Organisations file {path}") and expected in message
    assert "\n" not in message


def test_a_bad_file_fails_the_harvest_with_its_sentence_in_the_report(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_ORGANIZATIONS", str(write(tmp_path, "organizations:\n  - name: X\n    tooi: nope\n")))
    client = FakeClient(lambda start: envelope(1, [package(1)]))
    with pytest.raises(HarvestFailed) as caught:
        harvest_source(SOURCE, "run-1", client=client)
    report = caught.value.report
    assert report["status"] == "failed" and "field 'tooi'" in report["error"]
    assert client.calls == []  # nothing was fetched with an unusable file


# ----------------------------------------------------------------------------- columnar hook


def test_canonicalise_rewrites_the_columns_keeps_originals_and_counts_the_unmatched(directory):
    names = ["rijkswaterstaat", "Gemeente Amsterdam", "Stichting Onbekend", None, "Stichting Onbekend", "RWS", None]
    uris = [None, None, None, RWS_TOOI, None, "http://standaarden.overheid.nl/owms/terms/Rijkswaterstaat", "https://example.org/org/1"]
    table = pa.table({"publisher": names, "publisher_uri": uris, "title": list("abcdefg")})
    matcher = OrganizationMatcher(directory)
    out = matcher.canonicalise(table, "datasets").to_pydict()
    assert out["publisher"] == ["Rijkswaterstaat", "Gemeente Amsterdam", "Stichting Onbekend", "Rijkswaterstaat",
                                "Stichting Onbekend", "Rijkswaterstaat", None]
    assert out["publisher_uri"] == [RWS_TOOI, AMSTERDAM_TOOI, None, RWS_TOOI, None, RWS_TOOI, "https://example.org/org/1"]
    assert out["publisher_original"] == names and out["publisher_uri_original"] == uris
    assert out["title"] == list("abcdefg")
    assert matcher.unmatched == {("Stichting Onbekend", None): 2, (None, "https://example.org/org/1"): 1}
    assert matcher.matched_records == 4
    summary = matcher.summary()
    assert summary.startswith("2 organisation name(s) not in organizations.yaml: 'Stichting Onbekend' (2 records), "
                              "'https://example.org/org/1' (1 record)")


def test_algorithms_get_the_tooi_uri_beside_the_canonical_name(directory):
    table = pa.table({"organization": ["Municipality of Amsterdam", "Gemeente Nergens"]})
    out = OrganizationMatcher(directory).canonicalise(table, "algorithms").to_pydict()
    assert out["organization"] == ["Gemeente Amsterdam", "Gemeente Nergens"]
    assert out["organization_uri"] == [AMSTERDAM_TOOI, None]
    assert out["organization_original"] == ["Municipality of Amsterdam", "Gemeente Nergens"]


def test_harvest_stages_canonical_publishers_and_reports_the_unmatched(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_ORGANIZATIONS", str(write(tmp_path, FILE)))
    packages = [package(1, organization={"name": "rijkswaterstaat", "title": "Rijkswaterstaat"}),
                package(2, organization={"title": "Gemeente Voorbeeld"}),
                package(3, organization={"title": "Gemeente Voorbeeld"})]
    report = harvest_source(SOURCE, "run-1", client=FakeClient(lambda start: envelope(3, packages[start:start + 2])))
    staged = pq.read_table(Batch.for_run(SOURCE.id, "run-1").harvested("datasets")).to_pydict()
    assert sorted(zip(staged["publisher"], staged["publisher_uri"])) == [
        ("Gemeente Voorbeeld", None), ("Gemeente Voorbeeld", None), ("Rijkswaterstaat", RWS_TOOI)]
    assert report["unmatched_organizations"] == 1
    assert "'Gemeente Voorbeeld' (2 records)" in report["unmatched_organizations_summary"]
    with organizations.report_path().open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"source_id": SOURCE.id, "name": "Gemeente Voorbeeld", "uri": "", "records": "2"}]


def test_the_combined_report_holds_every_source_and_only_its_latest_harvest():
    organizations.write_report("portal-a", [{"source_id": "portal-a", "name": "Stichting A", "uri": None, "records": 3}])
    organizations.write_report("portal-b", [{"source_id": "portal-b", "name": "Stichting B", "uri": "https://b.example/org", "records": 1}])
    organizations.write_report("portal-a", [])  # a steward added Stichting A: the next harvest of portal-a has none
    rows = organizations.read_report()
    assert rows == [{"source_id": "portal-b", "name": "Stichting B", "uri": "https://b.example/org", "records": 1}]
    assert organizations.report_path() == settings.reports_dir() / "unmatched_organizations.csv"


# ------------------------------------------------------------------------------- end to end


def test_two_sources_spelling_one_agency_differently_publish_one_organisation(sample_agencies, tmp_path):
    """The national CKAN portal writes Rijkswaterstaat with an OWMS URI, the ministry's DCAT catalogue
    with a TOOI URI of its own; Gemeente Rotterdam is a TOOI URI in the portal and a name in the register."""
    from inventory import pipeline
    from inventory.publish import publish

    for source_id in ("national-portal", "ministerie-ienw", "algoritmeregister"):
        source = get_source(source_id)
        try:
            pipeline.harvest(source.id, "run-e2e", source=source)
        except HarvestFailed:
            pass  # a partial sample source still stages what it received
        pipeline.validate(source.id, "run-e2e", build_docs=False)
    publish()
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        rws = con.execute(
            "SELECT DISTINCT source_id, publisher, publisher_uri, publisher_original, publisher_uri_original FROM datasets "
            "WHERE publisher_original ILIKE '%rijkswaterstaat%' ORDER BY source_id").fetchall()
        rotterdam = con.execute(
            "SELECT DISTINCT organization, organization_uri, organization_original FROM algorithms "
            "WHERE organization_original ILIKE '%rotterdam%' ORDER BY organization_original").fetchall()
        rotterdam_datasets = con.execute(
            "SELECT DISTINCT publisher, publisher_uri FROM datasets WHERE publisher_original ILIKE '%rotterdam%'").fetchall()
        runs = dict(con.execute("SELECT source_id, unmatched_organizations FROM harvest_runs").fetchall())
    assert {row[0] for row in rws} == {"national-portal", "ministerie-ienw"}
    assert {(row[1], row[2]) for row in rws} == {("Rijkswaterstaat", RWS_TOOI)}
    assert {row[4] for row in rws} == {"http://standaarden.overheid.nl/owms/terms/Rijkswaterstaat",
                                       "https://identifier.overheid.nl/tooi/id/oorg/oorg10275"}
    # The register names Rotterdam without a URI, the portal by its TOOI URI: one organisation in both tables.
    assert {(row[0], row[1]) for row in rotterdam} == {("Gemeente Rotterdam", ROTTERDAM_TOOI)}
    assert rotterdam_datasets == [("Gemeente Rotterdam", ROTTERDAM_TOOI)]
    assert set(runs) == {"national-portal", "ministerie-ienw", "algoritmeregister"}
    assert all(count is not None for count in runs.values())
    assert model.HARVEST_RUNS.field("unmatched_organizations").type == pa.int64()


def test_the_cli_summary_lists_the_unmatched_names_for_a_steward():
    import io

    from inventory.cli import print_unmatched_organizations

    organizations.write_report("uk-atrs", [{"source_id": "uk-atrs", "name": f"Council {i}", "uri": None, "records": i} for i in range(1, 13)])
    out = io.StringIO()
    print_unmatched_organizations(out)
    text = out.getvalue()
    assert "12 organisation name(s) are not in organizations.yaml" in text and str(organizations.report_path()) in text
    assert text.index("uk-atrs: Council 12  (12 records)") < text.index("uk-atrs: Council 3  (3 records)")
    assert "Council 2 " not in text and "... and 2 more in the report" in text


def test_data_services_are_canonicalised_like_datasets(directory):
    table = pa.table({"publisher": ["Gemeente Amsterdam"], "publisher_uri": ["http://identifier.overheid.nl/tooi/id/gemeente/gm0363"]})
    out = OrganizationMatcher(directory).canonicalise(table, "data_services").to_pydict()
    assert (out["publisher"], out["publisher_uri"]) == (["Gemeente Amsterdam"], [AMSTERDAM_TOOI])
    assert out["publisher_uri_original"] == ["http://identifier.overheid.nl/tooi/id/gemeente/gm0363"]
    assert {"publisher_original", "publisher_uri_original"} <= set(model.RECORD_TABLES["data_services"].names)
