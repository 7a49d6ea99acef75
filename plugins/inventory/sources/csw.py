"""``csw``: OGC CSW 2.0.2 ``GetRecords`` in ISO 19139 (``gmd``), as the Nationaal Georegister serves it.

Listing
    ``GET`` with KVP (the default): ``service=CSW&version=2.0.2&request=GetRecords&typeNames=gmd:MD_Metadata
    &resultType=results&outputSchema=http://www.isotc211.org/2005/gmd&elementSetName=full
    &startPosition=N&maxRecords=M`` (option ``max_records``, default 50). Option ``record_types``
    (default ``[dataset, series]``; ``[]`` for all) becomes ``constraintLanguage=CQL_TEXT&constraint=
    type='dataset' OR type='series'`` so that service records are not listed; option ``constraint``
    (CQL text) replaces it. ``method: post`` sends the same query as a ``csw:GetRecords`` XML
    document. The next page starts at the response's ``nextRecord`` (0 means the end; a
    ``nextRecord`` past ``numberOfRecordsMatched`` or a page without records ends it too);
    ``numberOfRecordsMatched`` is the reported total. A ``nextRecord`` that points back to a page
    already asked for ends the listing as ``partial`` in the shared loop.

Parsing
    lxml with ``resolve_entities=False, no_network=True, load_dtd=False``, after a check that refuses
    any ``<!DOCTYPE``/``<!ENTITY`` outright (before a parser sees it). The text is decoded like the
    ``dcat`` kind's: valid UTF-8 wins over a wrongly declared ``ISO-8859-1``; otherwise the declared
    charset or Windows-1252; the XML declaration is rewritten to match. An ``ows:ExceptionReport``,
    an HTML page or Dublin Core records (the server ignored ``outputSchema``) fail the page with the
    server's own words.

Mapping (``gmd:MD_Metadata``, the Dutch profile on ISO 19115 2.0; GeoDCAT-AP where it decides)
    record id: ``gmd:fileIdentifier``, else the citation's ``MD_Identifier`` code (else refused);
    ``identifier``: the citation identifier, else the file identifier; title (``gco:CharacterString``
    or ``gmx:Anchor``), abstract; keywords (all thesauri); ``theme``: the topic categories as INSPIRE
    code-list URIs plus INSPIRE theme anchors (``theme_original``: as written); dates: ``issued`` =
    publication (else creation) date, ``modified`` = revision date; licence: the
    ``gmd:otherConstraints`` ``gmx:Anchor`` href or URL, else its text, onto the licence list;
    ``access_rights``: the INSPIRE ``LimitationsOnPublicAccess`` anchor (``noLimitations`` -> EU
    PUBLIC, an Article 13 ground -> RESTRICTED); publisher: the resource's responsible party by role
    (publisher, owner, custodian, distributor, originator, pointOfContact), its ``gmx:Anchor`` href as
    ``publisher_uri``; contact point: the e-mail of the pointOfContact (else any); languages (ISO
    639-2 -> EU language URIs); bounding box as a WKT polygon; ``gml:TimePeriod`` begin/end;
    maintenance frequency onto the EU list; the ``WWW:LINK``/``information`` online resource as
    landing page. Every other ``gmd:CI_OnlineResource`` is a distribution: linkage (access URL, and
    download URL for ``WWW:DOWNLOAD``/``download`` links), protocol as format for services (``OGC:WMS``,
    ``INSPIRE Atom``) else the distribution format name, name (or description) as title,
    ``transferSize`` (megabytes) as bytes. Service records (``srv``) are skipped: they are listing
    entries, not datasets.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from .. import vocab
from ..config import SourceConfig
from ..landing import LandedPage, PageRequest
from ..model import stable_uid
from .base import Columns, PageError, ParseContext, ParsedPage, Refusal
from .dcat import decode_text, refuse_dtd

RECORD_TABLE = "datasets"
log = logging.getLogger(__name__)

GMD = "http://www.isotc211.org/2005/gmd"
CSW = "http://www.opengis.net/cat/csw/2.0.2"
OWS = "http://www.opengis.net/ows"
NS = {
    "gmd": GMD,
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "srv": "http://www.isotc211.org/2005/srv",
    "gml": "http://www.opengis.net/gml/3.2",
    "gml31": "http://www.opengis.net/gml",
    "xlink": "http://www.w3.org/1999/xlink",
    "csw": CSW,
    "ows": OWS,
}
HREF = "{http://www.w3.org/1999/xlink}href"
DEFAULT_MAX_RECORDS = 50
DEFAULT_RECORD_TYPES = ("dataset", "series")
TOPIC_CATEGORY = "http://inspire.ec.europa.eu/metadata-codelist/TopicCategory/"
INSPIRE_THEME = re.compile(r"^https?://inspire\.ec\.europa\.eu/theme/", re.IGNORECASE)
PUBLIC_ACCESS = "LimitationsOnPublicAccess"
EU_ACCESS = "http://publications.europa.eu/resource/authority/access-right/"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
ISO639_2 = {"dut": "NLD", "nld": "NLD", "eng": "ENG", "fry": "FRY", "ger": "DEU", "deu": "DEU", "fre": "FRA", "fra": "FRA",
            "spa": "SPA", "ita": "ITA"}
ROLE_ORDER = ("publisher", "owner", "custodian", "distributor", "originator", "pointOfContact", "resourceProvider", "author")
MEGABYTE = 1_000_000  # ISO 19115 transferSize is in megabytes



# ------------------------------------------------------------------------------------- requests


def _max_records(source: SourceConfig) -> int:
    return max(1, int(source.option("max_records", DEFAULT_MAX_RECORDS)))


def _constraint(source: SourceConfig) -> str | None:
    if source.option("constraint"):
        return str(source.option("constraint"))
    types = source.option("record_types", list(DEFAULT_RECORD_TYPES))
    if not types:
        return None
    return " OR ".join(f"type='{t}'" for t in types)


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    return _request(source, 1)


def _request(source: SourceConfig, start: int) -> PageRequest:
    method = str(source.option("method", "get")).lower()
    if method == "post":
        return _post_request(source, start)
    if method != "get":
        raise PageError(f"source {source.id}: option method must be get or post, not {method!r}")
    params: dict[str, Any] = {
        "service": "CSW",
        "version": "2.0.2",
        "request": "GetRecords",
        "typeNames": "gmd:MD_Metadata",
        "resultType": "results",
        "outputSchema": GMD,
        "elementSetName": "full",
        "startPosition": start,
        "maxRecords": _max_records(source),
        "namespace": f"xmlns(gmd={GMD})",
    }
    constraint = _constraint(source)
    if constraint:
        params.update(constraintLanguage="CQL_TEXT", constraint_language_version="1.1.0", constraint=constraint)
    return PageRequest("GET", source.url, params=params, context={"start": start})


def getrecords_xml(source: SourceConfig, start: int) -> bytes:
    """The ``csw:GetRecords`` document of a POST request for the page starting at ``start``."""
    types = source.option("record_types", list(DEFAULT_RECORD_TYPES))
    constraint = ""
    if types:
        terms = "".join(
            f"<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:type</ogc:PropertyName><ogc:Literal>{escape(str(t))}</ogc:Literal>"
            "</ogc:PropertyIsEqualTo>" for t in types)
        if len(types) > 1:
            terms = f"<ogc:Or>{terms}</ogc:Or>"
        constraint = f'<csw:Constraint version="1.1.0"><ogc:Filter>{terms}</ogc:Filter></csw:Constraint>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<csw:GetRecords xmlns:csw="{CSW}" xmlns:ogc="http://www.opengis.net/ogc" xmlns:gmd="{GMD}" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" service="CSW" version="2.0.2" resultType="results" '
        f'outputSchema="{GMD}" startPosition="{start}" maxRecords="{_max_records(source)}">'
        f'<csw:Query typeNames="gmd:MD_Metadata"><csw:ElementSetName>full</csw:ElementSetName>{constraint}</csw:Query>'
        "</csw:GetRecords>"
    ).encode("utf-8")


def _post_request(source: SourceConfig, start: int) -> PageRequest:
    # The body travels as text: PageRequest is landed as JSON beside the page.
    return PageRequest("POST", source.url, body=getrecords_xml(source, start).decode("utf-8"),
                       headers={"Content-Type": "application/xml"}, context={"start": start, "post": True})


# ---------------------------------------------------------------------------------------- pages

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
                          remove_comments=True)


def parse_xml(page: LandedPage) -> etree._Element:
    """The page as an XML tree, refusing DTDs and entities before any parsing."""
    text = decode_text(page.body, page.header("Content-Type"), page.charset)
    head = text[:512].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")) or "<html" in head[:200]:
        raise PageError(f"{page.url} answered HTTP {page.status} with an HTML page where a CSW response was expected")
    refuse_dtd(text, page.url)
    try:
        return etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PageError(f"{page.url}: the CSW response is not well-formed XML: {exc}") from None


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    if page.status >= 400:
        raise PageError(f"{page.url} answered HTTP {page.status}")
    if not page.body.strip():
        raise PageError(f"{page.url} answered HTTP {page.status} with an empty body where a CSW response was expected")
    root = parse_xml(page)
    if root.tag in (f"{{{OWS}}}ExceptionReport", "{http://www.opengis.net/ows/1.1}ExceptionReport", "ExceptionReport"):
        raise PageError(f"{page.url}: the CSW answered an exception: {_exception_text(root)}")
    if root.tag != f"{{{CSW}}}GetRecordsResponse":
        raise PageError(f"{page.url}: not a CSW 2.0.2 GetRecordsResponse (root element {root.tag})")
    results = root.find("csw:SearchResults", NS)
    if results is None:
        raise PageError(f"{page.url}: the GetRecordsResponse has no csw:SearchResults")
    records = [child for child in results if isinstance(child.tag, str)]
    foreign = [r for r in records if r.tag != f"{{{GMD}}}MD_Metadata"]
    if foreign:
        raise PageError(f"{page.url}: the server answered {etree.QName(foreign[0]).localname} records instead of "
                        "gmd:MD_Metadata (it ignored outputSchema=http://www.isotc211.org/2005/gmd)")
    matched = _int(results.get("numberOfRecordsMatched"))
    returned = _int(results.get("numberOfRecordsReturned"))
    next_record = _int(results.get("nextRecord"))
    start = int(page.request.context.get("start", 1))
    if next_record is None:  # not written by some servers: continue after what came back
        next_record = start + len(records) if records and (matched is None or start + len(records) <= matched) else 0
    more = bool(records) and next_record > 0 and (matched is None or next_record <= matched)
    if returned is not None and returned != len(records):
        log.warning("%s: numberOfRecordsReturned says %s but the page holds %s records", page.url, returned, len(records))
    return ParsedPage(
        reported_total=matched,
        next_request=_request(source, next_record) if more else None,
        entries=len(records),
        columns=lambda: map_records(source, records, page, ctx),
    )


def _exception_text(root: etree._Element) -> str:
    parts = []
    for exc in root:
        if not isinstance(exc.tag, str):
            continue
        code = exc.get("exceptionCode") or "exception"
        locator = exc.get("locator")
        texts = [t.text.strip() for t in exc if isinstance(t.tag, str) and t.text and t.text.strip()]
        parts.append(f"{code}{f' ({locator})' if locator else ''}: {' '.join(texts) or 'no text'}")
    return "; ".join(parts) or "an empty ExceptionReport"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -------------------------------------------------------------------------------------- mapping


def _text(element: etree._Element | None) -> str | None:
    """The text of a CharacterString-like property (gco:CharacterString, gmx:Anchor, gmd:URL, …)."""
    if element is None:
        return None
    for child in element:
        if isinstance(child.tag, str) and child.text and child.text.strip():
            return child.text.strip()
    return element.text.strip() if element.text and element.text.strip() else None


def _href(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    anchor = element.find("gmx:Anchor", NS)
    return anchor.get(HREF) if anchor is not None else None


def _code(element: etree._Element | None) -> str | None:
    """A code-list value: the codeListValue attribute, else the element's text."""
    if element is None:
        return None
    value = element.get("codeListValue") or (element.text or "").strip()
    return value or None


def _date(ci_date: etree._Element) -> str | None:
    holder = ci_date.find("gmd:date", NS)
    if holder is None:
        return None
    for child in holder:
        if isinstance(child.tag, str) and child.text and child.text.strip():
            return child.text.strip()
    return None


def _party(party: etree._Element) -> tuple[str | None, str | None, str | None, str | None]:
    """(organisation, its URI, e-mail, role) of a gmd:CI_ResponsibleParty."""
    org = party.find("gmd:organisationName", NS)
    email = party.find("gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address/gmd:electronicMailAddress", NS)
    role = party.find("gmd:role/gmd:CI_RoleCode", NS)
    return _text(org), _href(org), _text(email), _code(role)


def map_records(source: SourceConfig, records: list[etree._Element], page: LandedPage, ctx: ParseContext) -> Columns:
    """Map a page of ``gmd:MD_Metadata`` records onto ``datasets`` and ``distributions``."""
    sid = source.id
    wanted_types = {str(t).lower() for t in source.option("record_types", list(DEFAULT_RECORD_TYPES)) or ()}
    template = source.option("landing_page_template")
    refusals: list[Refusal] = []
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    dist_rows: list[dict[str, Any]] = []
    parents: list[int] = []
    watermarks: list[str | None] = []
    for record in records:
        level = _code(record.find("gmd:hierarchyLevel/gmd:MD_ScopeCode", NS)) or "dataset"
        ident = record.find("gmd:identificationInfo/*", NS)
        if level == "service" or (ident is not None and etree.QName(ident).namespace == NS["srv"]):
            continue  # a service record: an entry of the listing, not a dataset
        if wanted_types and level.lower() not in wanted_types and not source.option("constraint"):
            continue
        citation = ident.find("gmd:citation/gmd:CI_Citation", NS) if ident is not None else None
        title = _text(citation.find("gmd:title", NS)) if citation is not None else None
        file_id = _text(record.find("gmd:fileIdentifier", NS))
        codes = [_text(c) for c in citation.findall("gmd:identifier/*/gmd:code", NS)] if citation is not None else []
        resource_id = next((c for c in codes if c), None)
        record_id = file_id or resource_id
        if not record_id:
            refusals.append(Refusal(None, "record_has_id", "source_record_id", None,
                                    f"a gmd:MD_Metadata record on {page.url} has neither a gmd:fileIdentifier nor a citation "
                                    "identifier, so it has no stable id",
                                    {"page": page.url, "title": title, "hierarchyLevel": level}))
            continue
        if ident is None:
            refusals.append(Refusal(record_id, "record_has_identification", "title", None,
                                    f"record {record_id} has no gmd:identificationInfo (no title, abstract or keywords)",
                                    {"page": page.url, "fileIdentifier": file_id}))
            continue
        rows.append(_dataset_row(source, record, ident, citation, record_id, resource_id or file_id, template))
        ids.append(record_id)
        watermarks.append(_text(record.find("gmd:dateStamp", NS)))
        index = len(ids) - 1
        for dist in _distributions(record, rows[-1]):
            dist.update(
                distribution_uid=stable_uid(sid, record_id, f"{len(parents)}:{dist['access_url']}"),
                dataset_uid=rows[-1]["dataset_uid"], source_record_id=record_id, source_id=sid,
                harvested_at=ctx.harvested_at, run_id=ctx.run_id, raw_sha256=page.sha256,
            )
            dist_rows.append(dist)
            parents.append(index)
    for row, record_id in zip(rows, ids):
        row.update(source_id=sid, source_record_id=record_id, harvested_at=ctx.harvested_at, run_id=ctx.run_id,
                   raw_sha256=page.sha256)
    return Columns(
        record_ids=ids,
        tables={"datasets": _columns(rows), "distributions": _columns(dist_rows)},
        parents={"distributions": parents},
        watermarks=watermarks,
        refusals=refusals,
    )


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def _dataset_row(source: SourceConfig, record: etree._Element, ident: etree._Element, citation: etree._Element | None,
                 record_id: str, identifier: str, template: str | None) -> dict[str, Any]:
    # -- dates
    dates: dict[str, str] = {}
    for ci_date in citation.findall("gmd:date/gmd:CI_Date", NS) if citation is not None else ():
        kind = _code(ci_date.find("gmd:dateType/gmd:CI_DateTypeCode", NS))
        value = _date(ci_date)
        if kind and value and kind not in dates:
            dates[kind] = value

    # -- keywords and themes
    keywords: list[str] = []
    themes: list[str] = []
    themes_original: list[str] = []
    for keyword in ident.findall("gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword", NS):
        text, href = _text(keyword), _href(keyword)
        if text and text not in keywords:
            keywords.append(text)
        if href and INSPIRE_THEME.match(href) and href not in themes:
            themes.append(href)
            themes_original.append(href)
    for topic in ident.findall("gmd:topicCategory/gmd:MD_TopicCategoryCode", NS):
        code = (topic.text or "").strip()
        if code:
            themes.append(TOPIC_CATEGORY + code)
            themes_original.append(code)

    # -- licence and access rights
    licence_candidates: list[str] = []
    licence_texts: list[str] = []
    access_original = None
    for constraint in ident.findall("gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:otherConstraints", NS):
        href, text = _href(constraint), _text(constraint)
        if href and PUBLIC_ACCESS in href:
            access_original = access_original or href
        elif href:
            licence_candidates.append(href)
        elif text and re.match(r"https?://", text):
            licence_candidates.append(text)
        elif text:
            licence_texts.append(text)
    license_original = next(iter(licence_candidates), None) or next(
        (t for t in licence_texts if vocab.license_uri(t)), None) or next(iter(licence_texts), None)
    access_rights = None
    if access_original:
        access_rights = EU_ACCESS + ("PUBLIC" if access_original.rstrip("/").endswith("noLimitations") else "RESTRICTED")

    # -- organisations
    parties = [_party(p) for p in ident.findall("gmd:pointOfContact/gmd:CI_ResponsibleParty", NS)]
    metadata_parties = [_party(p) for p in record.findall("gmd:contact/gmd:CI_ResponsibleParty", NS)]
    ranked = sorted((p for p in parties if p[0]), key=lambda p: ROLE_ORDER.index(p[3]) if p[3] in ROLE_ORDER else len(ROLE_ORDER))
    publisher = ranked[0] if ranked else next((p for p in metadata_parties if p[0]), (None, None, None, None))
    contact = next((p[2] for p in parties if p[3] == "pointOfContact" and p[2]), None) or next(
        (p[2] for p in parties + metadata_parties if p[2]), None)

    # -- languages, extent, frequency
    languages = []
    for language in ident.findall("gmd:language/gmd:LanguageCode", NS) + ident.findall("gmd:language/gco:CharacterString", NS):
        code = _code(language)
        if code:
            mapped = EU_LANGUAGE + ISO639_2[code.lower()] if code.lower() in ISO639_2 else code
            if mapped not in languages:
                languages.append(mapped)
    spatial = _spatial(ident)
    start, end = _temporal(ident)
    frequency_original = _code(ident.find("gmd:resourceMaintenance/gmd:MD_MaintenanceInformation/"
                                          "gmd:maintenanceAndUpdateFrequency/gmd:MD_MaintenanceFrequencyCode", NS))

    landing_page = None
    for resource in _online_resources(record):
        if _is_landing_page(resource):
            landing_page = _text(resource.find("gmd:linkage", NS))
            if landing_page:
                break
    if landing_page is None and template:
        landing_page = str(template).format(id=record_id)

    license_uri = vocab.license_uri(license_original) if license_original else None
    return {
        "dataset_uid": stable_uid(source.id, record_id),
        "identifier": identifier,
        "title": _text(citation.find("gmd:title", NS)) if citation is not None else None,
        "description": _text(ident.find("gmd:abstract", NS)),
        "publisher": publisher[0] or source.publisher,
        "publisher_uri": publisher[1],
        "contact_point": contact,
        "theme": themes,
        "keyword": keywords,
        "license": license_uri or license_original,
        "access_rights": access_rights,
        "issued": dates.get("publication") or dates.get("creation"),
        "modified": dates.get("revision"),
        "landing_page": landing_page,
        "language": languages,
        "spatial": spatial,
        "temporal_start": start,
        "temporal_end": end,
        "frequency": (vocab.frequency_uri(frequency_original) or frequency_original) if frequency_original else None,
        "license_original": license_original,
        "access_rights_original": access_original,
        "frequency_original": frequency_original,
        "theme_original": themes_original,
    }


def _spatial(ident: etree._Element) -> str | None:
    described = ident.find("gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicDescription/"
                           "gmd:geographicIdentifier/gmd:MD_Identifier/gmd:code", NS)
    if described is not None and _text(described):
        return _text(described)
    box = ident.find("gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox", NS)
    if box is None:
        return None
    values = [_text(box.find(f"gmd:{side}", NS)) for side in
              ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")]
    try:
        west, south, east, north = (float(v) for v in values)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f"POLYGON(({west:g} {south:g}, {east:g} {south:g}, {east:g} {north:g}, {west:g} {north:g}, {west:g} {south:g}))"


def _temporal(ident: etree._Element) -> tuple[str | None, str | None]:
    for extent in ident.findall("gmd:extent/gmd:EX_Extent/gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent", NS):
        for gml in ("gml", "gml31"):
            period = extent.find(f"{gml}:TimePeriod", NS)
            if period is None:
                continue
            begin = period.find(f"{gml}:beginPosition", NS)
            end = period.find(f"{gml}:endPosition", NS)
            if begin is None:
                begin = period.find(f"{gml}:begin/{gml}:TimeInstant/{gml}:timePosition", NS)
            if end is None:
                end = period.find(f"{gml}:end/{gml}:TimeInstant/{gml}:timePosition", NS)
            start_text = (begin.text or "").strip() if begin is not None else ""
            end_text = (end.text or "").strip() if end is not None else ""
            if start_text or end_text:
                return start_text or None, end_text or None
    return None, None


def _online_resources(record: etree._Element) -> list[etree._Element]:
    found = record.findall("gmd:distributionInfo/gmd:MD_Distribution/gmd:transferOptions/gmd:MD_DigitalTransferOptions/"
                           "gmd:onLine/gmd:CI_OnlineResource", NS)
    found += record.findall("gmd:distributionInfo/gmd:MD_Distribution/gmd:distributor/gmd:MD_Distributor/"
                            "gmd:distributorTransferOptions/gmd:MD_DigitalTransferOptions/gmd:onLine/gmd:CI_OnlineResource", NS)
    return found


def _protocol(resource: etree._Element) -> str | None:
    return _text(resource.find("gmd:protocol", NS))


def _function(resource: etree._Element) -> str | None:
    return _code(resource.find("gmd:function/gmd:CI_OnLineFunctionCode", NS))


def _is_landing_page(resource: etree._Element) -> bool:
    protocol = (_protocol(resource) or "").upper()
    return _function(resource) == "information" or protocol.startswith("WWW:LINK") or protocol == "LANDINGPAGE"


def _distributions(record: etree._Element, row: dict[str, Any]) -> list[dict[str, Any]]:
    format_names = [_text(f.find("gmd:name", NS)) for f in
                    record.findall("gmd:distributionInfo/gmd:MD_Distribution/gmd:distributionFormat/gmd:MD_Format", NS)]
    file_format = next((f for f in format_names if f), None)
    out = []
    for options in record.findall("gmd:distributionInfo/gmd:MD_Distribution/gmd:transferOptions/gmd:MD_DigitalTransferOptions", NS) + \
            record.findall("gmd:distributionInfo/gmd:MD_Distribution/gmd:distributor/gmd:MD_Distributor/"
                           "gmd:distributorTransferOptions/gmd:MD_DigitalTransferOptions", NS):
        size_text = _text(options.find("gmd:transferSize", NS))
        try:
            size = int(round(float(size_text) * MEGABYTE)) if size_text else None
        except ValueError:
            size = None
        for resource in options.findall("gmd:onLine/gmd:CI_OnlineResource", NS):
            url = _text(resource.find("gmd:linkage", NS))
            if not url or _is_landing_page(resource):
                continue
            protocol = _protocol(resource)
            upper = (protocol or "").upper()
            function = _function(resource)
            is_service = upper.startswith(("OGC:", "ESRI:", "OAPIF", "OGC API")) or "ATOM" in upper
            is_download = upper.startswith("WWW:DOWNLOAD") or (function == "download" and not is_service)
            fmt = protocol if is_service or not file_format else file_format
            out.append({
                "access_url": url,
                "download_url": url if is_download else None,
                "format": fmt,
                "media_type": None,
                "license": row["license"],
                "byte_size": size if is_download else None,
                "title": _text(resource.find("gmd:name", NS)) or _text(resource.find("gmd:description", NS)),
                "format_original": fmt,
                "license_original": None,
            })
    return out
