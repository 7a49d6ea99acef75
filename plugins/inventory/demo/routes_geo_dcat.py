"""The sample agencies of the ``dcat`` and ``csw`` source kinds, served by :mod:`.sample_agencies`.

``sample_agencies.SampleAgencies.route`` hands every ``/dcat/…`` and ``/csw/…`` request to
:func:`route`. The fixtures under ``fixtures/dcat/`` and ``fixtures/csw/`` are written with the
demo's base URL ``http://127.0.0.1:8765``; every answer has it replaced by the server's own URL.

DCAT-AP catalogues (``?page=N``, from 1; a page past the end is 404)

``GET /dcat/ienw/catalog[.ttl|.rdf|.jsonld|.nt]``
    Ministerie van Infrastructuur en Waterstaat, DCAT-AP-NL 3.0 with DCAT-AP 2.x and 1.1 leftovers,
    45 datasets in 4 pages linked by ``hydra:next`` on a ``hydra:PartialCollectionView``,
    ``hydra:totalItems`` 45. The extension picks the syntax (as ckanext-dcat's ``catalog.{ext}``; the
    other syntaxes are converted from the Turtle with pyoxigraph once, and their page links keep the
    extension); without one, the ``Accept`` header does when the server passes headers, else Turtle.
    ``.nt`` is served as ``text/plain`` (the old N-Triples type many servers still send).
``GET /dcat/fryslan/catalog.xml``
    Provinsje Fryslân, DCAT-AP-DONL 1.1 as RDF/XML, 15 datasets in 2 pages linked by the older
    ``hydra:nextPage`` (a literal, as ckanext-dcat writes it) on a ``hydra:PagedCollection``. Page 1
    is UTF-8 served as ``charset=ISO-8859-1``; page 2 is Windows-1252 bytes under a UTF-8 header and
    XML declaration.
``GET /dcat/zuid-holland/catalog.jsonld``
    Provincie Zuid-Holland, DCAT-AP 3 JSON-LD whose ``@context`` is the remote SEMIC DCAT-AP and Hydra
    contexts (a harvester must not fetch them), 9 datasets in 2 pages (``view``/``next``).
``GET /dcat/loop/catalog``
    Gemeente Zwolle, 3 pages of 3 datasets whose last page links back to the first (and whose
    ``hydra:totalItems`` says 12). Only here, so that the demo's own catalogues stay healthy.
``GET /dcat/hostile/entities.rdf``, ``GET /dcat/hostile/unknown-context.jsonld``
    RDF/XML with a DTD of nested and external entities; JSON-LD whose ``@context`` is a remote
    document no harvester knows (``GET /dcat/contexts/mystery.jsonld`` serves it, so a fetch would
    show in the request log).

OGC CSW 2.0.2 (``GET`` KVP or ``POST`` XML ``GetRecords``)

``/csw/<agency>/csw?service=CSW&version=2.0.2&request=GetRecords&typeNames=gmd:MD_Metadata&resultType=results&outputSchema=http://www.isotc211.org/2005/gmd&elementSetName=full&startPosition=1&maxRecords=10``
    ``csw:GetRecordsResponse`` with ``numberOfRecordsMatched``, ``numberOfRecordsReturned`` and
    ``nextRecord`` (0 after the last page). ``constraintLanguage=CQL_TEXT&constraint=type='dataset' OR
    type='series'`` (or an ``ogc:Filter`` of ``PropertyIsEqualTo`` on ``dc:type`` in a POST) filters
    by hierarchy level; ``resultType=hits`` counts only; ``outputSchema`` csw returns ``csw:Record``.
    Bad parameters answer an ``ows:ExceptionReport`` (HTTP 200, as pycsw and GeoNetwork do).
    Agencies: ``nationaal-georegister`` (44 records of the Dutch ISO 19115 profile: 38 datasets, 2
    series, 4 services), ``provincie-oud`` (5 records whose XML declaration says ISO-8859-1 while the
    bytes are UTF-8), ``loop`` (its third page's ``nextRecord`` points back to 1), ``hostile`` (a DTD).
    Fault mode ``short-count`` adds 20 to ``numberOfRecordsMatched``.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .sample_agencies import FIXTURES_DIR, Response

FIXTURE_BASE = "http://127.0.0.1:8765"
TURTLE, RDFXML, JSONLD, NTRIPLES = "text/turtle", "application/rdf+xml", "application/ld+json", "application/n-triples"
EXTENSIONS = {".ttl": TURTLE, ".rdf": RDFXML, ".jsonld": JSONLD, ".nt": NTRIPLES}
GMD = "http://www.isotc211.org/2005/gmd"
CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
XML_TYPE = "application/xml; charset=utf-8"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _fixtures(root: Path = FIXTURES_DIR) -> dict[str, Any]:
    """The fixture documents, read once per process."""
    with _lock:
        if not _state:
            dcat, csw = root / "dcat", root / "csw"
            _state["ienw"] = [p.read_bytes() for p in sorted((dcat / "ienw").glob("page-*.ttl"), key=_page_number)]
            _state["loop"] = [p.read_bytes() for p in sorted((dcat / "loop").glob("page-*.ttl"), key=_page_number)]
            _state["fryslan"] = [p.read_bytes() for p in sorted((dcat / "fryslan").glob("page-*.rdf"), key=_page_number)]
            _state["zuid-holland"] = [p.read_bytes() for p in sorted((dcat / "zuid-holland").glob("page-*.jsonld"), key=_page_number)]
            _state["hostile"] = {p.name: p.read_bytes() for p in (dcat / "hostile").iterdir()}
            _state["converted"] = {}
            ngr = _records((csw / "nationaal-georegister.xml").read_text(encoding="utf-8"))
            _state["csw"] = {
                "nationaal-georegister": ngr,
                "provincie-oud": _records((csw / "provincie-oud.xml").read_text(encoding="utf-8")),
                "loop": [r for r in ngr if r["type"] == "dataset" and r["id"]][:15],
                "hostile": ngr[:3],
            }
        return _state


def _page_number(path: Path) -> int:
    return int(re.search(r"(\d+)", path.stem).group(1))  # type: ignore[union-attr]


def _records(dump: str) -> list[dict[str, str]]:
    """Each ``gmd:MD_Metadata`` block of a dump, with its file identifier and hierarchy level."""
    out = []
    for block in re.findall(r"<gmd:MD_Metadata\b.*?</gmd:MD_Metadata>", dump, re.S):
        file_id = re.search(r"<gmd:fileIdentifier>\s*<gco:CharacterString>([^<]*)<", block)
        level = re.search(r'<gmd:hierarchyLevel>\s*<gmd:MD_ScopeCode[^>]*codeListValue="([^"]+)"', block)
        title = re.search(r"<gmd:title>\s*<gco:CharacterString>([^<]*)<", block)
        out.append({"xml": block, "id": file_id.group(1) if file_id else "", "type": level.group(1) if level else "dataset",
                    "title": title.group(1) if title else ""})
    return out


def _text(status: int, body: str | bytes, content_type: str, base: str) -> Response:
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    return Response(status, data.replace(FIXTURE_BASE.encode(), base.encode()), content_type)


def route(app: Any, method: str, segments: list[str], query: str, body: bytes, modes: set[str],
          headers: dict[str, str] | None = None) -> Response:
    base = app.url or FIXTURE_BASE
    state = _fixtures()
    params = {k.lower(): v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if segments[0] == "dcat":
        if method not in ("GET", "HEAD"):
            return _text(405, "Method Not Allowed\n", "text/plain; charset=utf-8", base)
        return _dcat(state, segments[1:], params, headers or {}, base)
    if len(segments) == 3 and segments[2] == "csw" and segments[1] in state["csw"]:
        return _csw(segments[1], state["csw"][segments[1]], method, params, body, modes, base)
    return _text(404, "Not Found\n", "text/plain; charset=utf-8", base)


# ------------------------------------------------------------------------------------------ DCAT


def _negotiate(accept: str) -> str | None:
    """The RDF syntax an Accept header prefers (Turtle when it allows anything); None if none fits."""
    if not accept.strip():
        return TURTLE
    best, best_q = None, 0.0
    for order, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if media in ("*/*", "text/*", "application/*"):
            candidate = TURTLE if media != "application/*" else JSONLD
        elif media in (TURTLE, RDFXML, JSONLD, NTRIPLES):
            candidate = media
        elif media == "application/x-turtle":
            candidate = TURTLE
        else:
            continue
        q -= order * 1e-6  # ties: the first listed wins
        if q > best_q:
            best, best_q = candidate, q
    return best


def _converted(state: dict[str, Any], agency: str, n: int, media: str, link_suffix: str) -> bytes:
    """Page ``n`` of a Turtle agency in another syntax, converted once with pyoxigraph."""
    key = (agency, n, media, link_suffix)
    with _lock:
        cached = state["converted"].get(key)
    if cached is not None:
        return cached
    source = state[agency][n - 1].decode("utf-8").replace(f"/dcat/{agency}/catalog?", f"/dcat/{agency}/catalog{link_suffix}?")
    if media == TURTLE:
        data = source.encode("utf-8")
    else:
        import pyoxigraph

        fmt = {RDFXML: pyoxigraph.RdfFormat.RDF_XML, JSONLD: pyoxigraph.RdfFormat.JSON_LD,
               NTRIPLES: pyoxigraph.RdfFormat.N_TRIPLES}[media]
        prefixes = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
                    "vcard": "http://www.w3.org/2006/vcard/ns#", "hydra": "http://www.w3.org/ns/hydra/core#"}
        data = pyoxigraph.serialize(pyoxigraph.parse(source, pyoxigraph.RdfFormat.TURTLE, lenient=True), format=fmt,
                                    prefixes=prefixes if media == RDFXML else None)
    with _lock:
        state["converted"][key] = data
    return data


def _dcat(state: dict[str, Any], rest: list[str], params: dict[str, str], headers: dict[str, str], base: str) -> Response:
    not_found = _text(404, "Not Found\n", "text/plain; charset=utf-8", base)
    if rest == ["contexts", "mystery.jsonld"]:
        return _text(200, '{"@context": {"title": "http://purl.org/dc/terms/title"}}\n', "application/ld+json", base)
    if len(rest) == 2 and rest[0] == "hostile" and rest[1] in state["hostile"]:
        media = RDFXML if rest[1].endswith(".rdf") else JSONLD
        return _text(200, state["hostile"][rest[1]], media, base)
    if len(rest) != 2 or not rest[1].startswith("catalog"):
        return not_found
    agency, resource = rest
    try:
        n = int(params.get("page") or 1)
    except ValueError:
        return _text(400, "page must be a number\n", "text/plain; charset=utf-8", base)
    pages = state.get(agency) if agency in ("ienw", "loop", "fryslan", "zuid-holland") else None
    if not pages or not 1 <= n <= len(pages):
        return not_found
    if agency == "fryslan":
        if resource != "catalog.xml":
            return not_found
        # Wrongly declared charsets: page 1 is UTF-8 but says ISO-8859-1; page 2 is Windows-1252 but says UTF-8.
        charset = "ISO-8859-1" if n == 1 else "utf-8"
        return _text(200, pages[n - 1], f"application/rdf+xml; charset={charset}", base)
    if agency == "zuid-holland":
        if resource != "catalog.jsonld":
            return not_found
        return _text(200, pages[n - 1], "application/ld+json", base)
    # ienw and loop: Turtle fixtures, any syntax by extension or Accept.
    suffix = resource[len("catalog"):]
    if suffix:
        media = EXTENSIONS.get(suffix)
        if media is None:
            return not_found
    else:
        accept = next((v for k, v in headers.items() if k.lower() == "accept"), "")
        media = _negotiate(accept)
        if media is None:
            return _text(406, f"Not Acceptable: this catalogue speaks {TURTLE}, {RDFXML}, {JSONLD} and {NTRIPLES}\n",
                         "text/plain; charset=utf-8", base)
    data = _converted(state, agency, n, media, suffix)
    content_type = {TURTLE: "text/turtle; charset=utf-8", RDFXML: "application/rdf+xml", JSONLD: "application/ld+json",
                    NTRIPLES: "text/plain; charset=utf-8" if suffix == ".nt" else NTRIPLES}[media]
    response = _text(200, data, content_type, base)
    if not suffix:
        response.headers["Vary"] = "Accept"
    return response


# ------------------------------------------------------------------------------------------- CSW


def _exception(code: str, locator: str | None, message: str, base: str) -> Response:
    loc = f' locator="{locator}"' if locator else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows" '
            f'version="1.2.0" language="en">\n  <ows:Exception exceptionCode="{code}"{loc}>\n'
            f"    <ows:ExceptionText>{_esc(message)}</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n")
    return _text(200, body, XML_TYPE, base)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class _BadRequest(Exception):
    def __init__(self, code: str, locator: str | None, message: str):
        super().__init__(message)
        self.code, self.locator, self.message = code, locator, message


def _post_params(body: bytes) -> dict[str, Any]:
    """The parameters of a POSTed ``csw:GetRecords`` document."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # defusedxml refuses DTDs and entities; anything else is malformed
        raise _BadRequest("NoApplicableCode", None, f"the request body is not a usable XML document: {exc}") from None
    if root.tag != f"{{{CSW_NS}}}GetRecords":
        raise _BadRequest("OperationNotSupported", "request", f"only GetRecords is supported, not {root.tag}")
    params: dict[str, Any] = {"service": root.get("service", ""), "version": root.get("version", ""), "request": "GetRecords",
                              "resulttype": root.get("resultType", "hits"), "outputschema": root.get("outputSchema", CSW_NS),
                              "startposition": root.get("startPosition", "1"), "maxrecords": root.get("maxRecords", "10")}
    query = root.find(f"{{{CSW_NS}}}Query")
    if query is None:
        raise _BadRequest("MissingParameterValue", "Query", "GetRecords needs a csw:Query")
    params["typenames"] = query.get("typeNames", "")
    element_set = query.find(f"{{{CSW_NS}}}ElementSetName")
    params["elementsetname"] = element_set.text if element_set is not None else "summary"
    values = [e.text or "" for e in query.iter("{http://www.opengis.net/ogc}Literal")]
    names = [e.text or "" for e in query.iter("{http://www.opengis.net/ogc}PropertyName")]
    if values:
        if any(n.split(":")[-1].lower() != "type" for n in names):
            raise _BadRequest("InvalidParameterValue", "Constraint", "the sample agency filters on dc:type only")
        params["types"] = [v.strip().lower() for v in values]
    return params


def _cql_types(cql: str) -> list[str]:
    types = []
    for term in re.split(r"\s+or\s+", cql.strip(), flags=re.I):
        m = re.fullmatch(r"\(?\s*(?:dc:)?type\s*=\s*'([^']*)'\s*\)?", term.strip(), re.I)
        if not m:
            raise _BadRequest("InvalidParameterValue", "constraint",
                              f"cannot parse the CQL constraint {cql!r}; the sample agency understands type='…' OR type='…'")
        types.append(m.group(1).lower())
    return types


def _csw(agency: str, records: list[dict[str, str]], method: str, params: dict[str, Any], body: bytes, modes: set[str],
         base: str) -> Response:
    try:
        if method == "POST":
            params = _post_params(body)
        elif method not in ("GET", "HEAD"):
            raise _BadRequest("NoApplicableCode", None, f"method {method} is not supported")
        if str(params.get("service", "")).upper() != "CSW":
            raise _BadRequest("MissingParameterValue" if not params.get("service") else "InvalidParameterValue", "service",
                              "service must be CSW")
        request = str(params.get("request", ""))
        if request.lower() != "getrecords":
            raise _BadRequest("OperationNotSupported", "request", f"operation {request or '(none)'} is not supported here; use GetRecords")
        if params.get("version", "2.0.2") != "2.0.2":
            raise _BadRequest("VersionNegotiationFailed", "version", "only CSW 2.0.2 is supported")
        if not params.get("typenames"):
            raise _BadRequest("MissingParameterValue", "typeNames", "typeNames is mandatory")
        schema = params.get("outputschema") or CSW_NS
        if schema not in (GMD, CSW_NS):
            raise _BadRequest("InvalidParameterValue", "outputSchema", f"outputSchema {schema} is not supported")
        result_type = (params.get("resulttype") or "hits").lower()
        if result_type not in ("hits", "results", "validate"):
            raise _BadRequest("InvalidParameterValue", "resultType", f"resultType {result_type} is not supported")
        try:
            start = int(params.get("startposition") or 1)
            limit = int(params.get("maxrecords") or 10)
        except ValueError:
            raise _BadRequest("InvalidParameterValue", "startPosition", "startPosition and maxRecords must be integers") from None
        if start < 1 or limit < 0:
            raise _BadRequest("InvalidParameterValue", "startPosition", "startPosition must be 1 or more, maxRecords 0 or more")
        types = params.get("types")
        if types is None and params.get("constraint"):
            if (params.get("constraintlanguage") or "").upper() != "CQL_TEXT":
                raise _BadRequest("InvalidParameterValue", "constraintLanguage", "the sample agency understands CQL_TEXT only")
            types = _cql_types(params["constraint"])
    except _BadRequest as exc:
        return _exception(exc.code, exc.locator, exc.message, base)

    hits = [r for r in records if not types or r["type"] in types]
    matched = len(hits) + (20 if "short-count" in modes else 0)
    chunk = hits[start - 1: start - 1 + limit] if result_type == "results" else []
    following = start + len(chunk)
    next_record = following if chunk and following <= len(hits) else 0
    if agency == "loop" and start > 10:
        next_record = 1  # the third page points back to the first
    element_set = params.get("elementsetname") or "summary"
    if schema == GMD:
        items = [r["xml"] for r in chunk]
    else:
        items = [f'<csw:SummaryRecord xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier>{_esc(r["id"])}</dc:identifier>'
                 f'<dc:title>{r["title"]}</dc:title><dc:type>{r["type"]}</dc:type></csw:SummaryRecord>' for r in chunk]
    declaration = '<?xml version="1.0" encoding="ISO-8859-1"?>' if agency == "provincie-oud" else '<?xml version="1.0" encoding="UTF-8"?>'
    doctype = ""
    if agency == "hostile":
        doctype = ('\n<!DOCTYPE csw:GetRecordsResponse [\n  <!ENTITY a "aaaaaaaaaa">\n  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
                   '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>')
    stamp = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    text = (f'{declaration}{doctype}\n<csw:GetRecordsResponse xmlns:csw="{CSW_NS}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{CSW_NS} http://schemas.opengis.net/csw/2.0.2/CSW-discovery.xsd">\n'
            f'  <csw:SearchStatus timestamp="{stamp}"/>\n'
            f'  <csw:SearchResults numberOfRecordsMatched="{matched}" numberOfRecordsReturned="{len(chunk)}" '
            f'elementSet="{element_set}" nextRecord="{next_record}">\n'
            + "\n".join(items) + ("\n" if items else "")
            + "  </csw:SearchResults>\n</csw:GetRecordsResponse>\n")
    content_type = "application/xml; charset=ISO-8859-1" if agency == "provincie-oud" else XML_TYPE
    return _text(200, text.encode("utf-8"), content_type, base)
