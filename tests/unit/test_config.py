"""The sources file: a malformed one gives one clear sentence naming the entry and the field."""

from __future__ import annotations

import pytest

from inventory.config import SourcesConfigError, get_source, load_sources
from tests.conftest import PROJECT


def write(tmp_path, text: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_production_and_demo_files_load():
    production = load_sources(PROJECT / "config" / "sources.yaml", include_disabled=True)
    assert {"ckan", "algoritmeregister"} <= {s.kind for s in production}
    assert any(s.url.startswith("https://data.overheid.nl/") for s in production)
    assert all(not s.allow_private_network for s in production)
    demo = load_sources(PROJECT / "config" / "sources.demo.yaml")
    # The sample agencies serve one source of every registered kind.
    from inventory.sources import KINDS

    assert {s.kind for s in demo} == set(KINDS)


def test_env_reference_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENCY_HOST", "http://agency.example")
    path = write(tmp_path, "sources:\n  - {id: a1, kind: ckan, url: '${AGENCY_HOST}/api/3/action/'}\n")
    assert load_sources(path)[0].url == "http://agency.example/api/3/action/"


def test_env_reference_default_and_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = write(tmp_path, "sources:\n  - {id: a1, kind: ckan, url: '${NOT_SET_ANYWHERE:-http://fallback.example}/x'}\n")
    assert load_sources(path)[0].url == "http://fallback.example/x"
    path = write(tmp_path, "sources:\n  - {id: a1, kind: ckan, url: '${NOT_SET_ANYWHERE}/x'}\n")
    with pytest.raises(SourcesConfigError, match="NOT_SET_ANYWHERE"):
        load_sources(path)


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("{id: cbs, url: 'https://x.example/'}", r"source #2 \('cbs'\), field 'kind': is required but missing"),
        ("{id: cbs, kind: sparql, url: 'https://x.example/'}", r"source #2 \('cbs'\), field 'kind': .*unknown kind 'sparql'"),
        ("{id: cbs, kind: ckan, url: 'ftp://x.example/'}", r"field 'url': .*must be an http:// or https:// URL"),
        ("{id: CBS Open, kind: ckan, url: 'https://x.example/'}", r"field 'id': must be lower-case"),
        ("{id: cbs, kind: ckan, url: 'https://x.example/', optoins: {}}", r"field 'optoins': is not a known field"),
        ("{id: cbs, kind: ckan, url: 'https://x.example/', options: [1]}", r"field 'options'"),
    ],
)
def test_malformed_entry_names_entry_and_field(tmp_path, entry, expected):
    # The bad entry is the second one: the message must point at it, not at the good first one.
    path = write(tmp_path, f"sources:\n  - {{id: ok, kind: ckan, url: 'https://ok.example/'}}\n  - {entry}\n")
    with pytest.raises(SourcesConfigError, match=expected) as info:
        load_sources(path)
    assert str(path) in str(info.value)
    assert "Traceback" not in str(info.value)


def test_duplicate_ids_and_bad_yaml(tmp_path):
    path = write(tmp_path, "sources:\n  - {id: a1, kind: ckan, url: 'https://a.example/'}\n  - {id: a1, kind: ckan, url: 'https://b.example/'}\n")
    with pytest.raises(SourcesConfigError, match="'a1' is listed twice"):
        load_sources(path)
    path = write(tmp_path, "sources:\n  - id: a1\n   kind: ckan\n")
    with pytest.raises(SourcesConfigError, match=r"not valid YAML at line \d+"):
        load_sources(path)
    path = write(tmp_path, "- just a list\n")
    with pytest.raises(SourcesConfigError, match="top-level 'sources:' list"):
        load_sources(path)


def test_missing_file_and_unknown_source(tmp_path):
    with pytest.raises(SourcesConfigError, match="does not exist"):
        load_sources(tmp_path / "nope.yaml")
    path = write(tmp_path, "sources:\n  - {id: a1, kind: ckan, url: 'https://a.example/'}\n")
    with pytest.raises(SourcesConfigError, match="No source with id 'zz'.*known: a1"):
        get_source("zz", path)


def test_sources_file_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "sources:\n  - {id: mine, kind: algoritmeregister, url: 'https://register.example'}\n")
    monkeypatch.setenv("INVENTORY_SOURCES", str(path))
    assert [s.id for s in load_sources()] == ["mine"]


@pytest.mark.parametrize("value, ok", [("25%", True), (0.5, True), ("veel", False), (1.5, False)])
def test_max_removed_share_is_checked_when_the_file_loads(tmp_path, value, ok):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: gem-a\n    kind: ckan\n    url: https://example.nl/api/3/action/\n"
                    f"    options: {{max_removed_share: {value!r}}}\n", encoding="utf-8")
    if ok:
        assert load_sources(path)[0].option("max_removed_share") == value
        return
    with pytest.raises(SourcesConfigError) as err:
        load_sources(path)
    assert "source #1 ('gem-a'), field 'options'" in str(err.value) and "max_removed_share" in str(err.value)
