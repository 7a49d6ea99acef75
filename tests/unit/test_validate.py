"""The validation step: GX suites in expectations/ run over hand-built staging batches.

Every batch here is written the way the harvest step writes one (staging.TableWriter with the
canonical schemas, a report.json), with rows imitating what the source modules make of real
records: data.overheid.nl CKAN packages (sources/ckan.py) and Algoritmeregister records in
publication standard 1.0 (sources/algoritmeregister.py). The values are our own, not copied from
the samples in ../shared/samples.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from inventory import model, settings, staging
from inventory.quality import validate as V
from inventory.quality.expectations import future_mask

SUITES = ("datasets", "distributions", "algorithms")
RUN_ID = "scheduled__2026-11-28T06:00:00+00:00"
HARVESTED_AT = datetime(2026, 11, 28, 6, 5, tzinfo=timezone.utc)
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"
CC_BY = "http://creativecommons.org/licenses/by/4.0/deed.nl"


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def suite_json(name: str) -> dict:
    return json.loads((settings.PROJECT_ROOT / "expectations" / f"{name}.json").read_text(encoding="utf-8"))


def why(suite: str, expectation: str, column: str) -> str:
    """The reason a suite gives for ``expectation`` on ``column`` (what stewards read)."""
    for exp in suite_json(suite)["expectations"]:
        if exp["type"] == expectation and exp["kwargs"].get("column") == column:
            return exp["meta"]["why"]
    raise AssertionError(f"{suite} has no {expectation} on {column}")


def write_batch(source_id: str, tables: dict[str, list[dict]], parse_quarantine: list[dict] | None = None) -> staging.Batch:
    """A staging batch as the harvest step leaves it: harvested/<table>.parquet and report.json."""
    batch = staging.Batch.for_run(source_id, RUN_ID)
    for table, rows in tables.items():
        writer = staging.TableWriter(batch.harvested(table), model.RECORD_TABLES[table], batch_rows=3)
        writer.write_many(rows)
        writer.close()
    if parse_quarantine is not None:
        writer = staging.TableWriter(batch.parse_quarantine, model.QUARANTINE)
        writer.write_many(parse_quarantine)
        writer.close()
    batch.write_report(
        {
            "run_id": RUN_ID,
            "source_id": source_id,
            "kind": "ckan",
            "status": "complete",
            "state": "harvested",
            "records_received": sum(len(r) for t, r in tables.items() if t != "distributions"),
        }
    )
    return batch


def quarantine_rows(batch: staging.Batch) -> list[dict]:
    return pq.read_table(batch.quarantine).to_pylist()


def validated_uids(batch: staging.Batch, table: str) -> list[str]:
    return pq.read_table(batch.validated(table)).column(model.UID_COLUMN[table]).to_pylist()


def find(rows: list[dict], **match) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


# ------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------

SOURCE_NL = "data-overheid-nl"


def ckan_dataset(name: str, **changes) -> dict:
    """A data.overheid.nl CKAN package (``package_search`` result) as sources/ckan.py maps it:
    CKAN ``id`` (a UUID) -> source_record_id, ``identifier`` (a URI in DCAT-AP-DONL), ``title``, ``notes`` -> description,
    ``license_id`` -> licence URI, ``metadata_created``/``metadata_modified`` (UTC, no zone) ->
    issued/modified, ``url`` -> landing_page, ``organization.title`` -> publisher."""
    ckan_id = f"7f3c2a10-0000-4000-8000-{model.stable_uid(name)[:12]}"
    row = model.empty_row("datasets")
    row.update(
        dataset_uid=model.stable_uid(SOURCE_NL, ckan_id),
        identifier=f"https://data.zeeland.example/id/dataset/{ckan_id}",
        title=f"Luchtkwaliteit meetstations {name}",
        description="Uurgemiddelden van stikstofdioxide en fijnstof per meetstation.",
        publisher="Provincie Zeeland",
        publisher_uri="https://identifier.overheid.nl/tooi/id/provincie/pv29",
        contact_point="opendata@zeeland.example",
        theme=["http://standaarden.overheid.nl/owms/terms/Natuur_en_milieu"],
        keyword=["lucht", "stikstof"],
        license=CC0,
        license_original="cc-0",
        issued="2019-02-14T09:12:45.123456",
        modified="2025-06-30T22:01:10.654321",
        landing_page=f"https://data.overheid.nl/dataset/luchtkwaliteit-{name}",
        language=["http://publications.europa.eu/resource/authority/language/NLD"],
        source_id=SOURCE_NL,
        source_record_id=ckan_id,
        harvested_at=HARVESTED_AT,
        run_id=RUN_ID,
        raw_sha256="ab" * 32,
    )
    row.update(changes)
    return row


def ckan_resource(dataset: dict, n: int, **changes) -> dict:
    """A CKAN ``resources[]`` entry of that package as sources/ckan.py maps it (``url`` ->
    access_url, ``format``, ``mimetype``, the package licence when the resource has none)."""
    row = model.empty_row("distributions")
    row.update(
        distribution_uid=model.stable_uid(SOURCE_NL, dataset["source_record_id"], str(n)),
        dataset_uid=dataset["dataset_uid"],
        access_url=f"https://geo.zeeland.example/ows?service=WFS&layer=lucht{n}",
        format="WFS",
        format_original="OGC:WFS",
        media_type=None,
        license=dataset["license"],
        byte_size=None,
        title=f"Meetwaarden {n}",
        source_id=SOURCE_NL,
        source_record_id=dataset["source_record_id"],
        harvested_at=HARVESTED_AT,
        run_id=RUN_ID,
        raw_sha256="ab" * 32,
    )
    row.update(changes)
    return row


SOURCE_AR = "algoritmeregister"


def register_algorithm(lars: str, **changes) -> dict:
    """An Algoritmeregister record in publication standard 1.0 as sources/algoritmeregister.py maps
    it: ``lars`` -> source_record_id, ``status``/``publication_category`` as written,
    ``begin_date`` as a month (YYYY-MM), ``contact_email`` an address or a web page."""
    row = model.empty_row("algorithms")
    row.update(
        algorithm_uid=model.stable_uid(SOURCE_AR, lars),
        name="Toewijzing parkeervergunningen op wachtlijst",
        description_short="Bepaalt de volgorde op de wachtlijst voor een parkeervergunning.",
        organization="Gemeente Duinkerke",
        status="In gebruik",
        publication_category="Impactvolle algoritmes",
        goal="Eerlijke en snelle verdeling van schaarse vergunningen.",
        impact_assessments=["DPIA"],
        source_data=["Basisregistratie Personen"],
        begin_date="2022-03",
        end_date=None,
        contact_email="algoritmes@duinkerke.example",
        website="https://www.duinkerke.example/parkeren/wachtlijst",
        standard_version="1.0",
        jurisdiction="NL",
        language="nld",
        original_status="In gebruik",
        original_category="Impactvolle algoritmes",
        source_id=SOURCE_AR,
        source_record_id=lars,
        harvested_at=HARVESTED_AT,
        run_id=RUN_ID,
        raw_sha256="cd" * 32,
    )
    row.update(changes)
    return row


# ------------------------------------------------------------------------------------------
# the suites themselves
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SUITES)
def test_every_expectation_has_a_severity_and_a_reason(name):
    doc = suite_json(name)
    assert doc["name"] == name
    assert doc["expectations"]
    for i, exp in enumerate(doc["expectations"]):
        assert exp["type"].startswith("expect_"), (name, i)
        assert exp["meta"]["severity"] in ("critical", "warning"), (name, i)
        assert isinstance(exp["meta"]["why"], str) and len(exp["meta"]["why"].strip()) > 10, (name, i)
    # and GX accepts the whole file
    suite = V.load_suite(name)
    assert len(suite.expectations) == len(doc["expectations"])
    assert all(e.meta["severity"] == e.severity.value for e in suite.expectations)


REQUIRED = {
    "datasets": ["dataset_uid", "identifier", "title", "publisher", "source_id", "source_record_id"],
    "distributions": ["distribution_uid", "dataset_uid", "access_url"],
    "algorithms": ["algorithm_uid", "name", "organization", "source_id", "source_record_id"],
}


@pytest.mark.parametrize("name", SUITES)
def test_required_fields_and_uid_uniqueness_are_critical(name):
    exps = suite_json(name)["expectations"]
    critical = {(e["type"], e["kwargs"].get("column")) for e in exps if e["meta"]["severity"] == "critical"}
    for column in REQUIRED[name]:
        assert ("expect_column_values_to_not_be_null", column) in critical, column
    assert ("expect_column_values_to_be_unique", model.UID_COLUMN[name]) in critical


def test_dates_not_in_the_future_are_not_frozen_in_the_suites():
    for name in SUITES:
        text = json.dumps(suite_json(name))
        assert "$PARAMETER" not in text
        for year in range(2024, 2031):  # no literal "now" in a max_value
            assert f'"max_value": "{year}' not in text


def _suite_regexes() -> list[str]:
    found = []
    for name in ("datasets", "distributions", "algorithms"):
        for exp in json.loads(V.suite_path(name).read_text(encoding="utf-8"))["expectations"]:
            kw = exp["kwargs"]
            found += [kw["regex"]] if "regex" in kw else list(kw.get("regex_list") or [])
    return found


def test_suite_regexes_run_vectorised_and_match_exactly_as_written():
    # pandas hands a regex on Arrow strings to pyarrow's RE2 unless it has \s or \S (then Python's
    # re runs value by value); validate.py spells \s out. Same verdicts, on every whitespace
    # character there is and on values shaped like the ones the suites judge.
    import re
    import sys

    import pyarrow as pa
    import pyarrow.compute as pc
    from pandas.core.arrays.string_arrow import ArrowStringArray

    whitespace = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    samples = ["", "x", "dataset 1652", "dataset-1652", "https://data.example.nl/a?b=1", "ftp.zeeland.example/x",
               "http:// x", "https://x.nl/a b", "info@cbs.nl", "info @cbs.nl", "a@b", "   ", "ab]c", "2023-01-31", "9999-12-31"]
    samples += [f"{w}" for w in whitespace] + [f"https://x.nl/{w}y" for w in whitespace] + [f"id{w}1" for w in whitespace]
    samples += ["\u00e9t\u00e9", "caf\u00e9@voorbeeld.nl", "https://voorbeeld.nl/\u00e9"]
    regexes = _suite_regexes()
    assert any("\\s" in r or "\\S" in r for r in regexes)  # the case this is about is in the suites
    array = pa.array(samples)
    probe = ArrowStringArray(pa.chunked_array([pa.array(["no line breaks"])]))  # "$" with line breaks falls back
    for regex in regexes:
        rewritten = V._re2_friendly(regex)
        assert not probe._needs_python_regex(rewritten), regex
        expected = [re.search(regex, s) is not None for s in samples]
        assert [re.search(rewritten, s) is not None for s in samples] == expected, regex
        assert pc.match_substring_regex(array, rewritten).to_pylist() == expected, regex


def test_whitespace_rewrite_leaves_escapes_and_classes_intact():
    assert V._re2_friendly(r"\\s") == r"\\s"  # an escaped backslash, then a letter s
    assert V._re2_friendly(r"[]\s]") == "[]" + V._WHITESPACE + "]"
    assert V._re2_friendly(r"[^\S]") == r"[^\S]"  # no spelled-out form inside a class: left to Python's re
    assert V._re2_friendly(r"\d+\.\w") == r"\d+\.\w"


def test_licence_value_sets_equal_the_licence_vocabulary():
    path = settings.PROJECT_ROOT / "config" / "vocabularies" / "licenses.csv"
    if not path.exists():
        pytest.skip("config/vocabularies/licenses.csv (the lead's licence vocabulary) does not exist yet")
    with path.open(encoding="utf-8", newline="") as fh:
        vocabulary = {row["uri"].strip() for row in csv.DictReader(fh)}
    for name in ("datasets", "distributions"):
        sets = [
            e["kwargs"]["value_set"]
            for e in suite_json(name)["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "license"
        ]
        assert len(sets) == 1, name
        assert set(sets[0]) == vocabulary, name
        assert len(sets[0]) == len(set(sets[0])), f"{name}: duplicate licence URIs"


# ------------------------------------------------------------------------------------------
# malformed suites
# ------------------------------------------------------------------------------------------


def _suite_dir(tmp_path, monkeypatch, name: str, expectations: list) -> Path:
    d = tmp_path / "expectations"
    d.mkdir(exist_ok=True)
    (d / f"{name}.json").write_text(json.dumps({"name": name, "expectations": expectations}), encoding="utf-8")
    monkeypatch.setenv("INVENTORY_EXPECTATIONS_DIR", str(d))
    return d / f"{name}.json"


GOOD = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"}, "meta": {"severity": "critical", "why": "No title."}}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"}, "meta": {"why": "x"}}, "meta.severity"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"}, "meta": {"severity": "fatal", "why": "x"}}, "meta.severity"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"}, "meta": {"severity": "warning"}}, "meta.why"),
        ({"type": "expect_column_values_to_be_shiny", "kwargs": {"column": "title"}, "meta": {"severity": "warning", "why": "x"}}, "GX refuses it"),
        ({"type": "expect_column_values_to_match_regex", "kwargs": {"column": "title", "regex": "x", "mostly": 1.5}, "meta": {"severity": "warning", "why": "x"}}, "GX refuses it"),
        ({"type": "expect_column_values_to_not_be_null", "kwarg": {"column": "title"}, "meta": {"severity": "warning", "why": "x"}}, "unknown key"),
        ({"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "meta": {"severity": "critical", "why": "x"}}, "row-level"),
        ({"type": "expect_column_max_to_be_between", "kwargs": {"column": "modified", "max_value": {"$PARAMETER": "now"}}, "meta": {"severity": "warning", "why": "x"}}, "$PARAMETER"),
    ],
)
def test_a_malformed_suite_names_the_file_and_the_expectation(tmp_path, monkeypatch, bad, message):
    path = _suite_dir(tmp_path, monkeypatch, "datasets", [GOOD, bad])
    with pytest.raises(V.SuiteError) as err:
        V.load_suite("datasets")
    assert str(path) in str(err.value)
    assert "expectations[1]" in str(err.value)
    assert message in str(err.value)


def test_a_suite_file_that_is_not_json_says_where(tmp_path, monkeypatch):
    path = _suite_dir(tmp_path, monkeypatch, "datasets", [GOOD])
    path.write_text('{"name": "datasets", "expectations": [\n  {"type": }\n]}', encoding="utf-8")
    with pytest.raises(V.SuiteError, match=r"not valid JSON \(line 2"):
        V.load_suite("datasets")
    with pytest.raises(V.SuiteError, match="suite file not found"):
        V.load_suite("algorithms")


def test_a_suite_naming_an_unknown_column_is_refused_before_running(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "data"))
    _suite_dir(tmp_path, monkeypatch, "datasets", [GOOD, {**GOOD, "kwargs": {"column": "titel"}}])
    batch = write_batch(SOURCE_NL, {"datasets": [ckan_dataset("a")]})
    with pytest.raises(V.SuiteError, match="'titel' is not a column of the datasets table"):
        V.validate_batch(batch, build_docs=False)
    assert batch.read_report()["state"] == "harvested"


# ------------------------------------------------------------------------------------------
# "not in the future"
# ------------------------------------------------------------------------------------------


def test_future_mask_reads_the_clock_and_allows_for_time_zones():
    now = datetime(2026, 11, 28, 18, 0, tzinfo=timezone.utc)
    values = pd.Series(
        [
            "2026-11-28T18:30:00Z",  # half an hour ahead, in UTC: future
            "2026-11-28T19:30:00+01:00",  # = 18:30 UTC: future
            "2026-11-28T19:30:00+02:00",  # = 17:30 UTC: past (read as text it would look ahead)
            "2026-11-28T19:45:00",  # no zone: may be Dutch local time, allowed
            "2026-11-29T09:00:00",  # no zone, 15 hours ahead of UTC: future anywhere
            "2026-11-28",  # today
            "2026-11",  # this month (Algoritmeregister begin_date)
            "2026-12",  # next month
            "2999-01-01",
            "2015-03-26T14:48:34.966492",  # CKAN metadata_created
            "not a date",  # left to the format check
            None,
        ],
        dtype="str",
    )
    assert future_mask(values, now).tolist() == [True, True, False, False, True, False, False, True, True, False, False, False]
    assert future_mask(values.iloc[:0], now).tolist() == []


# ------------------------------------------------------------------------------------------
# a CKAN batch: datasets and distributions
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validated_ckan_batch(tmp_path_factory):
    """One data.overheid.nl batch with one known problem per record, validated once per module."""
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INVENTORY_DATA_DIR", str(data_dir))
        mp.delenv("INVENTORY_EXPECTATIONS_DIR", raising=False)
        good = ckan_dataset("goes")
        no_title = ckan_dataset("no-title", title=None)
        blank_title = ckan_dataset("blank-title", title="   ")
        # CKAN license_id "cc-by-nd" is not in the vocabulary, so ckan.py keeps it as written
        odd_licence = ckan_dataset("odd-licence", license="cc-by-nd", license_original="cc-by-nd")
        future = ckan_dataset("future", modified="2999-01-01T00:00:00Z")
        bad_date = ckan_dataset("bad-date", issued="14-02-2019")
        bad_identifier = ckan_dataset("bad-identifier", identifier="dataset 1652")
        first = ckan_dataset("twice")
        duplicate = dict(first, title="Luchtkwaliteit (tweede keer geoogst)")
        # only warnings: no description, no licence, a very long title, a landing page without a
        # scheme, an identifier that is not a URI (as in 2015 CKAN packages), HTML codes in the title,
        # a time period that ends before it starts
        warned = ckan_dataset(
            "warned", description=None, license=None, license_original=None, title="Lucht &amp; water " * 20,
            landing_page="www.zeeland.example/lucht", identifier="zeeland-lucht-0042",
            temporal_start="2020-01-01", temporal_end="2019-12-31",
        )
        datasets = [good, no_title, blank_title, odd_licence, future, bad_date, bad_identifier, first, duplicate, warned]
        distributions = [
            ckan_resource(good, 0),
            ckan_resource(good, 1, access_url="ftp.zeeland.example/lucht.csv"),  # not a web address
            ckan_resource(no_title, 0),  # its dataset is quarantined
            ckan_resource(first, 0),  # the first "twice" record is valid: keeps its distribution
            ckan_resource(warned, 0, license=None, byte_size=-1),  # warnings only
            ckan_resource(good, 2, access_url=None),
        ]
        parse_refusal = {
            "record_type": "datasets",
            "record_uid": None,
            "source_id": SOURCE_NL,
            "source_record_id": None,
            "run_id": RUN_ID,
            "suite": "harvest",
            "expectation": "package_has_id",
            "column": "id",
            "observed_value": None,
            "reason": "the package has neither an id nor a name",
            "record": json.dumps({"title": "Zonder id"}),
            "quarantined_at": HARVESTED_AT,
        }
        batch = write_batch(SOURCE_NL, {"datasets": datasets, "distributions": distributions}, [parse_refusal])
        summary = V.validate_batch(batch, chunk_rows=4)  # several chunks, so uniqueness spans them
        yield {
            "batch": batch,
            "summary": summary,
            "data_dir": data_dir,
            "quarantine": quarantine_rows(batch),
            "report": batch.read_report(),
            "records": dict(good=good, no_title=no_title, blank_title=blank_title, odd_licence=odd_licence, future=future,
                            bad_date=bad_date, bad_identifier=bad_identifier, first=first, duplicate=duplicate, warned=warned),
            "distributions": distributions,
        }


@pytest.fixture
def ckan_batch(validated_ckan_batch, monkeypatch):
    """The validated CKAN batch, with INVENTORY_DATA_DIR pointing at it for this test."""
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(validated_ckan_batch["data_dir"]))
    return validated_ckan_batch


def _one(rows: list[dict], **match) -> dict:
    found = find(rows, **match)
    assert len(found) == 1, (match, found)
    return found[0]


def test_missing_title_is_quarantined_with_the_reason(ckan_batch):
    rec = ckan_batch["records"]["no_title"]
    q = _one(ckan_batch["quarantine"], record_uid=rec["dataset_uid"], column="title")
    assert q["record_type"] == "datasets"
    assert q["suite"] == "datasets"
    assert q["expectation"] == "expect_column_values_to_not_be_null"
    assert q["observed_value"] is None
    assert q["reason"] == why("datasets", "expect_column_values_to_not_be_null", "title")
    assert q["source_id"] == SOURCE_NL and q["source_record_id"] == rec["source_record_id"] and q["run_id"] == RUN_ID
    assert q["quarantined_at"] is not None
    record = json.loads(q["record"])
    assert record["dataset_uid"] == rec["dataset_uid"] and record["title"] is None
    assert record["theme"] == rec["theme"]  # the whole canonical record, lists included


def test_blank_title_is_quarantined(ckan_batch):
    rec = ckan_batch["records"]["blank_title"]
    q = _one(ckan_batch["quarantine"], record_uid=rec["dataset_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_not_match_regex", "title", "   ")


def test_unknown_licence_is_quarantined_with_the_value(ckan_batch):
    rec = ckan_batch["records"]["odd_licence"]
    q = _one(ckan_batch["quarantine"], record_uid=rec["dataset_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_be_in_set", "license", "cc-by-nd")
    assert q["reason"] == why("datasets", "expect_column_values_to_be_in_set", "license")


def test_future_modified_date_is_quarantined(ckan_batch):
    rec = ckan_batch["records"]["future"]
    q = _one(ckan_batch["quarantine"], record_uid=rec["dataset_uid"])
    assert (q["suite"], q["expectation"], q["column"], q["observed_value"]) == (
        "datasets", "expect_column_values_to_not_be_in_the_future", "modified", "2999-01-01T00:00:00Z",
    )
    assert q["reason"] == "The modification date lies in the future."


def test_malformed_date_and_identifier_are_quarantined(ckan_batch):
    recs, rows = ckan_batch["records"], ckan_batch["quarantine"]
    q = _one(rows, record_uid=recs["bad_date"]["dataset_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_match_regex", "issued", "14-02-2019")
    q = _one(rows, record_uid=recs["bad_identifier"]["dataset_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_match_regex", "identifier", "dataset 1652")
    assert q["reason"].startswith("The identifier contains spaces")


def test_duplicate_uid_keeps_the_first_and_quarantines_the_rest(ckan_batch):
    first, duplicate = ckan_batch["records"]["first"], ckan_batch["records"]["duplicate"]
    rows = find(ckan_batch["quarantine"], record_uid=first["dataset_uid"])
    assert len(rows) == 1
    q = rows[0]
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_be_unique", "dataset_uid", first["dataset_uid"])
    assert json.loads(q["record"])["title"] == duplicate["title"]  # the later one went
    valid = pq.read_table(ckan_batch["batch"].validated("datasets")).to_pylist()
    kept = [r for r in valid if r["dataset_uid"] == first["dataset_uid"]]
    assert [r["title"] for r in kept] == [first["title"]]


def test_good_and_warned_records_land_in_validated_with_the_schema(ckan_batch):
    batch, recs = ckan_batch["batch"], ckan_batch["records"]
    table = pq.read_table(batch.validated("datasets"))
    assert table.schema.equals(model.DATASETS)
    assert sorted(table.column("dataset_uid").to_pylist()) == sorted(
        [recs["good"]["dataset_uid"], recs["first"]["dataset_uid"], recs["warned"]["dataset_uid"]]
    )
    good = [r for r in table.to_pylist() if r["dataset_uid"] == recs["good"]["dataset_uid"]][0]
    assert good["keyword"] == ["lucht", "stikstof"] and good["harvested_at"] == HARVESTED_AT
    assert not find(ckan_batch["quarantine"], record_uid=recs["warned"]["dataset_uid"])


def test_distributions_follow_their_dataset(ckan_batch):
    batch, dists = ckan_batch["batch"], ckan_batch["distributions"]
    rows = ckan_batch["quarantine"]
    q = _one(rows, record_uid=dists[2]["distribution_uid"])
    assert (q["record_type"], q["suite"], q["expectation"], q["column"]) == ("distributions", "distributions", V.PARENT_CHECK, "dataset_uid")
    assert q["reason"] == "its dataset was quarantined"
    assert q["observed_value"] == ckan_batch["records"]["no_title"]["dataset_uid"]
    q = _one(rows, record_uid=dists[1]["distribution_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == (
        "expect_column_values_to_match_regex", "access_url", "ftp.zeeland.example/lucht.csv",
    )
    q = _one(rows, record_uid=dists[5]["distribution_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_not_be_null", "access_url", None)
    assert sorted(validated_uids(batch, "distributions")) == sorted(d["distribution_uid"] for d in (dists[0], dists[3], dists[4]))
    assert pq.read_table(batch.validated("distributions")).schema.equals(model.DISTRIBUTIONS)


def test_warnings_are_counted_not_quarantined(ckan_batch):
    w = ckan_batch["summary"]["warnings"]
    assert w["datasets.description.expect_column_values_to_not_be_null"] == 1
    assert w["datasets.license.expect_column_values_to_not_be_null"] == 1
    assert w["datasets.title.expect_column_value_lengths_to_be_between"] == 1
    assert w["datasets.landing_page.expect_column_values_to_match_regex"] == 1
    assert w["datasets.title.expect_column_values_to_not_match_regex"] == 1  # &amp;
    assert w["datasets.temporal_end, temporal_start.expect_column_pair_values_a_to_be_greater_than_b"] == 1
    assert w["datasets.access_rights.expect_column_values_to_be_in_set"] == 0
    assert w["distributions.license.expect_column_values_to_not_be_null"] == 1
    assert w["distributions.byte_size.expect_column_values_to_be_between"] == 1
    assert ckan_batch["report"]["warnings"] == w


def test_parse_quarantine_is_copied_with_the_validation_quarantine(ckan_batch):
    rows = ckan_batch["quarantine"]
    q = _one(rows, suite="harvest")
    assert q["expectation"] == "package_has_id" and q["reason"] == "the package has neither an id nor a name"
    assert pq.read_table(ckan_batch["batch"].quarantine).schema.equals(model.QUARANTINE)
    # 7 datasets quarantined by validation (one failed expectation each), 3 distributions, 1 parse refusal
    assert len(rows) == 7 + 3 + 1


def test_report_and_summary(ckan_batch):
    report, summary = ckan_batch["report"], ckan_batch["summary"]
    assert report["state"] == "validated"
    assert report["status"] == "complete" and report["kind"] == "ckan"  # the harvest fields stay
    assert report["records_valid"] == 3
    assert report["records_quarantined"] == 7 + 1  # datasets quarantined + the parse refusal
    assert report["validation"]["tables"]["datasets"] == {"rows": 10, "valid": 3, "quarantined": 7, "quarantine_rows": 7}
    assert report["validation"]["tables"]["distributions"] == {"rows": 6, "valid": 3, "quarantined": 3, "quarantine_rows": 3}
    assert summary["records_valid"] == 3 and summary["records_quarantined"] == 8
    assert summary["critical"]["datasets.dataset_uid.expect_column_values_to_be_unique"] == 1
    assert summary["critical"]["distributions.dataset_uid.parent_quarantined"] == 1
    text = json.dumps(summary)  # goes to XCom: JSON, small, no records
    assert len(text) < 8000
    assert "Luchtkwaliteit" not in text
    assert summary["paths"]["quarantine"] == str(ckan_batch["batch"].quarantine)


def test_data_docs_are_built(ckan_batch):
    docs = ckan_batch["data_dir"] / "reports" / "data_docs"
    index = docs / "index.html"
    assert index.exists()
    assert ckan_batch["summary"]["paths"]["data_docs"] == str(index)
    pages = list((docs / "validations").rglob("*.html"))
    assert {p.relative_to(docs / "validations").parts[0] for p in pages} == {"datasets", "distributions"}
    assert SOURCE_NL in index.read_text(encoding="utf-8")
    # the page counts the whole table (all chunks), not the first chunk
    results = list((ckan_batch["data_dir"] / "reports" / "gx" / "validations" / "datasets").rglob("*.json"))
    assert len(results) == 1
    stored = json.loads(results[0].read_text(encoding="utf-8"))
    counts = {r["expectation_config"]["kwargs"].get("column"): r["result"]["element_count"] for r in stored["results"] if r["expectation_config"]["type"] == "expect_column_values_to_not_be_null"}
    assert counts["title"] == 10
    assert stored["success"] is False


def test_validation_is_repeatable(ckan_batch):
    again = V.validate_batch(ckan_batch["batch"], build_docs=False, chunk_rows=50_000)
    assert again["tables"] == ckan_batch["summary"]["tables"]
    assert again["warnings"] == ckan_batch["summary"]["warnings"]
    assert again["critical"] == ckan_batch["summary"]["critical"]
    assert len(quarantine_rows(ckan_batch["batch"])) == len(ckan_batch["quarantine"])


# ------------------------------------------------------------------------------------------
# an Algoritmeregister batch
# ------------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """INVENTORY_DATA_DIR in this test's tmp_path (as tests/conftest.py does for every test)."""
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("INVENTORY_EXPECTATIONS_DIR", raising=False)
    return tmp_path / "data"


def test_algorithm_register_batch(data_dir):
    next_year = str(datetime.now(timezone.utc).year + 1)
    good = register_algorithm("52013480")
    actief = register_algorithm("52013499", status="Actief", original_status="Actief")
    short_lars = register_algorithm("5201348")
    started_later = register_algorithm("52013501", begin_date=f"{next_year}-01")
    odd_category = register_algorithm("52013510", publication_category="Hoog risico", original_category="Hoog risico")
    no_contact = register_algorithm("52013528", contact_email=None)
    # a standard 0.1 record: free-text status left unmapped, an old category, a web page as contact,
    # begin_date as the export wrote it ("mei 2023"): warnings only
    legacy = register_algorithm(
        "52013536", status=None, original_status="Actief sinds 2020", publication_category="Hoog risico",
        original_category="Hoog risico", standard_version="0.1", contact_email="https://www.duinkerke.example/contact",
        begin_date="mei 2023",
    )
    odd_contact = register_algorithm("52013544", contact_email="bel de balie")
    # a UK ATRS record in the same table: its id is not a lars and must not be judged as one
    uk = register_algorithm(
        "atrs-hmrc-connect", jurisdiction="GB", organization="HM Revenue & Customs", contact_email="atrs@hmrc.example",
        source_id="uk-atrs", publication_category=None, standard_version=None,
    )
    records = [good, actief, short_lars, started_later, odd_category, no_contact, legacy, odd_contact, uk]
    batch = write_batch(SOURCE_AR, {"algorithms": records})
    summary = V.validate_batch(batch)

    rows = quarantine_rows(batch)
    q = _one(rows, record_uid=actief["algorithm_uid"])
    assert (q["record_type"], q["suite"], q["expectation"], q["column"], q["observed_value"]) == (
        "algorithms", "algorithms", "expect_column_values_to_be_in_set", "status", "Actief",
    )
    assert q["reason"] == why("algorithms", "expect_column_values_to_be_in_set", "status")
    q = _one(rows, record_uid=short_lars["algorithm_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_match_regex", "source_record_id", "5201348")
    assert q["reason"] == "The Algoritmeregister id (lars) must be exactly eight digits."
    q = _one(rows, record_uid=started_later["algorithm_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_not_be_in_the_future", "begin_date", f"{next_year}-01")
    q = _one(rows, record_uid=odd_category["algorithm_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_be_in_set", "publication_category", "Hoog risico")
    q = _one(rows, record_uid=no_contact["algorithm_uid"])
    assert (q["expectation"], q["column"], q["observed_value"]) == ("expect_column_values_to_not_be_null", "contact_email", None)
    assert len(rows) == 5

    assert sorted(validated_uids(batch, "algorithms")) == sorted(r["algorithm_uid"] for r in (good, legacy, odd_contact, uk))
    w = summary["warnings"]
    assert w["algorithms.publication_category.expect_column_values_to_be_in_set"] == 1  # the 0.1 record; nulls pass
    assert w["algorithms.status.expect_column_values_to_not_be_null"] == 1
    assert w["algorithms.begin_date.expect_column_values_to_match_regex"] == 1
    assert w["algorithms.contact_email.expect_column_values_to_match_regex"] == 1
    assert w["algorithms.description_short.expect_column_values_to_not_be_null"] == 0
    report = batch.read_report()
    assert (report["state"], report["records_valid"], report["records_quarantined"]) == ("validated", 4, 5)
    assert (data_dir / "reports" / "data_docs" / "index.html").exists()


def test_a_record_failing_two_checks_is_one_record_with_two_reasons(data_dir):
    bad = register_algorithm("5201348", status="Actief")
    batch = write_batch(SOURCE_AR, {"algorithms": [bad, register_algorithm("52013480")]})
    summary = V.validate_batch(batch, build_docs=False)
    rows = quarantine_rows(batch)
    assert sorted(r["column"] for r in rows) == ["source_record_id", "status"]
    assert {r["record_uid"] for r in rows} == {bad["algorithm_uid"]}
    assert summary["tables"]["algorithms"] == {"rows": 2, "valid": 1, "quarantined": 1, "quarantine_rows": 2}
    assert summary["records_quarantined"] == 1


def test_an_empty_batch_still_gets_files_and_an_index(data_dir):
    batch = write_batch(SOURCE_AR, {"algorithms": []})
    summary = V.validate_batch(batch)
    assert summary["tables"]["algorithms"] == {"rows": 0, "valid": 0, "quarantined": 0, "quarantine_rows": 0}
    assert pq.read_table(batch.validated("algorithms")).num_rows == 0
    assert pq.read_table(batch.quarantine).num_rows == 0
    assert (data_dir / "reports" / "data_docs" / "index.html").exists()
    assert batch.read_report()["state"] == "validated"


def test_uniqueness_spans_chunks(data_dir):
    rec = register_algorithm("52013480")
    batch = write_batch(SOURCE_AR, {"algorithms": [rec, register_algorithm("52013499"), dict(rec, name="Later"), dict(rec, name="Laatst")]})
    summary = V.validate_batch(batch, build_docs=False, chunk_rows=1)  # every row its own chunk
    assert summary["tables"]["algorithms"]["quarantined"] == 2
    names = [json.loads(r["record"])["name"] for r in quarantine_rows(batch)]
    assert sorted(names) == ["Laatst", "Later"]
    assert pq.read_table(batch.validated("algorithms")).column("name").to_pylist().count(rec["name"]) == 2


def test_without_docs_nothing_is_rendered(data_dir):
    batch = write_batch(SOURCE_AR, {"algorithms": [register_algorithm("52013480")]})
    summary = V.validate_batch(batch, build_docs=False)
    assert summary["paths"]["data_docs"] is None
    assert not (data_dir / "reports" / "data_docs").exists()
    assert summary["records_valid"] == 1


def test_a_data_docs_failure_does_not_undo_the_validation(data_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(V._GxRuntime, "publish_docs", broken)
    batch = write_batch(SOURCE_AR, {"algorithms": [register_algorithm("52013480"), register_algorithm("5201348")]})
    summary = V.validate_batch(batch)
    assert summary["data_docs_errors"] == {"algorithms": "OSError: disk full"}
    assert summary["records_valid"] == 1 and summary["records_quarantined"] == 1
    assert batch.read_report()["validation"]["data_docs_errors"] == {"algorithms": "OSError: disk full"}


# ------------------------------------------------------------------------------------------
# streaming: chunks, whole records, uniqueness in little memory
# ------------------------------------------------------------------------------------------


def _ckan_mix(n: int) -> tuple[list[dict], list[dict]]:
    """n datasets (two distributions each) with a known problem every few records."""
    datasets, distributions = [], []
    for i in range(n):
        d = ckan_dataset(f"mix-{i}")
        if i % 7 == 3:
            d["license"] = "cc-by-nd"
        if i % 11 == 5:
            d["title"] = None
        if i % 13 == 6:
            d = dict(datasets[i - 1], title="Nog een keer geoogst")  # a repeated key
        datasets.append(d)
        distributions += [ckan_resource(d, 0), ckan_resource(d, 1, access_url=None if i % 17 == 8 else f"https://x.example/{i}")]
    return datasets, distributions


def _outcome(batch: staging.Batch) -> dict:
    quarantine = sorted(
        json.dumps({k: v for k, v in r.items() if k != "quarantined_at"}, sort_keys=True) for r in quarantine_rows(batch)
    )
    return {
        "validated": {t: pq.read_table(batch.validated(t)).to_pylist() for t in ("datasets", "distributions")},
        "quarantine": quarantine,
    }


def test_chunking_and_record_parts_do_not_change_the_outcome(data_dir, monkeypatch):
    datasets, distributions = _ckan_mix(30)
    batch = write_batch(SOURCE_NL, {"datasets": datasets, "distributions": distributions})
    reference = V.validate_batch(batch, build_docs=False)  # one chunk per table
    expected = _outcome(batch)
    assert reference["tables"]["datasets"]["quarantined"] == 9
    # GX chunks that end in the middle of the record parts, and the other way round
    monkeypatch.setattr(V, "WRITE_ROWS", 4)
    for chunk_rows in (11, 50):
        summary = V.validate_batch(batch, build_docs=False, chunk_rows=chunk_rows)
        assert summary["tables"] == reference["tables"] and summary["critical"] == reference["critical"]
        assert _outcome(batch) == expected, chunk_rows
    # chunks cut by width (CHUNK_BYTES) rather than by rows
    monkeypatch.setattr(V, "CHUNK_BYTES", 6000)
    summary = V.validate_batch(batch, build_docs=False)
    assert summary["tables"] == reference["tables"]
    assert _outcome(batch) == expected


def test_quarantine_rows_of_a_record_stay_together(data_dir):
    twice = register_algorithm("5201348", status="Actief")  # two critical failures
    batch = write_batch(SOURCE_AR, {"algorithms": [register_algorithm("52013480"), twice, register_algorithm("52013499", status="Actief")]})
    V.validate_batch(batch, build_docs=False)
    rows = quarantine_rows(batch)
    assert [r["record_uid"] for r in rows] == [twice["algorithm_uid"]] * 2 + [model.stable_uid(SOURCE_AR, "52013499")]
    assert [r["column"] for r in rows[:2]] == ["source_record_id", "status"]  # in the suite's order


def test_uniqueness_stays_exact_when_hashes_collide(data_dir, monkeypatch):
    """Hashes only pick the candidates: with every value colliding, only real repeats go."""
    import numpy as np

    monkeypatch.setattr(V, "_hash64", lambda values: np.zeros(len(values), dtype=np.uint64))
    rec = register_algorithm("52013480")
    records = [rec, register_algorithm("52013499"), dict(rec, name="Later"), register_algorithm("52013501")]
    batch = write_batch(SOURCE_AR, {"algorithms": records})
    summary = V.validate_batch(batch, build_docs=False, chunk_rows=2)
    assert summary["tables"]["algorithms"]["quarantined"] == 1
    assert [json.loads(r["record"])["name"] for r in quarantine_rows(batch)] == ["Later"]
    assert len(validated_uids(batch, "algorithms")) == 3


def test_hash64_depends_on_the_value_only():
    """The same value hashes the same whatever its neighbours, its array's layout or type."""
    import random

    import numpy as np
    import pyarrow as pa

    rng = random.Random(7)
    values = ["", "a", "abc", "é" * 40, "x" * 64, "x" * 65, "x" * 99 + "y", "x" * 100] + [
        "".join(rng.choice("ab€") for _ in range(rng.randint(0, 90))) for _ in range(400)
    ]
    alone = {v: int(V._hash64(pa.array([v]))[0]) for v in values}
    assert len(set(alone.values())) == len(set(values))
    for start in range(0, len(values), 37):
        part = values[start : start + 50]
        for arr in (pa.array(part), pa.array(part, pa.large_string()), pa.array(["pad"] + part).slice(1)):
            assert [int(h) for h in V._hash64(arr)] == [alone[v] for v in part]
        assert set(int(h) for h in V._hash64(pa.array([part[0]] * 5))) == {alone[part[0]]}  # one length: fast path
    assert V._hash64(pa.array([None, "a"]))[0] == alone[""]  # a null hashes as empty (nulls are skipped anyway)
    assert V._hash64(pa.array([], pa.string())).dtype == np.uint64


def test_gx_lets_go_of_each_chunk(data_dir):
    import gc
    import weakref

    runtime = V.gx_runtime()
    loaded = V._load("algorithms")
    suite = runtime.register(loaded)
    table = pa_table([register_algorithm("52013480")], model.ALGORITHMS)
    frame = table.select(loaded.columns()).to_pandas()
    result = runtime.validate("algorithms", suite, frame)
    assert result.success
    ref = weakref.ref(frame)
    del frame
    gc.collect()
    assert ref() is None


def pa_table(rows: list[dict], schema):
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema)


def test_a_failure_while_writing_records_stops_the_validation(data_dir, monkeypatch):
    """The thread that writes the records hands its error to the validation, which leaves no file half written."""

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(V, "_write_quarantine", broken)
    batch = write_batch(SOURCE_AR, {"algorithms": [register_algorithm("52013480"), register_algorithm("5201348")]})
    with pytest.raises(OSError, match="disk full"):
        V.validate_batch(batch, build_docs=False)
    assert not batch.validated("algorithms").exists()
    assert not list(batch.path.rglob("*.partial"))
    assert batch.read_report()["state"] == "harvested"
