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
from ..model import stable_uid
from .base import Columns, Item, PageError, ParseContext, ParsedPage, Refusal, decode_json, text, text_list

RECORD_TABLE = "datasets"
MAX_ROWS = 1000
DEFAULT_SORT = "id asc"
# Pages of a big listing are parsed and mapped in a worker process (see page_worker.py).
PAGE_WORKER = True


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


    start = int(page.request.context.get("start", 0))
    next_start = start + len(packages)
    more = bool(packages) and reported is not None and next_start < reported
    next_request = _request(source, next_start, page.request.context.get("since")) if more else None
    return ParsedPage(
        reported_total=reported,
        next_request=next_request,
        entries=len(packages),
        # Mapped when the shared loop asks, while it already fetches the next page.
        columns=lambda: map_packages(source, packages, page, ctx),
    )


def _uri_or_none(value: Any) -> str | None:
    t = text(value)
    return t if t and t.startswith(("http://", "https://")) else None


def _value(value: Any) -> str | None:
    """A single text value; DCAT-AP-DONL 1.1 writes some single values as lists (first one counts)."""
    if type(value) is str:
        return value.strip() or None
    if isinstance(value, list):
        for candidate in value:
            t = text(candidate)
            if t:
                return t
        return None
    return text(value)


def _first(*values: Any) -> str | None:
    """The first non-empty value."""
    for v in values:
        t = _value(v)
        if t:
            return t
    return None


def map_package(source: SourceConfig, pkg: Any, page: LandedPage, ctx: ParseContext) -> Item | Refusal:
    """One package as an :class:`Item` (for single lookups; listings use :func:`map_packages`)."""
    columns = map_packages(source, [pkg], page, ctx)
    if columns.refusals:
        return columns.refusals[0]
    children = {"distributions": [columns.row("distributions", i) for i in range(len(columns.parents["distributions"]))]}
    return Item(columns.record_ids[0], columns.row("datasets", 0), children, columns.watermarks[0])


def map_packages(source: SourceConfig, packages: list[Any], page: LandedPage, ctx: ParseContext) -> Columns:
    """Map a page of CKAN packages onto ``datasets`` and ``distributions``, column by column.

    Runs for every dataset of every catalogue: one list per column, locals, and per-page caches of
    the vocabulary lookups keep it several times cheaper than a dict per record.
    """
    refusals: list[Refusal] = []
    good: list[dict] = []
    ids: list[str] = []
    for pkg in packages:
        if not isinstance(pkg, dict):
            refusals.append(Refusal(None, "package_is_object", None, repr(pkg)[:200], "a listing entry is not a JSON object", pkg))
            continue
        record_id = text(pkg.get("id")) or text(pkg.get("name"))
        if not record_id:
            refusals.append(Refusal(None, "package_has_id", "id", None, "the package has neither an id nor a name", pkg))
            continue
        good.append(pkg)
        ids.append(record_id)

    license_uri = vocab.memoised(vocab.license_uri)
    frequency_uri = vocab.memoised(vocab.frequency_uri)
    fallback_publisher = source.publisher
    sid = source.id
    n = len(good)

    def first(key: str, *fallbacks: str) -> list[str | None]:
        """Per package, the first key that has a value (most packages have the first)."""
        values = [_value(p.get(key)) for p in good]
        for other in fallbacks:
            values = [v or _value(p.get(other)) for v, p in zip(values, good)]
        return values

    uids = [stable_uid(sid, rid) for rid in ids]
    publisher_field = [p.get("publisher") for p in good]
    publisher_field_uri = [_uri_or_none(v) for v in publisher_field]
    organization_title = [o.get("title") if isinstance(o, dict) else None for o in (p.get("organization") for p in good)]
    maintainer_name = [p.get("maintainer_displayname") for p in good]
    themes = [text_list(p.get("theme")) for p in good]
    license_original = first("license_id", "license_url")
    licenses = [
        license_uri(p.get("license_id")) or license_uri(p.get("license_url")) or original
        for p, original in zip(good, license_original)
    ]
    frequency_original = first("frequency", "accrual_periodicity")
    access_rights = [text(p.get("access_rights")) for p in good]

    datasets = {
        "dataset_uid": uids,
        "identifier": [_first(p.get("identifier"), rid) for p, rid in zip(good, ids)],
        "title": [text(p.get("title")) for p in good],
        "description": [text(p.get("notes")) for p in good],
        "publisher": [
            _first(None if uri else field, org, name, fallback_publisher)
            for field, uri, org, name in zip(publisher_field, publisher_field_uri, organization_title, maintainer_name)
        ],
        "publisher_uri": [uri or _uri_or_none(p.get("authority")) or _uri_or_none(p.get("maintainer")) for p, uri in zip(good, publisher_field_uri)],
        "contact_point": first("contact_point_email", "maintainer_email", "author_email", "contact_point", "contact_point_name"),
        "theme": themes,
        "keyword": [_keywords(p.get("tags") or p.get("keywords")) for p in good],
        # An unknown licence keeps its original spelling here, so validation reports it.
        "license": licenses,
        "access_rights": access_rights,
        "issued": first("issued", "metadata_created"),
        "modified": first("modified", "metadata_modified"),
        "landing_page": first("url", "landingpage", "landing_page"),
        "language": [text_list(p.get("language")) for p in good],
        "spatial": first("spatial_value", "spatial"),
        "temporal_start": first("temporal_start", "temporal_from"),
        "temporal_end": first("temporal_end", "temporal_to"),
        "frequency": [frequency_uri(f) or f for f in frequency_original],
        "license_original": license_original,
        "access_rights_original": access_rights,
        "frequency_original": frequency_original,
        "theme_original": themes,
        "source_id": [sid] * n,
        "source_record_id": ids,
        "harvested_at": [ctx.harvested_at] * n,
        "run_id": [ctx.run_id] * n,
        "raw_sha256": [page.sha256] * n,
    }

    dist: dict[str, list[Any]] = {name: [] for name in (
        "distribution_uid", "dataset_uid", "access_url", "download_url", "format", "media_type", "license",
        "rights", "byte_size", "title", "format_original", "license_original", "source_record_id",
    )}
    parents: list[int] = []
    for i, p in enumerate(good):
        resources = p.get("resources")
        if not isinstance(resources, list):
            continue
        rid, uid = ids[i], uids[i]
        for index, res in enumerate(resources):
            if not isinstance(res, dict):
                continue
            rget = res.get
            access_url = text(rget("url"))
            res_format = text(rget("format"))
            res_license = text(rget("license_id"))
            size = rget("size")
            parents.append(i)
            dist["distribution_uid"].append(stable_uid(sid, rid, text(rget("id")) or f"{index}:{access_url}"))
            dist["dataset_uid"].append(uid)
            dist["access_url"].append(access_url)
            dist["download_url"].append(_first(rget("download_url")))
            dist["format"].append(res_format)
            dist["media_type"].append(_first(rget("mimetype"), rget("mimetype_inner")))
            dist["license"].append((license_uri(res_license) or res_license) if res_license else licenses[i])
            dist["rights"].append(_first(rget("rights")))
            dist["byte_size"].append(size if type(size) is int else int(size) if isinstance(size, str) and size.strip().isdigit() else None)
            dist["title"].append(_first(rget("name"), rget("description")))
            dist["format_original"].append(res_format)
            dist["license_original"].append(res_license)
            dist["source_record_id"].append(rid)
    m = len(parents)
    dist.update(source_id=[sid] * m, harvested_at=[ctx.harvested_at] * m, run_id=[ctx.run_id] * m, raw_sha256=[page.sha256] * m)

    return Columns(
        record_ids=ids,
        tables={"datasets": datasets, "distributions": dist},
        parents={"distributions": parents},
        watermarks=[text(p.get("metadata_modified")) for p in good],
        refusals=refusals,
    )


def _keywords(tags: Any) -> list[str]:
    if not isinstance(tags, list):
        return text_list(tags)
    return text_list(t.get("display_name") or t.get("name") if isinstance(t, dict) else t for t in tags)
