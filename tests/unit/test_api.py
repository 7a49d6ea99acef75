"""The inventory API (FastAPI TestClient over a published DuckDB store): filters, paging, one record with
its history and links, CSV download, the DCAT catalogue, OpenAPI, a missing record (404 with a sentence)
and bad parameters (422 naming the parameter); and that it never writes to the store."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from inventory import model, settings
from inventory.api.app import create_app
from inventory.publish import publish
from tests.unit import links_scenarios as links
from tests.unit import publish_scenarios as sc

EU = "http://publications.europa.eu/resource/authority/"
ENVI, TRAN = f"{EU}data-theme/ENVI", f"{EU}data-theme/TRAN"


@pytest.fixture
def client(data_dir) -> TestClient:
    """An inventory of two catalogues and a register, published to DuckDB, behind the API."""
    gem = [sc.dataset("gem-a", i, title=f"Parkeren zone {i}" if i < 3 else f"Afval {i}",
                      theme=[TRAN] if i < 3 else [ENVI], modified=f"2026-0{i + 1}-15",
                      publisher="Gemeente Voorbeeld", publisher_uri="https://identifier.overheid.nl/tooi/id/gemeente/gm9999")
           for i in range(7)]
    gem.append(sc.dataset("gem-a", 7, title="Geheim register", access_rights=f"{EU}access-right/NON_PUBLIC"))
    sc.make_batch("gem-a", "run1", datasets=gem, distributions=[sc.distribution("gem-a", i) for i in range(3)],
                  quarantine=[sc.quarantine_row("gem-a", "bad-1")])
    sc.make_batch("alg-reg", "run1", kind="algoritmeregister", quarantine=[], algorithms=[
        sc.algorithm("alg-reg", 1, status="In gebruik", source_data=["Parkeren zone 1"]),
        sc.algorithm("alg-reg", 2, status="Buiten gebruik", organization="Provincie Y"),
    ])
    publish()
    return TestClient(create_app())


def test_search_filters_and_paging(client):
    r = client.get("/datasets", params={"q": "parkeren"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and {d["title"] for d in body["items"]} == {"Parkeren zone 0", "Parkeren zone 1", "Parkeren zone 2"}
    assert client.get("/datasets", params={"theme": ENVI}).json()["total"] == 4
    assert client.get("/datasets", params={"publisher": "gemeente voorbeeld"}).json()["total"] == 7
    assert client.get("/datasets", params={"publisher": "https://identifier.overheid.nl/tooi/id/gemeente/gm9999"}).json()["total"] == 7
    assert client.get("/datasets", params={"modified_since": "2026-05-01"}).json()["total"] == 3  # May, June, July
    # changed_since: published in the inventory since then (all of them were, just now).
    assert client.get("/datasets", params={"changed_since": "2026-05-01"}).json()["total"] == 7
    assert client.get("/datasets", params={"changed_since": "2999-01-01T00:00:00Z"}).json()["total"] == 0
    assert client.get("/datasets", params={"source": "nope"}).json()["total"] == 0
    assert client.get("/algorithms", params={"status": "in gebruik"}).json()["total"] == 1
    assert client.get("/algorithms", params={"publisher": "Provincie Y"}).json()["items"][0]["algorithm_uid"] == \
        model.stable_uid("alg-reg", "alg-2")
    # Paging: 7 public datasets, 3 a page; every dataset once, in a stable order.
    seen = []
    url = "/datasets?per_page=3"
    pages = 0
    while url:
        page = client.get(url).json()
        assert page["total"] == 7 and page["pages"] == 3 and len(page["items"]) <= 3
        seen += [d["dataset_uid"] for d in page["items"]]
        url = page["links"].get("next")
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    assert client.get("/datasets", params={"page": 3, "per_page": 3}).json()["links"]["previous"].endswith("page=2")
    # No quality scores in this store: a rating filter finds nothing (and says so by an empty page).
    assert client.get("/datasets", params={"rating": "Good"}).json()["total"] == 0


def test_non_public_records_are_not_served(client):
    hidden = model.stable_uid("gem-a", "ds-7")
    assert client.get("/datasets", params={"q": "Geheim"}).json()["total"] == 0
    assert client.get(f"/datasets/{hidden}").status_code == 404


def test_one_record_with_history_distributions_and_links(client):
    uid = model.stable_uid("gem-a", "ds-1")
    r = client.get(f"/datasets/{uid}")
    assert r.status_code == 200
    body = r.json()
    assert body["record"]["title"] == "Parkeren zone 1" and body["record"]["keyword"] == ["a", "k1"]
    assert [d["distribution_uid"] for d in body["distributions"]] == [model.stable_uid("gem-a", "ds-1", "csv")]
    assert [a["algorithm_uid"] for a in body["algorithms"]] == [model.stable_uid("alg-reg", "alg-1")]
    assert isinstance(body["history"], list) and body["cluster"] == [] and "quality" in body
    alg = client.get(f"/algorithms/{model.stable_uid('alg-reg', 'alg-1')}").json()
    assert [d["dataset_uid"] for d in alg["datasets"]] == [uid]


def test_history_after_a_change(client):
    """A second publish that changes a record: the record shows its versions when the store keeps them."""
    uid = model.stable_uid("gem-a", "ds-1")
    sc.make_batch("gem-a", "run2", status="partial", datasets=[sc.dataset("gem-a", 1, "run2", title="Parkeren, herzien")])
    publish()
    body = client.get(f"/datasets/{uid}").json()
    assert body["record"]["title"] == "Parkeren, herzien"
    versions = body["history"]  # newest first; the old one closed when the new one was published
    assert [v["title"] for v in versions] == ["Parkeren, herzien", "Parkeren zone 1"]
    assert versions[0]["valid_to"] is None and versions[1]["valid_to"] == versions[0]["valid_from"]
    # The change is in the change log the page shows, naming the field.
    changes = client.get("/summary").json()["changes"]
    assert any(c["record_uid"] == uid and c["change"] == "changed" and "title" in c["fields"] for c in changes)


def test_missing_record_is_a_404_with_a_sentence(client):
    r = client.get("/datasets/does-not-exist")
    assert r.status_code == 404
    assert r.json()["detail"].startswith("No dataset with dataset_uid 'does-not-exist' in the published inventory")
    assert client.get("/algorithms/nope").json()["detail"].startswith("No algorithm with algorithm_uid 'nope'")


@pytest.mark.parametrize("params, parameter", [
    ({"per_page": 0}, "per_page"),
    ({"per_page": 501}, "per_page"),
    ({"page": "two"}, "page"),
    ({"rating": "Great"}, "rating"),
    ({"changed_since": "last tuesday"}, "changed_since"),
    ({"modified_since": "2026-13-45"}, "modified_since"),
    ({"format": "xlsx"}, "format"),
])
def test_bad_parameters_are_a_422_naming_the_parameter(client, params, parameter):
    r = client.get("/datasets", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["parameter"] == parameter and body["detail"].startswith(f"{parameter}")


def test_csv_download_has_every_matching_record(client):
    r = client.get("/datasets", params={"format": "csv", "theme": ENVI})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4 and list(rows[0])[:3] == ["dataset_uid", "identifier", "title"]
    assert {row["theme"] for row in rows} == {f'["{ENVI}"]'}


def test_catalogue_summary_and_openapi(client):
    r = client.get("/catalog", headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
    assert b"dcat:Catalog" in r.content or b"ns/dcat#Catalog" in r.content
    assert client.get("/catalog/page-000001.jsonld").headers["content-type"].startswith("application/ld+json")
    assert client.get("/catalog/../../secret.ttl").status_code == 404
    summary = client.get("/summary").json()
    # The overview counts what the store holds, and says how much of it the public API leaves out.
    assert summary["totals"]["datasets"] == 8 and summary["non_public"] == {"datasets": 1}
    spec = client.get("/openapi.json").json()
    assert {"/datasets", "/datasets/{uid}", "/algorithms", "/data-services", "/catalog", "/summary"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/datasets"]["get"]["parameters"]}
    assert {"q", "publisher", "theme", "rating", "status", "changed_since", "modified_since", "page", "per_page",
            "format"} <= names


def test_the_api_reads_the_store_read_only(client):
    before = settings.duckdb_path().stat().st_mtime_ns
    for path in ("/datasets", "/summary", "/ui/", f"/datasets/{model.stable_uid('gem-a', 'ds-1')}"):
        assert client.get(path).status_code == 200
    assert settings.duckdb_path().stat().st_mtime_ns == before


def test_nothing_published_yet_is_a_503_that_says_so(data_dir):
    client = TestClient(create_app())
    r = client.get("/datasets")
    assert r.status_code == 503 and "nothing has been published yet" in r.json()["detail"]
    assert "nothing has been published yet" in client.get("/ui/").text.lower()


def test_links_appear_in_the_api(data_dir):
    links.publish_linked_inventory()
    client = TestClient(create_app())
    uid = links.uid(links.AGENCY, 1)
    cluster = client.get(f"/datasets/{uid}").json()["cluster"]
    assert cluster == [{"dataset_uid": links.uid(links.PORTAL, 1), "source_id": links.PORTAL, "matched_by": "identifier"}]


def test_rating_filter_and_quality_use_the_mqa_scores(client):
    from inventory import pipeline
    from inventory.publish import open_store

    pipeline.score_quality()
    with open_store() as st:
        ratings = dict(st.fetchall("SELECT dataset_uid, rating FROM quality_scores"))
    uid = model.stable_uid("gem-a", "ds-1")
    rating = ratings[uid]
    expected = sum(1 for u, r in ratings.items() if r == rating and u != model.stable_uid("gem-a", "ds-7"))
    found = client.get("/datasets", params={"rating": rating, "per_page": 500}).json()
    assert found["total"] == expected and uid in {d["dataset_uid"] for d in found["items"]}
    assert client.get(f"/datasets/{uid}").json()["quality"]["rating"] == rating
    summary = client.get("/summary").json()
    assert sum(summary["ratings"].values()) == len(ratings)


def test_data_services_search_and_record(data_dir):
    """The API register's services (modelled on developer.overheid.nl's API register records)."""
    sc.make_batch("api-register", "run1", kind="api-register", quarantine=[], data_services=[
        sc.data_service("api-register", 1, title="BAG API Individuele Bevragingen"),
        sc.data_service("api-register", 2, title="BRK Bevragen", lifecycle_status="deprecated"),
    ])
    publish()
    client = TestClient(create_app())
    assert client.get("/data-services", params={"q": "bag"}).json()["total"] == 1
    deprecated = client.get("/data-services", params={"status": "deprecated"}).json()
    assert [s["title"] for s in deprecated["items"]] == ["BRK Bevragen"]
    uid = model.stable_uid("api-register", "api-1")
    body = client.get(f"/data-services/{uid}").json()
    assert body["record"]["authentication"] == ["api_key", "mutual_tls"] and body["history"][0]["valid_to"] is None
    assert client.get("/data-services/nope").json()["detail"].startswith("No data service with service_uid 'nope'")
