"""``atrs``: the UK Algorithmic Transparency Recording Standard, as published on GOV.UK.

Listing: the GOV.UK search API, ``GET <url>/api/search.json`` with
``filter_content_store_document_type=algorithmic_transparency_record&count=<count>&start=<N>``
(``count`` option, default 100, at most 1000), ``order=public_timestamp`` (oldest first: a record
published while we page lands at the end instead of shifting the pages we have not read yet) and
``fields`` for the finder's facets. ``total`` is the reported total; paging moves ``start`` on by
the number of results received.

Details: for each search result, the GOV.UK content API, ``GET <url>/api/content<link>``: the
record's ``details.metadata`` (the same facets, as slugs) and ``details.body``, the record itself as
HTML (the ATRS template's sections: name, description, owner, detailed description, benefit, human
decisions and review, data, risks, impact assessments ...). The narrative is kept: the body's
sections go to ``goal`` (detailed description and benefit), ``human_intervention``, ``risks``,
``source_data``, ``lawful_basis`` (when a section names it), ``contact_email``, ``website`` and
``impact_assessments``; ``description_short`` is the record's one-sentence description, cut at 400
characters (the publication standard's maximum) on a word boundary.

How detail fetches go through the shared loop (the contract has no "extra requests" channel, and
``harvest.py`` is not changed for one kind): the next request of a search page is the content
request of its first result, the next request of that content page is the content request of the
second result, and so on; after the last result of a page comes the next search page. Each content
request carries in its ``context`` what the module needs to go on: the facet labels the search
result gave for this record (organisation and phase labels are only in the search API; the content
API has slugs), the links still pending on this page with their labels, and where the next search
page starts. So every request is made by the shared HTTP client (retries, address checks, size caps)
and every response is landed before it is parsed, replay after a failed attempt works page by page,
and the loop's seen-set, request-repeat check and count reconciliation apply unchanged:

* a search page counts its results as listing entries (so the reported ``total`` reconciles against
  search results, whether or not each detail arrived); a content page counts none and yields the
  record as one :class:`Item`;
* a content request that fails (404/410 for a record withdrawn between search and detail, an error
  after retries) breaks the listing off as ``partial`` through the loop, as any failed page does:
  nothing is deleted, the next run catches up;
* the same link twice on one search page is refused once (quarantined with the reason); the same
  link on two search pages (the listing shifted while paged) makes the loop stop on the repeated
  request, so the run ends ``partial``, as a drifting listing should;
* the context grows with the pending links of one page only (at most ``count``), never with the
  whole listing.

Option ``details: false`` skips the content API: records then carry the search API's facets and
description only.

Mapping: ``jurisdiction = "UK"``; ``source_record_id`` is the record's GOV.UK path
(``/algorithmic-transparency-records/<slug>``); ``organization`` is the organisation facet's label
(else the body's organisation section, else the part of the title before the colon);
``status`` is the phase facet through the crosswalk (:mod:`inventory.crosswalk`; the facet's
label, or its slug, stays in ``original_status``; an unmapped phase leaves ``status`` empty);
``standard_version`` is ``ATRS <version>``. The ATRS has no risk classification, so
``publication_category`` stays empty. The publication date facet has no canonical column (the
standard's ``begin_date`` is the month the tool went into use, which the ATRS does not record as
such); ``begin_date`` / ``end_date`` are filled only from a body line labelled as the date of
deployment or retirement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any, Iterable
from urllib.parse import urljoin

from .. import crosswalk
from ..config import SourceConfig
from ..landing import LandedPage, PageRequest
from ..model import empty_row, stable_uid
from .base import Item, PageError, ParseContext, ParsedPage, Refusal, decode_json, provenance, text, text_list

RECORD_TABLE = "algorithms"
REGISTER = "atrs"
DOCUMENT_TYPE = "algorithmic_transparency_record"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
DESCRIPTION_SHORT_MAX = 400
FACET = "algorithmic_transparency_record_"
SEARCH_FIELDS = (
    "title", "description", "link", "public_timestamp", "content_id",
    FACET + "organisation", FACET + "organisation_type", FACET + "phase",
    FACET + "date_published", FACET + "atrs_version",
)
_LINK = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$")
_NUMBERING = re.compile(r"^\s*(?:tier\s*[0-9]+\s*(?:information)?\s*[-:.]?\s*)?(?:[0-9]+(?:\.[0-9]+)*\s*[-.:)]?\s*)?", re.IGNORECASE)


# ------------------------------------------------------------------------------------- requests


def _count(source: SourceConfig) -> int:
    try:
        return max(1, min(int(source.option("count", DEFAULT_COUNT)), MAX_COUNT))
    except (TypeError, ValueError):
        raise PageError(f"source {source.id}: option count must be a whole number, not {source.option('count')!r}") from None


def _base(source: SourceConfig) -> str:
    return source.url.rstrip("/")


def _search_request(source: SourceConfig, start: int) -> PageRequest:
    params = {
        "filter_content_store_document_type": DOCUMENT_TYPE,
        "count": _count(source),
        "start": start,
        "order": "public_timestamp",
        "fields": list(SEARCH_FIELDS),
    }
    return PageRequest("GET", f"{_base(source)}/api/search.json", params=params, context={"kind": "search", "start": start})


def _content_request(source: SourceConfig, summary: dict[str, Any], pending: list[dict[str, Any]], next_start: int | None) -> PageRequest:
    context = {"kind": "content", "record": summary, "pending": pending, "next_start": next_start}
    return PageRequest("GET", f"{_base(source)}/api/content{summary['link']}", context=context)


def _after(source: SourceConfig, pending: list[dict[str, Any]], next_start: int | None) -> PageRequest | None:
    """The request after a record: the next pending record's content, else the next search page."""
    if pending:
        return _content_request(source, pending[0], pending[1:], next_start)
    return _search_request(source, next_start) if next_start is not None else None


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    return _search_request(source, 0)


def _details(source: SourceConfig) -> bool:
    value = source.option("details", True)
    return value if isinstance(value, bool) else str(value).strip().lower() not in ("false", "no", "0", "off")


# --------------------------------------------------------------------------------------- parsing


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    body = decode_json(page)
    if page.status >= 400:
        message = body.get("error") if isinstance(body, dict) else None
        if isinstance(message, dict):
            message = message.get("message")
        raise PageError(f"{page.url} answered HTTP {page.status}: {message or 'error'}")
    if page.request.context.get("kind") == "content":
        return _parse_content(source, page, ctx, body)
    return _parse_search(source, page, ctx, body)


def _parse_search(source: SourceConfig, page: LandedPage, ctx: ParseContext, body: Any) -> ParsedPage:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise PageError(f"{page.url}: not a GOV.UK search API answer (no 'results' list)")
    results = body["results"]
    total = body.get("total")
    reported = int(total) if isinstance(total, int) or (isinstance(total, str) and total.isdigit()) else None
    start = int(page.request.context.get("start", 0))
    if reported is not None:
        next_start = start + len(results) if results and start + len(results) < reported else None
    else:  # no total given: go on while pages come back full
        next_start = start + len(results) if results and len(results) >= int(page.request.params.get("count", 1)) else None

    refusals: list[Refusal] = []
    summaries: list[dict[str, Any]] = []
    on_page: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            refusals.append(Refusal(None, "record_is_object", None, repr(result)[:200], "a search result is not a JSON object", result))
            continue
        link = text(result.get("link"))
        if not link or not _LINK.match(link) or "/../" in link or link.endswith("/.."):
            refusals.append(Refusal(None, "link_is_govuk_path", "source_record_id", link,
                                    "the search result has no GOV.UK path (link) to fetch the record from", result))
            continue
        if link in on_page:
            # record_id None: the first occurrence (still to be fetched) must not count as seen yet.
            refusals.append(Refusal(None, "record_id_unique_in_listing", "source_record_id", link,
                                    "the same record appeared twice on one search page; the first one was kept", result))
            continue
        on_page.add(link)
        summaries.append({
            "link": link,
            "title": text(result.get("title")),
            "description": text(result.get("description")),
            "organisation": _label(result.get(FACET + "organisation")),
            "phase": _label(result.get(FACET + "phase")),
            "atrs_version": _label(result.get(FACET + "atrs_version")),
        })

    if not _details(source):
        items: list[Item | Refusal] = [*refusals, *(map_record(source, s, None, page, ctx) for s in summaries)]
        next_request = _search_request(source, next_start) if next_start is not None else None
        return ParsedPage(reported_total=reported, next_request=next_request, entries=len(results), items=items)
    return ParsedPage(reported_total=reported, next_request=_after(source, summaries, next_start), entries=len(results), items=refusals)


def _parse_content(source: SourceConfig, page: LandedPage, ctx: ParseContext, body: Any) -> ParsedPage:
    context = page.request.context
    summary = context["record"]
    next_request = _after(source, list(context.get("pending") or []), context.get("next_start"))
    if not isinstance(body, dict) or not (isinstance(body.get("details"), dict) or body.get("base_path")):
        raise PageError(f"{page.url}: not a GOV.UK content item (no 'details' or 'base_path')")
    document_type = text(body.get("document_type"))
    if document_type and document_type != DOCUMENT_TYPE:
        refusal = Refusal(summary["link"], "document_type", "source_record_id", document_type,
                          f"the content item is a {document_type}, not an algorithmic transparency record", body)
        return ParsedPage(reported_total=None, next_request=next_request, entries=0, items=[refusal])
    return ParsedPage(reported_total=None, next_request=next_request, entries=0, items=[map_record(source, summary, body, page, ctx)])


# ------------------------------------------------------------------------------------ body (HTML)


def _label(value: Any) -> str | None:
    """A facet value as the search API writes it: a string, a ``{value, label}`` object, or a list."""
    if isinstance(value, list):
        labels = [label for v in value if (label := _label(v))]
        return ", ".join(labels) or None
    if isinstance(value, dict):
        return text(value.get("label")) or text(value.get("title")) or text(value.get("value"))
    return text(value)


@dataclass
class Block:
    text: str
    hrefs: list[str] = field(default_factory=list)
    label: str | None = None  # "Assessment title" of "<strong>Assessment title:</strong> ..."
    item: bool = False  # a list item


@dataclass
class Section:
    heading: str
    key: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        """The section as text; a labelled line keeps its label ("Mitigation: ...")."""
        return "\n\n".join(f"{b.label}: {b.text}" if b.label else b.text for b in self.blocks if b.text) or None


def heading_key(heading: str) -> str:
    """``"2.3 - Benefit"`` -> ``"benefit"``; ``"Tier 2 - Owner and responsibility"`` -> ``"owner and responsibility"``."""
    key = _NUMBERING.sub("", unescape(heading)).strip().lower()
    key = re.sub(r"[\u2010-\u2015]", "-", key)
    return re.sub(r"\s+", " ", key).strip(" -:.")


class _BodyParser(HTMLParser):
    """The sections of a GOV.UK govspeak body: each heading with its paragraphs and list items."""

    HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
    BLOCKS = {"p", "li", "dd", "dt", "td", "th", "pre", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = [Section("", "")]
        self._heading: list[str] | None = None
        self._block: list[str] | None = None
        self._hrefs: list[str] = []
        self._item = False
        self._strong: list[str] | None = None
        self._label: str | None = None
        self._depth = 0  # nested blocks (a <p> inside an <li>) belong to the outer block

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HEADINGS:
            self._flush()
            self._heading = []
        elif tag in self.BLOCKS:
            if self._block is None:
                self._block, self._hrefs, self._item, self._label = [], [], tag == "li", None
            else:
                self._depth += 1
                self._block.append("\n")
        elif tag == "br" and self._block is not None:
            self._block.append("\n")
        elif tag in ("strong", "b") and self._block is not None and not "".join(self._block).strip():
            self._strong = []
        elif tag == "a" and self._block is not None:
            href = dict(attrs).get("href")
            if href:
                self._hrefs.append(href.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HEADINGS and self._heading is not None:
            heading = re.sub(r"\s+", " ", "".join(self._heading)).strip()
            self.sections.append(Section(heading, heading_key(heading)))
            self._heading = None
        elif tag in ("strong", "b") and self._strong is not None:
            label = "".join(self._strong).strip()
            if label.endswith(":"):
                self._label = label[:-1].strip()
            self._strong = None
        elif tag in self.BLOCKS and self._block is not None:
            if self._depth:
                self._depth -= 1
            else:
                self._flush()

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
            return
        if self._strong is not None:
            self._strong.append(data)
        if self._block is not None:
            self._block.append(data)
        elif data.strip():  # loose text between blocks
            self.sections[-1].blocks.append(Block(re.sub(r"\s+", " ", data).strip()))

    def _flush(self) -> None:
        if self._block is None:
            return
        raw = "".join(self._block)
        lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in raw.split("\n")]
        content = "\n".join(line for line in lines if line)
        if self._label and content.lower().startswith(self._label.lower()):
            content = content[len(self._label):].lstrip(" :").strip()
        if content or self._hrefs:
            self.sections[-1].blocks.append(Block(content, list(self._hrefs), self._label, self._item))
        self._block, self._hrefs, self._item, self._label, self._depth = None, [], False, None, 0

    def close(self) -> None:
        super().close()
        self._flush()


def body_sections(html: Any) -> list[Section]:
    if not isinstance(html, str) or not html.strip():
        return []
    parser = _BodyParser()
    parser.feed(html)
    parser.close()
    return [s for s in parser.sections if s.blocks]


def _section(sections: list[Section], *keys: str, contains: Iterable[str] = ()) -> Section | None:
    for key in keys:
        for s in sections:
            if s.key == key:
                return s
    for word in contains:
        for s in sections:
            if word in s.key:
                return s
    return None


def _section_text(sections: list[Section], *keys: str, contains: Iterable[str] = ()) -> str | None:
    s = _section(sections, *keys, contains=contains)
    return s.text if s else None


def _labelled(sections: list[Section], *words: str) -> str | None:
    for s in sections:
        for b in s.blocks:
            if b.label and any(w in b.label.lower() for w in words) and b.text:
                return b.text
    return None


def _assessments(source: SourceConfig, sections: list[Section]) -> list[str]:
    """Impact assessments as ``"<title> <link>"``: the crosswalk's title, else the title as written."""
    section = _section(sections, "impact assessment", "impact assessments", contains=("impact assessment",))
    if section is None:
        return []
    found: list[tuple[str, str | None]] = []
    labelled = [b for b in section.blocks if b.label]
    if labelled:
        for b in labelled:
            label = b.label.lower()
            if "title" in label or label.endswith("name"):
                found.append((b.text, b.hrefs[0] if b.hrefs else None))
            elif ("link" in label or "url" in label) and found:
                url = b.hrefs[0] if b.hrefs else text(b.text)
                found[-1] = (found[-1][0], found[-1][1] or url)
    else:
        for b in section.blocks:
            title = re.split(r"\s[-\u2013\u2014:]\s|:\s", b.text, maxsplit=1)[0].strip() if b.text else ""
            found.append((title or b.text, b.hrefs[0] if b.hrefs else None))
    out = []
    for title, link in found:
        title = (title or "").strip().rstrip(".")
        if not title or title.lower() in ("none", "n/a", "not applicable"):
            continue
        mapped = crosswalk.map_assessment(REGISTER, title, source_id=source.id)
        out.append(f"{mapped} <{link}>" if link and link.startswith(("http://", "https://")) else mapped)
    return text_list(out)


def _email(sections: list[Section]) -> str | None:
    s = _section(sections, "contact email", "contact", contains=("email",))
    if s is None:
        return None
    for b in s.blocks:
        for href in b.hrefs:
            if href.lower().startswith("mailto:"):
                return href[7:].split("?")[0].strip() or None
    return s.text


def _website(sections: list[Section]) -> str | None:
    s = _section(sections, "website url", "website", "url")
    if s is None:
        return None
    for b in s.blocks:
        for href in b.hrefs:
            if href.startswith(("http://", "https://")):
                return href
    t = s.text
    return t if t and t.startswith(("http://", "https://")) else None


def _month(value: str | None) -> str | None:
    """``YYYY-MM`` from a date written in a record; the text as written when it has no recognisable date."""
    if not value:
        return None
    m = re.search(r"\b([0-9]{4})-([0-9]{2})(?:-[0-9]{2})?\b", value)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    months = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
    m = re.search(r"\b(" + "|".join(months) + r")\s+([0-9]{4})\b", value.lower())
    if m:
        return f"{m.group(2)}-{months.index(m.group(1)) + 1:02d}"
    m = re.search(r"\b([0-9]{1,2})/([0-9]{4})\b", value)
    if m and 1 <= int(m.group(1)) <= 12:
        return f"{m.group(2)}-{int(m.group(1)):02d}"
    return value.strip()


def _truncate(value: str | None, limit: int = DESCRIPTION_SHORT_MAX) -> str | None:
    if not value:
        return None
    value = re.sub(r"\s+", " ", value).strip()
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def _join(*parts: str | None) -> str | None:
    return "\n\n".join(p for p in parts if p) or None


# --------------------------------------------------------------------------------------- mapping


def map_record(source: SourceConfig, summary: dict[str, Any], content: dict[str, Any] | None, page: LandedPage, ctx: ParseContext) -> Item | Refusal:
    """One record from its search summary and (when fetched) its content item."""
    link = summary["link"]
    content = content or {}
    details = content.get("details") if isinstance(content.get("details"), dict) else {}
    metadata = details.get("metadata") if isinstance(details.get("metadata"), dict) else {}
    sections = body_sections(details.get("body"))

    title = text(content.get("title")) or summary.get("title")
    prefix, _, rest = (title or "").partition(":")
    name = _section_text(sections, "name") or (rest.strip() if rest.strip() else title)
    if name and "\n" in name:
        name = name.split("\n", 1)[0].strip()
    organisation = (
        summary.get("organisation")
        or _section_text(sections, "organisation or department", "organisation/body name", "organisation/body", "organisation")
        or (prefix.strip() if rest.strip() else None)
        or source.publisher
    )
    phase = summary.get("phase") or _label(metadata.get(FACET + "phase")) or _section_text(sections, "phase")
    if phase and "\n" in phase:
        phase = phase.split("\n", 1)[0].strip()
    version = summary.get("atrs_version") or _label(metadata.get(FACET + "atrs_version"))
    description = text(content.get("description")) or summary.get("description") or _section_text(sections, "description")
    website = _website(sections) or urljoin(_base(source) + "/", link.lstrip("/"))
    locale = (text(content.get("locale")) or "en").lower()

    row = empty_row("algorithms")
    row.update(
        algorithm_uid=stable_uid(source.id, link),
        name=name,
        description_short=_truncate(description),
        organization=organisation,
        status=crosswalk.map_value(REGISTER, "status", phase, source_id=source.id),
        publication_category=None,  # the ATRS has no risk classification (see the crosswalk file)
        goal=_join(_section_text(sections, "detailed description"), _section_text(sections, "benefit", "benefits")),
        lawful_basis=_section_text(sections, "lawful basis", "legal basis", contains=("lawful basis", "legal basis")),
        impact_assessments=_assessments(source, sections),
        source_data=_source_data(sections),
        human_intervention=_section_text(sections, "human decisions and review", contains=("human decision", "human review", "human oversight")),
        risks=_section_text(sections, "risks", "risks and mitigations", "key risks"),
        begin_date=_month(_labelled(sections, "date of deployment", "deployment date", "date deployed", "go-live", "in use since")),
        end_date=_month(_labelled(sections, "date retired", "retirement date", "date of retirement", "decommission")),
        contact_email=_email(sections),
        website=website,
        standard_version=f"ATRS {version.lstrip('vV')}" if version else "ATRS",
        jurisdiction="UK",
        language={"en": "eng", "cy": "cym"}.get(locale, locale),
        original_status=phase,
        original_category=None,
        **provenance(source.id, link, ctx, page),
    )
    return Item(record_id=link, row=row)


def _source_data(sections: list[Section]) -> list[str]:
    s = _section(sections, "source data name", "source data", "data sources", "data source")
    if s is None:
        return []
    out = []
    for b in s.blocks:
        parts = [b.text] if b.item else re.split(r"\s*;\s*|\n+", b.text or "")
        out.extend(p for p in parts if p)
    return text_list(out)
