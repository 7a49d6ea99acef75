"""``omb-ai-inventory``: the US Federal agency AI use case inventories (OMB), as CSV.

The source ``url`` points at one inventory CSV (an agency's own file or OMB's consolidated one, e.g.
the 2024 consolidated inventory on GitHub). The whole file is one page; each row is one algorithm
(``jurisdiction = "US"``), and the reported total is the number of rows in the file.

Three schemas, told apart by the header (the optional ``year`` option pins one, and a header that
does not fit it fails the page with a message saying so):

``2025`` (M-25-21)
    snake_case names: ``id``, ``use_case_name``, ``agency``/``agency_name``, ``agency_bureau``,
    ``development_stage``, ``is_high_impact``, ``problem_solved``, ``benefits``, ``operational_date``,
    ``hi_assessment_completed``, ``pia_url``, ``link_to_data`` ... (see the 2025 data dictionary).
``2024`` (M-24-10)
    numbered question columns: ``2_use_case_name``, ``3_agency``, ``3_abr``, ``4_bureau``,
    ``11_purpose_benefits``, ``16_dev_stage``, ``17_impact_type``, ``20_date_implemented``,
    ``21_date_retired``, ``52_impact_assessment``, ``54_key_risks`` ... (``1_use_case_id`` when the
    agency kept it; agencies may drop the id column from public files).
``2023`` (EO 13960)
    spreadsheet headings: ``Use Case ID``, ``Agency``, ``Bureau``, ``Use Case Name``,
    ``Summary of Use Case``, ``Stage of Development``, ``Contact Email`` ...

Headers are matched after normalising (case, spacing and punctuation do not matter, and a numbered
column also answers to its name without the number), so a re-exported file still parses.

Real-world mess handled here:

* **Encoding**: a UTF-8 BOM (or a UTF-16 BOM) is honoured; a body that is not valid UTF-8 is read as
  Windows-1252 (what Excel on Windows writes), and that fallback is recorded: a warning in the log
  naming the source and the first undecodable byte, and an entry in :func:`decoding_notes`.
* **List cells** written as Python-list strings (``"['a) Direct usability testing', 'Other']"``,
  parsed with :func:`ast.literal_eval`, which evaluates literals only, never code, on cells of bounded
  size) or as ``;``/line-separated lists (``"https://a; https://b"``).
* **Controlled values with stray case and white space** (``Safety-impacting``, ``Safety-Impacting``,
  ``"Rights-Impacting\\n"``): the value is kept as written (trimmed) in ``original_status`` /
  ``original_category`` and mapped through the crosswalk (:mod:`inventory.crosswalk`), which ignores
  case and spacing; a value the crosswalk does not know leaves the canonical field empty.

Record id: the inventory's use case id; when the file has none, the agency (abbreviation), the
bureau and the use case name joined with `` / ``. Dates (``7/1/2023``, ``2025-09-08 00:00:00``)
become ``YYYY-MM`` as the publication standard writes them; an unreadable date is kept as written
(validation reports its format).
"""

from __future__ import annotations

import ast
import codecs
import csv
import io
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import crosswalk
from ..config import SourceConfig
from ..landing import LandedPage, PageRequest
from ..model import empty_row, stable_uid
from .base import Item, PageError, ParseContext, ParsedPage, Refusal, provenance, text, text_list

log = logging.getLogger(__name__)

RECORD_TABLE = "algorithms"
REGISTER = "omb-ai-inventory"
YEARS = (2023, 2024, 2025)
DESCRIPTION_SHORT_MAX = 400  # the publication standard 1.0's maximum for description_short
LIST_CELL_MAX = 100_000  # longer "list" cells are not given to literal_eval
csv.field_size_limit(16 * 1024 * 1024)  # long narrative cells exist; the default 128 KiB is too small

# For each schema: canonical intermediate field -> header names that carry it (normalised, see _norm).
SCHEMAS: dict[int, dict[str, tuple[str, ...]]] = {
    2025: {
        "id": ("id", "use_case_id"),
        "name": ("use_case_name",),
        "agency": ("agency_name",),
        "agency_abbr": ("agency", "agency_abbreviation"),
        "bureau": ("agency_bureau", "bureau_component", "bureau"),
        "stage": ("development_stage", "stage_of_development"),
        "impact": ("is_high_impact",),
        "purpose": ("problem_solved",),
        "benefits": ("benefits",),
        "outputs": ("system_outputs",),
        "begin": ("operational_date",),
        "contact": ("contact_email", "email_address"),
        "risks": ("hi_potential_impacts",),
        "data": ("data_description",),
        "data_links": ("link_to_data",),
        "assessment_done": ("hi_assessment_completed",),
        "pia": ("pia_url",),
    },
    2024: {
        "id": ("use_case_id",),
        "name": ("use_case_name",),
        "agency": ("agency",),
        "agency_abbr": ("abr", "agency_abbreviation"),
        "bureau": ("bureau",),
        "stage": ("dev_stage", "stage_of_development"),
        "impact": ("impact_type",),
        "purpose": ("purpose_benefits",),
        "outputs": ("outputs",),
        "begin": ("date_implemented",),
        "end": ("date_retired",),
        "risks": ("key_risks",),
        "data": ("agency_data",),
        "assessment_done": ("impact_assessment",),
    },
    2023: {
        "id": ("use_case_id",),
        "name": ("use_case_name", "title"),
        "agency": ("agency", "department"),
        "bureau": ("bureau", "bureau_component", "bureau_department", "office"),
        "stage": ("stage_of_development", "development_stage", "lifecycle"),
        "purpose": ("summary_of_use_case", "use_case_summary", "summary"),
        "begin": ("date_implemented",),
        "end": ("date_retired",),
        "contact": ("contact_email", "email"),
    },
}
# The columns that tell a schema apart (checked newest first).
DISTINCTIVE: dict[int, tuple[str, ...]] = {
    2025: ("is_high_impact", "problem_solved", "hi_assessment_completed", "operational_date"),
    2024: ("impact_type", "dev_stage", "purpose_benefits"),
    2023: ("summary_of_use_case", "use_case_summary", "stage_of_development", "summary"),
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_NUMBER_PREFIX = re.compile(r"^[0-9]+_")
_URL = re.compile(r"https?://[^\s;,<>\"']+")


def _norm(header: str) -> str:
    return _NON_ALNUM.sub("_", header.replace("\ufeff", "").strip().lower()).strip("_")


# ------------------------------------------------------------------------------------- decoding

_notes_lock = threading.Lock()
_decoding_notes: list[dict[str, Any]] = []


def decoding_notes() -> list[dict[str, Any]]:
    """Every page of this process that was not valid UTF-8 and was read as Windows-1252."""
    with _notes_lock:
        return list(_decoding_notes)


def reset_decoding_notes() -> None:
    with _notes_lock:
        _decoding_notes.clear()


def decode_csv(source: SourceConfig, page: LandedPage) -> tuple[str, str]:
    """The body as text and the encoding it was read with (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``)."""
    body = page.body
    if body.startswith(codecs.BOM_UTF16_LE) or body.startswith(codecs.BOM_UTF16_BE):
        try:
            return body.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise PageError(f"{page.url}: the body starts with a UTF-16 byte order mark but is not UTF-16 ({exc.reason} at byte {exc.start})") from None
    encoding = "utf-8"
    if body.startswith(codecs.BOM_UTF8):
        body, encoding = body[len(codecs.BOM_UTF8):], "utf-8-sig"
    try:
        return body.decode("utf-8"), encoding
    except UnicodeDecodeError as exc:
        bad = body[exc.start: exc.start + 1]
        note = {
            "source_id": source.id,
            "url": page.url,
            "raw_sha256": page.sha256,
            "encoding": "cp1252",
            "reason": f"not valid UTF-8 (byte 0x{bad.hex()} at offset {exc.start}); read as Windows-1252",
        }
        with _notes_lock:
            _decoding_notes.append(note)
        log.warning("%s: %s is %s", source.id, page.url, note["reason"])
        # The five bytes Windows-1252 leaves undefined become U+FFFD rather than failing the file.
        return body.decode("cp1252", errors="replace"), "cp1252"


# ----------------------------------------------------------------------------------- cell helpers


def list_cell(value: Any) -> list[str]:
    """A list-valued cell: a Python-list string, or ``;``/line-separated items; empty items dropped."""
    t = text(value)
    if not t:
        return []
    if t.startswith("[") and t.endswith("]"):
        parsed: Any = None
        if len(t) <= LIST_CELL_MAX:
            try:
                parsed = ast.literal_eval(t)  # literals only: never evaluates code
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                parsed = None
        if isinstance(parsed, (list, tuple)):
            return text_list(str(v) for v in parsed if v is not None and not isinstance(v, (list, dict, tuple)))
        t = t[1:-1]  # a list-looking cell that is not a valid literal: split its inside
        return text_list(p.strip().strip("'\"") for p in re.split(r"[;,\n]", t))
    return text_list(re.split(r"\s*;\s*|[\r\n]+", t))


def url_list(value: Any) -> list[str]:
    """The web addresses in a list cell (also when they are only separated by spaces)."""
    out: list[str] = []
    for part in list_cell(value):
        for url in _URL.findall(part):
            url = url.rstrip(".)")
            if url not in out:
                out.append(url)
    return out


def month(value: Any) -> str | None:
    """``YYYY-MM`` of a date as the inventories write it; the value as written when it is not a date."""
    t = text(value)
    if not t:
        return None
    for fmt in ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%m/%Y", "%Y-%m", "%B %Y", "%b %Y"):
        try:
            return datetime.strptime(t, fmt).strftime("%Y-%m")
        except ValueError:
            continue
    if re.fullmatch(r"[0-9]{4}", t):
        return t
    return t


def _truncate(value: str | None, limit: int = DESCRIPTION_SHORT_MAX) -> str | None:
    if not value or len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def _yes(value: Any) -> bool:
    t = (text(value) or "").lower()
    return t in ("yes", "y", "true", "a) yes") or t.startswith("yes ") or t.startswith("yes,") or t.startswith("yes -")


# -------------------------------------------------------------------------------------- schema


@dataclass
class Schema:
    year: int
    columns: dict[str, int]  # intermediate field -> column index

    def get(self, row: list[str], field: str) -> str | None:
        index = self.columns.get(field)
        return text(row[index]) if index is not None and index < len(row) else None

    def raw(self, row: list[str], field: str) -> str | None:
        index = self.columns.get(field)
        return row[index] if index is not None and index < len(row) else None


def detect_schema(header: list[str], year: Any = None, *, where: str = "the CSV") -> Schema:
    """The schema of a header row (``year`` pins it); a PageError when the header fits none."""
    names = [_norm(h) for h in header]
    stripped = [_NUMBER_PREFIX.sub("", n) for n in names]

    def index_of(candidates: tuple[str, ...]) -> int | None:
        for candidate in candidates:
            for pool in (names, stripped):
                if candidate in pool:
                    return pool.index(candidate)
        return None

    def fits(y: int) -> bool:
        return index_of(SCHEMAS[y]["name"]) is not None and any(index_of((c,)) is not None for c in DISTINCTIVE[y])

    if year not in (None, ""):
        try:
            pinned = int(year)
        except (TypeError, ValueError):
            pinned = -1
        if pinned not in YEARS:
            raise PageError(f"option year must be one of {', '.join(map(str, YEARS))}, not {year!r}")
        if not fits(pinned):
            found = next((y for y in sorted(YEARS, reverse=True) if fits(y)), None)
            hint = f"; it looks like the {found} schema" if found else ""
            raise PageError(f"{where}: option year is {pinned} but the header is not the {pinned} inventory schema{hint}")
        chosen = pinned
    else:
        chosen = next((y for y in sorted(YEARS, reverse=True) if fits(y)), None)
        if chosen is None:
            shown = ", ".join(repr(h) for h in header[:12]) + (", ..." if len(header) > 12 else "")
            raise PageError(f"{where}: the header is not an OMB AI use case inventory of 2023, 2024 or 2025 (columns: {shown})")
    columns = {field: i for field, candidates in SCHEMAS[chosen].items() if (i := index_of(candidates)) is not None}
    if chosen == 2025 and "agency" not in columns and "agency_abbr" in columns:
        columns["agency"] = columns["agency_abbr"]  # only the abbreviation was published
    return Schema(chosen, columns)


# ---------------------------------------------------------------------------------------- paging


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    return PageRequest("GET", source.url, context={"year": source.option("year")})


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    content_type = (page.header("Content-Type") or "").lower()
    head = page.body[:512].lstrip().lower()
    if "html" in content_type or head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        raise PageError(f"{page.url} answered HTTP {page.status} with an HTML page where a CSV file was expected")
    if page.status >= 400:
        raise PageError(f"{page.url} answered HTTP {page.status}")
    if not page.body.strip():
        raise PageError(f"{page.url} answered HTTP {page.status} with an empty body where a CSV file was expected")
    content, _encoding = decode_csv(source, page)
    try:
        rows = list(csv.reader(io.StringIO(content, newline="")))
    except csv.Error as exc:
        raise PageError(f"{page.url}: not a readable CSV file ({exc})") from None
    if not rows:
        raise PageError(f"{page.url}: the CSV file has no header row")
    schema = detect_schema(rows[0], source.option("year"), where=page.url)
    data = [r for r in rows[1:] if any(cell.strip() for cell in r)]  # blank lines are no entries
    # A file has no count of its own to reconcile against, so a body cut off in transfer must be
    # caught here: it ends without a line break in a row shorter than the header.
    if data and not content.endswith(("\n", "\r")) and len(data[-1]) < len(rows[0]):
        raise PageError(
            f"{page.url}: the CSV file ends in the middle of row {len(data) + 1} ({len(data[-1])} of {len(rows[0])} "
            f"columns, no final line break); the download looks cut off"
        )
    items = (map_row(source, schema, row, page, ctx) for row in data)
    return ParsedPage(reported_total=len(data), next_request=None, entries=len(data), items=items)


# --------------------------------------------------------------------------------------- mapping


def record_id(schema: Schema, row: list[str]) -> str | None:
    ident = schema.get(row, "id")
    if ident:
        return ident
    name = schema.get(row, "name")
    if not name:
        return None
    agency = schema.get(row, "agency_abbr") or schema.get(row, "agency")
    return " / ".join(p for p in (agency, schema.get(row, "bureau"), name) if p)


def _assessments(source: SourceConfig, schema: Schema, row: list[str]) -> list[str]:
    found: list[str] = []
    if _yes(schema.get(row, "assessment_done")):
        found.append(crosswalk.map_assessment(REGISTER, "AI impact assessment", source_id=source.id))
    for url in url_list(schema.raw(row, "pia")):
        found.append(f"{crosswalk.map_assessment(REGISTER, 'Privacy Impact Assessment', source_id=source.id)} <{url}>")
    return text_list(found)


def map_row(source: SourceConfig, schema: Schema, row: list[str], page: LandedPage, ctx: ParseContext) -> Item | Refusal:
    ident = record_id(schema, row)
    if not ident:
        return Refusal(None, "use_case_identified", "source_record_id", None,
                       "the row has neither a use case id nor a use case name", dict(enumerate(row)))
    stage = schema.get(row, "stage")
    impact = schema.get(row, "impact")
    purpose = schema.get(row, "purpose")
    goal = "\n\n".join(p for p in (purpose, schema.get(row, "benefits")) if p) or None
    source_data = text_list([schema.get(row, "data")] + url_list(schema.raw(row, "data_links")))
    row_out = empty_row("algorithms")
    row_out.update(
        algorithm_uid=stable_uid(source.id, ident),
        name=schema.get(row, "name"),
        description_short=_truncate(purpose or schema.get(row, "outputs")),
        organization=schema.get(row, "agency") or schema.get(row, "agency_abbr") or source.publisher,
        status=crosswalk.map_value(REGISTER, "status", stage, source_id=source.id),
        publication_category=crosswalk.map_value(REGISTER, "publication_category", impact, source_id=source.id),
        goal=goal,
        lawful_basis=None,
        impact_assessments=_assessments(source, schema, row),
        source_data=source_data,
        human_intervention=None,
        risks=schema.get(row, "risks"),
        begin_date=month(schema.get(row, "begin")),
        end_date=month(schema.get(row, "end")),
        contact_email=schema.get(row, "contact"),
        website=None,
        standard_version=f"OMB {schema.year}",
        jurisdiction="US",
        language="eng",
        original_status=stage,
        original_category=impact,
        **provenance(source.id, ident, ctx, page),
    )
    return Item(record_id=ident, row=row_out)
