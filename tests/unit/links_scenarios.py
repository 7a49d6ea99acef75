"""Cross-source links and the algorithm register export, as scenarios shared by the DuckDB and the
PostgreSQL store tests (``env`` is a ``publish_scenarios.StoreEnv``)."""

from __future__ import annotations

import csv
import json

from inventory import model
from inventory.publish import exports, open_store, publish
from tests.unit import publish_scenarios as sc

AGENCY, PORTAL, OTHER = "rws-dcat", "data-overheid-nl", "gemeente-utrecht"


def uid(source: str, n: int) -> str:
    return model.stable_uid(source, f"ds-{n}")


def publish_linked_inventory() -> None:
    """The agency's own DCAT feed and the national portal (CKAN) list some datasets twice, the way
    data.overheid.nl re-publishes agency catalogues: the portal's identifier is the agency's dataset
    IRI, or the landing pages agree, or only title and publisher do."""
    agency = [
        sc.dataset(AGENCY, 1, identifier="https://data.rws.nl/id/waterstanden", source_record_id="https://data.rws.nl/id/waterstanden",
                   title="Waterstanden", publisher="Rijkswaterstaat"),
        sc.dataset(AGENCY, 2, identifier="rws-2", landing_page="https://www.rws.nl/data/bruggen/",
                   title="Bruggen", publisher="Rijkswaterstaat"),
        sc.dataset(AGENCY, 3, identifier="rws-3", title="Vaarwegen: diepte (2024)", publisher="Rijkswaterstaat"),
        sc.dataset(AGENCY, 4, identifier="rws-4", title="Alleen bij RWS", publisher="Rijkswaterstaat"),
        # The same title twice in one catalogue: two datasets, never one cluster by that alone.
        sc.dataset(AGENCY, 5, identifier="rws-5", title="Meetnet", publisher="Rijkswaterstaat"),
        sc.dataset(AGENCY, 6, identifier="rws-6", title="Meetnet", publisher="Rijkswaterstaat"),
    ]
    portal = [
        sc.dataset(PORTAL, 1, identifier="http://DATA.rws.nl/id/waterstanden/", title="Waterstanden (kopie)",
                   publisher="RWS"),
        sc.dataset(PORTAL, 2, identifier="p-2", landing_page="http://rws.nl/data/bruggen", title="Bruggen NL",
                   publisher="RWS"),
        sc.dataset(PORTAL, 3, identifier="p-3", title="vaarwegen - DIEPTE 2024", publisher="rijkswaterstaat"),
        sc.dataset(PORTAL, 4, identifier="p-4", title="Alleen bij RWS", publisher="Gemeente Utrecht"),
    ]
    algorithms = [
        sc.algorithm("alg-reg", 1, source_data=["Gegevens uit https://data.rws.nl/id/waterstanden (dagelijks)", "BRP"]),
        sc.algorithm("alg-reg", 2, source_data=["Bruggen"]),
        sc.algorithm("alg-reg", 3, source_data=["niets bekends"]),
    ]
    sc.make_batch(AGENCY, "run1", kind="dcat", datasets=agency, distributions=[], quarantine=[])
    sc.make_batch(PORTAL, "run1", kind="ckan", datasets=portal, distributions=[], quarantine=[])
    sc.make_batch("alg-reg", "run1", kind="algoritmeregister", algorithms=algorithms, quarantine=[])
    publish()


def clusters(env) -> dict[str, tuple]:
    with open_store(env.kind) as st:
        return {r[0]: r[1:] for r in st.fetchall(
            "SELECT dataset_uid, cluster_id, matched_by, cluster_size FROM dataset_clusters")}


def scenario_same_dataset_through_two_catalogues_shares_a_cluster(env) -> None:
    publish_linked_inventory()
    c = clusters(env)
    assert len(c) == 10  # every dataset has its row
    for n, matched_by in ((1, "identifier"), (2, "landing_page"), (3, "title_publisher")):
        assert c[uid(AGENCY, n)][0] == c[uid(PORTAL, n)][0] == min(uid(AGENCY, n), uid(PORTAL, n))
        assert c[uid(PORTAL, n)][2] == 2
    assert c[uid(AGENCY, 1)][1] == c[uid(PORTAL, 1)][1] == "identifier"  # the portal's identifier is the agency's IRI
    assert c[uid(AGENCY, 2)][1] == c[uid(PORTAL, 2)][1] == "landing_page"
    assert c[uid(AGENCY, 3)][1] == "title_publisher"
    # Same title, other publisher: no link. Same title twice in one source: no link.
    assert c[uid(AGENCY, 4)] == (uid(AGENCY, 4), None, 1) and c[uid(PORTAL, 4)][2] == 1
    assert c[uid(AGENCY, 5)][0] != c[uid(AGENCY, 6)][0]


def scenario_algorithms_linked_to_the_datasets_their_source_data_names(env) -> None:
    publish_linked_inventory()
    with open_store(env.kind) as st:
        links = {(r[0], r[1]): r[2:] for r in st.fetchall(
            "SELECT algorithm_uid, dataset_uid, matched_by, source_data_entry FROM algorithm_datasets")}
    a1, a2 = model.stable_uid("alg-reg", "alg-1"), model.stable_uid("alg-reg", "alg-2")
    assert links[(a1, uid(AGENCY, 1))] == ("link", "Gegevens uit https://data.rws.nl/id/waterstanden (dagelijks)")
    assert links[(a1, uid(PORTAL, 1))][0] == "link"  # the portal's copy carries the same identifier
    assert links[(a2, uid(AGENCY, 2))] == ("title", "Bruggen")
    assert len(links) == 3
    # Derived tables are exported like the others.
    assert exports.read_manifest()["tables"]["algorithm_datasets"]["rows"] == 3
    assert exports.read_manifest()["tables"]["dataset_clusters"]["rows"] == 10


def scenario_algorithm_register_export_in_the_publication_standard(env) -> None:
    uk = sc.algorithm("atrs", 7, jurisdiction="UK", status="In gebruik", original_status="Live",
                      publication_category=None, original_category="Tier 2", language="ENG",
                      name="Parking permits triage", source_record_id="https://www.gov.uk/atrs/parking")
    nl = sc.algorithm("alg-reg", 1, status="In gebruik", original_status="In gebruik", language="NLD",
                      publication_category="Impactvolle algoritmes", source_record_id="12345670")
    sc.make_batch("atrs", "run1", kind="atrs", algorithms=[uk], quarantine=[])
    sc.make_batch("alg-reg", "run1", kind="algoritmeregister", algorithms=[nl], quarantine=[])
    publish()
    folder = exports.current_release() / "algorithm_register"
    records = {r["algorithm_uid"]: r for r in json.loads((folder / "algorithms.json").read_text(encoding="utf-8"))}
    first = list(records.values())[0]
    standard = ["name", "description_short", "organization", "category", "status", "begin_date", "end_date",
                "contact_email", "website", "publication_category", "url", "goal", "proportionality",
                "human_intervention", "risks", "lawful_basis", "lawful_basis_grouping", "process_index_url",
                "impacttoetsen_grouping", "impacttoetsen", "source_data", "source_data_grouping",
                "methods_and_models", "provider", "publiccode", "lang", "standard_version", "source_id", "tags", "lars"]
    assert list(first)[:30] == standard
    r_uk, r_nl = records[uk["algorithm_uid"]], records[nl["algorithm_uid"]]
    assert (r_uk["jurisdiction"], r_uk["original_status"], r_uk["original_category"]) == ("UK", "Live", "Tier 2")
    assert r_uk["lars"] is None and r_uk["register"] == "atrs" and r_uk["lang"] == "eng"
    assert (r_nl["lars"], r_nl["jurisdiction"], r_nl["publication_category"]) == ("12345670", "NL", "Impactvolle algoritmes")
    assert r_nl["source_data_grouping"] == ["BRP", "BAG"] and r_nl["source_data"] == "BRP; BAG"
    assert r_nl["impacttoetsen_grouping"] == ["DPIA"]
    with open(folder / "algorithms.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:30] == standard and len(rows) == 2
    by_uid = {r["algorithm_uid"]: r for r in rows}
    assert json.loads(by_uid[nl["algorithm_uid"]]["source_data_grouping"]) == ["BRP", "BAG"]
    assert by_uid[uk["algorithm_uid"]]["original_category"] == "Tier 2"
    assert exports.read_manifest()["algorithm_register"]["rows"] == 2


SCENARIOS = [
    scenario_same_dataset_through_two_catalogues_shares_a_cluster,
    scenario_algorithms_linked_to_the_datasets_their_source_data_names,
    scenario_algorithm_register_export_in_the_publication_standard,
]
