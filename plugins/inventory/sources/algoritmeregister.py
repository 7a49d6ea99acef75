"""``algoritmeregister``: the Dutch Algorithm Register (algoritmes.overheid.nl).

Listing: ``POST <url>/api/algoritme/<NLD|ENG|FRY>`` with a JSON body ``{page, limit, search,
filters}``; ``page`` starts at 1 and ``limit`` is at most 100. Records of every publication
standard version are read (0.1 free text, 0.3.x/0.4.x, 1.0) and mapped onto the 1.0 field names;
the value as the register wrote it stays in ``original_status`` / ``original_category``.

Each record's ``lars`` (the register's 8-digit key) is checked: a lars whose check digit is wrong
is refused here (it is no register key at all), a malformed one goes on to validation, which
quarantines it on its format. Ids starting with ``C`` are concept records the register does not
publish: they are never requested and never published.

Option ``bulk: true`` reads the register's bulk export instead of paging the API: one ``GET
<url>/api/downloads/site-data/json`` answering ``{algoritme_versions, organisation_details}``. Only the
versions in the chosen ``language`` are read (a version's ``language``, else its ``lang`` text), each
mapped exactly as a listing record is (:func:`map_record`), so the canonical records are the same as
the paged API's; the reported total is the number of versions in that language. ``search`` and
``filters`` do not apply to the export.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import SourceConfig
from ..landing import LandedPage, PageRequest
from ..model import empty_row, stable_uid
from .base import Item, PageError, ParseContext, ParsedPage, Refusal, decode_json, provenance, text, text_list

RECORD_TABLE = "algorithms"
MAX_LIMIT = 100
LANGUAGES = ("NLD", "ENG", "FRY")

STATUSES_1_0 = ("In ontwikkeling", "In gebruik", "Buiten gebruik")

# Older standard versions wrote status as free text, in Dutch or English. Only unambiguous
# spellings are mapped; anything else is kept as original_status with status left empty.
LEGACY_STATUS = {
    "actief": "In gebruik",
    "active": "In gebruik",
    "in gebruik": "In gebruik",
    "in use": "In gebruik",
    "in ontwikkeling": "In ontwikkeling",
    "in development": "In ontwikkeling",
    "ontwikkeling": "In ontwikkeling",
    "buiten gebruik": "Buiten gebruik",
    "inactief": "Buiten gebruik",
    "inactive": "Buiten gebruik",
    "out of use": "Buiten gebruik",
    "niet actief": "Buiten gebruik",
}

_LARS = re.compile(r"^[0-9]{8}$")


def lars_check_digit_ok(lars: str) -> bool:
    """The register's check: digits weighted 8..1 sum to a multiple of 11 (an 'elfproef')."""
    return bool(_LARS.match(lars)) and sum(int(d) * (8 - i) for i, d in enumerate(lars)) % 11 == 0


def _language(source: SourceConfig) -> str:
    lang = str(source.option("language", "NLD")).upper()
    if lang not in LANGUAGES:
        raise PageError(f"source {source.id}: option language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    return lang


def _request(source: SourceConfig, page_no: int) -> PageRequest:
    limit = max(1, min(int(source.option("limit", MAX_LIMIT)), MAX_LIMIT))
    url = f"{source.url.rstrip('/')}/api/algoritme/{_language(source)}"
    body = {"page": page_no, "limit": limit, "search": source.option("search", ""), "filters": source.option("filters", {})}
    return PageRequest("POST", url, json_body=body, context={"page": page_no, "limit": limit})


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    if _bulk(source):
        return PageRequest("GET", f"{source.url.rstrip('/')}/api/downloads/site-data/json", context={"bulk": True})
    return _request(source, 1)


def _bulk(source: SourceConfig) -> bool:
    value = source.option("bulk", False)
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "1", "on")


# The language of an export version: its ``language`` code, else its ``lang`` as the version wrote it.
_LANG_NAMES = {"nld": "NLD", "nederlands": "NLD", "eng": "ENG", "english": "ENG", "engels": "ENG", "fry": "FRY", "frysk": "FRY", "fries": "FRY"}


def _version_language(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    code = text(record.get("language"))
    if code and code.upper() in LANGUAGES:
        return code.upper()
    return _LANG_NAMES.get((text(record.get("lang")) or "").lower())


def _parse_bulk(source: SourceConfig, page: LandedPage, ctx: ParseContext, body: Any) -> ParsedPage:
    if not isinstance(body, dict) or not isinstance(body.get("algoritme_versions"), list):
        raise PageError(f"{page.url}: not an Algoritmeregister bulk export (no 'algoritme_versions' list)")
    lang = _language(source)
    versions = [r for r in body["algoritme_versions"] if _version_language(r) == lang]
    items = (map_record(source, r, page, ctx) for r in versions)
    return ParsedPage(items=items, reported_total=len(versions), next_request=None, entries=len(versions))


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    body = decode_json(page)
    if page.status >= 400:
        detail = body.get("detail") if isinstance(body, dict) else None
        raise PageError(f"{page.url} answered HTTP {page.status}: {detail or 'error'}")
    if page.request.context.get("bulk"):
        return _parse_bulk(source, page, ctx, body)
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise PageError(f"{page.url}: not an Algoritmeregister listing (no 'results' list)")
    records = body["results"]
    total = body.get("total_count", body.get("count"))
    reported = int(total) if isinstance(total, int) or (isinstance(total, str) and total.isdigit()) else None

    items = (map_record(source, r, page, ctx) for r in records)  # mapped lazily, as the loop consumes them
    page_no = int(page.request.context["page"])
    limit = int(page.request.context["limit"])
    more = bool(records) and reported is not None and page_no * limit < reported
    return ParsedPage(items=items, reported_total=reported, next_request=_request(source, page_no + 1) if more else None, entries=len(records))


def _titles(grouping: Any) -> list[str]:
    """Titles (with their link) of a 1.0 ``*_grouping`` list of ``{title, link}`` objects."""
    out = []
    for entry in grouping if isinstance(grouping, list) else []:
        if isinstance(entry, dict):
            title, link = text(entry.get("title")), text(entry.get("link"))
            label = f"{title} <{link}>" if title and link else title or link
            if label:
                out.append(label)
        elif text(entry):
            out.append(text(entry))
    return out


def _split_text(value: Any) -> list[str]:
    t = text(value)
    if not t:
        return []
    return [p.strip() for p in re.split(r"[\r\n]+", t) if p.strip()]


def _legacy_assessments(record: dict[str, Any]) -> list[str]:
    found = []
    for field, label in (("iama", "IAMA"), ("dpia", "DPIA")):
        value = record.get(field)
        if value is True or (isinstance(value, str) and value.strip().lower() in ("ja", "yes", "true")):
            found.append(label)
    return found


def map_record(source: SourceConfig, record: Any, page: LandedPage, ctx: ParseContext) -> Item | Refusal:
    if not isinstance(record, dict):
        return Refusal(None, "record_is_object", None, repr(record)[:200], "a listing entry is not a JSON object", record)
    lars = text(record.get("lars"))
    if not lars:
        return Refusal(None, "lars_present", "lars", None, "the record has no lars (the register's key)", record)
    if lars.upper().startswith("C"):
        return Refusal(lars, "lars_not_concept", "lars", lars, "ids starting with C are unpublished concept records", record)
    if _LARS.match(lars) and not lars_check_digit_ok(lars):
        return Refusal(lars, "lars_check_digit", "lars", lars, "the lars check digit is wrong (weighted sum not divisible by 11)", record)

    version = text(record.get("standard_version")) or "0.1"
    is_1_0 = version.startswith("1.")
    raw_status = text(record.get("status"))
    if is_1_0:
        status = raw_status
    else:
        status = LEGACY_STATUS.get((raw_status or "").lower())
    raw_category = text(record.get("publication_category"))
    assessments = _titles(record.get("impacttoetsen_grouping")) or _split_text(record.get("impacttoetsen")) or _legacy_assessments(record)
    source_data = _titles(record.get("source_data_grouping")) or _split_text(record.get("source_data"))
    description_short = text(record.get("description_short")) or (text(record.get("description")) or "")[:400] or None

    row = empty_row("algorithms")
    row.update(
        algorithm_uid=stable_uid(source.id, lars),
        name=text(record.get("name")),
        description_short=description_short,
        organization=text(record.get("organization")) or source.publisher,
        status=status,
        publication_category=raw_category,
        goal=text(record.get("goal")),
        lawful_basis=text(record.get("lawful_basis")),
        impact_assessments=assessments,
        source_data=source_data,
        human_intervention=text(record.get("human_intervention")),
        risks=text(record.get("risks")),
        begin_date=text(record.get("begin_date")),
        end_date=text(record.get("end_date")),
        contact_email=text(record.get("contact_email")),
        website=text(record.get("website")),
        standard_version=version,
        jurisdiction="NL",
        language=text(record.get("lang")) or text(record.get("language")),
        original_status=raw_status,
        original_category=raw_category or text(record.get("type")),
        **provenance(source.id, lars, ctx, page),
    )
    row["impact_assessments"] = text_list(row["impact_assessments"])
    return Item(record_id=lars, row=row)
