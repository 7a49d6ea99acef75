"""The DCAT-AP-NL 3.0 catalogue written by publish: stable URIs, every format, Hydra paging, SHACL
conformance (pyshacl against the project's shapes, else the official DCAT-AP-NL 3.0 shapes), the
non-public exclusion, and the round trip through the project's own ``dcat`` harvester."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pyoxigraph
import pytest
from pyoxigraph import NamedNode, RdfFormat

from inventory import model, rdf_pages, worker_process
from inventory.config import SourceConfig
from inventory.harvest import harvest_source
from inventory.publish import catalog, export, exports, publish
from inventory.staging import Batch
from tests.conftest import PROJECT
from tests.unit import publish_scenarios as sc

EU = "http://publications.europa.eu/resource/authority/"
TOOI_RWS = "https://identifier.overheid.nl/tooi/id/oorg/oorg10004"  # Rijkswaterstaat
DCAT = "http://www.w3.org/ns/dcat#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SOURCE = "rws-dcat"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"  # canonical, as the mappers store it


def shapes_files() -> list[Path]:
    """The project's shapes when the quality checks have them, else the official DCAT-AP-NL 3.0 ones."""
    own = sorted((PROJECT / "config" / "shapes").glob("*.ttl"))
    if own:
        return own
    official = PROJECT.parent / "shared" / "reference" / "dcat-ap-nl-3.0-shapes"
    files = sorted(official.glob("dcat-ap-nl-SHACL*.ttl")) + [official / "dcat-ap-SHACL.ttl"]
    return [f for f in files if f.exists()]


def rich_dataset(n: int, **over) -> dict:
    """A dataset as the CKAN and DCAT mappers leave it for a well-described Rijkswaterstaat record
    (modelled on data.overheid.nl's DCAT-AP-DONL packages in shared/samples/ckan)."""
    row = sc.dataset(
        SOURCE, n, identifier=f"https://data.rijkswaterstaat.nl/ds/{n}", title=f"Waterstanden {n}",
        description=f"Gemeten waterstanden, meetpunt {n}.", publisher="Rijkswaterstaat",
        publisher_uri=TOOI_RWS, contact_point="servicedesk-data@rws.nl",
        theme=[f"{EU}data-theme/ENVI"], keyword=["water", f"meetpunt-{n}"],
        license=CC0, access_rights=f"{EU}access-right/PUBLIC",
        issued="2024-01-15", modified="2026-11-01T08:30:00Z", landing_page=f"https://data.rijkswaterstaat.nl/ds/{n}/info",
        language=[f"{EU}language/NLD"], spatial="POLYGON((3.3 50.7, 7.2 50.7, 7.2 53.6, 3.3 53.6, 3.3 50.7))",
        temporal_start="2020-01-01", temporal_end="2025-12-31", frequency=f"{EU}frequency/DAILY",
        source_record_id=f"https://data.rijkswaterstaat.nl/ds/{n}",
    )
    row.update(over)
    return row


def rich_distribution(n: int, **over) -> dict:
    row = sc.distribution(
        SOURCE, n, access_url=f"https://data.rijkswaterstaat.nl/ds/{n}/download",
        download_url=f"https://data.rijkswaterstaat.nl/ds/{n}.csv", format=f"{EU}file-type/CSV",
        media_type="text/csv", license=CC0, title=f"CSV {n}", rights="Bronvermelding: Rijkswaterstaat",
    )
    row.update(over)
    return row


def publish_inventory(datasets: list[dict], distributions: list[dict]) -> Path:
    sc.make_batch(SOURCE, "run1", kind="dcat", datasets=datasets, distributions=distributions, quarantine=[])
    publish()
    return exports.current_release() / "catalog"


def graph_of(path: Path) -> pyoxigraph.Store:
    fmt = {".ttl": RdfFormat.TURTLE, ".jsonld": RdfFormat.JSON_LD, ".rdf": RdfFormat.RDF_XML}[path.suffix]
    store = pyoxigraph.Store()
    store.load(path.read_bytes(), fmt)
    return store


def subjects_of_type(store: pyoxigraph.Store, cls: str) -> set[str]:
    return {q.subject.value for q in store.quads_for_pattern(None, RDF_TYPE, NamedNode(cls))}


def objects(store: pyoxigraph.Store, subject: str, predicate: str) -> list[str]:
    return [q.object.value for q in store.quads_for_pattern(NamedNode(subject), NamedNode(predicate), None)]


@pytest.fixture
def public_url(monkeypatch) -> str:
    url = "https://inventaris.example.nl/inventory"
    monkeypatch.setenv(catalog.PUBLIC_URL_ENV, url)
    return url


def test_every_page_in_every_format_with_hydra_links(public_url, monkeypatch):
    monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    folder = publish_inventory([rich_dataset(i) for i in range(5)], [rich_distribution(i) for i in range(5)])
    manifest = exports.read_manifest()
    assert manifest["catalog"]["datasets"] == 5 and manifest["catalog"]["pages"] == 3
    seen: dict[str, set[str]] = {}
    for ext in ("ttl", "jsonld", "rdf"):
        for page in (1, 2, 3):
            g = graph_of(folder / catalog.page_file(page, ext))
            seen.setdefault(ext, set()).update(subjects_of_type(g, DCAT + "Dataset"))
            view = f"{public_url}/catalog/{catalog.page_file(page, ext)}"
            assert objects(g, view, HYDRA + "first") == [f"{public_url}/catalog/page-000001.{ext}"]
            assert objects(g, view, HYDRA + "last") == [f"{public_url}/catalog/page-000003.{ext}"]
            assert objects(g, view, HYDRA + "next") == ([f"{public_url}/catalog/{catalog.page_file(page + 1, ext)}"]
                                                        if page < 3 else [])
            assert objects(g, view, HYDRA + "previous") == ([f"{public_url}/catalog/{catalog.page_file(page - 1, ext)}"]
                                                            if page > 1 else [])
            assert objects(g, f"{public_url}/catalog", HYDRA + "totalItems") == ["5"]
        assert (folder / f"catalog.{ext}").read_bytes() == (folder / catalog.page_file(1, ext)).read_bytes()
    # One stable URI per dataset, the same in every format, built from the stable dataset_uid.
    expected = {f"{public_url}/datasets/{model.stable_uid(SOURCE, f'ds-{i}')}" for i in range(5)}
    assert seen["ttl"] == seen["jsonld"] == seen["rdf"] == expected


def test_dataset_mapping_publisher_tooi_contact_and_distribution(public_url):
    row, dist = rich_dataset(1), rich_distribution(1)
    g = pyoxigraph.Store()
    g.load(catalog.serialise_dataset(row, [dist]), RdfFormat.TURTLE)
    ds = f"{public_url}/datasets/{row['dataset_uid']}"
    assert objects(g, ds, "http://purl.org/dc/terms/publisher") == [TOOI_RWS]
    assert objects(g, TOOI_RWS, "http://xmlns.com/foaf/0.1/name") == ["Rijkswaterstaat"]
    assert objects(g, ds, "http://purl.org/dc/terms/identifier") == ["https://data.rijkswaterstaat.nl/ds/1"]
    [card] = objects(g, ds, DCAT + "contactPoint")
    assert [q.object.value for q in g.quads_for_pattern(None, NamedNode("http://www.w3.org/2006/vcard/ns#hasEmail"), None)] \
        == ["mailto:servicedesk-data@rws.nl"]
    [d] = objects(g, ds, DCAT + "distribution")
    assert objects(g, d, DCAT + "mediaType") == ["https://www.iana.org/assignments/media-types/text/csv"]
    assert objects(g, d, "http://purl.org/dc/terms/license") == [CC0]
    # A canonical organisation's TOOI URI wins over what the source said.
    g2 = pyoxigraph.Store()
    g2.load(catalog.serialise_dataset({**row, "publisher_uri": "https://example.nl/org/rws",
                                       "organization_uri": TOOI_RWS}, []), RdfFormat.TURTLE)
    assert objects(g2, ds, "http://purl.org/dc/terms/publisher") == [TOOI_RWS]


def test_values_without_an_iri_are_kept_as_labelled_nodes(public_url):
    row = rich_dataset(2, license="Eigen licentie van de gemeente", theme=["Bestuur"], spatial="Utrecht")
    g = pyoxigraph.Store()
    g.load(catalog.serialise_dataset(row, [rich_distribution(2, format="CSV", license=None)]), RdfFormat.TURTLE)
    labels = {q.object.value for q in g.quads_for_pattern(None, NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), None)}
    assert {"Eigen licentie van de gemeente", "Bestuur", "Utrecht", "CSV"} <= labels


def test_catalogue_conforms_to_the_dcat_ap_nl_shapes(public_url):
    pyshacl = pytest.importorskip("pyshacl")
    import rdflib

    folder = publish_inventory([rich_dataset(i) for i in range(3)], [rich_distribution(i) for i in range(3)])
    data = rdflib.Graph().parse(data=(folder / "page-000001.ttl").read_text(encoding="utf-8"), format="turtle")
    shapes = rdflib.Graph()
    for path in shapes_files():
        shapes.parse(path, format="turtle")
    assert len(shapes) > 100, "no SHACL shapes found"
    conforms, _, text = pyshacl.validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    assert conforms, text
    # And the shapes do bite: a dataset without title, publisher, contact point and theme fails them.
    bare = {**rich_dataset(9), "title": None, "publisher": None, "publisher_uri": None, "contact_point": None, "theme": []}
    bad = rdflib.Graph().parse(data=catalog.serialise_dataset(bare).decode(), format="turtle")
    conforms, _, text = pyshacl.validate(bad, shacl_graph=shapes, inference="none", allow_warnings=True)
    assert not conforms and "dcat#contactPoint" in text.replace("dcat:contactPoint", "dcat#contactPoint")


def test_non_public_records_stay_out_of_the_public_exports(public_url, monkeypatch):
    hidden = rich_dataset(3, access_rights=f"{EU}access-right/NON_PUBLIC")
    donl = rich_dataset(4, access_rights="niet_publiek")
    folder = publish_inventory([rich_dataset(1), hidden, donl], [rich_distribution(1), rich_distribution(3)])
    release = folder.parent
    g = graph_of(folder / "page-000001.ttl")
    assert subjects_of_type(g, DCAT + "Dataset") == {f"{public_url}/datasets/{rich_dataset(1)['dataset_uid']}"}
    assert pq.read_table(release / "datasets.parquet").column("dataset_uid").to_pylist() == [rich_dataset(1)["dataset_uid"]]
    assert pq.read_table(release / "distributions.parquet").column("dataset_uid").to_pylist() == [rich_dataset(1)["dataset_uid"]]
    assert hidden["dataset_uid"] not in (release / "datasets.csv").read_text()
    assert exports.read_manifest()["tables"]["datasets"]["rows"] == 1
    # The store keeps them; a setting puts them into the exports too.
    monkeypatch.setenv("INVENTORY_EXPORT_NON_PUBLIC", "true")
    release = Path(export())
    assert pq.read_table(release / "datasets.parquet").num_rows == 3
    assert len(subjects_of_type(graph_of(release / "catalog" / "page-000001.ttl"), DCAT + "Dataset")) == 3


def test_the_catalogue_fingerprint_follows_what_decides_its_bytes():
    base = catalog.CatalogSettings(public_url="https://inventory.example.nl")
    same = catalog.inputs_fingerprint(base, "TRUE")
    assert catalog.inputs_fingerprint(catalog.CatalogSettings(public_url="https://inventory.example.nl"), "TRUE") == same
    # how many processes write the pages does not change them
    assert catalog.inputs_fingerprint(catalog.CatalogSettings(public_url="https://inventory.example.nl", workers=2),
                                      "TRUE") == same
    for other in (catalog.CatalogSettings(public_url="https://elders.example.nl"),
                  catalog.CatalogSettings(public_url="https://inventory.example.nl", page_size=500),
                  catalog.CatalogSettings(public_url="https://inventory.example.nl", formats=("ttl",)),
                  catalog.CatalogSettings(public_url="https://inventory.example.nl", contact_email="x@example.nl")):
        assert catalog.inputs_fingerprint(other, "TRUE") != same, other
    assert catalog.inputs_fingerprint(base, "NOT d.hidden") != same


@contextmanager
def serve(folder: Path, prefix: str):
    """The catalogue folder over HTTP on 127.0.0.1 (a free port), under ``prefix``."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            path = path.split("?", 1)[0]
            if not path.startswith(prefix + "/"):
                return str(folder / "__missing__")
            return str(folder / path[len(prefix) + 1:])

        def guess_type(self, path):
            return {".ttl": "text/turtle", ".jsonld": "application/ld+json", ".rdf": "application/rdf+xml"}.get(
                Path(str(path)).suffix, "application/octet-stream")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Every canonical column but the key, the provenance and the ``*_original`` columns: those hold the value
# as the source wrote it, and for the round trip the source is the catalogue, which writes the mapped value.
COMPARED = [c for c in model.DATASETS.names if not c.endswith("_original") and c not in (
    "dataset_uid", "source_id", "source_record_id", "harvested_at", "run_id", "raw_sha256")]
DIST_COMPARED = ["access_url", "download_url", "format", "media_type", "license", "rights", "byte_size", "title"]


@pytest.mark.parametrize("ext", ["ttl", "jsonld", "rdf"])
def test_round_trip_through_the_projects_own_dcat_harvester(ext, monkeypatch, tmp_path):
    """export -> served over HTTP -> the ``dcat`` kind -> the same canonical records."""
    monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    datasets = [rich_dataset(i) for i in range(4)]
    datasets.append(rich_dataset(4, contact_point="Klantcontactcentrum", spatial=None, temporal_end=None,
                                 keyword=[], language=[], frequency=None))
    distributions = [rich_distribution(i) for i in range(4)] + [
        rich_distribution(4, distribution_uid=model.stable_uid(SOURCE, "ds-4", "api"), access_url="https://api.rws.nl/v1",
                          download_url=None, format=None, media_type=None, byte_size=None, title=None)]
    with serve(tmp_path / "served", "/inventory") as base:
        monkeypatch.setenv(catalog.PUBLIC_URL_ENV, base + "/inventory")
        folder = publish_inventory(datasets, distributions)
        (tmp_path / "served").symlink_to(folder.parent)  # /inventory/catalog/... -> the release's catalog/
        source = SourceConfig(id="inventory-itself", kind="dcat", url=f"{base}/inventory/catalog/catalog.{ext}",
                              allow_private_network=True, options={"retries": 1, "backoff_factor": 0.01})
        report = harvest_source(source, "roundtrip")
    assert report["status"] == "complete" and report["pages"] == 3 and report["records_received"] == 5
    batch = Batch.for_run("inventory-itself", "roundtrip")
    harvested = {r["source_record_id"]: r for r in pq.read_table(batch.harvested("datasets")).to_pylist()}
    for row in datasets:
        back = harvested[f"{base}/inventory/datasets/{row['dataset_uid']}"]
        expected = {c: row.get(c) for c in COMPARED}
        got = {c: back.get(c) for c in COMPARED}
        for c in ("theme", "keyword", "language"):  # lists: none and empty are one
            expected[c], got[c] = list(expected[c] or []), list(got[c] or [])
        assert got == expected, row["dataset_uid"]
        assert back["license_original"] == row["license"]  # the catalogue writes the mapped licence
    by_dataset: dict[str, list[dict]] = {}
    for d in pq.read_table(batch.harvested("distributions")).to_pylist():
        by_dataset.setdefault(d["source_record_id"], []).append({c: d[c] for c in DIST_COMPARED})
    for dist in distributions:
        [back] = by_dataset[f"{base}/inventory/datasets/{dist['dataset_uid']}"]
        assert back == {c: dist[c] for c in DIST_COMPARED}


def test_data_services_follow_the_datasets(public_url, monkeypatch):
    monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    sc.make_batch("api-register", "run1", kind="api-register", quarantine=[],
                  data_services=[sc.data_service("api-register", 1),
                                 sc.data_service("api-register", 2, authentication=["none"])])
    folder = publish_inventory([rich_dataset(1)], [rich_distribution(1)])
    assert exports.read_manifest()["catalog"]["data_services"] == 2 and exports.read_manifest()["catalog"]["pages"] == 2
    pages = [graph_of(folder / "page-000001.ttl"), graph_of(folder / "page-000002.ttl")]
    services = {svc: g for g in pages for svc in subjects_of_type(g, DCAT + "DataService")}
    svc1 = f"{public_url}/data-services/{model.stable_uid('api-register', 'api-1')}"
    svc2 = f"{public_url}/data-services/{model.stable_uid('api-register', 'api-2')}"
    assert set(services) == {svc1, svc2}
    g1, g2 = services[svc1], services[svc2]
    assert objects(g1, svc1, DCAT + "endpointURL") == ["https://api.example.nl/1/v1"]
    assert objects(g1, svc1, DCAT + "endpointDescription") == ["https://api.example.nl/1/v1/openapi.json"]
    assert objects(g1, svc1, "http://purl.org/dc/terms/publisher") == ["https://identifier.overheid.nl/tooi/id/zbo/zb000143"]
    assert objects(g1, svc1, "http://purl.org/dc/terms/accessRights") == [f"{EU}access-right/RESTRICTED"]
    assert objects(g2, svc2, "http://purl.org/dc/terms/accessRights") == [f"{EU}access-right/PUBLIC"]
    assert svc1 in objects(g1, f"{public_url}/catalog", DCAT + "service")


class _ReadColumns(dict):
    """A row that notes which columns the mapping reads."""

    def __init__(self, row: dict, seen: set[str]):
        super().__init__(row)
        self.seen = seen

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)


def test_the_catalogue_selects_every_column_the_mapping_reads(public_url):
    """write_catalog fetches only DATASET_COLUMNS/DISTRIBUTION_COLUMNS/SERVICE_COLUMNS: a column the
    mapping reads but the list lacks would silently be None in the published catalogue."""
    config = catalog.CatalogSettings.from_env()
    read: dict[str, set[str]] = {"datasets": set(), "distributions": set(), "data_services": set()}
    # Rich rows take the value branches; rows holding only their keys take every ``or`` fallback.
    for ds, dist, svc in ((rich_dataset(1), rich_distribution(1), sc.data_service("api-register", 1)),
                          ({"dataset_uid": "d"}, {"distribution_uid": "x"}, {"service_uid": "s"})):
        w = catalog._Writer()
        catalog._write_dataset(w, _ReadColumns(ds, read["datasets"]),
                               [_ReadColumns(dist, read["distributions"])], config)
        catalog._write_data_service(w, _ReadColumns(svc, read["data_services"]), config)
    assert read["datasets"] <= set(catalog.DATASET_COLUMNS), read["datasets"] - set(catalog.DATASET_COLUMNS)
    assert read["distributions"] <= set(catalog.DISTRIBUTION_COLUMNS), \
        read["distributions"] - set(catalog.DISTRIBUTION_COLUMNS)
    assert read["data_services"] <= set(catalog.SERVICE_COLUMNS), read["data_services"] - set(catalog.SERVICE_COLUMNS)


def _canonical_pages(folder: Path, ext: str = "ttl") -> dict[str, list[str]]:
    """Each page file's triples with canonical blank node labels (they are numbered per export)."""
    pages = {}
    for path in sorted(folder.glob(f"page-*.{ext}")):
        dataset = pyoxigraph.Dataset(pyoxigraph.parse(path.read_bytes(), catalog.FORMATS[ext]))
        dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.UNSTABLE)
        pages[path.name] = sorted(map(str, dataset))
    return pages


def test_a_large_catalogue_is_read_range_by_range_into_the_same_pages(public_url, monkeypatch):
    """The catalogue reads the store in ranges of dataset_uid (two sorts of a whole million-dataset
    inventory ran DuckDB out of memory); the pages are the same as when it is read in one go,
    datasets whose distributions straddle nothing and non-public records left out in every range."""
    monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    datasets = [rich_dataset(i) for i in range(7)] + [rich_dataset(7, access_rights=f"{EU}access-right/NON_PUBLIC")]
    distributions = [rich_distribution(i) for i in range(8)] + [
        rich_distribution(i, distribution_uid=model.stable_uid(SOURCE, f"ds-{i}", "json"), format=f"{EU}file-type/JSON")
        for i in (0, 3, 6)]
    folder = publish_inventory(datasets, distributions)
    whole = _canonical_pages(folder)
    assert len(whole) == 4  # 7 public datasets, 2 a page

    ranges_used = []
    uid_ranges = catalog._uid_ranges
    monkeypatch.setattr(catalog, "_uid_ranges", lambda *a, **k: ranges_used.append(uid_ranges(*a, **k)) or ranges_used[-1])
    monkeypatch.setattr(catalog, "RANGE_DATASETS", 3)
    ranged = _canonical_pages(Path(export()) / "catalog")
    assert len(ranges_used[0]) == 3  # 7 datasets in ranges of 3, 3 and 1
    assert ranged == whole


def test_pages_written_by_worker_processes_are_those_written_in_process(public_url, monkeypatch):
    """Parsing and serialising the pages runs in worker processes (INVENTORY_CATALOG_WORKERS, by
    default one per core up to two) once a catalogue has MIN_PAGES pages; the files are the same."""
    monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    monkeypatch.setenv(rdf_pages.WORKERS_ENV, "0")
    started = []
    monkeypatch.setattr(catalog, "PageWriter", lambda workers, scratch: started.append(workers) or rdf_pages.PageWriter(workers, scratch))
    folder = publish_inventory([rich_dataset(i) for i in range(9)], [rich_distribution(i) for i in range(9)])
    in_process = {ext: _canonical_pages(folder, ext) for ext in catalog.FORMATS}
    assert len(in_process["ttl"]) == 5 >= rdf_pages.MIN_PAGES

    monkeypatch.setenv(rdf_pages.WORKERS_ENV, "2")
    by_workers = Path(export()) / "catalog"
    assert started == [0, 2]
    assert not list(by_workers.glob(".ntriples-*")), "the pages' scratch N-Triples are removed"
    assert {ext: _canonical_pages(by_workers, ext) for ext in catalog.FORMATS} == in_process
    for ext in catalog.FORMATS:
        assert (by_workers / f"catalog.{ext}").read_bytes() == (by_workers / catalog.page_file(1, ext)).read_bytes()


@pytest.mark.parametrize("workers", [0, 1])
def test_a_page_that_cannot_be_written_fails_the_export_naming_the_page(workers, tmp_path):
    """A page pyoxigraph refuses raises from the writer (worker or not) naming the page and the
    cause; the pages before it are written, and no worker process is left behind."""
    good = "<https://example.nl/a> <https://example.nl/p> \"x\" .\n"
    with pytest.raises(rdf_pages.PageWriteError, match=r"catalogue page 2 could not be written: SyntaxError"):
        with rdf_pages.PageWriter(workers, tmp_path) as writer:
            processes = [w.process for w in writer._workers]
            writer.submit(1, good, {"ttl": ""}, tmp_path, {"ttl": "1.ttl"})
            writer.submit(2, "<https://example.nl/a> <https://example.nl/p> .\n", {"ttl": ""}, tmp_path, {"ttl": "2.ttl"})
            writer.submit(3, good, {"ttl": ""}, tmp_path, {"ttl": "3.ttl"})
    assert b"example.nl/a" in (tmp_path / "1.ttl").read_bytes()
    assert len(processes) == workers and all(p.poll() is not None for p in processes)
    assert not list(tmp_path.glob(".ntriples-*"))


def test_a_page_writer_that_dies_fails_the_export_naming_the_page(tmp_path):
    with pytest.raises(rdf_pages.PageWriteError, match=r"catalogue page 1 could not be written: the page writer "
                                                       r"process ended \(exit code -9\)"):
        with rdf_pages.PageWriter(1, tmp_path) as writer:
            writer._workers[0].process.kill()
            writer._workers[0].process.wait()
            writer.submit(1, "<https://example.nl/a> <https://example.nl/p> \"x\" .\n", {"ttl": ""}, tmp_path,
                          {"ttl": "1.ttl"})
            writer.close()


def test_the_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(rdf_pages.WORKERS_ENV, raising=False)
    assert rdf_pages.workers_from_env() == min(2, os.cpu_count() or 1)
    monkeypatch.setenv(rdf_pages.WORKERS_ENV, "3")
    assert rdf_pages.workers_from_env() == 3
    monkeypatch.setenv(rdf_pages.WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="INVENTORY_CATALOG_WORKERS must be a whole number"):
        rdf_pages.workers_from_env()


def test_when_no_worker_can_start_the_pages_are_written_in_process(tmp_path, monkeypatch, caplog):
    """A container at its process limit: the catalogue is still written, only in one process, and
    the worker that did start is stopped."""
    started = []
    real_popen = worker_process.subprocess.Popen

    def second_refused(*args, **kwargs):
        if started:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        started.append(real_popen(*args, **kwargs))
        return started[-1]
    monkeypatch.setattr(worker_process.subprocess, "Popen", second_refused)
    with rdf_pages.PageWriter(2, tmp_path) as writer:
        writer.submit(1, "<https://example.nl/a> <https://example.nl/p> \"x\" .\n", {"ttl": ""}, tmp_path,
                      {"ttl": "p.ttl"})
    assert (tmp_path / "p.ttl").exists() and not list(tmp_path.glob(".ntriples-*"))
    assert len(started) == 1 and started[0].poll() is not None
    assert "worker processes could not start" in caplog.text
