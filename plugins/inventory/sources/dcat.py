"""``dcat``: DCAT-AP catalogues as Turtle, RDF/XML, JSON-LD or N-Triples, paged with Hydra.

Listing
    The first page is ``url`` (plus the ``params`` option). The next page is the ``hydra:next`` of a
    ``hydra:PartialCollectionView`` (DCAT-AP catalogues of udata, Piveau and newer CKAN) or the older
    ``hydra:nextPage`` of a ``hydra:PagedCollection`` (ckanext-dcat, which writes it as a literal);
    relative links resolve against the page URL. ``hydra:totalItems`` is the reported total. A link
    back to a page already asked for ends the listing as ``partial`` in the shared loop, never here.

Formats
    Requests carry ``Accept: text/turtle, application/ld+json;q=0.9, …`` (only ``format``'s media
    type when that option is set).
    The body's format is, in this order: the ``format`` option (``turtle``, ``rdfxml``, ``jsonld``,
    ``ntriples``, or a media type or file extension); the ``Content-Type`` when it names an RDF
    format the body agrees with; the URL's extension; a look at the body. An HTML page, or a body
    that contradicts the ``format`` option, is a :class:`PageError` that says so.

Parsing
    pyoxigraph, streaming the triples of the page once (``pyoxigraph.parse``; rdflib is never used
    here). Only the triples of the ~50 predicates that are mapped are kept, grouped by subject. The
    parser runs with ``lenient=True``: the strict parser drops or garbles the rest of an RDF/XML
    element at the first invalid IRI, and silently loses JSON-LD nodes with one. Every IRI that
    reaches a canonical column is checked here instead (absolute, no spaces, no ``<>"{}|\\^```); a
    dataset with a bad one — a relative theme IRI, ``mailto:info @example.nl`` — is refused with
    the property, the value and the reason (it goes to quarantine), and the rest of the catalogue is
    harvested. Syntax errors are recovered per statement (pyoxigraph resumes after the statement);
    each costs the dataset whose triples were being read a refusal too, or, when it belongs to no
    dataset, becomes a refusal of its own. More than ``MAX_SYNTAX_ERRORS`` fail the page, and so does
    an error at the end of the input (a truncated page is a transport fault, not a bad dataset).

    Text is decoded before parsing: a UTF-8 body is read as UTF-8 whatever the ``charset`` says (a
    wrongly declared ``ISO-8859-1`` is common and valid UTF-8 is never an accident); otherwise the
    declared charset, else Windows-1252. An XML declaration is rewritten to UTF-8 to match. RDF/XML
    with a ``<!DOCTYPE`` or ``<!ENTITY`` declaration is refused before parsing (entity expansion,
    external entities). A JSON-LD remote ``@context`` is never fetched: a well-known one is replaced
    by the local copy in ``sources/rdf_context/``, any other refuses the page with a clear message.

Mapping (DCAT-AP 2.x, DCAT-AP 3, DCAT-AP-NL 3.0, DCAT-AP-DONL 1.1 and the DCAT-AP 1.x leftovers)
    Record GUID: the dataset IRI (a relative one resolved against the page), else its
    ``dct:identifier`` (blank-node datasets), else the dataset is refused. Title and description
    prefer ``nl``, then ``en``, then untagged, then any language. ``dct:publisher`` gives
    ``publisher_uri`` and ``foaf:name`` (or ``vcard:fn``, ``skos:prefLabel``, ``rdfs:label``);
    ``dcat:contactPoint`` its ``vcard:hasEmail`` (without ``mailto:``), else ``vcard:fn``;
    ``dct:license`` on the dataset (DONL) or else on its first distribution that has one;
    ``dct:temporal`` with ``dcat:startDate``/``endDate`` (DCAT 2+), ``schema:startDate``/``endDate``
    (DCAT-AP 1.x, DONL) or ``time:hasBeginning``/``hasEnd``; ``dct:spatial`` as its IRI, else the
    location's geometry, bbox, centroid or label. Licence and frequency map onto the controlled
    lists (``vocab``) with the original kept beside them. Distributions: ``dcat:accessURL``,
    ``downloadURL``, ``dct:format`` (IRI, literal, or an ``dct:IMT`` node's ``rdf:value``),
    ``dcat:mediaType`` (an IANA media-type IRI shortened to ``text/csv``), ``dcat:byteSize``
    (``"147253.0"^^xsd:decimal`` included), ``dct:title`` and ``dct:license`` (else the dataset's).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urljoin, urlsplit

import pyoxigraph
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat

from .. import vocab
from ..charset import Charset, decode, detect
from ..config import SourceConfig
from ..gcpause import no_cyclic_gc
from ..landing import LandedPage, PageRequest
from .base import Columns, PageError, ParseContext, ParsedPage, Refusal

RECORD_TABLE = "datasets"

# The shared loop sends a request's headers once PageRequest carries them (see the module docstring).

MAX_SYNTAX_ERRORS = 200
# A parser error at the end of the input: the page is truncated, which fails the page (not a dataset).
# ("Unexpected end" is oxttl's word for input that stops inside a token.)
_TRUNCATED = re.compile(r"end of (file|input)|unexpected eof|unexpected end\b", re.IGNORECASE)

# ----------------------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class Format:
    name: str
    rdf: RdfFormat
    media_type: str
    family: str  # what a look at the body can tell: "xml", "json" or "turtle" (N-Triples is Turtle)


FORMATS = {
    "turtle": Format("turtle", RdfFormat.TURTLE, "text/turtle", "turtle"),
    "rdfxml": Format("rdfxml", RdfFormat.RDF_XML, "application/rdf+xml", "xml"),
    "jsonld": Format("jsonld", RdfFormat.JSON_LD, "application/ld+json", "json"),
    "ntriples": Format("ntriples", RdfFormat.N_TRIPLES, "application/n-triples", "turtle"),
}
# Every spelling the ``format`` option, a Content-Type or a file extension may use.
FORMAT_NAMES = {
    "turtle": "turtle", "ttl": "turtle", "text/turtle": "turtle", "application/x-turtle": "turtle",
    "application/turtle": "turtle",
    "rdfxml": "rdfxml", "rdf/xml": "rdfxml", "rdf+xml": "rdfxml", "rdf": "rdfxml", "xml": "rdfxml", "owl": "rdfxml",
    "application/rdf+xml": "rdfxml",
    "jsonld": "jsonld", "json-ld": "jsonld", "application/ld+json": "jsonld",
    "ntriples": "ntriples", "n-triples": "ntriples", "nt": "ntriples", "application/n-triples": "ntriples",
}
# Content-Types that say nothing about which RDF syntax it is: the URL and the body decide.
GENERIC_TYPES = frozenset({
    "", "text/plain", "application/octet-stream", "binary/octet-stream", "application/xml", "text/xml",
    "application/json", "application/x-download", "application/download",
})
EXTENSIONS = {".ttl": "turtle", ".rdf": "rdfxml", ".xml": "rdfxml", ".owl": "rdfxml", ".jsonld": "jsonld",
              ".json": "jsonld", ".nt": "ntriples"}
DEFAULT_ACCEPT = ("text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8, "
                  "application/n-triples;q=0.7, */*;q=0.1")


def format_option(source: SourceConfig) -> Format | None:
    value = source.option("format")
    if value in (None, "", "auto"):
        return None
    name = FORMAT_NAMES.get(str(value).strip().lower().lstrip("."))
    if name is None:
        raise PageError(f"source {source.id}: unknown format option {value!r}; use turtle, rdfxml, jsonld or ntriples")
    return FORMATS[name]


def accept_header(source: SourceConfig) -> str:
    """What the source is asked for: the ``format`` option's media type, else every RDF syntax."""
    forced = format_option(source)
    return f"{forced.media_type}, */*;q=0.1" if forced else DEFAULT_ACCEPT


def _request(source: SourceConfig, url: str, params: dict[str, Any] | None = None) -> PageRequest:
    accept = accept_header(source)
    return PageRequest("GET", url, params=dict(params or {}), headers={"Accept": accept}, context={"accept": accept})


def first_request(source: SourceConfig, *, since: str | None = None) -> PageRequest:
    params = source.option("params") or {}
    if not isinstance(params, dict):
        raise PageError(f"source {source.id}: option 'params' must be a mapping of query parameters")
    return _request(source, source.url, params)


# ---------------------------------------------------------------------------------------- decoding

_XML_DECL = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])([A-Za-z0-9._:-]+)\2""")
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def decode_text(body: bytes, content_type: str | None, charset: Charset | None = None) -> str:
    """The body as text in its character set (``charset``: the one recorded when the page landed,
    else detected the same way; see charset.py). An XML declaration in the result says UTF-8, so
    that an XML parser reads the text as what it now is."""
    return _utf8_declaration(decode(body, charset or detect(body, content_type)))


def _utf8_declaration(text: str) -> str:
    if text.lstrip().startswith("<?xml"):
        return _XML_DECL.sub(lambda m: f"{m.group(1)}{m.group(2)}UTF-8{m.group(2)}", text, count=1)
    return text


def refuse_dtd(text: str, url: str) -> None:
    """XML with a DOCTYPE or ENTITY declaration is refused before any parser sees it."""
    m = _DTD.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise PageError(
            f"{url}: the XML declares a {m.group(1).upper()} (line {line}); documents with DTDs or entity "
            "declarations are refused unparsed (entity expansion and external entities are a known attack)"
        )


def _sniff(text: str) -> str | None:
    """What the body looks like: "html", "xml", "json", "turtle", or None when it cannot tell."""
    head = text[:2048].lstrip()
    while head.startswith("#"):  # Turtle/N-Triples comments
        head = head.split("\n", 1)[1].lstrip() if "\n" in head else ""
    lowered = head[:64].lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "html"
    if head.startswith(("{", "[")):
        return "json"
    if head.startswith("_:") or re.match(r"<[A-Za-z][A-Za-z0-9+.-]*:[^\s>]*>", head):
        return "turtle"  # a triple starting with an IRI or blank node: N-Triples or Turtle
    if head.startswith("<"):
        return "xml"
    if re.match(r"(@prefix|@base|prefix\s|base\s)", lowered) or re.match(r"[A-Za-z][\w.-]*:[\w.-]*\s", head):
        return "turtle"
    return None


def detect_format(source: SourceConfig, page: LandedPage, text: str) -> Format:
    sniffed = _sniff(text)
    if sniffed == "html":
        raise PageError(f"{page.url} answered HTTP {page.status} with an HTML page where an RDF catalogue was expected")
    forced = format_option(source)
    if forced is not None:
        if sniffed is not None and sniffed != forced.family:
            raise PageError(f"{page.url}: the source's format option says {forced.name}, but the body looks like {sniffed.upper()}")
        return forced
    media = (page.header("Content-Type") or "").split(";")[0].strip().lower()
    named = FORMAT_NAMES.get(media)
    if named and (sniffed is None or FORMATS[named].family == sniffed):
        return FORMATS[named]
    extension = Path(urlsplit(page.url).path).suffix.lower()
    by_extension = EXTENSIONS.get(extension)
    if by_extension and (sniffed is None or FORMATS[by_extension].family == sniffed):
        return FORMATS[by_extension]
    if sniffed == "xml":
        return FORMATS["rdfxml"]
    if sniffed == "json":
        return FORMATS["jsonld"]
    if sniffed == "turtle" or media in ("text/n3", "text/rdf+n3"):
        return FORMATS["turtle"]
    raise PageError(f"{page.url}: cannot tell which RDF syntax the body is (Content-Type {media or 'none'}); "
                    "set the source's format option")


# ---------------------------------------------------------------------------- JSON-LD @context

CONTEXT_DIR = Path(__file__).resolve().parent / "rdf_context"
# Remote contexts replaced by a local copy (never fetched). Keys are compared without the scheme.
LOCAL_CONTEXTS = {
    "semiceu.github.io/DCAT-AP/releases/3.0.0/context/dcat-ap.jsonld": "dcat-ap.jsonld",
    "semiceu.github.io/DCAT-AP/releases/3.0.1/context/dcat-ap.jsonld": "dcat-ap.jsonld",
    "github.com/SEMICeu/DCAT-AP/raw/refs/heads/master/releases/3.0.1/context/dcat-ap.jsonld": "dcat-ap.jsonld",
    "raw.githubusercontent.com/SEMICeu/DCAT-AP/master/releases/3.0.0/context/dcat-ap.jsonld": "dcat-ap.jsonld",
    "raw.githubusercontent.com/SEMICeu/DCAT-AP/master/releases/3.0.1/context/dcat-ap.jsonld": "dcat-ap.jsonld",
    "www.w3.org/ns/dcat.jsonld": "dcat-ap.jsonld",
    "www.w3.org/ns/dcat3.jsonld": "dcat-ap.jsonld",
    "www.w3.org/ns/hydra/context.jsonld": "hydra.jsonld",
}
_context_cache: dict[str, Any] = {}


def _local_context(url: str) -> Any | None:
    key = re.sub(r"^https?://", "", url.strip()).rstrip("#")
    name = LOCAL_CONTEXTS.get(key)
    if name is None:
        return None
    if name not in _context_cache:
        _context_cache[name] = json.loads((CONTEXT_DIR / name).read_text(encoding="utf-8"))["@context"]
    return _context_cache[name]


def localise_contexts(text: str, url: str) -> str:
    """The JSON-LD document with every remote ``@context`` (and ``@import``) replaced by its local copy.

    Raises PageError for a remote context without a local copy: nothing is ever fetched.
    """
    if "@context" not in text:
        return text
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PageError(f"{url}: body is not valid JSON-LD: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    changed = False

    def replace(ref: str) -> Any:
        nonlocal changed
        local = _local_context(ref)
        if local is None:
            known = ", ".join(sorted({f"https://{k}" for k in LOCAL_CONTEXTS}))
            raise PageError(
                f"{url}: the JSON-LD @context {ref!r} is a remote document; remote contexts are never fetched and "
                f"there is no local copy of this one (local copies: {known}). Add one under sources/rdf_context/, "
                "or ask the publisher to inline the context"
            )
        changed = True
        return local

    def fix(ctx: Any) -> Any:
        if isinstance(ctx, str):
            return replace(ctx)
        if isinstance(ctx, list):
            return [fix(c) for c in ctx]
        if isinstance(ctx, dict) and isinstance(ctx.get("@import"), str):
            return {**replace(ctx["@import"]), **{k: v for k, v in ctx.items() if k != "@import"}}
        return ctx

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "@context" in node:
                node["@context"] = fix(node["@context"])
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                if isinstance(value, (dict, list)):
                    walk(value)

    walk(doc)
    return json.dumps(doc, ensure_ascii=False) if changed else text


# ------------------------------------------------------------------------------- the RDF graph


DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
SCHEMA = "http://schema.org/"
SCHEMA_HTTPS = "https://schema.org/"
TIME = "http://www.w3.org/2006/time#"
LOCN = "http://www.w3.org/ns/locn#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
ADMS = "http://www.w3.org/ns/adms#"

TYPE = "type"
DATASET_LINK = "dataset"
_PREDICATE_NAMES = {
    RDF + "type": TYPE,
    DCAT + "dataset": DATASET_LINK,
    DCT + "title": "title", DCT + "description": "description", DCT + "identifier": "identifier",
    DCT + "publisher": "publisher", DCT + "license": "license", DCT + "accessRights": "accessRights",
    DCT + "issued": "issued", DCT + "modified": "modified", DCT + "language": "language",
    DCT + "spatial": "spatial", DCT + "temporal": "temporal", DCT + "accrualPeriodicity": "accrualPeriodicity",
    DCT + "format": "format", DCT + "rights": "rights",
    DCAT + "contactPoint": "contactPoint", ADMS + "contactPoint": "contactPoint",
    DCAT + "theme": "theme", DCAT + "keyword": "keyword", DCAT + "landingPage": "landingPage",
    DCAT + "distribution": "distribution", DCAT + "accessURL": "accessURL", DCAT + "downloadURL": "downloadURL",
    DCAT + "mediaType": "mediaType", DCAT + "byteSize": "byteSize",
    DCAT + "startDate": "startDate", DCAT + "endDate": "endDate",
    SCHEMA + "startDate": "startDate", SCHEMA + "endDate": "endDate",
    SCHEMA_HTTPS + "startDate": "startDate", SCHEMA_HTTPS + "endDate": "endDate",
    TIME + "hasBeginning": "hasBeginning", TIME + "hasEnd": "hasEnd", TIME + "inXSDDate": "instant",
    TIME + "inXSDDateTime": "instant", TIME + "inXSDDateTimeStamp": "instant",
    DCAT + "bbox": "geometry", DCAT + "centroid": "geometry", LOCN + "geometry": "geometry",
    FOAF + "name": "name", VCARD + "fn": "name", VCARD + "organization-name": "name",
    SKOS + "prefLabel": "label", RDFS + "label": "label", RDF + "value": "value",
    VCARD + "hasEmail": "email", VCARD + "email": "email",
    HYDRA + "next": "next", HYDRA + "nextPage": "next", HYDRA + "totalItems": "totalItems",
}
PREDICATES = {NamedNode(iri): code for iri, code in _PREDICATE_NAMES.items()}
DCAT_DATASET = NamedNode(DCAT + "Dataset")
HYDRA_COLLECTIONS = {NamedNode(HYDRA + n) for n in ("Collection", "PagedCollection", "PartialCollectionView")}

_sha = hashlib.sha256
IANA_MEDIA = re.compile(r"^https?://www\.iana\.org/assignments/media-types/", re.IGNORECASE)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IRI_OK = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]*")


def iri_problem(value: str) -> str | None:
    """Why ``value`` is not a valid absolute IRI, or None when it is one."""
    if _IRI_OK.fullmatch(value):
        return None
    if not _SCHEME.match(value):
        return "a relative IRI (no scheme)"
    bad = re.search(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]", value)
    return f"the IRI contains {bad.group(0)!r}" if bad else "not a valid IRI"


@dataclass
class Graph:
    """The mapped triples of one page: subject -> {predicate code -> object, or [objects] when several}.

    A single value is stored as itself, not in a list (:func:`each` reads both): most properties have
    one value, and a page then holds no lists the garbage collector must track and traverse.
    """

    nodes: dict[Any, dict[str, Any]]
    datasets: list[Any]
    errors: list[tuple[str, Any]] = field(default_factory=list)  # (parser message, subject being read)
    next_link: str | None = None
    total: int | None = None


def read_graph(text: str, fmt: Format, url: str) -> Graph:
    """Stream the page's triples once; keep those of the mapped predicates, grouped by subject.

    This loop runs for every triple of every catalogue: it touches each quad's predicate once, and its
    subject and object only when the predicate is mapped; consecutive triples of one subject (the
    way every serialiser writes them) share one dict lookup.
    """
    nodes: dict[Any, dict[str, Any]] = {}
    datasets: dict[Any, None] = {}
    collections: set[Any] = set()
    errors: list[tuple[str, Any]] = []
    predicates = PREDICATES.get
    # UTF-8 bytes, not the str: pyoxigraph encodes a str to UTF-8 itself, on a path that costs about
    # 1 % of a page more (counted with callgrind: 772 against 762 million instructions a page).
    parser = pyoxigraph.parse(text.encode("utf-8"), fmt.rdf, lenient=True)
    current: Any = None
    props: dict[str, list[Any]] = {}
    while True:
        try:
            for quad in parser:
                code = predicates(quad.predicate)
                if code is None:
                    continue
                if code is TYPE:  # the subject is only needed for a dataset or a Hydra collection
                    o = quad.object
                    if o == DCAT_DATASET:
                        datasets[quad.subject] = None
                    elif o in HYDRA_COLLECTIONS:
                        collections.add(quad.subject)
                    continue
                if code is DATASET_LINK:
                    o = quad.object
                    if type(o) is not Literal:
                        datasets[o] = None
                    continue
                s = quad.subject
                if s != current:
                    current = s
                    props = nodes.get(s)  # type: ignore[assignment]
                    if props is None:
                        props = nodes[s] = {code: quad.object}
                        continue
                values = props.get(code)
                if values is None:
                    props[code] = quad.object
                elif type(values) is list:
                    values.append(quad.object)
                else:
                    props[code] = [values, quad.object]
            break
        except SyntaxError as exc:
            message = str(exc)
            if _TRUNCATED.search(message):
                raise PageError(f"{url}: the page ends in the middle of an RDF statement, so it was cut off in transit "
                                f"or by the server ({message})") from None
            errors.append((message, current))
            if len(errors) > MAX_SYNTAX_ERRORS:
                raise PageError(f"{url}: more than {MAX_SYNTAX_ERRORS} RDF syntax errors; the page is unusable "
                                f"(first: {errors[0][0]})") from None
    graph = Graph(nodes, list(datasets), errors)
    _hydra(graph, collections, url)
    return graph


def _hydra(graph: Graph, collections: set[Any], url: str) -> None:
    """The next page and the reported total, from the page's Hydra collection and view."""
    nexts: list[tuple[bool, str]] = []
    totals: list[tuple[bool, int]] = []
    for subject, props in graph.nodes.items():
        if "next" not in props and "totalItems" not in props:
            continue
        described = subject in collections
        for value in each(props.get("next")):
            if type(value) is not BlankNode:
                nexts.append((described, value.value.strip()))
        for value in each(props.get("totalItems")):
            if type(value) is Literal and value.value.strip().isdigit():
                totals.append((described, int(value.value.strip())))
    # A typed collection or view wins over a stray property elsewhere on the page.
    nexts.sort(key=lambda pair: not pair[0])
    totals.sort(key=lambda pair: not pair[0])
    if nexts and nexts[0][1]:
        graph.next_link = urljoin(url, nexts[0][1])
    if totals:
        graph.total = totals[0][1]


# ------------------------------------------------------------------------------------ the page


def parse_page(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    if page.status >= 400:
        raise PageError(f"{page.url} answered HTTP {page.status}")
    if not page.body.strip():
        raise PageError(f"{page.url} answered HTTP {page.status} with an empty body where an RDF catalogue was expected")
    graph = read_page(source, page)
    next_request = _request(source, graph.next_link) if graph.next_link else None
    return ParsedPage(
        reported_total=graph.total,
        next_request=next_request,
        entries=len(graph.datasets),
        columns=lambda: _map_without_gc(source, graph, page, ctx),
    )


def _map_without_gc(source: SourceConfig, graph: Graph, page: LandedPage, ctx: ParseContext) -> Columns:
    with no_cyclic_gc():
        return map_graph(source, graph, page, ctx)


def read_page(source: SourceConfig, page: LandedPage) -> Graph:
    """Decode, check and parse one landed page."""
    text = decode_text(page.body, page.header("Content-Type"), page.charset)
    fmt = detect_format(source, page, text)
    if fmt.family == "xml" or text.lstrip().startswith("<"):
        refuse_dtd(text, page.url)
    elif fmt.name == "jsonld":
        text = localise_contexts(text, page.url)
    try:
        with no_cyclic_gc():
            return read_graph(text, fmt, page.url)
    except (ValueError, OSError) as exc:  # a JSON-LD document that is not JSON, an unusable input
        raise PageError(f"{page.url}: cannot parse the page as {fmt.name}: {exc}") from None


# ------------------------------------------------------------------------------------- mapping

def _lang_rank(literal: Any) -> int:
    lang = literal.language
    if not lang:
        return 2
    lang = lang.lower()
    if lang == "nl" or lang.startswith("nl-"):
        return 0
    if lang == "en" or lang.startswith("en-"):
        return 1
    return 3


def each(values: Any) -> Any:
    """The values of one property of a node as a sequence (a single value is stored as itself)."""
    if values is None:
        return ()
    return values if type(values) is list else (values,)


def _preferred(values: Any) -> str | None:
    """The literal in the preferred language: nl, en, untagged, then any (document order breaks ties)."""
    kind = type(values)
    if kind is Literal:  # the common case: one value
        return values.value.strip() or None
    if kind is not list:
        return None
    best, best_rank = None, 9
    for value in values:
        if type(value) is not Literal:
            continue
        text = value.value.strip()
        if not text:
            continue
        rank = _lang_rank(value)
        if rank < best_rank:
            best, best_rank = text, rank
            if rank == 0:
                break
    return best


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number == number and abs(number) < 2**63 else None


def map_graph(source: SourceConfig, graph: Graph, page: LandedPage, ctx: ParseContext) -> Columns:
    """Map the page's datasets onto ``datasets`` and ``distributions``, column by column."""
    nodes = graph.nodes
    sid = source.id
    url = page.url
    license_uri = vocab.memoised(vocab.license_uri)
    frequency_uri = vocab.memoised(vocab.frequency_uri)
    short_media = vocab.memoised(lambda value: IANA_MEDIA.sub("", value))
    fallback_publisher = source.publisher
    refusals: list[Refusal] = []
    ids: list[str] = []
    rows: list[tuple] = []
    dist_rows: list[tuple] = []
    parents: list[int] = []
    empty: dict[str, list[Any]] = {}

    # Syntax errors cost the dataset that was being read; the others stand on their own.
    broken: dict[Any, list[str]] = {}
    if graph.errors:
        owner = _owners(graph)
        for message, subject in graph.errors:
            dataset = owner.get(subject) if subject is not None else None
            if dataset is None:
                refusals.append(Refusal(None, "rdf_statement_parses", None, message[:500],
                                        f"an RDF statement on {url} could not be parsed and was skipped: {message}",
                                        {"page": url, "error": message}))
            else:
                broken.setdefault(dataset, []).append(message)

    problems: list[tuple[str, str, str, str]] = []  # of the dataset being mapped: (column, property, value, why)
    iri_checked: dict[str, bool] = {}
    iri_fullmatch = _IRI_OK.fullmatch

    def iri(value: Any, column: str, prop: str) -> str | None:
        """A NamedNode's IRI (checked), a literal's text, or None for a blank node."""
        kind = type(value)
        if kind is NamedNode:
            text = value.value
            ok = iri_checked.get(text)
            if ok is None:
                ok = iri_checked[text] = iri_fullmatch(text) is not None
            if not ok:
                problems.append((column, prop, text, iri_problem(text) or "not a valid IRI"))
            return text
        if kind is Literal:
            return value.value.strip() or None
        return None

    def first_value(values: Any, column: str, prop: str) -> str | None:
        if values is None:
            return None
        value = values[0] if type(values) is list else values
        if type(value) is NamedNode:  # the common case, inlined
            text = value.value
            ok = iri_checked.get(text)
            if ok is None:
                ok = iri_checked[text] = iri_fullmatch(text) is not None
            if not ok:
                problems.append((column, prop, text, iri_problem(text) or "not a valid IRI"))
            return text
        for value in each(values):
            text = iri(value, column, prop)
            if text:
                return text
            if type(value) is BlankNode:  # a node: its value, identifier or label
                inner = nodes.get(value, empty)
                text = _preferred(inner.get("value")) or _preferred(inner.get("identifier")) or _preferred(inner.get("label"))
                if text:
                    return text
        return None

    for node in graph.datasets:
        props = nodes.get(node, empty)
        problems.clear()

        # -- the record GUID
        if type(node) is NamedNode:
            record_id = node.value
            if iri_fullmatch(record_id) is None:  # a valid absolute IRI (the common case) needs no more
                if _SCHEME.match(record_id) is None:
                    record_id = urljoin(url, record_id)
                if iri_fullmatch(record_id) is None:
                    problems.append(("source_record_id", "@id", record_id, iri_problem(record_id) or "not a valid IRI"))
        else:
            record_id = _preferred(props.get("identifier"))
            if not record_id:
                refusals.append(Refusal(None, "dataset_has_id", "source_record_id", None,
                                        f"a dcat:Dataset on {url} is a blank node without dct:identifier, so it has no stable id",
                                        {"page": url, "title": _preferred(props.get("title"))}))
                continue
        if props is empty:
            refusals.append(Refusal(record_id, "dataset_described", None, record_id,
                                    f"the catalogue lists dataset {record_id} but {url} holds no description of it",
                                    {"page": url, "dataset": record_id}))
            continue

        # -- publisher and contact point
        publisher = publisher_uri = None
        for value in each(props.get("publisher")):
            if type(value) is Literal:
                publisher = publisher or value.value.strip() or None
                continue
            if type(value) is NamedNode:
                publisher_uri = iri(value, "publisher_uri", "dct:publisher")
            agent = nodes.get(value, empty)
            publisher = _preferred(agent.get("name")) or _preferred(agent.get("label")) or publisher
            break
        contact = None
        for value in each(props.get("contactPoint")):
            card = nodes.get(value, empty)
            for email in each(card.get("email")):
                text = iri(email, "contact_point", "vcard:hasEmail")
                if text:
                    contact = text[7:] if text[:7].lower() == "mailto:" else text
                    break
            contact = contact or _preferred(card.get("name"))
            if contact:
                break

        # -- temporal coverage
        start = end = None
        for value in each(props.get("temporal")):
            period = nodes.get(value, empty)
            start = _preferred(period.get("startDate")) or _instant(nodes, period.get("hasBeginning"))
            end = _preferred(period.get("endDate")) or _instant(nodes, period.get("hasEnd"))
            if start or end:
                break

        # -- spatial coverage: an IRI, else what the location node says
        spatial = None
        for value in each(props.get("spatial")):
            if type(value) is BlankNode:
                place = nodes.get(value, empty)
                spatial = _geometry(place.get("geometry")) or _preferred(place.get("label"))
            else:
                spatial = iri(value, "spatial", "dct:spatial")
            if spatial:
                break

        themes = []
        for value in each(props.get("theme")):
            text = iri(value, "theme", "dcat:theme")
            if text:
                themes.append(text)
        keywords: list[str] = []
        for value in each(props.get("keyword")):
            if type(value) is Literal:
                text = value.value.strip()
                if text and text not in keywords:
                    keywords.append(text)
        languages = []
        for value in each(props.get("language")):
            text = first_value(value, "language", "dct:language")
            if text and text not in languages:
                languages.append(text)
        license_original = first_value(props.get("license"), "license", "dct:license")
        access_rights = first_value(props.get("accessRights"), "access_rights", "dct:accessRights")
        frequency_original = first_value(props.get("accrualPeriodicity"), "frequency", "dct:accrualPeriodicity")
        landing_page = first_value(props.get("landingPage"), "landing_page", "dcat:landingPage")

        # -- distributions
        index = len(ids)
        uid = _sha(f"{sid}\x1f{record_id}".encode()).hexdigest()[:32]  # model.stable_uid(sid, record_id), inlined
        first_dist = len(dist_rows)
        dataset_license = license_uri(license_original) or license_original if license_original else None
        distribution_license_original = None
        for position, value in enumerate(each(props.get("distribution"))):
            dist = nodes.get(value, empty)
            dget = dist.get
            values = dget("accessURL")
            access_url = first_value(values, "access_url", "dcat:accessURL") if values is not None else None
            values = dget("downloadURL")
            download_url = first_value(values, "download_url", "dcat:downloadURL") if values is not None else None
            values = dget("format")
            dist_format = first_value(values, "format", "dct:format") if values is not None else None
            first_format = values[0] if type(values) is list else values
            if dist_format and type(first_format) is NamedNode and first_format in nodes:
                # A local format node (datos.gob.es: <…/format> a dct:IMT; rdf:value "text/csv") says it in words.
                described = nodes[first_format]
                dist_format = _preferred(described.get("value")) or _preferred(described.get("label")) or dist_format
            values = dget("mediaType")
            media_type = first_value(values, "media_type", "dcat:mediaType") if values is not None else None
            if media_type:
                media_type = short_media(media_type)
            values = dget("license")
            own_license = first_value(values, "license", "dct:license") if values is not None else None
            distribution_license_original = distribution_license_original or own_license
            size = dget("byteSize")
            key = value.value if type(value) is NamedNode else f"{position}:{access_url or download_url}"
            dist_rows.append((
                _sha(f"{sid}\x1f{record_id}\x1f{key}".encode()).hexdigest()[:32], uid, access_url, download_url, dist_format, media_type,
                (license_uri(own_license) or own_license) if own_license else None,
                _int(size.value) if type(size) is Literal else _int(size[0].value) if type(size) is list and type(size[0]) is Literal else None,
                _preferred(dget("title")), dist_format, own_license,
                first_value(values, "rights", "dct:rights") if (values := dget("rights")) is not None else None,
            ))
            parents.append(index)

        if problems or node in broken:
            del dist_rows[first_dist:]
            del parents[first_dist:]
            refusals.append(_refusal(record_id, url, list(problems), broken.get(node, []), props))
            continue

        if license_original is None and distribution_license_original is not None:
            # DCAT-AP puts the licence on the distribution; the dataset takes its first one.
            license_original = distribution_license_original
            dataset_license = license_uri(license_original) or license_original
        if dataset_license is not None:
            for i in range(first_dist, len(dist_rows)):
                if dist_rows[i][6] is None:
                    row = dist_rows[i]
                    dist_rows[i] = row[:6] + (dataset_license,) + row[7:]

        ids.append(record_id)
        rows.append((
            uid,
            _preferred(props.get("identifier")) or record_id,
            _preferred(props.get("title")),
            _preferred(props.get("description")),
            publisher or fallback_publisher,
            publisher_uri,
            contact,
            themes,
            keywords,
            dataset_license,
            access_rights,
            _preferred(props.get("issued")),
            _preferred(props.get("modified")),
            landing_page,
            languages,
            spatial,
            start,
            end,
            (frequency_uri(frequency_original) or frequency_original) if frequency_original else None,
            license_original,
            access_rights,
            frequency_original,
            themes,
        ))

    n, m = len(rows), len(dist_rows)
    mapped = ("dataset_uid", "identifier", "title", "description", "publisher", "publisher_uri", "contact_point",
              "theme", "keyword", "license", "access_rights", "issued", "modified", "landing_page", "language",
              "spatial", "temporal_start", "temporal_end", "frequency", "license_original", "access_rights_original",
              "frequency_original", "theme_original")
    columns = list(zip(*rows)) if rows else [()] * len(mapped)
    datasets: dict[str, list[Any]] = {name: list(values) for name, values in zip(mapped, columns)}
    datasets.update(source_id=[sid] * n, source_record_id=ids, harvested_at=[ctx.harvested_at] * n,
                    run_id=[ctx.run_id] * n, raw_sha256=[page.sha256] * n)
    dist_names = ("distribution_uid", "dataset_uid", "access_url", "download_url", "format", "media_type", "license",
                  "byte_size", "title", "format_original", "license_original", "rights")
    dist_columns = list(zip(*dist_rows)) if dist_rows else [()] * len(dist_names)
    distributions: dict[str, list[Any]] = {name: list(values) for name, values in zip(dist_names, dist_columns)}
    distributions.update(source_record_id=[ids[i] for i in parents], source_id=[sid] * m,
                         harvested_at=[ctx.harvested_at] * m, run_id=[ctx.run_id] * m, raw_sha256=[page.sha256] * m)
    return Columns(record_ids=ids, tables={"datasets": datasets, "distributions": distributions},
                   parents={"distributions": parents}, refusals=refusals)


def _refusal(record_id: str, url: str, problems: list[tuple[str, str, str, str]], errors: list[str],
             props: dict[str, list[Any]]) -> Refusal:
    title = _preferred(props.get("title"))
    if problems:
        column, prop, value, why = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        reason = (f"{prop} of dataset {record_id} is not a valid IRI: {why}: {value!r}{more}. The dataset is "
                  "quarantined; the rest of the catalogue is harvested")
        return Refusal(record_id, "iri_valid", column, value, reason,
                       {"page": url, "dataset": record_id, "title": title,
                        "invalid": [{"column": c, "property": p, "value": v, "problem": w} for c, p, v, w in problems],
                        "syntax_errors": errors})
    reason = (f"an RDF statement of dataset {record_id} could not be parsed and was skipped ({errors[0]}), so the "
              "dataset may be incomplete; it is quarantined, the rest of the catalogue is harvested")
    return Refusal(record_id, "rdf_statement_parses", None, errors[0][:500], reason,
                   {"page": url, "dataset": record_id, "title": title, "syntax_errors": errors})


def _owners(graph: Graph) -> dict[Any, Any]:
    """Each node of a dataset's description (itself, its distributions, agents, periods…) -> the dataset."""
    owner: dict[Any, Any] = {}
    nodes = graph.nodes
    datasets = set(graph.datasets)
    for dataset in graph.datasets:
        stack = [dataset]
        while stack:
            node = stack.pop()
            if node in owner:
                continue
            owner[node] = dataset
            for values in nodes.get(node, {}).values():
                for value in each(values):
                    if type(value) is not Literal and value in nodes and value not in owner and value not in datasets:
                        stack.append(value)
    return owner


def _instant(nodes: dict[Any, dict[str, Any]], values: Any) -> str | None:
    for value in each(values):
        text = _preferred(nodes.get(value, {}).get("instant"))
        if text:
            return text
    return None


def _geometry(values: list[Any] | None) -> str | None:
    """A location's geometry: WKT first (the DCAT-AP recommendation), else whatever literal is there."""
    best = None
    for value in each(values):
        if type(value) is not Literal:
            continue
        text = value.value.strip()
        if text and value.datatype.value.endswith("wktLiteral"):
            return text
        best = best or text or None
    return best


def iter_records(source: SourceConfig, page: LandedPage, ctx: ParseContext) -> Iterable[dict[str, Any]]:
    """The page's dataset rows, one dict each (for inspection and tests; harvests use ``parse_page``)."""
    columns = map_graph(source, read_page(source, page), page, ctx)
    for i in range(len(columns.record_ids)):
        yield columns.row("datasets", i)
