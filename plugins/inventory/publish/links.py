"""Cross-source links, derived at every publish: ``dataset_clusters`` and ``algorithm_datasets``.

``dataset_clusters`` (one row per dataset)
    The same dataset harvested through two catalogues (an agency's own DCAT feed and the national
    portal, say) gets one ``cluster_id``. Two datasets of *different* sources are linked when

    1. a link key matches: the identifier, the dataset URI (the record id at the source when it is a
       URL) or the landing page of one equals any of these of the other, compared without scheme,
       ``www.``, case and trailing slashes (``matched_by``: ``identifier``, ``uri``, ``landing_page``);
    2. else the normalised title (lower case, only letters and digits) and publisher (its URI, else
       its name) are equal (``matched_by``: ``title_publisher``).

    Links are transitive (a cluster is a connected component, found by propagating the smallest
    ``dataset_uid`` along shared keys until nothing changes). ``cluster_id`` is that smallest
    ``dataset_uid``; a dataset that matches nothing is a cluster of its own (``matched_by`` NULL,
    ``cluster_size`` 1). Two records of one source are never linked by a key they share alone: one
    catalogue listing a title twice is two datasets.

``algorithm_datasets`` (one row per link)
    An algorithm whose ``source_data`` names or links a dataset of the inventory: an entry that is,
    or contains, a URL matching a dataset's link key (``matched_by`` ``link``), or an entry whose
    normalised text is a dataset's normalised title (``title``). ``source_data_entry`` is the
    entry as the register wrote it.

Everything is set-based SQL (the same for DuckDB and PostgreSQL), run inside the publish transaction,
so readers see links that belong to the records they see.
"""

from __future__ import annotations

import logging

from .store import Store, q

log = logging.getLogger("inventory.publish")

MAX_ROUNDS = 20
LINK_KINDS = {1: "identifier", 2: "uri", 3: "landing_page", 4: "title_publisher"}
TEMP = ("_link_keys", "_link_shared", "_link_edges", "_link_label", "_link_klabel", "_link_new")


def link_key(expr: str) -> str:
    """SQL: a URL as a comparable key (no scheme, no ``www.``, lower case, no trailing slash)."""
    return f"regexp_replace(lower(trim({expr})), '^[a-z]+://(www\\.)?|/+$', '', 'g')"


def text_key(expr: str) -> str:
    """SQL: text as a comparable key (lower case, runs of anything but letters and digits as one space)."""
    return f"trim(regexp_replace(lower({expr}), '[^a-z0-9]+', ' ', 'g'))"


def _drop(store: Store) -> None:
    for name in TEMP:
        store.execute(f"DROP TABLE IF EXISTS {q(name)}")


def refresh(store: Store) -> dict[str, int]:
    """Recompute both tables from the published records (inside the caller's transaction)."""
    _drop(store)
    url = "^[a-z][a-z0-9+.-]*://"
    store.execute(f"""
        CREATE TEMPORARY TABLE _link_keys AS
        SELECT dataset_uid, source_id, k, r FROM (
            SELECT dataset_uid, source_id, {link_key('identifier')} AS k, 1 AS r FROM datasets
            UNION ALL
            SELECT dataset_uid, source_id, {link_key('source_record_id')}, 2 FROM datasets
             WHERE {store.regex_test('lower(source_record_id)', url)}
            UNION ALL
            SELECT dataset_uid, source_id, {link_key('landing_page')}, 3 FROM datasets
            UNION ALL
            SELECT dataset_uid, source_id,
                   't:' || {text_key('title')} || '|' || coalesce({link_key('publisher_uri')}, {text_key('publisher')}), 4
              FROM datasets WHERE {text_key('title')} <> '' AND coalesce(publisher_uri, publisher) IS NOT NULL
        ) keys WHERE k IS NOT NULL AND k <> ''""")
    store.execute("""
        CREATE TEMPORARY TABLE _link_shared AS
        SELECT k FROM _link_keys GROUP BY k HAVING count(DISTINCT source_id) > 1""")
    store.execute("""
        CREATE TEMPORARY TABLE _link_edges AS
        SELECT DISTINCT e.dataset_uid, e.k, e.r FROM _link_keys e JOIN _link_shared s ON s.k = e.k""")
    store.execute("""
        CREATE TEMPORARY TABLE _link_label AS
        SELECT DISTINCT dataset_uid, dataset_uid AS label FROM _link_edges""")
    rounds = 0
    while True:
        rounds += 1
        store.execute("""
            CREATE TEMPORARY TABLE _link_klabel AS
            SELECT e.k, min(l.label) AS label FROM _link_edges e JOIN _link_label l ON l.dataset_uid = e.dataset_uid
            GROUP BY e.k""")
        store.execute("""
            CREATE TEMPORARY TABLE _link_new AS
            SELECT e.dataset_uid, min(kl.label) AS label FROM _link_edges e JOIN _link_klabel kl ON kl.k = e.k
            GROUP BY e.dataset_uid""")
        changed = int(store.scalar(
            "SELECT count(*) FROM _link_new n JOIN _link_label l ON l.dataset_uid = n.dataset_uid "
            "WHERE n.label <> l.label") or 0)
        store.execute("DROP TABLE _link_label")
        store.execute("DROP TABLE _link_klabel")
        store.execute("ALTER TABLE _link_new RENAME TO _link_label")
        if not changed:
            break
        if rounds >= MAX_ROUNDS:
            log.warning("dataset_clusters: links still spreading after %d rounds; clusters may be split", rounds)
            break
    kinds = " ".join(f"WHEN {r} THEN '{name}'" for r, name in LINK_KINDS.items())
    store.execute("DELETE FROM dataset_clusters")
    store.execute(f"""
        INSERT INTO dataset_clusters (dataset_uid, source_id, cluster_id, matched_by, cluster_size)
        SELECT d.dataset_uid, d.source_id, coalesce(l.label, d.dataset_uid),
               CASE m.r {kinds} END,
               count(*) OVER (PARTITION BY coalesce(l.label, d.dataset_uid))
          FROM datasets d
          LEFT JOIN _link_label l ON l.dataset_uid = d.dataset_uid
          LEFT JOIN (SELECT dataset_uid, min(r) AS r FROM _link_edges GROUP BY dataset_uid) m
                 ON m.dataset_uid = d.dataset_uid""")

    # -- algorithms -> datasets
    store.execute("DELETE FROM algorithm_datasets")
    entries = "(SELECT algorithm_uid, unnest(source_data) AS entry FROM algorithms) a"
    found_url = store.regex_first("a.entry", "[a-z][a-z0-9+.-]*://[^ ,;()<>\"]+")
    store.execute(f"""
        INSERT INTO algorithm_datasets (algorithm_uid, dataset_uid, matched_by, source_data_entry)
        SELECT algorithm_uid, dataset_uid, min(matched_by), min(entry) FROM (
            SELECT a.algorithm_uid, k.dataset_uid, 'link' AS matched_by, a.entry
              FROM {entries}
              JOIN _link_keys k ON k.r < 4 AND k.k = {link_key(found_url)}
            UNION ALL
            SELECT a.algorithm_uid, d.dataset_uid, 'title', a.entry
              FROM {entries}
              JOIN datasets d ON {text_key('d.title')} = {text_key('a.entry')}
             WHERE length({text_key('a.entry')}) >= 3
        ) found GROUP BY algorithm_uid, dataset_uid""")
    _drop(store)
    clusters = int(store.scalar("SELECT count(*) FROM dataset_clusters WHERE cluster_size > 1") or 0)
    links = int(store.scalar("SELECT count(*) FROM algorithm_datasets") or 0)
    log.info("links: %d datasets in clusters across sources (%d rounds), %d algorithm-dataset links",
             clusters, rounds, links)
    return {"clustered_datasets": clusters, "algorithm_datasets": links, "rounds": rounds}
