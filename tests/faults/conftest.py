"""Fixtures of the fault suite: the hostile server, a sources file pointing at it, the real run.

Every fault test follows one story: a good run of the source is harvested, validated and published
(``inventory.published_good_run``), the server is then scripted to misbehave, and the faulty run
goes through the very functions the Airflow tasks and ``inventory run`` call (``pipeline.harvest``,
``pipeline.validate``, ``pipeline.publish``). The test then asserts what the run recorded
(``harvest_runs`` status and message) and that the published inventory (store and exports) is the
one of the good run.

Sources get small timeouts and backoffs through their ``options`` so that no test sleeps seconds.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.faults.hostile_server import HostileServer, Reply, Request

# Fast but real transport settings: every fault source uses them unless a test overrides one.
FAST_OPTIONS: dict[str, Any] = {
    "connect_timeout": 1.0,
    "read_timeout": 0.5,
    "retries": 2,
    "backoff_factor": 0.01,
    "backoff_max": 0.05,
    "retry_after_max": 0.05,
}

GOOD_RUN = "scheduled__2026-11-27T00:00:00+00:00"
FAULTY_RUN = "manual__2026-11-28T00:00:00+00:00"
# Data folders left by good runs that several tests share (see Inventory.published_good_run).
_GOOD_RUNS: dict[str, Path] = {}
# Columns that say which run wrote a row: a partial run may rewrite them on records it received again.
PROVENANCE_COLUMNS = ("run_id", "harvested_at", "raw_sha256")


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


# --------------------------------------------------------------------------------- CKAN payloads
def package(n: int, **extra: Any) -> dict[str, Any]:
    """A data.overheid.nl ``package_search`` result (DCAT-AP-DONL CKAN schema), trimmed to what is mapped."""
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"dataset-{n}",
        "title": f"Luchtkwaliteit meetpunt {n}",
        "notes": "Jaargemiddelden van NO2 en fijnstof per meetpunt.",
        "license_id": "cc-by-4.0",
        "metadata_modified": f"2026-01-{n % 28 + 1:02d}T10:00:00.000000",
        "metadata_created": "2025-06-01T09:00:00.000000",
        "organization": {"title": "Gemeente Voorbeeld", "name": "gemeente-voorbeeld"},
        "language": ["http://publications.europa.eu/resource/authority/language/NLD"],
        "resources": [{"id": f"r{n}", "url": f"https://data.voorbeeld.nl/files/{n}.csv", "format": "CSV", "name": "Metingen"}],
        **extra,
    }


def ckan_envelope(count: int, results: list[dict]) -> bytes:
    return json.dumps({"help": "https://data.overheid.nl/data/api/3/action/help_show?name=package_search",
                       "success": True, "result": {"count": count, "results": results}}).encode()


def ckan_listing(packages: list[dict], *, count: int | None = None) -> Callable[[Request], Reply]:
    """A CKAN package_search that pages on ``start``/``rows`` like data.overheid.nl."""

    def answer(request: Request) -> Reply:
        start, rows = int(request.param("start", "0")), int(request.param("rows", "10"))
        total = len(packages) if count is None else count
        return Reply(200, ckan_envelope(total, packages[start : start + rows]))

    return answer


CKAN_PATH = "/ckan/api/3/action/package_search"


# --------------------------------------------------------------------------------- the sources file
class Inventory:
    """The pipeline as the tasks call it, pointed at a sources file of the test's own."""

    def __init__(self, server: HostileServer, data_dir: Path, sources_file: Path):
        self.server = server
        self.data_dir = data_dir
        self.sources_file = sources_file
        self.entries: list[dict[str, Any]] = []

    def add_source(self, source_id: str, kind: str, path: str, *, allow_private_network: bool = True,
                   base_url: str | None = None, conn_id: str | None = None, **options: Any) -> dict:
        entry = {"id": source_id, "kind": kind, "url": f"{base_url or self.server.url}{path}",
                 "allow_private_network": allow_private_network, "options": {**FAST_OPTIONS, **options}}
        if conn_id:
            entry["conn_id"] = conn_id
        self.entries = [e for e in self.entries if e["id"] != source_id] + [entry]
        self.sources_file.write_text(yaml.safe_dump({"sources": self.entries}, sort_keys=False), encoding="utf-8")
        return entry

    def add_ckan(self, source_id: str = "hostile-portal", **options: Any) -> dict:
        return self.add_source(source_id, "ckan", "/ckan/api/3/action/", **{"rows": 2, **options})

    def add_dcat(self, source_id: str = "hostile-catalogue", **options: Any) -> dict:
        return self.add_source(source_id, "dcat", DCAT_PATH, **options)

    def run(self, source_id: str, run_id: str) -> dict[str, Any]:
        """Harvest, validate and publish one source exactly like a DAG run; return its harvest_runs row."""
        from inventory import pipeline
        from inventory.harvest import HarvestFailed

        try:
            pipeline.harvest(source_id, run_id)
        except HarvestFailed:
            pass  # the Airflow task fails here; validate (all_done) and publish still run
        pipeline.validate(source_id, run_id, build_docs=False)
        pipeline.publish()
        return self.harvest_run(source_id, run_id)

    def harvest_run(self, source_id: str, run_id: str) -> dict[str, Any]:
        import duckdb

        con = duckdb.connect(str(self.data_dir / "inventory.duckdb"), read_only=True)
        try:
            cursor = con.execute("SELECT * FROM harvest_runs WHERE source_id = ? AND run_id = ?", [source_id, run_id])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        finally:
            con.close()
        assert len(rows) == 1, f"expected one harvest_runs row for {source_id}/{run_id}, got {rows}"
        return rows[0]

    def published_good_run(self, source_id: str = "hostile-portal", *, same_as: str | None = None) -> dict[str, Any]:
        """Publish a complete run of the source; return the inventory it left (see ``snapshot``).

        Tests whose good run is the same (``same_as`` names it) share it: the first one runs it for
        real, the others start from a copy of the data folder it left (GX validation costs seconds)."""
        template = _GOOD_RUNS.get(same_as) if same_as else None
        if template is not None:
            shutil.copytree(template, self.data_dir, symlinks=True, dirs_exist_ok=True)
        else:
            row = self.run(source_id, GOOD_RUN)
            assert row["status"] == "complete", row["message"]
            if same_as:
                _GOOD_RUNS[same_as] = Path(tempfile.mkdtemp(prefix=f"faults-good-{same_as}-"))
                shutil.copytree(self.data_dir, _GOOD_RUNS[same_as], symlinks=True, dirs_exist_ok=True)
        return self.snapshot()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The published record tables, from the store and from the exports, as sorted rows:
        ``exact`` with every column, ``content`` without the provenance columns."""
        import duckdb
        import pyarrow.parquet as pq

        from inventory import model

        def rows(table, keep: Callable[[str], bool]) -> list[tuple]:
            names = [n for n in table.column_names if keep(n)]
            return sorted(tuple(json.dumps(r[n], default=str, sort_keys=True) for n in names) for r in table.select(names).to_pylist())

        tables: dict[str, Any] = {}
        con = duckdb.connect(str(self.data_dir / "inventory.duckdb"), read_only=True)
        try:
            for name in model.RECORD_TABLES:
                tables[f"store.{name}"] = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
        finally:
            con.close()
        latest = self.data_dir / "exports" / "latest"
        csv_lines = {}
        for name in model.RECORD_TABLES:
            tables[f"exports.{name}"] = pq.read_table(latest / f"{name}.parquet")
            csv_lines[f"exports.{name}.csv"] = len((latest / f"{name}.csv").read_text(encoding="utf-8").splitlines())
        return {
            "exact": {**{k: rows(t, lambda n: True) for k, t in tables.items()}, **csv_lines},
            "content": {**{k: rows(t, lambda n: n not in PROVENANCE_COLUMNS) for k, t in tables.items()}, **csv_lines},
        }

    def assert_unchanged(self, before: dict[str, dict[str, Any]], *, provenance_may_change: bool = False) -> None:
        """The published inventory is still the good run's, in the store and in the exports.

        A partial run adds and updates only; it may re-stamp the provenance of records it received
        again (``provenance_may_change``), never remove or alter their content."""
        view = "content" if provenance_may_change else "exact"
        after = self.snapshot()[view]
        assert after.keys() == before[view].keys()
        assert any(before[view][k] for k in before[view] if k.startswith("store.")), "the good run published nothing"
        for key, rows in before[view].items():
            assert after[key] == rows, f"{key} changed after the faulty run"

    def assert_kept(self, before: dict[str, dict[str, Any]]) -> None:
        """Every record the good run published is still published, with the same content (new
        records may have been added: a partial run adds and updates, it never removes)."""
        after = self.snapshot()["content"]
        for key, rows in before["content"].items():
            if isinstance(rows, list):
                missing = [r for r in rows if r not in set(after[key])]
                assert not missing, f"{key}: {len(missing)} published row(s) removed or altered by the faulty run"

    def landing_files(self, source_id: str, run_id: str = FAULTY_RUN) -> list[Path]:
        from inventory.staging import safe_name

        folder = self.data_dir / "landing" / source_id / safe_name(run_id)
        return sorted(folder.glob("*")) if folder.exists() else []

    def report(self, source_id: str, run_id: str = FAULTY_RUN) -> dict[str, Any]:
        from inventory.staging import Batch

        return Batch.for_run(source_id, run_id).read_report()


@pytest.fixture
def inventory(hostile, data_dir, tmp_path, monkeypatch) -> Inventory:
    sources_file = tmp_path / "sources.yaml"
    monkeypatch.setenv("INVENTORY_SOURCES", str(sources_file))
    return Inventory(hostile, data_dir, sources_file)


# --------------------------------------------------------------------------------- DCAT payloads
DCAT_PATH = "/dcat/catalog"
_TURTLE_PREFIXES = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


def dcat_dataset(n: int) -> str:
    """One DCAT-AP-NL 3.0 dataset in Turtle, shaped like the Infrastructuur en Waterstaat catalogue."""
    iri = f"https://data.rijksoverheid.nl/ienw/dataset/{n:03d}-waterstanden"
    return f"""
<{iri}> a dcat:Dataset ;
    dct:identifier "https://data.rijksoverheid.nl/ienw/id/{n:03d}-waterstanden" ;
    dct:title "Waterstanden en afvoeren meetpunt {n}"@nl ;
    dct:description "Waterstanden en afvoeren, verzameld en beheerd door Rijkswaterstaat."@nl ;
    dct:publisher <https://identifier.overheid.nl/tooi/id/oorg/oorg10275> ;
    dcat:contactPoint [ a vcard:Organization ; vcard:fn "Rijkswaterstaat, Servicedesk" ; vcard:hasEmail <mailto:servicedesk-data@rws.nl> ] ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/ENVI> ;
    dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> ;
    dct:modified "2024-01-10T00:15:00+01:00"^^xsd:dateTime ;
    dct:language <http://publications.europa.eu/resource/authority/language/NLD> ;
    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/ANNUAL> ;
    dcat:distribution <{iri}/distributie/1> .

<{iri}/distributie/1> a dcat:Distribution ;
    dcat:accessURL <https://downloads.rijksoverheid.nl/ienw/{n:03d}.csv> ;
    dct:format <http://publications.europa.eu/resource/authority/file-type/CSV> ;
    dct:license <http://creativecommons.org/licenses/by/4.0/deed.nl> .
"""


def dcat_page(base: str, numbers: list[int], *, page: int, next_page: int | None, total: int) -> bytes:
    """A Hydra-paged DCAT catalogue page (``?page=N``) holding the datasets ``numbers``."""
    view = f"{base}{DCAT_PATH}?page={page}"
    nxt = f" ;\n    hydra:next <{base}{DCAT_PATH}?page={next_page}>" if next_page else ""
    head = f"""{_TURTLE_PREFIXES}
<{base}{DCAT_PATH}> a dcat:Catalog , hydra:Collection ;
    dct:title "Open data van Infrastructuur en Waterstaat"@nl ;
    hydra:totalItems {total} ;
    hydra:view <{view}> .

<{view}> a hydra:PartialCollectionView{nxt} .

<https://identifier.overheid.nl/tooi/id/oorg/oorg10275> a foaf:Organization ;
    foaf:name "Rijkswaterstaat"@nl .
"""
    return (head + "".join(dcat_dataset(n) for n in numbers)).encode("utf-8")


def dcat_listing(base: str, total: int = 5, per_page: int = 2) -> Callable[[Request], Reply]:
    numbers = list(range(total))
    pages = [numbers[i : i + per_page] for i in range(0, total, per_page)]

    def answer(request: Request) -> Reply:
        page = int(request.param("page", "1"))
        nxt = page + 1 if page < len(pages) else None
        return Reply(200, dcat_page(base, pages[page - 1], page=page, next_page=nxt, total=total), "text/turtle; charset=utf-8")

    return answer


# --------------------------------------------------------------------------------- good runs
PACKAGES = [package(i) for i in range(5)]  # the portal's good listing: three pages of two


@pytest.fixture
def good(inventory, hostile) -> dict[str, Any]:
    """A complete, published run of the CKAN source ``hostile-portal``; the inventory it left."""
    hostile.route(CKAN_PATH, ckan_listing(PACKAGES))
    inventory.add_ckan()
    snapshot = inventory.published_good_run(same_as="ckan-5")
    hostile.reset_counters()
    return snapshot


@pytest.fixture
def good_catalogue(inventory, hostile) -> dict[str, Any]:
    """A complete, published run of the DCAT source ``hostile-catalogue`` (Turtle, Hydra paging)."""
    hostile.route(DCAT_PATH, dcat_listing(hostile.url))
    inventory.add_dcat()
    snapshot = inventory.published_good_run("hostile-catalogue", same_as="dcat-5")
    hostile.reset_counters()
    return snapshot
