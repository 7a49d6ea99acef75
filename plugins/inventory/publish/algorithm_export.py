"""The algorithms of every register in the field names of the Dutch publication standard 1.0.

``algorithms.json`` and ``algorithms.csv`` in each export release (folder ``algorithm_register/``)
hold one record per algorithm of every register the inventory harvests (the Algoritmeregister, the UK
ATRS, the US federal AI inventories…), with the standard's 30 fields in the standard's order (see the
Algoritmeregister's ``publicatiestandaard`` 1.0), so a consumer reads a foreign register the way they
read the Dutch one. After them, what the standard has no field for: ``jurisdiction`` (NL, UK, US…),
``original_status`` and ``original_category`` (the value exactly as the register wrote it, beside the
mapped ``status`` and ``publication_category``), and the inventory's own provenance (``algorithm_uid``,
``register``: the source id, ``register_record_id``, ``harvested_at``).

A standard field the canonical model does not carry is present and empty (``null`` in JSON, an empty
CSV field), so every file has the same columns. In CSV a list is a JSON array, as in the other
exports. Rows stream from the store: the files are written without holding the table.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .store import Store, cols

# The publication standard 1.0's fields, in its order -> how each is filled from an ``algorithms`` row.
def _column(name: str) -> Callable[[dict], Any]:
    return lambda row: row.get(name)


def _joined(name: str) -> Callable[[dict], Any]:
    return lambda row: "; ".join(row.get(name) or []) or None


def _lars(row: dict) -> Any:
    return row.get("source_record_id") if row.get("jurisdiction") in (None, "NL") else None


def _lang(row: dict) -> Any:
    return (row.get("language") or "").lower() or None


def _none(row: dict) -> None:
    return None


STANDARD_FIELDS: dict[str, Callable[[dict], Any]] = {
    "name": _column("name"),
    "description_short": _column("description_short"),
    "organization": _column("organization"),
    "category": lambda row: list(row.get("category") or []),
    "status": _column("status"),
    "begin_date": _column("begin_date"),
    "end_date": _column("end_date"),
    "contact_email": _column("contact_email"),
    "website": _column("website"),
    "publication_category": _column("publication_category"),
    "url": _column("url"),
    "goal": _column("goal"),
    "proportionality": _column("proportionality"),
    "human_intervention": _column("human_intervention"),
    "risks": _column("risks"),
    "lawful_basis": _column("lawful_basis"),
    "lawful_basis_grouping": lambda row: list(row.get("lawful_basis_grouping") or []),
    "process_index_url": _column("process_index_url"),
    "impacttoetsen_grouping": lambda row: list(row.get("impact_assessments") or []),
    "impacttoetsen": _joined("impact_assessments"),
    "source_data": _joined("source_data"),
    "source_data_grouping": lambda row: list(row.get("source_data") or []),
    "methods_and_models": _column("methods_and_models"),
    "provider": _column("provider"),
    "publiccode": _column("publiccode"),
    "lang": _lang,
    "standard_version": _column("standard_version"),
    "source_id": _none,  # the organisation's own id for the algorithm: not harvested
    "tags": _column("tags"),
    "lars": _lars,
}
EXTRA_FIELDS: dict[str, Callable[[dict], Any]] = {
    "jurisdiction": _column("jurisdiction"),
    "original_status": _column("original_status"),
    "original_category": _column("original_category"),
    "algorithm_uid": _column("algorithm_uid"),
    "register": _column("source_id"),
    "register_record_id": _column("source_record_id"),
    "harvested_at": lambda row: row["harvested_at"].isoformat() if isinstance(row.get("harvested_at"), datetime)
    else row.get("harvested_at"),
}
FIELDS = {**STANDARD_FIELDS, **EXTRA_FIELDS}
BATCH_ROWS = 5_000


def standard_record(row: dict[str, Any]) -> dict[str, Any]:
    """One ``algorithms`` row in the publication standard's field names (then the extra fields)."""
    return {name: fill(row) for name, fill in FIELDS.items()}


def write(store: Store, folder: Path, *, where: str | None = None) -> dict[str, Any]:
    """Write ``algorithms.json`` and ``algorithms.csv`` into ``folder``; returns the row count."""
    folder.mkdir(parents=True, exist_ok=True)
    names = store.table_columns("algorithms")
    sql = f"SELECT {cols(names)} FROM algorithms{f' WHERE {where}' if where else ''} ORDER BY algorithm_uid"
    rows = 0
    with open(folder / "algorithms.json", "w", encoding="utf-8") as js, \
            open(folder / "algorithms.csv", "w", encoding="utf-8", newline="") as cs:
        table = csv.writer(cs)
        table.writerow(FIELDS)
        js.write("[")
        for batch in store.stream(sql, BATCH_ROWS):
            for values in batch:
                record = standard_record(dict(zip(names, values)))
                js.write(("," if rows else "") + "\n" + json.dumps(record, ensure_ascii=False))
                table.writerow([json.dumps(v, ensure_ascii=False) if isinstance(v, list) else ("" if v is None else v)
                                for v in record.values()])
                rows += 1
        js.write("\n]\n")
    return {"rows": rows, "json": "algorithm_register/algorithms.json", "csv": "algorithm_register/algorithms.csv",
            "standard": "Algoritmeregister publicatiestandaard 1.0"}
