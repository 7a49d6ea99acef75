"""The crosswalk of foreign AI registers onto the publication standard 1.0: a reviewed data file,
lookups that ignore case and spacing, originals kept, and unmapped values reported, never guessed."""

from __future__ import annotations

import pytest

from inventory import crosswalk
from tests.conftest import PROJECT

STANDARD_STATUSES = {"In ontwikkeling", "In gebruik", "Buiten gebruik"}
STANDARD_CATEGORIES = {"Hoog-risico AI-systeem", "Impactvolle algoritmes", "Overige algoritmes"}


@pytest.fixture(autouse=True)
def fresh_unmapped():
    crosswalk.reset_unmapped()
    yield
    crosswalk.reset_unmapped()


def test_the_project_file_loads_and_targets_are_standard_values():
    walk = crosswalk.load(PROJECT / "config" / "crosswalk" / "foreign_ai_registers.yaml")
    assert walk.registers() == {"atrs", "omb-ai-inventory"}
    assert set(walk.tables[("atrs", "status")].values()) == STANDARD_STATUSES
    assert set(walk.tables[("omb-ai-inventory", "status")].values()) == STANDARD_STATUSES
    assert set(walk.tables[("omb-ai-inventory", "publication_category")].values()) <= STANDARD_CATEGORIES
    assert ("atrs", "publication_category") not in walk.tables  # the ATRS has no risk classification
    assert crosswalk.crosswalk_file() == (PROJECT / "config" / "crosswalk" / "foreign_ai_registers.yaml").resolve()


@pytest.mark.parametrize(
    "register, field, value, expected",
    [
        ("atrs", "status", "beta-pilot", "In gebruik"),
        ("atrs", "status", "Beta/Pilot", "In gebruik"),
        ("atrs", "status", "pre-deployment", "In ontwikkeling"),
        ("atrs", "status", " Retired ", "Buiten gebruik"),
        ("omb-ai-inventory", "status", "Operation and Maintenance", "In gebruik"),
        ("omb-ai-inventory", "status", "operation and  maintenance \n", "In gebruik"),
        ("omb-ai-inventory", "status", "Acquisition and/or Development", "In ontwikkeling"),
        ("omb-ai-inventory", "status", "c)  Deployed – The use case is being actively authorized or utilized to support the functions or mission of an agency.", "In gebruik"),
        ("omb-ai-inventory", "status", "pre-deployment - the use case is in a development or acquisition status", "In ontwikkeling"),
        ("omb-ai-inventory", "status", "In production: less than 6 months", "In gebruik"),
        ("omb-ai-inventory", "publication_category", "Rights-Impacting\n", "Impactvolle algoritmes"),
        ("omb-ai-inventory", "publication_category", "Safety-impacting", "Impactvolle algoritmes"),
        ("omb-ai-inventory", "publication_category", "SAFETY-IMPACTING", "Impactvolle algoritmes"),
        ("omb-ai-inventory", "publication_category", "Neither", "Overige algoritmes"),
        ("omb-ai-inventory", "publication_category", "a) High-impact", "Impactvolle algoritmes"),
        ("omb-ai-inventory", "publication_category", "Presumed High-Impact, but Not High-impact", "Overige algoritmes"),
        ("omb-ai-inventory", "impact_assessment", "AI impact assessment", "AI Impact Assesment (AIIA)"),
        ("atrs", "impact_assessment", "Data protection impact assessment", "Data Protection Impact Assessment (DPIA)"),
    ],
)
def test_lookups_ignore_case_spacing_dashes_and_enumerators(register, field, value, expected):
    assert crosswalk.map_value(register, field, value) == expected
    assert crosswalk.unmapped() == []


def test_unmapped_values_are_not_guessed_but_reported(caplog):
    with caplog.at_level("WARNING", logger="inventory.crosswalk"):
        assert crosswalk.map_value("atrs", "status", "private-beta", source_id="uk-atrs") is None
        assert crosswalk.map_value("atrs", "status", "private-beta", source_id="uk-atrs") is None
        assert crosswalk.map_value("omb-ai-inventory", "publication_category", "Presumed high-impact") is None
        assert crosswalk.map_value("unknown-register", "status", "live") is None
    assert crosswalk.unmapped() == [
        {"register": "atrs", "field": "status", "value": "private-beta", "count": 2},
        {"register": "omb-ai-inventory", "field": "publication_category", "value": "Presumed high-impact", "count": 1},
        {"register": "unknown-register", "field": "status", "value": "live", "count": 1},
    ]
    assert caplog.text.count("private-beta") == 1, "one warning per value, not per record"
    assert "source uk-atrs" in caplog.text and "left empty and the original is kept" in caplog.text


def test_empty_values_are_not_reported():
    assert crosswalk.map_value("atrs", "status", None) is None
    assert crosswalk.map_value("atrs", "status", "  \n") is None
    assert crosswalk.unmapped() == []


def test_an_unknown_assessment_keeps_its_own_name():
    assert crosswalk.map_assessment("atrs", "Children's Rights Impact Assessment ") == "Children's Rights Impact Assessment"
    assert crosswalk.map_assessment("atrs", "DPIA") == "Data Protection Impact Assessment (DPIA)"
    assert [u["value"] for u in crosswalk.unmapped()] == ["Children's Rights Impact Assessment"]


def test_normalise():
    assert crosswalk.normalise("  b)  Pilot – The use case  ") == "pilot - the use case"
    assert crosswalk.normalise("Rights-Impacting\n") == "rights-impacting"
    assert crosswalk.normalise("Not high-impact.") == "not high-impact"


@pytest.mark.parametrize(
    "text, message",
    [
        ("registers:\n  atrs:\n    status:\n      live: Actief\n", "target 'Actief' is not a value of the publication standard 1.0"),
        ("registers:\n  atrs:\n    status:\n      Live: In gebruik\n      ' live ': Buiten gebruik\n", "already mapped to 'In gebruik'"),
        ("registers:\n  atrs:\n    stauts:\n      live: In gebruik\n", "unknown field 'stauts'"),
        ("registers:\n  atrs:\n    status:\n      yes: In gebruik\n", "quote values like yes/no"),
        ("registers: [\n", "not valid YAML at line"),
        ("standard: x\n", "top-level 'registers:' mapping"),
    ],
)
def test_a_broken_file_says_where(tmp_path, monkeypatch, text, message):
    path = tmp_path / "crosswalk.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(crosswalk.CrosswalkError, match=message) as info:
        crosswalk.load(path)
    assert str(path) in str(info.value)


def test_the_file_is_read_from_inventory_crosswalk_and_reread_when_changed(tmp_path, monkeypatch):
    path = tmp_path / "crosswalk.yaml"
    path.write_text("registers:\n  atrs:\n    status:\n      live: In gebruik\n", encoding="utf-8")
    monkeypatch.setenv("INVENTORY_CROSSWALK", str(path))
    assert crosswalk.map_value("atrs", "status", "LIVE") == "In gebruik"
    assert crosswalk.map_value("atrs", "status", "production") is None  # not in this file
    path.write_text("registers:\n  atrs:\n    status:\n      live: In gebruik\n      production: In gebruik\n", encoding="utf-8")
    import os

    os.utime(path, ns=(1, 10**18))  # a different modification time, as a steward's edit would give
    assert crosswalk.map_value("atrs", "status", "production") == "In gebruik"
