"""What a source module gives the shared harvest loop, and helpers every module may use.

A source kind is a module with:

``RECORD_TABLE``
    the canonical table its listing items become (``datasets`` or ``algorithms``); the seen-set
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
from typing import Any, Iterable

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
class ParsedPage:
    items: list[Item | Refusal]
    reported_total: int | None
    next_request: PageRequest | None
    # How many listing entries the page held (items + refusals), for empty-page detection.
    entries: int = 0


def decode_json(page: LandedPage) -> Any:
    """The page body as JSON, or a PageError that says what came back and where it broke."""
    content_type = (page.header("Content-Type") or "").lower()
    head = page.body[:512].lstrip().lower()
    if "html" in content_type or head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        raise PageError(f"{page.url} answered HTTP {page.status} with an HTML page where JSON was expected")
    if not page.body.strip():
        raise PageError(f"{page.url} answered HTTP {page.status} with an empty body where JSON was expected")
    try:
        return json.loads(page.body)
    except UnicodeDecodeError:
        try:
            return json.loads(page.body.decode("cp1252"))
        except ValueError as exc:
            raise PageError(f"{page.url}: body is not valid JSON ({exc})") from None
    except json.JSONDecodeError as exc:
        raise PageError(
            f"{page.url}: body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} "
            f"(byte {exc.pos} of {len(page.body)})"
        ) from None


def text(value: Any) -> str | None:
    """A trimmed string, or None for empty/missing values."""
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return None
    s = str(value).strip()
    return s or None


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
