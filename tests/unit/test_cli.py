"""The ``inventory`` command: the same steps as the DAGs, with an exit code operators can trust."""

from __future__ import annotations

import pytest

from inventory.cli import main


def write_sources(tmp_path, agencies, *, broken: bool) -> str:
    prefix = "/faults/always-500" if broken else ""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        f"  - id: gemeente-utrecht\n    kind: ckan\n    url: {agencies.url}/ckan/gemeente-utrecht/api/3/action/\n"
        "    allow_private_network: true\n    options: {rows: 25}\n"
        f"  - id: register\n    kind: algoritmeregister\n    url: {agencies.url}{prefix}/algoritmeregister\n"
        "    allow_private_network: true\n    options: {limit: 20, retries: 1, backoff_factor: 0.01}\n",
        encoding="utf-8",
    )
    return str(path)


def test_run_publishes_and_prints_the_summary(tmp_path, sample_agencies, monkeypatch, capsys):
    monkeypatch.setenv("INVENTORY_SOURCES", write_sources(tmp_path, sample_agencies, broken=False))
    assert main(["run", "--run-id", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert "gemeente-utrecht" in out and "register" in out and "complete" in out
    assert "exports" in out.lower() and "Data Docs" in out


def test_run_exits_1_naming_the_failed_source(tmp_path, sample_agencies, monkeypatch, capsys):
    monkeypatch.setenv("INVENTORY_SOURCES", write_sources(tmp_path, sample_agencies, broken=True))
    assert main(["run", "--run-id", "cli-2"]) == 1
    captured = capsys.readouterr()
    assert "register (failed)" in captured.err
    assert "gemeente-utrecht" in captured.out  # the healthy source was still published


def test_malformed_sources_file_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - {id: x1, kind: ckan}\n", encoding="utf-8")
    monkeypatch.setenv("INVENTORY_SOURCES", str(bad))
    assert main(["sources"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Sources file") and "field 'url': is required but missing" in err
    assert "Traceback" not in err


def test_summary_of_an_empty_inventory(capsys):
    assert main(["summary"]) == 0
    assert "nothing has been published yet" in capsys.readouterr().out


def test_harvest_one_source(tmp_path, sample_agencies, monkeypatch, capsys):
    monkeypatch.setenv("INVENTORY_SOURCES", write_sources(tmp_path, sample_agencies, broken=False))
    assert main(["harvest", "gemeente-utrecht", "--run-id", "cli-3"]) == 0
    assert "gemeente-utrecht: complete" in capsys.readouterr().out


def test_release_a_held_run(capsys):
    from inventory.publish import publish
    from tests.unit import publish_scenarios as sc

    sc.make_batch("gem-a", "run1", datasets=[sc.dataset("gem-a", i) for i in range(10)])
    sc.make_batch("gem-a", "run2", datasets=[sc.dataset("gem-a", i, "run2") for i in range(5)])
    assert publish()["sources"]["gem-a"]["status"] == "held"
    assert main(["release", "gem-a", "run1"]) == 1
    assert "is not held for review" in capsys.readouterr().err
    assert main(["release", "gem-a", "run2", "--by", "j.jansen"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gem-a: complete harvest Released for publication by j.jansen")
    assert "5 withdrawn" in out


def test_export_writes_every_file_anew(capsys):
    """A publish that changed no dataset links the previous catalogue's pages; ``inventory export``
    writes them again (for an operator who distrusts a file)."""
    import json
    from pathlib import Path

    from inventory.publish import exports, publish
    from tests.unit import publish_scenarios as sc

    sc.make_batch("gem-a", "run1", datasets=[sc.dataset("gem-a", i) for i in range(3)])
    publish()
    first = exports.current_release()
    page = first / "catalog" / "page-000001.ttl"
    assert main(["export"]) == 0
    out = capsys.readouterr().out
    release = exports.current_release()
    assert release != first and f"Exports written anew: {release}" in out and "3 datasets in 1 page\n" in out
    again = release / "catalog" / "page-000001.ttl"
    assert again.stat().st_ino != page.stat().st_ino and b"Dataset 2" in again.read_bytes()  # written, not linked
    assert "reused_from" not in json.loads((Path(release) / "manifest.json").read_text())["catalog"]
