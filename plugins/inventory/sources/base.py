"""What a source module gives the shared harvest loop, and helpers every module may use.

A source kind is a module with:

``RECORD_TABLE``
    the canonical table its listing items become (``datasets``, ``data_services`` or ``algorithms``); the seen-set
    and the reconciled count are kept on it.
``first_request(source) -> PageRequest``
    the first page of the listing.
``parse_page(source, page, ctx) -> ParsedPage``
    turn one landed page into canonical rows, refusals, the total the server reported, and the
    next request (or None at the end).

Paging safety, retries, landing, validation and publishing live in the shared layers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from ..landing import LandedPage, PageRequest


class PageError(ValueError):
    """A page that cannot be used (wrong content, malformed body, an error envelope)."""


@dataclass(frozen=True)
class ParseContext:
    """Provenance stamped on every record of a batch."""

    run_id: str
    harvested_at: datetime


@dataclass
class Item:
    """One listing item: its canonical row, and rows of child tables (e.g. distributions)."""

    record_id: str
    row: dict[str, Any]
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The value an incremental run continues from (CKAN: metadata_modified), if the kind has one.
    watermark: str | None = None


@dataclass
class Refusal:
    """A listing item refused while parsing (it goes to quarantine with the reason)."""

    record_id: str | None
    check: str
    column: str | None
    observed: str | None
    reason: str
    raw: Any


@dataclass
class Columns:
    """A page's records column by column: the fast path for catalogues of a million datasets.

    Building one list per column costs a fraction of building a dict per record and transposing it
    for Parquet. ``tables[record_table]`` rows line up with ``record_ids``; every other (child)
    table has ``parents``: for each of its rows, the index in ``record_ids`` of its record.
    """

    record_ids: list[str]
    tables: dict[str, dict[str, list[Any]]]
    parents: dict[str, list[int]] = field(default_factory=dict)
    watermarks: list[str | None] | None = None
    refusals: list[Refusal] = field(default_factory=list)

    def row(self, table: str, index: int) -> dict[str, Any]:
        return {name: values[index] for name, values in self.tables[table].items()}

    def select(self, keep: list[int]) -> "Columns":
        """Only the records at these indexes, and their child rows."""
        position = {old: new for new, old in enumerate(keep)}
        tables: dict[str, dict[str, list[Any]]] = {}
        parents: dict[str, list[int]] = {}
        for name, columns in self.tables.items():
            if name in self.parents:
                rows = [i for i, parent in enumerate(self.parents[name]) if parent in position]
                parents[name] = [position[self.parents[name][i]] for i in rows]
            else:
                rows = keep
            tables[name] = {col: [values[i] for i in rows] for col, values in columns.items()}
        watermarks = [self.watermarks[i] for i in keep] if self.watermarks is not None else None
        return Columns([self.record_ids[i] for i in keep], tables, parents, watermarks, self.refusals)


@dataclass
class ParsedPage:
    reported_total: int | None
    next_request: PageRequest | None
    # How many listing entries the page held (records + refusals), for reconciliation.
    entries: int = 0
    # The page's records, either row by row or column by column. Both may be lazy (a generator, a
    # function), so that mapping overlaps with the fetch of the next page.
    items: Iterable[Item | Refusal] = ()
    columns: Callable[[], Columns] | None = None


def decode_json(page: LandedPage) -> Any:
    """The page body as JSON, or a PageError that says what came back and where it broke."""
    content_type = (page.header("Content-Type") or "").lower()
    head = page.body[:512].lstrip().lower()
    if "html" in content_type or head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        raise PageError(f"{page.url} answered HTTP {page.status} with an HTML page where JSON was expected")
    if not page.body.strip():
        raise PageError(f"{page.url} answered HTTP {page.status} with an empty body where JSON was expected")
    charset = page.charset
    try:
        if charset is None or charset.codec in ("utf-8", "utf-8-sig", "ascii"):
            return json.loads(page.body)  # bytes: the json module reads UTF-8 (with or without BOM) itself
        return json.loads(page.text())
    except json.JSONDecodeError as exc:
        codec = charset.codec if charset is not None else "utf-8"
        offset = len(exc.doc[: exc.pos].encode(codec, errors="replace"))
        raise PageError(
            f"{page.url}: body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} "
            f"(byte {offset:,} of {len(page.body):,}); the page is not used"
        ) from None
    except UnicodeDecodeError as exc:
        raise PageError(f"{page.url}: body is not valid {exc.encoding} ({exc.reason} at byte {exc.start})") from None


def text(value: Any) -> str | None:
    """A trimmed string, or None for empty/missing values (and for lists and objects)."""
    if type(value) is str:  # the common case first: this runs for every field of every record
        return value.strip() or None
    if value is None or isinstance(value, (list, dict)):
        return None
    return str(value).strip() or None


def text_list(values: Iterable[Any] | Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for v in values:
        t = text(v)
        if t and t not in out:
            out.append(t)
    return out


def provenance(source_id: str, record_id: str, ctx: ParseContext, page: LandedPage) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "source_record_id": record_id,
        "harvested_at": ctx.harvested_at,
        "run_id": ctx.run_id,
        "raw_sha256": page.sha256,
    }
