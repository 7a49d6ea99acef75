"""``api-register``: the national register of government APIs (developer.overheid.nl), as ``data_services``.

The register (don-api-register, "API register API v1", OpenAPI at ``<url>/openapi.json``):

Listing: ``GET <url>/apis?page=<n>&perPage=<k>`` (``page`` from 1, ``perPage`` 1..100, the
``per_page`` option, default 100) answers a JSON array of API summaries (``id``, ``title``,
``summary``, ``description``, ``organisation{uri, label}``, ``contact{name, email, url}``,
``adrScore``, ``lifecycle{status, version, deprecated, sunset}``). Paging is said in headers:
``Link`` (``<…?page=3>; rel="next"``, the register writes ``rel='next'`` too), ``Total-Count``,
``Total-Pages``, ``Current-Page``, ``Per-Page``. The next page is the ``Link`` rel="next" target;
without a Link header, the next page number while ``page < Total-Pages``; without either, the
next page while pages come back full. ``Total-Count`` is the reported total the shared loop
reconciles with the listing entries received (fewer = ``partial``). A Link to another host is
refused: the session's credentials must never travel to a server the source did not name.

Details: ``GET <url>/apis/{id}`` answers the summary plus ``oasUrl``, ``auth[]``, ``docsUrl`` and
``servers[{url, description}]``. Detail requests go through the shared loop as ``atrs`` does (the
contract has no "extra requests" channel): the next request of a listing page is the detail of its
first API, the next request of that detail is the detail of the second, and so on; after the last
comes the next listing page. Each detail request carries in its ``context`` the ids still pending
on this page (never their whole summaries, so the landed request metadata stays small) and the next
listing request. So every request is made by the shared HTTP client and landed before it is
parsed, replay after a failed attempt works request by request, and the loop's seen-set,
request-repeat check and count reconciliation apply unchanged. A listing page counts its entries;
a detail page counts none and yields the API as one :class:`Item`.

A detail that answers 404 or 410 (the API was withdrawn between listing and detail, or the
register cannot serve it) is tolerated (``PageRequest.tolerate``): that API is quarantined with the
reason and the listing goes on. Option ``details: false`` maps the listing summaries only.

Read access needs credentials: the ``X-Api-Key`` header, or an OAuth2 client-credentials token
(scope ``apis:read``), both from the source's Airflow connection (:mod:`inventory.credentials`).

Mapping onto ``data_services`` (controlled values keep the register's own value beside them):

* ``service_uid`` = stable_uid(source id, register id); ``source_record_id`` = the register id;
* ``title``; ``description`` (else ``summary``); ``publisher`` / ``publisher_uri`` =
  ``organisation.label`` / ``organisation.uri`` (a TOOI URI in the register);
* ``endpoint_url`` = the production server of ``servers[]`` (the one whose description says
  production/productie, else the first); ``endpoint_description`` = ``oasUrl``; ``docs_url`` =
  ``docsUrl``; ``contact`` = ``contact.email``, else ``contact.url``, else ``contact.name``;
* ``api_type`` from the register's type when it gives one (older registrations: ``rest_json``,
  ``soap_xml``, ``graphql``, ``wfs`` …); the register now admits APIs only by their OpenAPI
  document, so an API with an ``oasUrl`` and no type is ``rest`` (``api_type_original`` stays empty);
* ``authentication[]`` from ``auth[]`` (``API Key``, ``OAuth2``, ``mutualTLS``, ``IP whitelisting``
  …) onto none, api_key, oauth2, openid_connect, http_bearer, http_basic, mutual_tls, ip_allow_list;
  a method the table below does not know stays only in ``authentication_original`` (reported, not
  guessed);
* ``lifecycle_status`` from ``lifecycle.status`` onto active, deprecated, sunset, retired (Dutch
  and English spellings, any case); ``version`` = ``lifecycle.version``;
* ``adr_score`` = ``adrScore`` as published (0-100; a number written as text is read as a number).

The fixtures of the sample agency (``demo/fixtures/api_register/``) are modelled on the register's
OpenAPI document (ApiSummary / ApiDetail schemas, the paging headers) in
github.com/developer-overheid-nl/don-api-register ``api/openapi.json``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit, urlunsplit

from requests.utils import parse_header_links

from ..config import SourceConfig
from ..landing import LandedPage, PageRequest
from ..model import empty_row, stable_uid
from .base import Item, PageError, ParseContext, ParsedPage, Refusal, decode_json, provenance, text

RECORD_TABLE = "data_services"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100
# A withdrawn API: its detail is gone while the listing still had it.
GONE = (404, 410)
_ID = re.compile(r"^[A-Za-z0-9._~:@-]{1,200}$")


def _key(value: str) -> str:
    """Lower case, separators and spaces squeezed: ``'API-Key '`` -> ``'api key'``."""
    return re.sub(r"[\s_\-/.]+", " ", value.strip().lower()).strip()


# The register's words (any case, any separator) -> the inventory's controlled values.
AUTHENTICATION = {
    **dict.fromkeys(("none", "geen", "public", "publiek", "open", "anonymous", "no authentication"), "none"),
    **dict.fromkeys(("api key", "apikey", "x api key", "api sleutel", "apisleutel", "key"), "api_key"),
    **dict.fromkeys(("oauth2", "oauth 2", "oauth 2 0", "oauth2 0", "oauth", "oauth2 client credentials",
                     "client credentials"), "oauth2"),
    **dict.fromkeys(("openid", "openid connect", "openidconnect", "oidc"), "openid_connect"),
    **dict.fromkeys(("bearer", "http bearer", "jwt", "bearer token"), "http_bearer"),
    **dict.fromkeys(("basic", "http basic", "basic auth", "basic authentication"), "http_basic"),
    **dict.fromkeys(("mutualtls", "mutual tls", "mtls", "two way tls", "tweezijdig tls", "pkioverheid",
                     "pkio", "client certificate", "tls client certificate", "fsc", "digikoppeling"), "mutual_tls"),
    **dict.fromkeys(("ip whitelist", "ip whitelisting", "ip allow list", "ip allowlist", "ip allowlisting",
                     "ip filter", "ip filtering", "ip restriction", "ip restrictie"), "ip_allow_list"),
}
LIFECYCLE = {
    **dict.fromkeys(("active", "actief", "in productie", "productie", "production", "live", "stable",
                     "in gebruik", "operational"), "active"),
    **dict.fromkeys(("deprecated", "verouderd", "wordt uitgefaseerd", "uitfaseren", "uitfaserend",
                     "deprecating"), "deprecated"),
    **dict.fromkeys(("sunset", "uitgefaseerd", "offline"), "sunset"),
    **dict.fromkeys(("retired", "buiten gebruik", "ingetrokken", "decommissioned", "end of life", "eol",
                     "withdrawn", "verwijderd"), "retired"),
}
API_TYPE = {
    **dict.fromkeys(("rest", "rest json", "rest xml", "restful", "openapi", "json", "http"), "rest"),
    **dict.fromkeys(("graphql",), "graphql"),
    **dict.fromkeys(("soap", "soap xml", "wsdl", "stuf", "digikoppeling ebms", "ebms"), "soap"),
    **dict.fromkeys(("grpc",), "grpc"),
    **dict.fromkeys(("sparql", "linked data", "rdf"), "sparql"),
    **dict.fromkeys(("odata",), "odata"),
    **dict.fromkeys(("wfs", "wms", "wmts", "wcs", "ogc", "ogc api", "ogc api features", "ogc api tiles"), "ogc"),
}


def map_authentication(values: Any) -> tuple[list[str], list[str]]:
    """(mapped methods, the register's own words) from ``auth``: a list, or one comma-separated string."""
    if isinstance(values, str):
        values = [v for v in re.split(r"[,;]", values)]
    if not isinstance(values, list):
        return [], []
    original: list[str] = []
    mapped: list[str] = []
    for value in values:
        if isinstance(value, dict):  # {"type": "apiKey", ...} as an OpenAPI security scheme
            value = value.get("type") or value.get("name")
        word = text(value)
        if not word or word in original:
            continue
        original.append(word)
        method = AUTHENTICATION.get(_key(word)) or AUTHENTICATION.get(_key(word).replace(" ", ""))
        if method and method not in mapped:
            mapped.append(method)
    return mapped, original


def map_lifecycle(value: Any) -> str | None:
    word = text(value)
    return LIFECYCLE.get(_key(word)) if word else None


def map_api_type(value: Any) -> str | None:
    word = text(value)
    return API_TYPE.get(_key(word)) if word else None


def adr_score(value: Any) -> float | None:
    """The published score as a number: ``85``, ``85.5``, ``"85"``, ``"85%"``; None when absent or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*%?\s*", str(value))
    return float(m.group(1).replace(",", ".")) if m else None


# ------------------------------------------------------------------------------------- requests


def _base(source: SourceConfig) -> str:
    return source.url.rstrip("/")


def _per_page(source: SourceConfig) -> int:
    try:
        return max(1, min(int(source.option("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE))
    except (TypeError, ValueError):
        raise PageError(f"source {source.id}: option per_page must be a whole number, not {source.option('per_page')!r}") from None


def _listing_request(source: SourceConfig, url: str, params: dict[str, str]) -> PageRequest:
    return PageRequest("GET", url, params=params, headers={"Accept": "application/json"}, context={"kind": "listing"})


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    # Filters the register offers (q, organisation, status, auth, ...) go in the params option.
    extra = {str(k): str(v) for k, v in (source.option("params") or {}).items()}
    params = {**extra, "page": "1", "perPage": str(_per_page(source))}
    return _listing_request(source, f"{_base(source)}/apis", params)


def _detail_request(source: SourceConfig, api_id: str, pending: list[list[str]], next_listing: dict | None) -> PageRequest:
    context = {"kind": "detail", "id": api_id, "pending": pending, "next_listing": next_listing}
    return PageRequest("GET", f"{_base(source)}/apis/{quote(api_id, safe='')}", headers={"Accept": "application/json"},
                       context=context, tolerate=GONE)


def _after(source: SourceConfig, pending: list[list[str]], next_listing: dict | None) -> PageRequest | None:
    """The request after an API: the next pending API's detail, else the next listing page."""
    if pending:
        return _detail_request(source, pending[0][0], pending[1:], next_listing)
    if next_listing is not None:
        return _listing_request(source, next_listing["url"], next_listing["params"])
    return None


def _details(source: SourceConfig) -> bool:
    value = source.option("details", True)
    return value if isinstance(value, bool) else str(value).strip().lower() not in ("false", "no", "0", "off")


def _int_header(page: LandedPage, name: str) -> int | None:
    value = (page.header(name) or "").strip()
    return int(value) if value.isdigit() else None


def _next_listing(source: SourceConfig, page: LandedPage, received: int) -> dict | None:
    """Where the next listing page is: the Link header's rel="next", else the page count, else a full page."""
    link = page.header("Link")
    if link:
        for entry in parse_header_links(link):
            if "next" in (entry.get("rel") or "").lower().split():
                target = urlsplit(urljoin(page.url, entry["url"]))
                here = urlsplit(_base(source))
                if (target.scheme, target.netloc) != (here.scheme, here.netloc):
                    raise PageError(
                        f"{page.url}: the Link header's next page {entry['url']} is on another server than the "
                        f"source ({here.netloc}); it is not followed, so the source's credentials stay with it")
                params = dict(parse_qsl(target.query, keep_blank_values=True))
                return {"url": urlunsplit((target.scheme, target.netloc, target.path, "", "")), "params": params}
        return None  # a Link header without rel="next": this is the last page
    current = int(page.request.params.get("page") or _int_header(page, "Current-Page") or 1)
    pages = _int_header(page, "Total-Pages")
    if pages is not None:
        more = current < pages
    else:
        more = received > 0 and received >= int(page.request.params.get("perPage") or _per_page(source))
    if not more:
        return None
    return {"url": page.request.url, "params": {**page.request.params, "page": str(current + 1)}}


# --------------------------------------------------------------------------------------- parsing


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    context = page.request.context
    if context.get("kind") == "detail":
        return _parse_detail(source, page, ctx)
    body = decode_json(page)
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        items = body["results"]  # the register's older envelope ({"total", "page", "results"})
    elif isinstance(body, list):
        items = body
    else:
        raise PageError(f"{page.url}: not an API register listing (expected a JSON array of APIs, got {type(body).__name__})")
    reported = _int_header(page, "Total-Count")
    if reported is None and isinstance(body, dict) and isinstance(body.get("total"), int):
        reported = body["total"]
    next_listing = _next_listing(source, page, len(items))

    refusals: list[Refusal] = []
    summaries: list[dict[str, Any]] = []
    on_page: set[str] = set()
    for entry in items:
        if not isinstance(entry, dict):
            refusals.append(Refusal(None, "record_is_object", None, repr(entry)[:200], "a listing entry is not a JSON object", entry))
            continue
        api_id = text(entry.get("id"))
        if not api_id or not _ID.match(api_id):
            refusals.append(Refusal(None, "record_has_id", "source_record_id", api_id,
                                    "the API has no usable id in the register, so its detail cannot be fetched", entry))
            continue
        if api_id in on_page:
            # record_id None: the first occurrence (still to be fetched) must not count as seen yet.
            refusals.append(Refusal(None, "record_id_unique_in_listing", "source_record_id", api_id,
                                    "the same API appeared twice on one listing page; the first one was kept", entry))
            continue
        on_page.add(api_id)
        summaries.append(entry)

    if not _details(source):
        mapped: list[Item | Refusal] = [*refusals, *(map_record(source, s, page, ctx) for s in summaries)]
        following = _after(source, [], next_listing)
        return ParsedPage(reported_total=reported, next_request=following, entries=len(items), items=mapped)
    pending = [[text(s.get("id")), text(s.get("title")) or ""] for s in summaries]
    return ParsedPage(reported_total=reported, next_request=_after(source, pending, next_listing), entries=len(items), items=refusals)


def _parse_detail(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    context = page.request.context
    api_id = context["id"]
    next_request = _after(source, [list(p) for p in context.get("pending") or []], context.get("next_listing"))
    if page.status in GONE:
        refusal = Refusal(api_id, "detail_available", "source_record_id", api_id,
                          f"the register listed this API but its detail answered HTTP {page.status} "
                          "(withdrawn while the listing was read?); the next run will see it again if it returns",
                          {"id": api_id, "detail_url": page.url, "status": page.status})
        return ParsedPage(reported_total=None, next_request=next_request, entries=0, items=[refusal])
    body = decode_json(page)
    if not isinstance(body, dict):
        raise PageError(f"{page.url}: not an API register detail (expected a JSON object, got {type(body).__name__})")
    if text(body.get("id")) not in (None, api_id):
        refusal = Refusal(api_id, "detail_matches_listing", "source_record_id", text(body.get("id")),
                          f"the detail of API {api_id} describes another API ({text(body.get('id'))})", body)
        return ParsedPage(reported_total=None, next_request=next_request, entries=0, items=[refusal])
    return ParsedPage(reported_total=None, next_request=next_request, entries=0,
                      items=[map_record(source, {**body, "id": api_id}, page, ctx)])


# --------------------------------------------------------------------------------------- mapping


def _endpoint(servers: Any) -> str | None:
    """The production server's URL: the server described as production (productie), else the first."""
    if not isinstance(servers, list):
        return None
    urls = [(text(s.get("url")), (text(s.get("description")) or "").lower()) for s in servers if isinstance(s, dict)]
    urls = [(u, d) for u, d in urls if u]
    for url, description in urls:
        if "product" in description:  # production, productie, productieomgeving
            return url
    candidates = [u for u, d in urls if not any(w in d for w in ("test", "acceptat", "sandbox", "demo", "staging"))]
    return (candidates or [u for u, _ in urls] or [None])[0]


def _contact(contact: Any) -> str | None:
    if not isinstance(contact, dict):
        return text(contact)
    return text(contact.get("email")) or text(contact.get("url")) or text(contact.get("name"))


def map_record(source: SourceConfig, api: dict[str, Any], page: LandedPage, ctx: ParseContext) -> Item:
    """One API (a detail, or a listing summary when details are off) as a ``data_services`` row."""
    api_id = text(api.get("id"))
    organisation = api.get("organisation") if isinstance(api.get("organisation"), dict) else {}
    lifecycle = api.get("lifecycle") if isinstance(api.get("lifecycle"), dict) else {}
    oas_url = text(api.get("oasUrl")) or text(api.get("oasUri")) or text(api.get("specificationUrl"))
    type_original = text(api.get("apiType")) or text(api.get("api_type")) or text(api.get("type"))
    api_type = map_api_type(type_original) if type_original else ("rest" if oas_url else None)
    authentication, authentication_original = map_authentication(api.get("auth"))
    status_original = text(lifecycle.get("status")) or text(api.get("lifecycleStatus"))

    row = empty_row(RECORD_TABLE)
    row.update(
        service_uid=stable_uid(source.id, api_id),
        title=text(api.get("title")),
        description=text(api.get("description")) or text(api.get("summary")),
        publisher=text(organisation.get("label")) or text(organisation.get("name")) or source.publisher,
        publisher_uri=text(organisation.get("uri")),
        endpoint_url=_endpoint(api.get("servers")) or text(api.get("apiUrl")) or text(api.get("api_url")),
        endpoint_description=oas_url,
        api_type=api_type,
        authentication=authentication,
        lifecycle_status=map_lifecycle(status_original),
        version=text(lifecycle.get("version")) or text(api.get("version")),
        adr_score=adr_score(api.get("adrScore")),
        docs_url=text(api.get("docsUrl")) or text(api.get("docsUri")) or text(api.get("documentationUrl")),
        contact=_contact(api.get("contact")),
        api_type_original=type_original,
        authentication_original=authentication_original,
        lifecycle_status_original=status_original,
        **provenance(source.id, api_id, ctx, page),
    )
    return Item(record_id=api_id, row=row)
