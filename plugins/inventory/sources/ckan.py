"""``ckan``: the CKAN Action API ``package_search`` of data.overheid.nl and other CKAN portals.

Paging with ``rows`` (at most 1000, CKAN's own cap) and ``start`` under a stable sort (``id asc``
by default: an order that inserts elsewhere in the catalogue cannot reshuffle). The server's
``count`` is reported to the shared loop, which reconciles it against the distinct records received.
Incremental runs filter on ``metadata_modified`` (option ``modified_since``, or ``incremental: true``
to continue from the newest ``metadata_modified`` of the last complete run).

Mapping covers both the current DCAT-AP-DONL 1.1 CKAN schema of data.overheid.nl (``authority``,
``publisher``, ``contact_point_email``, ``theme`` lists, licence URIs) and the older 2015 schema
(``maintainer`` OWMS URIs, licence slugs such as ``cc-by3``, ``accrual_periodicity``,
``landingpage``, ``temporal_from``/``temporal_to``).
"""

from __future__ import annotations

from typing import Any

from .. import vocab
from ..config import SourceConfig
from ..landing import LandedPage, PageRequest
from ..model import empty_row, stable_uid
from .base import Item, PageError, ParseContext, ParsedPage, Refusal, decode_json, provenance, text, text_list

RECORD_TABLE = "datasets"
MAX_ROWS = 1000
DEFAULT_SORT = "id asc"


def _endpoint(source: SourceConfig) -> str:
    base = source.url if source.url.endswith("/") else source.url + "/"
    return base if base.endswith("package_search/") else base + "package_search"


def _rows(source: SourceConfig) -> int:
    return max(1, min(int(source.option("rows", MAX_ROWS)), MAX_ROWS))


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    return _request(source, 0, since or source.option("modified_since"))


def _request(source: SourceConfig, start: int, since: str | None) -> PageRequest:
    params: dict[str, Any] = {"q": source.option("q", "*:*"), "rows": _rows(source), "start": start, "sort": source.option("sort", DEFAULT_SORT)}
    filters = [source.option("fq")] if source.option("fq") else []
    if since:
        # Solr wants a zoned timestamp; CKAN writes metadata_modified in UTC without a zone.
        zoned = since if since.endswith("Z") or "+" in since[10:] else f"{since}Z"
        filters.append(f"metadata_modified:[{zoned} TO *]")
    if filters:
        params["fq"] = " AND ".join(filters)
    return PageRequest("GET", _endpoint(source).rstrip("/"), params=params, context={"start": start, "since": since})


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    body = decode_json(page)
    if not isinstance(body, dict) or "result" not in body:
        raise PageError(f"{page.url}: not a CKAN package_search response (no 'result' object)")
    if body.get("success") is False:
        error = body.get("error") or {}
        raise PageError(f"{page.url}: CKAN reported an error: {error.get('message') or error}")
    if page.status >= 400:
        raise PageError(f"{page.url} answered HTTP {page.status}")
    result = body["result"]
    packages = result.get("results")
    if not isinstance(packages, list):
        raise PageError(f"{page.url}: CKAN result has no 'results' list")
    count = result.get("count")
    reported = int(count) if isinstance(count, (int, str)) and str(count).isdigit() else None

    items: list[Item | Refusal] = []
    for package in packages:
        items.append(map_package(source, package, page, ctx))

    start = int(page.request.context.get("start", 0))
    next_start = start + len(packages)
    more = bool(packages) and reported is not None and next_start < reported
    next_request = _request(source, next_start, page.request.context.get("since")) if more else None
    return ParsedPage(items=items, reported_total=reported, next_request=next_request, entries=len(packages))


def _uri_or_none(value: Any) -> str | None:
    t = text(value)
    return t if t and t.startswith(("http://", "https://")) else None


def _first(*values: Any) -> str | None:
    """The first non-empty value; DCAT-AP-DONL 1.1 writes some single values as lists."""
    for v in values:
        for candidate in v if isinstance(v, list) else [v]:
            t = text(candidate)
            if t:
                return t
    return None


def map_package(source: SourceConfig, pkg: Any, page: LandedPage, ctx: ParseContext) -> Item | Refusal:
    if not isinstance(pkg, dict):
        return Refusal(None, "package_is_object", None, repr(pkg)[:200], "a listing entry is not a JSON object", pkg)
    record_id = text(pkg.get("id")) or text(pkg.get("name"))
    if not record_id:
        return Refusal(None, "package_has_id", "id", None, "the package has neither an id nor a name", pkg)

    organization = pkg.get("organization") if isinstance(pkg.get("organization"), dict) else {}
    publisher_uri = _uri_or_none(pkg.get("publisher")) or _uri_or_none(pkg.get("authority")) or _uri_or_none(pkg.get("maintainer"))
    publisher = _first(
        None if _uri_or_none(pkg.get("publisher")) else pkg.get("publisher"),
        organization.get("title"),
        pkg.get("maintainer_displayname"),
        source.publisher,  # the configured fallback, for single-publisher catalogues
    )
    themes = text_list(pkg.get("theme"))
    license_original = _first(pkg.get("license_id"), pkg.get("license_url"))
    license_uri = vocab.license_uri(pkg.get("license_id")) or vocab.license_uri(pkg.get("license_url"))
    frequency_original = _first(pkg.get("frequency"), pkg.get("accrual_periodicity"))
    tags = pkg.get("tags") or pkg.get("keywords") or []
    keywords = text_list(t.get("display_name") or t.get("name") if isinstance(t, dict) else t for t in tags)
    contact = _first(pkg.get("contact_point_email"), pkg.get("maintainer_email"), pkg.get("author_email"), pkg.get("contact_point"), pkg.get("contact_point_name"))

    uid = stable_uid(source.id, record_id)
    row = empty_row("datasets")
    row.update(
        dataset_uid=uid,
        identifier=_first(pkg.get("identifier"), pkg.get("id")),
        title=text(pkg.get("title")),
        description=text(pkg.get("notes")),
        publisher=publisher,
        publisher_uri=publisher_uri,
        contact_point=contact,
        theme=themes,
        theme_original=themes,
        keyword=keywords,
        # An unknown licence keeps its original spelling here, so validation reports it.
        license=license_uri or license_original,
        license_original=license_original,
        access_rights=text(pkg.get("access_rights")),
        access_rights_original=text(pkg.get("access_rights")),
        issued=_first(pkg.get("issued"), pkg.get("metadata_created")),
        modified=_first(pkg.get("modified"), pkg.get("metadata_modified")),
        landing_page=_first(pkg.get("url"), pkg.get("landingpage"), pkg.get("landing_page")),
        language=text_list(pkg.get("language")),
        spatial=_first(pkg.get("spatial_value"), pkg.get("spatial")),
        temporal_start=_first(pkg.get("temporal_start"), pkg.get("temporal_from")),
        temporal_end=_first(pkg.get("temporal_end"), pkg.get("temporal_to")),
        frequency=vocab.frequency_uri(frequency_original) or frequency_original,
        frequency_original=frequency_original,
        **provenance(source.id, record_id, ctx, page),
    )

    distributions = []
    resources = pkg.get("resources") or []
    for index, res in enumerate(resources if isinstance(resources, list) else []):
        if not isinstance(res, dict):
            continue
        res_license_original = text(res.get("license_id"))
        res_id = text(res.get("id")) or f"{index}:{text(res.get('url'))}"
        size = res.get("size")
        distributions.append(
            {
                "distribution_uid": stable_uid(source.id, record_id, res_id),
                "dataset_uid": uid,
                "access_url": text(res.get("url")),
                "download_url": _first(res.get("download_url")),
                "format": text(res.get("format")),
                "format_original": text(res.get("format")),
                "media_type": _first(res.get("mimetype"), res.get("mimetype_inner")),
                "license": (vocab.license_uri(res_license_original) or res_license_original) if res_license_original else row["license"],
                "license_original": res_license_original,
                "byte_size": int(size) if isinstance(size, int) or (isinstance(size, str) and size.strip().isdigit()) else None,
                "title": _first(res.get("name"), res.get("description")),
                **provenance(source.id, record_id, ctx, page),
            }
        )
    return Item(record_id=record_id, row=row, children={"distributions": distributions}, watermark=text(pkg.get("metadata_modified")))
