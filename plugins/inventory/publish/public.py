"""What the public exports leave out: metadata its publisher marked non-public.

A dataset (or data service) whose ``access_rights`` is non-public — the EU access-right
``NON_PUBLIC`` in any spelling, or DCAT-AP-DONL's ``niet_publiek`` — stays in the store (the data
team and the stewards see it) but is kept out of everything published for the world: the Parquet and
CSV exports, the DCAT catalogue and the algorithm register export. Its distributions and its links in
the derived tables go with it, and so do quarantine rows whose record says non-public.

``$INVENTORY_EXPORT_NON_PUBLIC=true`` publishes them too (for an internal mirror of the inventory).
"""

from __future__ import annotations

import os

from .store import Store, q

INCLUDE_ENV = "INVENTORY_EXPORT_NON_PUBLIC"
# Lower-case spellings of "non-public" as access rights: the EU authority list's code (URI or bare),
# its label, and DCAT-AP-DONL's Dutch code.
NON_PUBLIC_CODES = ("non_public", "non-public", "niet_publiek", "niet-publiek", "niet publiek", "nonpublic")


def include_non_public() -> bool:
    """True when ``$INVENTORY_EXPORT_NON_PUBLIC`` says non-public records go into the public exports."""
    value = (os.environ.get(INCLUDE_ENV) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{INCLUDE_ENV} must be true or false, not {value!r}")


def is_non_public(access_rights: str | None) -> bool:
    """The Python twin of :func:`non_public_sql`."""
    if not access_rights:
        return False
    text = access_rights.strip().lower().rstrip("/")
    return any(text == code or text.endswith("/" + code) or text.endswith("#" + code) for code in NON_PUBLIC_CODES)


def non_public_sql(expr: str) -> str:
    """SQL true when the access-rights value ``expr`` says non-public (false for NULL)."""
    text = f"rtrim(lower(trim({expr})), '/')"
    tests = []
    for code in NON_PUBLIC_CODES:
        tests += [f"{text} = '{code}'", f"{text} LIKE '%/{code}'", f"{text} LIKE '%#{code}'"]
    return f"coalesce(({' OR '.join(tests)}), FALSE)"


def public_dataset_sql(alias: str = "d") -> str:
    """SQL over ``datasets AS alias``: true for a dataset that may be published."""
    return f"NOT {non_public_sql(alias + '.' + q('access_rights'))}"


def export_filters(store: Store) -> dict[str, str]:
    """Per exported table, the condition its public rows meet ({} when non-public records are included)."""
    if include_non_public():
        return {}
    hidden_datasets = f"SELECT d.dataset_uid FROM datasets d WHERE NOT ({public_dataset_sql('d')})"
    filters = {
        "datasets": public_dataset_sql("datasets"),
        "distributions": f"dataset_uid NOT IN ({hidden_datasets})",
        # A refused record's JSON may be non-public metadata too: on the safe side, any mention goes.
        "quarantine": " AND ".join(f"coalesce(lower({q('record')}) NOT LIKE '%{code}%', TRUE)"
                                   for code in NON_PUBLIC_CODES),
    }
    for table in ("data_services",):
        if store.table_exists(table) and "access_rights" in store.table_columns(table):
            filters[table] = f"NOT {non_public_sql(q(table) + '.' + q('access_rights'))}"
    if store.table_exists("changes") and "record_uid" in store.table_columns("changes"):
        filters["changes"] = f"NOT (record_type = 'datasets' AND record_uid IN ({hidden_datasets}))"
    for table in ("dataset_clusters", "algorithm_datasets", "quality_scores"):
        if store.table_exists(table) and "dataset_uid" in store.table_columns(table):
            filters[table] = f"dataset_uid NOT IN ({hidden_datasets})"
    return filters
