"""The ``omb-ai-inventory`` kind: US federal AI use case inventory CSVs of 2023, 2024 and 2025, told
apart by their header; a BOM, a Windows-1252 file, list cells and controlled values with stray case
and white space; and what a broken file does."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from inventory import crosswalk
from inventory.config import SourceConfig
from inventory.harvest import HarvestFailed, harvest_source
from inventory.http import FetchedResponse
from inventory.sources import omb_ai_inventory as omb
from inventory.sources.base import PageError
from inventory.staging import Batch

FILES = {2025: "2025_individual_use_cases.csv", 2024: "2024_consolidated_inventory.csv", 2023: "2023_inventory.csv"}


def inventory(agencies, file_year: int, prefix: str = "", **options) -> SourceConfig:
    return SourceConfig(id=f"us-omb-{file_year}", kind="omb-ai-inventory", url=f"{agencies.url}{prefix}/omb/{FILES[file_year]}",
                        allow_private_network=True, options=options)


def harvested(agencies, file_year: int, run: str, **options) -> tuple[dict, dict[str, dict]]:
    report = harvest_source(inventory(agencies, file_year, **options), run)
    table = pq.read_table(Batch.for_run(f"us-omb-{file_year}", run).harvested("algorithms")).to_pylist()
    return report, {r["source_record_id"]: r for r in table}


# ------------------------------------------------------------------------------ schemas and paging


@pytest.mark.parametrize("year, rows", [(2025, 16), (2024, 14), (2023, 8)])
def test_each_years_schema_is_detected_from_the_header_in_one_page(sample_agencies, year, rows):
    sample_agencies.reset()
    report, got = harvested(sample_agencies, year, f"y{year}")
    assert report["status"] == "complete", report["message"]
    assert (report["pages"], report["records_reported"], report["records_received"]) == (1, rows, rows)
    assert len(sample_agencies.request_log) == 1
    assert {r["standard_version"] for r in got.values()} == {f"OMB {year}"}
    assert all(r["jurisdiction"] == "US" and r["language"] == "eng" and r["name"] and r["organization"] for r in got.values())


def test_the_year_option_pins_the_schema_and_says_when_the_file_is_another(sample_agencies):
    report, _ = harvested(sample_agencies, 2024, "p1", year=2024)
    assert report["status"] == "complete"
    with pytest.raises(HarvestFailed) as info:
        harvest_source(inventory(sample_agencies, 2025, year=2023), "p2")
    assert "option year is 2023 but the header is not the 2023 inventory schema; it looks like the 2025 schema" in info.value.report["error"]


def test_detect_schema_by_header():
    assert omb.detect_schema(["\ufeffagency", "agency_name", "id", "use_case_name", "development_stage", "is_high_impact"]).year == 2025
    assert omb.detect_schema(["2_use_case_name", "3_agency", "16_dev_stage", "17_impact_type"]).year == 2024
    schema = omb.detect_schema(["1_use_case_id", "2_use_case_name", "3_agency", "3_abr", "17_impact_type"])
    assert schema.year == 2024 and schema.columns["id"] == 0 and schema.columns["agency_abbr"] == 3
    assert omb.detect_schema(["Agency", "Bureau", "Use Case Name", "Summary of Use Case", "Stage of Development"]).year == 2023
    with pytest.raises(PageError, match=r"not an OMB AI use case inventory of 2023, 2024 or 2025 \(columns: 'name', 'email'"):
        omb.detect_schema(["name", "email"])
    with pytest.raises(PageError, match="option year must be one of 2023, 2024, 2025"):
        omb.detect_schema(["use_case_name", "is_high_impact"], year="2022")


# ---------------------------------------------------------------------------------- encodings


def test_utf8_bom_is_stripped(sample_agencies):
    omb.reset_decoding_notes()
    _, got = harvested(sample_agencies, 2025, "b1")
    assert got["USDA-001"]["organization"] == "Department of Agriculture"  # the first column, behind the BOM
    assert not any("\ufeff" in (v or "") for r in got.values() for v in (r["source_record_id"], r["organization"]))
    assert omb.decoding_notes() == []


def test_windows_1252_falls_back_and_is_recorded(sample_agencies, caplog):
    omb.reset_decoding_notes()
    with caplog.at_level("WARNING", logger="inventory.sources.omb_ai_inventory"):
        report, got = harvested(sample_agencies, 2024, "w1")
    assert report["status"] == "complete"
    ibwc = got["IBWC / U.S. Section / Río Grande flow forecasting"]
    assert ibwc["organization_original"] == "International Boundary and Water Commission (Comisión Internacional de Límites y Aguas)"
    treaty = got["IBWC / Oficina de Ingeniería / Water treaty accounting assistant"]
    assert "(“treaty accounting”)" in treaty["goal"]
    notes = omb.decoding_notes()
    assert len(notes) == 1 and notes[0]["source_id"] == "us-omb-2024" and notes[0]["encoding"] == "cp1252"
    assert "not valid UTF-8 (byte 0xed" in notes[0]["reason"] and "read as Windows-1252" in caplog.text


# ------------------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("['b) Sex', 'c) Age']", ["b) Sex", "c) Age"]),
        ("[]", []),
        ("", []),
        ("a; b ;c", ["a", "b", "c"]),
        ("first\nsecond", ["first", "second"]),
        ("['a', 'a', '']", ["a"]),
        ("['unterminated', 'list'", ["['unterminated', 'list'"]),  # not a list literal: one item
        ("[__import__('os').system('echo no')]", ["__import__('os').system('echo no')"]),  # never evaluated
        ("[1, 2]", ["1", "2"]),
    ],
)
def test_list_cells(cell, expected):
    assert omb.list_cell(cell) == expected


def test_url_lists_and_dates():
    assert omb.url_list("https://a.example/x https://b.example/y; https://a.example/x") == ["https://a.example/x", "https://b.example/y"]
    assert omb.url_list("['https://a.example/1', 'https://a.example/2']") == ["https://a.example/1", "https://a.example/2"]
    assert [omb.month(v) for v in ("7/1/2023", "2025-09-08 00:00:00", "2023-07-01", "2021", "", "FY2023 Q2")] == \
        ["2023-07", "2025-09", "2023-07", "2021", None, "FY2023 Q2"]


# ----------------------------------------------------------------------------------- mapping


def test_2025_fields_list_cells_and_assessments(sample_agencies):
    _, got = harvested(sample_agencies, 2025, "m1")
    va = got["VA-101"]
    assert va["name"] == "Suicide prevention outreach model" and va["organization"] == "Department of Veterans Affairs"
    assert va["status"] == "In gebruik" and va["original_status"] == "Deployed"
    assert va["publication_category"] == "Impactvolle algoritmes" and va["original_category"] == "High-impact"
    assert va["impact_assessments"] == [
        "AI Impact Assesment (AIIA)",
        "Privacy Impact Assessment (PIA, US) <https://www.example.gov/va/pia-reach>",
        "Privacy Impact Assessment (PIA, US) <https://www.example.gov/va/sorn-24va10a7>",
    ]
    assert va["begin_date"] == "2017-09" and va["contact_email"] == "ai-inventory@va.example.gov"
    assert va["risks"].startswith("False positives") and va["goal"].endswith("before a crisis.")
    assert va["description_short"].startswith("Identifies veterans")
    # space-separated PIA links, a Python-list cell of data links
    assert len(got["VA-102"]["impact_assessments"]) == 3
    assert got["USDA-001"]["source_data"] == ["Cropland Data Layer and survey responses.", "https://data.example.gov/usda/cdl",
                                              "https://data.example.gov/usda/survey"]


def test_2025_stray_case_long_option_texts_and_a_row_without_id(sample_agencies):
    crosswalk.reset_unmapped()
    _, got = harvested(sample_agencies, 2025, "m2")
    assert (got["VA-102"]["status"], got["VA-102"]["original_status"]) == ("In gebruik", "deployed")
    assert (got["USDA-003"]["status"], got["USDA-003"]["original_status"]) == ("In ontwikkeling", "pre-deployment")
    pilot = got["USDA-004"]
    assert pilot["status"] == "In gebruik" and pilot["original_status"].startswith("b)  Pilot – The use case has been deployed")
    assert (pilot["publication_category"], pilot["original_category"]) == ("Overige algoritmes", "Not high-impact")
    assert got["VA-103"]["publication_category"] == "Impactvolle algoritmes"  # "high-impact"
    assert got["USDA-003"]["publication_category"] == "Overige algoritmes"  # presumed, but determined not high-impact
    no_id = got["VA / VHA / Appointment no-show prediction"]
    assert no_id["publication_category"] is None and no_id["original_category"] == "TBD"
    assert {"register": "omb-ai-inventory", "field": "publication_category", "value": "TBD", "count": 1} in crosswalk.unmapped()


def test_2024_controlled_values_with_stray_case_and_white_space(sample_agencies):
    _, got = harvested(sample_agencies, 2024, "m3")
    by_name = {r["name"]: r for r in got.values()}
    categories = {r["original_category"]: r["publication_category"] for r in got.values()}
    assert categories == {"Neither": "Overige algoritmes", "Rights-Impacting": "Impactvolle algoritmes",
                          "Safety-impacting": "Impactvolle algoritmes", "Safety-Impacting": "Impactvolle algoritmes",
                          "Both": "Impactvolle algoritmes", "rights-impacting": "Impactvolle algoritmes"}
    statuses = {r["original_status"]: r["status"] for r in got.values()}
    assert statuses == {"Operation and Maintenance": "In gebruik", "operation and maintenance": "In gebruik",
                        "Implementation and Assessment": "In ontwikkeling", "Acquisition and/or Development": "In ontwikkeling",
                        "Initiated": "In ontwikkeling", "Retired": "Buiten gebruik"}
    retired = by_name["Compliance review scheduling"]
    assert (retired["begin_date"], retired["end_date"]) == ("2019-06", "2024-12")
    ui = by_name["Unemployment insurance identity verification"]
    assert ui["impact_assessments"] == ["AI Impact Assesment (AIIA)"] and ui["source_record_id"] == "DOL / ETA / Unemployment insurance identity verification"
    assert by_name["Levee inspection image review"]["impact_assessments"] == []  # "Planned or in-progress." is no assessment yet


def test_2023_stages(sample_agencies):
    _, got = harvested(sample_agencies, 2023, "m4")
    statuses = {r["original_status"]: r["status"] for r in got.values()}
    assert statuses == {"Operation and Maintenance": "In gebruik", "In production: more than 1 year": "In gebruik", "In mission": "In gebruik",
                        "Planned (not in production)": "In ontwikkeling", "Development and Acquisition": "In ontwikkeling",
                        "Retired": "Buiten gebruik", "Initiation": "In ontwikkeling", "Implementation": "In ontwikkeling"}
    assert "Department of State / CA / Passport photo quality check" in got  # no use case id in that row
    assert got["DOC-0001"]["contact_email"] == "ai@commerce.example.gov" and got["DOC-0001"]["publication_category"] is None


# ---------------------------------------------------------------------------------- failure modes


def test_html_instead_of_csv_fails_the_source(sample_agencies):
    sample_agencies.reset()
    with pytest.raises(HarvestFailed) as info:
        harvest_source(inventory(sample_agencies, 2025, prefix="/faults/html"), "e1")
    assert info.value.report["status"] == "failed" and "HTML page where a CSV file was expected" in info.value.report["error"]


def test_a_cut_off_file_fails_instead_of_looking_complete(sample_agencies):
    sample_agencies.reset()
    with pytest.raises(HarvestFailed) as info:
        harvest_source(inventory(sample_agencies, 2024, prefix="/faults/truncated"), "e2")
    assert "ends in the middle of row" in info.value.report["error"] and "looks cut off" in info.value.report["error"]


class OneFile:
    def __init__(self, body: bytes, content_type: str = "text/csv"):
        self.body, self.content_type = body, content_type

    def request(self, method, url, *, params=None, json_body=None, data=None, headers=None):
        return FetchedResponse(url=url, status=200, headers={"Content-Type": self.content_type}, body=self.body, elapsed_s=0.0)


FAKE = SourceConfig(id="fake-omb", kind="omb-ai-inventory", url="https://ai.example.gov/inventory.csv")


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"", "empty body where a CSV file was expected"),
        (b'{"use_cases": []}\n', "not an OMB AI use case inventory"),
        (b"\xff\xfeu\x00x", "starts with a UTF-16 byte order mark but is not UTF-16"),
    ],
)
def test_bad_files_fail_with_a_clear_reason(body, expected):
    with pytest.raises(HarvestFailed) as info:
        harvest_source(FAKE, "e3", client=OneFile(body))
    assert expected in info.value.report["error"]


def test_a_row_without_id_or_name_is_quarantined_and_blank_lines_are_skipped():
    body = b"use_case_name,agency,is_high_impact,development_stage\r\nGood,DOE,Not high-impact,Deployed\r\n,,High-impact,Deployed\r\n,,,\r\n\r\n"
    report = harvest_source(FAKE, "e4", client=OneFile(body))
    assert (report["records_reported"], report["records_received"], report["refused"]) == (2, 1, 1)
    quarantine = pq.read_table(Batch.for_run("fake-omb", "e4").parse_quarantine).to_pylist()
    assert quarantine[0]["expectation"] == "use_case_identified"
