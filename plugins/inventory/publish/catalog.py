"""The published inventory as a DCAT-AP-NL 3.0 catalogue: canonical records -> RDF (pyoxigraph).

Two ways in:

``dataset_triples(row, distributions)`` / ``serialise_dataset(row, distributions, fmt)``
    One dataset (a ``datasets`` row as a dict, with its ``distributions`` rows) as DCAT-AP-NL triples,
    for checking one record at a time (the quality checks run pyshacl on it).

``write_catalog(store, folder)``
    The whole catalogue, streamed in pages of ``page_size`` datasets (data services follow the
    datasets) and written as Turtle, JSON-LD and RDF/XML, one file per page and format:
    ``page-000001.ttl``, ``page-000001.jsonld``, ``page-000001.rdf``, … Only one page's triples are
    ever in memory, whatever the size of the inventory. Every page is a whole DCAT-AP-NL document
    (the catalogue node, the page's datasets, their distributions) plus a Hydra
    ``hydra:PartialCollectionView`` with ``hydra:first``/``last``/``next``/``previous`` pointing at
    the pages of the same format, and ``hydra:totalItems`` on the catalogue: what DCAT harvesters
    (Piveau, udata, this project's own ``dcat`` kind) follow.

URIs. Every dataset gets one stable URI, ``<public url>/datasets/<dataset_uid>`` (``dataset_uid`` is
stable across runs, see the model), which the inventory API answers; distributions and data services
likewise (``/distributions/<uid>``, ``/data-services/<uid>``). The original id at the source stays in
``dct:identifier``. The catalogue's pages are ``<public url>/catalog/page-000001.ttl`` …, which is
where the API serves the latest export's ``catalog/`` folder.

Mapping (canonical column -> DCAT-AP-NL 3.0). Every property the profile makes mandatory is written
whenever the record has the value: ``dct:title``, ``dct:description``, ``dct:identifier``,
``dct:publisher`` (a ``foaf:Agent``: the canonical organisation's TOOI URI when known, else the
source's publisher URI, else a blank node with only its name), ``dcat:contactPoint`` (a
``vcard:Kind`` with ``vcard:hasEmail <mailto:…>``, or ``vcard:fn`` when it is no e-mail address),
``dcat:theme``, ``dct:accessRights``, ``dct:license`` on every distribution (the distribution's own,
else the dataset's), ``dcat:accessURL`` (the download URL when the record has only that, as DCAT-AP
prescribes). ``dct:creator``: the inventory does not know who created a dataset, only who publishes
it, so the publisher is written as creator too (DCAT-AP-NL makes the creator mandatory; for nearly
all government datasets the two are one organisation). Controlled values that are IRIs are written as
IRIs typed with the class the profile expects (``skos:Concept``, ``dct:LicenseDocument``, …); a value
that is not an IRI (an unmapped licence text, a format name) becomes a blank node of that class with
the text as ``rdfs:label``, so nothing is lost and the shapes still hold. Dates become ``xsd:date`` or
``xsd:dateTime`` when they are ISO dates, else plain literals.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyoxigraph
from pyoxigraph import RdfFormat, Triple

from .. import rdf_pages, settings
from ..gcpause import no_cyclic_gc
from ..rdf_pages import (ADMS, DCAT, DCATAP, DCT, FOAF, FORMATS, GSP, HYDRA, LOCN, PREFIXES, RDF, RDFS, SKOS,  # noqa: F401
                         VCARD, XSD, MIN_PAGES, PageWriter, parse, serialise, workers_from_env)
from .store import Store, cols

log = logging.getLogger("inventory.publish")

MEDIA_TYPES = {"ttl": "text/turtle", "jsonld": "application/ld+json", "rdf": "application/rdf+xml"}

DEFAULT_PAGE_SIZE = 1000
PUBLIC_URL_ENV = "INVENTORY_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://localhost:8080/inventory"


# Terms are N-Triples text: pyoxigraph's Triple objects cost ~15 µs each to build from Python, while a
# page written as N-Triples text and parsed once by pyoxigraph (Rust) costs a fraction of that.
def _n(iri: str) -> str:
    return f"<{iri}>"


def _escape(text: str) -> str:
    """N-Triples string escapes. Chained ``str.replace`` runs in C and hands back its input when there
    is nothing to replace; ``str.translate`` with a table calls back per character (~4 µs a description)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def _lit(text: str, datatype: str | None = None, language: str | None = None) -> str:
    quoted = '"' + _escape(text) + '"'
    if datatype:
        return f"{quoted}^^{datatype}"
    return f"{quoted}@{language}" if language else quoted


A = _n(RDF + "type")
_P = {name: _n(ns + name) for ns, names in (
    (DCT, ("title", "description", "identifier", "publisher", "creator", "license", "accessRights",
           "issued", "modified", "language", "spatial", "temporal", "accrualPeriodicity", "format", "rights")),
    (DCAT, ("dataset", "service", "distribution", "contactPoint", "theme", "keyword", "landingPage",
            "accessURL", "downloadURL", "mediaType", "byteSize", "startDate", "endDate", "endpointURL",
            "endpointDescription", "servesDataset")),
) for name in names}
FOAF_NAME = _n(FOAF + "name")
VCARD_EMAIL = _n(VCARD + "hasEmail")
VCARD_FN = _n(VCARD + "fn")
RDFS_LABEL = _n(RDFS + "label")
FOAF_PAGE = _n(FOAF + "page")
SKOS_PREFLABEL = _n(SKOS + "prefLabel")
DCAT_BBOX = _n(DCAT + "bbox")
DCAT_CENTROID = _n(DCAT + "centroid")
HYDRA_P = {name: _n(HYDRA + name) for name in ("view", "totalItems", "first", "last", "next", "previous",
                                                "itemsPerPage")}
CLASSES = {name: _n(iri) for name, iri in {
    "Catalog": DCAT + "Catalog", "Dataset": DCAT + "Dataset", "Distribution": DCAT + "Distribution",
    "DataService": DCAT + "DataService", "Agent": FOAF + "Agent", "Kind": VCARD + "Kind",
    "Concept": SKOS + "Concept", "LicenseDocument": DCT + "LicenseDocument",
    "RightsStatement": DCT + "RightsStatement", "Frequency": DCT + "Frequency",
    "LinguisticSystem": DCT + "LinguisticSystem", "Location": DCT + "Location",
    "PeriodOfTime": DCT + "PeriodOfTime", "MediaTypeOrExtent": DCT + "MediaTypeOrExtent",
    "MediaType": DCT + "MediaType", "Document": FOAF + "Document",
    "Resource": RDFS + "Resource", "Collection": HYDRA + "Collection", "PartialCollectionView": HYDRA + "PartialCollectionView",
}.items()}
XSD_DATE = _n(XSD + "date")
XSD_DATETIME = _n(XSD + "dateTime")
XSD_GYEAR = _n(XSD + "gYear")
XSD_NNI = _n(XSD + "nonNegativeInteger")
WKT = _n(GSP + "wktLiteral")

_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_WKT = re.compile(r"\s*(POINT|POLYGON|MULTIPOLYGON|LINESTRING|MULTILINESTRING|MULTIPOINT|GEOMETRYCOLLECTION)\b", re.I)
_IANA = "https://www.iana.org/assignments/media-types/"
ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"


@dataclass(frozen=True)
class CatalogSettings:
    """Who publishes the consolidated catalogue and where it lives (``$INVENTORY_PUBLIC_URL``)."""

    public_url: str = DEFAULT_PUBLIC_URL
    title: str = "One Government Inventory"
    description: str = ("The consolidated inventory of Dutch government datasets and data services, "
                        "harvested from the agencies' own catalogues and registers.")
    publisher_name: str = "One Government Inventory"
    publisher_uri: str | None = None
    contact_email: str = "inventory@example.org"
    page_size: int = DEFAULT_PAGE_SIZE
    formats: tuple[str, ...] = tuple(FORMATS)
    workers: int = 0  # processes writing pages (0: in-process); from_env: $INVENTORY_CATALOG_WORKERS

    @classmethod
    def from_env(cls) -> "CatalogSettings":
        env = os.environ
        return cls(
            public_url=(env.get(PUBLIC_URL_ENV) or DEFAULT_PUBLIC_URL).rstrip("/"),
            publisher_name=env.get("INVENTORY_CATALOG_PUBLISHER") or cls.publisher_name,
            publisher_uri=env.get("INVENTORY_CATALOG_PUBLISHER_URI") or None,
            contact_email=env.get("INVENTORY_CATALOG_CONTACT") or cls.contact_email,
            page_size=int(env.get("INVENTORY_CATALOG_PAGE_SIZE") or DEFAULT_PAGE_SIZE),
            formats=_formats(env.get("INVENTORY_CATALOG_FORMATS")),
            workers=workers_from_env(),
        )

    def catalog_uri(self) -> str:
        return f"{self.public_url}/catalog"

    def dataset_uri(self, uid: str) -> str:
        return f"{self.public_url}/datasets/{uid}"

    def distribution_uri(self, uid: str) -> str:
        return f"{self.public_url}/distributions/{uid}"

    def data_service_uri(self, uid: str) -> str:
        return f"{self.public_url}/data-services/{uid}"

    def page_uri(self, page: int, ext: str) -> str:
        return f"{self.public_url}/catalog/{page_file(page, ext)}"


def _formats(value: str | None) -> tuple[str, ...]:
    """``$INVENTORY_CATALOG_FORMATS``: a comma-separated subset of ttl, jsonld, rdf (default: all)."""
    if not value or not value.strip():
        return tuple(FORMATS)
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"INVENTORY_CATALOG_FORMATS must list some of {', '.join(FORMATS)}, not {value!r}")
    return chosen


def page_file(page: int, ext: str) -> str:
    return f"page-{page:06d}.{ext}"


# ------------------------------------------------------------------------------------ terms
# A page repeats the same few controlled values (themes, licences, formats, media types, access
# rights, languages, publishers) across its thousand datasets, so what only depends on the value is
# worked out once per process: whether it is an IRI, how a date is typed, a concept's label. The
# caches are bounded: a value that is text per dataset (a free-form format name) only churns them.
_MEMO = 4096


def _code(iri: str) -> str:
    """The last segment of an IRI (``…/data-theme/ENVI`` -> ``ENVI``)."""
    return re.split(r"[/#]", iri.rstrip("/#"))[-1] or iri


def is_iri(value: str | None) -> bool:
    return bool(value) and _IRI.fullmatch(value.strip()) is not None  # type: ignore[union-attr]


@functools.lru_cache(maxsize=_MEMO)
def _iri_node(text: str) -> str | None:
    """``<text>`` when the (stripped, non-empty) text is an IRI, else None: for repeated values."""
    return f"<{text}>" if _IRI.fullmatch(text) is not None else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = (value if value.__class__ is str else str(value)).strip()
    return text or None


def _date(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else _date_term(text)


@functools.lru_cache(maxsize=_MEMO)
def _date_term(text: str) -> str:
    if _DATE.fullmatch(text):
        return _lit(text, XSD_DATE)
    if _DATETIME.fullmatch(text):
        return _lit(text, XSD_DATETIME)
    if re.fullmatch(r"\d{4}", text):
        return _lit(text, XSD_GYEAR)
    return _lit(text)


@functools.lru_cache(maxsize=_MEMO)
def _typing(node: str, cls: str) -> str:
    """The triples that type a node (and label a concept), written the first time a page uses it."""
    lines = f"{node} {A} {CLASSES[cls]} .\n"
    if cls == "Concept":  # DCAT-AP requires a label; the inventory knows the code only
        lines += f"{node} {SKOS_PREFLABEL} {_lit(_code(node[1:-1]))} .\n"
    return lines


_process_blank_ids = itertools.count()


class _Writer:
    """Collects the triples of one document; blank nodes for values without an IRI.

    The hot paths append whole lines to ``lines`` (a bound ``list.append``) rather than going
    through ``add``: a page is ~55,000 triples, and a call less per triple is a second per 20,000
    datasets."""

    def __init__(self, blank_ids: Iterator[int] | None = None) -> None:
        self.lines: list[str] = []
        self.out = self.lines.append
        self._typed: set[tuple[str, str]] = set()
        # Blank node labels: unique in the process by default, since several datasets' descriptions
        # may be joined into one graph (the SHACL check does); a catalogue page, a document of its
        # own, counts from 0, so that the same records make the same bytes.
        self._blank_ids = _process_blank_ids if blank_ids is None else blank_ids

    def blank(self) -> str:
        return f"_:b{next(self._blank_ids)}"

    def add(self, s: str, p: str, o: str) -> None:
        self.out(f"{s} {p} {o} .\n")

    def text(self) -> str:
        return "".join(self.lines)

    def literal(self, s: str, p: str, value: Any, language: str | None = None) -> None:
        text = _text(value)
        if text is not None:
            if language:
                self.out(f'{s} {p} "{_escape(text)}"@{language} .\n')
            else:
                self.out(f'{s} {p} "{_escape(text)}" .\n')

    def typed(self, node: str, cls: str) -> None:
        key = (node, cls)
        if key not in self._typed:  # a theme or licence shared by many datasets is typed once a page
            self._typed.add(key)
            self.out(_typing(node, cls))

    def concept(self, s: str, p: str, value: Any, cls: str) -> None:
        """A controlled value: its IRI typed ``cls``, else a blank ``cls`` node labelled with the text."""
        text = _text(value)
        if text is None:
            return
        node = _iri_node(text)
        if node is not None:
            self.out(f"{s} {p} {node} .\n")
            self.typed(node, cls)
        else:
            node = self.blank()
            self.out(f'{s} {p} {node} .\n{node} {A} {CLASSES[cls]} .\n{node} {RDFS_LABEL} "{_escape(text)}" .\n')

    def agent(self, s: Any, name: Any, uri: Any) -> None:
        """``dct:publisher`` and ``dct:creator``: one ``foaf:Agent``."""
        name, uri = _text(name), _text(uri)
        if name is None and uri is None:
            return
        node = (uri and _iri_node(uri)) or self.blank()
        self.out(f"{s} {_P['publisher']} {node} .\n{s} {_P['creator']} {node} .\n")
        if node[0] == "<":
            if (node, "Agent") in self._typed:
                return
            self._typed.add((node, "Agent"))
        self.add(node, A, CLASSES["Agent"])
        self.literal(node, FOAF_NAME, name or uri)

    def contact(self, s: Any, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        node = self.blank()
        self.out(f"{s} {_P['contactPoint']} {node} .\n{node} {A} {CLASSES['Kind']} .\n")
        self.out(f"{node} {_contact_term(text)} .\n")

    def link(self, s: str, p: str, value: Any, cls: str | None = "Document") -> None:
        text = _text(value)
        if text and _IRI.fullmatch(text) is not None:  # mostly unique per record: not memoised
            node = f"<{text}>"
            self.out(f"{s} {p} {node} .\n")
            if cls:
                self.typed(node, cls)


@functools.lru_cache(maxsize=_MEMO)
def _contact_term(text: str) -> str:
    """A contact point's ``vcard:hasEmail <mailto:…>``, or ``vcard:fn`` when it is no e-mail address
    (predicate and object; a service desk's address is shared by many datasets)."""
    address = text[7:] if text.lower().startswith("mailto:") else text
    if _EMAIL.fullmatch(address) and is_iri("mailto:" + address):
        return f"{VCARD_EMAIL} <mailto:{address}>"
    return f"{VCARD_FN} {_lit(text)}"


# ------------------------------------------------------------------------------------ records
def dataset_ntriples(row: dict[str, Any], distributions: Sequence[dict[str, Any]] = (),
                     config: CatalogSettings | None = None) -> str:
    """One ``datasets`` row (and its ``distributions`` rows) as DCAT-AP-NL 3.0, in N-Triples."""
    w = _Writer()
    _write_dataset(w, row, distributions, config or CatalogSettings.from_env())
    return w.text()


def dataset_triples(row: dict[str, Any], distributions: Sequence[dict[str, Any]] = (),
                    config: CatalogSettings | None = None) -> list[Triple]:
    """The same as pyoxigraph triples."""
    return [q.triple for q in pyoxigraph.parse(dataset_ntriples(row, distributions, config), RdfFormat.N_TRIPLES)]


def _write_resource(w: _Writer, node: str, cls: str, row: dict[str, Any], contact: Any) -> None:
    """What a dataset and a data service (both ``dcat:Resource``) say alike: class, title,
    description, identifier (the source's own when the record has none), publisher and contact."""
    w.add(node, A, CLASSES[cls])
    w.literal(node, _P["title"], row.get("title"))
    w.literal(node, _P["description"], row.get("description"))
    w.literal(node, _P["identifier"], row.get("identifier") or row.get("source_record_id"))
    w.agent(node, row.get("publisher"), publisher_uri(row))
    w.contact(node, contact)


def _write_dataset(w: _Writer, row: dict[str, Any], distributions: Sequence[dict[str, Any]],
                   config: CatalogSettings) -> None:
    ds = _n(config.dataset_uri(row["dataset_uid"]))
    _write_resource(w, ds, "Dataset", row, row.get("contact_point"))
    for theme in row.get("theme") or ():
        w.concept(ds, _P["theme"], theme, "Concept")
    for keyword in row.get("keyword") or ():
        w.literal(ds, _P["keyword"], keyword)
    w.concept(ds, _P["accessRights"], row.get("access_rights"), "RightsStatement")
    w.concept(ds, _P["license"], row.get("license"), "LicenseDocument")
    for name in ("issued", "modified"):
        value = _date(row.get(name))
        if value is not None:
            w.add(ds, _P[name], value)
    w.link(ds, _P["landingPage"], row.get("landing_page"))
    for language in row.get("language") or ():
        w.concept(ds, _P["language"], language, "LinguisticSystem")
    spatial = _text(row.get("spatial"))
    if spatial and _WKT.match(spatial):
        place = w.blank()
        w.add(ds, _P["spatial"], place)
        w.add(place, A, CLASSES["Location"])
        # DCAT 2+: a bounding box or centre point as WKT (locn:geometry wants a Geometry node).
        where = DCAT_CENTROID if spatial.lstrip().upper().startswith("POINT") else DCAT_BBOX
        w.add(place, where, _lit(spatial, WKT))
    else:
        w.concept(ds, _P["spatial"], spatial, "Location")
    start, end = _date(row.get("temporal_start")), _date(row.get("temporal_end"))
    if start is not None or end is not None:
        period = w.blank()
        w.add(ds, _P["temporal"], period)
        w.add(period, A, CLASSES["PeriodOfTime"])
        if start is not None:
            w.add(period, _P["startDate"], start)
        if end is not None:
            w.add(period, _P["endDate"], end)
    w.concept(ds, _P["accrualPeriodicity"], row.get("frequency"), "Frequency")
    for dist in distributions:
        _distribution(w, ds, dist, row.get("license"), config)


def _distribution(w: _Writer, ds: str, row: dict[str, Any], dataset_license: Any,
                  config: CatalogSettings) -> None:
    node = _n(config.distribution_uri(row["distribution_uid"]))
    w.out(f"{ds} {_P['distribution']} {node} .\n{node} {A} {CLASSES['Distribution']} .\n")
    # DCAT-AP: accessURL is mandatory; with only a download URL, that URL is the access URL too.
    w.link(node, _P["accessURL"], row.get("access_url") or row.get("download_url"), "Resource")
    w.link(node, _P["downloadURL"], row.get("download_url"), "Resource")
    w.literal(node, _P["title"], row.get("title"))
    w.concept(node, _P["license"], row.get("license") or dataset_license, "LicenseDocument")
    w.concept(node, _P["format"], row.get("format"), "MediaTypeOrExtent")
    w.concept(node, _P["rights"], row.get("rights"), "RightsStatement")
    media = _text(row.get("media_type"))
    if media:
        w.concept(node, _P["mediaType"], _media_type(media), "MediaType")
    size = row.get("byte_size")
    if size is not None and int(size) >= 0:
        w.add(node, _P["byteSize"], _lit(str(int(size)), XSD_NNI))


@functools.lru_cache(maxsize=_MEMO)
def _media_type(media: str) -> str:
    """A media type as its IANA IRI (``text/csv`` -> ``…/media-types/text/csv``) when that makes one."""
    iri = media if is_iri(media) else _IANA + media
    return iri if is_iri(iri) else media


def _write_data_service(w: _Writer, row: dict[str, Any], config: CatalogSettings) -> None:
    """One ``data_services`` row as a ``dcat:DataService``."""
    svc = _n(config.data_service_uri(row["service_uid"]))
    _write_resource(w, svc, "DataService", row, row.get("contact") or row.get("contact_point"))
    w.link(svc, _P["endpointURL"], row.get("endpoint_url"), None)
    w.link(svc, _P["endpointDescription"], row.get("endpoint_description"), None)
    w.link(svc, FOAF_PAGE, row.get("docs_url"))
    for theme in row.get("theme") or ():
        w.concept(svc, _P["theme"], theme, "Concept")
    w.concept(svc, _P["accessRights"], row.get("access_rights") or service_access_rights(row.get("authentication")),
              "RightsStatement")
    w.literal(svc, _n(DCAT + "version"), row.get("version"))
    w.concept(svc, _P["license"], row.get("license"), "LicenseDocument")


def service_access_rights(authentication: Sequence[str] | None) -> str | None:
    """A data service's access rights from how it is secured: open to anyone (``none``) is PUBLIC,
    any credential makes it RESTRICTED; unknown when the register says nothing."""
    methods = [m for m in (authentication or ()) if m]
    if not methods:
        return None
    return ACCESS_RIGHT + ("PUBLIC" if all(m == "none" for m in methods) else "RESTRICTED")


def publisher_uri(row: dict[str, Any]) -> str | None:
    """The publisher's URI: the canonical organisation's (a TOOI URI) when matched, else the source's."""
    for column in ("organization_uri", "publisher_uri"):
        value = _text(row.get(column))
        if value and is_iri(value):
            return value
    return None


def serialise_dataset(row: dict[str, Any], distributions: Sequence[dict[str, Any]] = (), ext: str = "ttl",
                      config: CatalogSettings | None = None) -> bytes:
    """One dataset as a DCAT-AP-NL document (for per-record SHACL checks and the API)."""
    return serialise(dataset_ntriples(row, distributions, config), ext)


# ------------------------------------------------------------------------------------ the catalogue
def _catalog_node(w: _Writer, config: CatalogSettings) -> str:
    cat = _n(config.catalog_uri())
    w.add(cat, A, CLASSES["Catalog"])
    w.add(cat, A, CLASSES["Collection"])
    w.literal(cat, _P["title"], config.title, "en")
    w.literal(cat, _P["description"], config.description, "en")
    node = _n(config.publisher_uri) if config.publisher_uri else w.blank()
    w.add(cat, _P["publisher"], node)
    w.add(node, A, CLASSES["Agent"])
    w.literal(node, FOAF_NAME, config.publisher_name)
    w.contact(cat, config.contact_email)
    return cat


def page_ntriples(datasets: Sequence[tuple[dict, list[dict]]], services: Sequence[dict], total: int,
                  config: CatalogSettings) -> str:
    """One page of the catalogue without its Hydra view: the catalogue node and its items on this page."""
    w = _Writer(blank_ids=itertools.count())
    cat = _catalog_node(w, config)
    w.add(cat, HYDRA_P["totalItems"], _lit(str(total), _n(XSD + "integer")))
    for row, dists in datasets:
        w.add(cat, _P["dataset"], _n(config.dataset_uri(row["dataset_uid"])))
        _write_dataset(w, row, dists, config)
    for row in services:
        w.add(cat, _P["service"], _n(config.data_service_uri(row["service_uid"])))
        _write_data_service(w, row, config)
    return w.text()


def view_ntriples(page: int, pages: int, ext: str, config: CatalogSettings) -> str:
    """The page's ``hydra:PartialCollectionView``, linking the pages of the same format."""
    w = _Writer()
    view = _n(config.page_uri(page, ext))
    w.add(_n(config.catalog_uri()), HYDRA_P["view"], view)
    w.add(view, A, CLASSES["PartialCollectionView"])
    w.add(view, HYDRA_P["first"], _n(config.page_uri(1, ext)))
    w.add(view, HYDRA_P["last"], _n(config.page_uri(pages, ext)))
    if page > 1:
        w.add(view, HYDRA_P["previous"], _n(config.page_uri(page - 1, ext)))
    if page < pages:
        w.add(view, HYDRA_P["next"], _n(config.page_uri(page + 1, ext)))
    return w.text()


# The columns the mapping above reads, per table. The catalogue selects only these: the rest (the
# ``*_original`` values, provenance, ``harvested_at`` timestamps that DuckDB turns into datetimes) cost
# as much to fetch as the mapping costs to run. tests/unit/test_catalog.py checks that the mapping
# reads nothing else.
DATASET_COLUMNS = ("dataset_uid", "title", "description", "identifier", "source_record_id", "publisher",
                   "organization_uri", "publisher_uri", "contact_point", "theme", "keyword", "access_rights",
                   "license", "issued", "modified", "landing_page", "language", "spatial", "temporal_start",
                   "temporal_end", "frequency")
DISTRIBUTION_COLUMNS = ("distribution_uid", "dataset_uid", "access_url", "download_url", "title", "license",
                        "format", "rights", "media_type", "byte_size")
SERVICE_COLUMNS = ("service_uid", "title", "description", "identifier", "source_record_id", "publisher",
                   "organization_uri", "publisher_uri", "contact", "contact_point", "endpoint_url",
                   "endpoint_description", "docs_url", "theme", "access_rights", "authentication", "version",
                   "license")


def _mapped_columns(store: Store, table: str, wanted: Sequence[str]) -> list[str]:
    """The table's columns that the mapping reads (a column an older store lacks reads as None)."""
    return [c for c in store.table_columns(table) if c in wanted]


def _dicts(names: list[str], batches: Iterator[list[tuple]]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        for values in batch:
            yield dict(zip(names, values))


# Datasets per range of dataset_uid the catalogue is read in. The two sorted streams of one range are
# all that a read holds; over the whole catalogue at once, the two sorts of 1,000,000 datasets and
# 2,700,000 distributions ran DuckDB out of memory (2026-11-29: 581 MiB limit, most of it pinned by the
# key indexes), and a sort's memory grows with what it sorts.
RANGE_DATASETS = 50_000


def _uid_ranges(store: Store, where: str, count: int, per_range: int | None = None) -> list[tuple[str, list[Any]]]:
    """``count`` datasets split into ranges of about ``per_range`` by ``dataset_uid``: one SQL
    condition (over ``d``) with its parameters per range, in order. The bounds are every
    ``per_range``-th uid, so the ranges are even whatever the uids look like."""
    per_range = per_range or RANGE_DATASETS
    if count <= per_range:
        return [("TRUE", [])]
    bounds = [row[0] for batch in store.stream(
        f"SELECT dataset_uid FROM (SELECT d.dataset_uid, row_number() OVER (ORDER BY d.dataset_uid) AS n "
        f"FROM datasets d WHERE {where}) numbered WHERE n % {int(per_range)} = 1 AND n > 1 ORDER BY dataset_uid",
        1000) for row in batch]
    edges: list[Any] = [None, *bounds, None]
    ranges = []
    for lo, hi in zip(edges, edges[1:]):
        conditions, params = [], []
        if lo is not None:
            conditions.append("d.dataset_uid >= ?")
            params.append(lo)
        if hi is not None:
            conditions.append("d.dataset_uid < ?")
            params.append(hi)
        ranges.append((" AND ".join(conditions), params))
    return ranges


def _datasets_with_distributions(store: Store, where: str, batch: int, count: int) -> Iterator[tuple[dict, list[dict]]]:
    """Datasets in ``dataset_uid`` order, each with its distributions: range by range of uids
    (:func:`_uid_ranges`), a merge of two ordered streams, so neither table is ever held or sorted
    whole."""
    ds_cols = _mapped_columns(store, "datasets", DATASET_COLUMNS)
    dist_cols = _mapped_columns(store, "distributions", DISTRIBUTION_COLUMNS)
    for in_range, params in _uid_ranges(store, where, count):
        datasets = _dicts(ds_cols, store.stream(
            f"SELECT {cols(ds_cols, 'd.')} FROM datasets d WHERE ({where}) AND {in_range} ORDER BY d.dataset_uid",
            batch, params))
        dists = _dicts(dist_cols, store.stream(
            f"SELECT {cols(dist_cols, 'x.')} FROM distributions x JOIN datasets d ON d.dataset_uid = x.dataset_uid "
            f"WHERE ({where}) AND {in_range} ORDER BY x.dataset_uid, x.distribution_uid", batch * 4, params))
        pending = next(dists, None)
        for row in datasets:
            uid = row["dataset_uid"]
            mine = []
            while pending is not None and pending["dataset_uid"] <= uid:
                if pending["dataset_uid"] == uid:
                    mine.append(pending)
                pending = next(dists, None)
            yield row, mine


# The record tables the catalogue is written from: while none of them changes, neither does it.
SOURCE_TABLES = ("datasets", "distributions", "data_services")


# The mapping and page-writing code this process runs (read once, at import: files deployed during a
# long publish must not be taken for the code that wrote its pages).
_CODE_DIGEST = hashlib.sha256(b"".join(Path(m).read_bytes() for m in (__file__, rdf_pages.__file__))).hexdigest()


def inputs_fingerprint(config: CatalogSettings, dataset_filter: str) -> str:
    """What decides the catalogue's bytes besides the records of ``SOURCE_TABLES``: its settings
    (not how many processes write it), which datasets it takes, the mapping and page-writing code,
    and the serialisers' version. A catalogue written with the same fingerprint from the same
    records is the same catalogue, so a release may reuse the previous one's (``exports``)."""
    settings_used = {k: v for k, v in dataclasses.asdict(config).items() if k != "workers"}
    return hashlib.sha256(json.dumps([settings_used, dataset_filter, pyoxigraph.__version__, _CODE_DIGEST],
                                     sort_keys=True, default=str).encode()).hexdigest()


def write_catalog(store: Store, folder: Path, *, config: CatalogSettings | None = None,
                  dataset_filter: str = "TRUE") -> dict[str, Any]:
    """Write the catalogue pages (every format) into ``folder``; returns what was written.

    ``dataset_filter`` is SQL over the ``datasets`` table as ``d``: the caller leaves non-public
    records out this way.
    """
    config = config or CatalogSettings.from_env()
    formats = config.formats
    folder.mkdir(parents=True, exist_ok=True)
    has_services = store.table_exists("data_services")
    n_datasets = int(store.scalar(f"SELECT count(*) FROM datasets d WHERE {dataset_filter}") or 0)
    n_services = int(store.scalar("SELECT count(*) FROM data_services") or 0) if has_services else 0
    total = n_datasets + n_services
    size = max(1, config.page_size)
    pages = max(1, -(-total // size))

    def items() -> Iterator[tuple[str, Any]]:
        for pair in _datasets_with_distributions(store, dataset_filter, size, n_datasets):
            yield "dataset", pair
        if has_services:
            svc_cols = _mapped_columns(store, "data_services", SERVICE_COLUMNS)
            for row in _dicts(svc_cols, store.stream(
                    f"SELECT {cols(svc_cols)} FROM data_services ORDER BY service_uid", size)):
                yield "service", row

    page, datasets, services = 1, [], []
    workers = config.workers if pages >= MIN_PAGES else 0

    def flush() -> None:
        # The page is built here (reading the store is this process's); parsing it once and writing it
        # in every format is done by the writer, in worker processes when there are enough pages.
        writer.submit(page, page_ntriples(datasets, services, total, config),
                      {ext: view_ntriples(page, pages, ext, config) for ext in formats},
                      folder, {ext: page_file(page, ext) for ext in formats})

    # The cyclic collector paused while pages are built: millions of short-lived acyclic objects (see gcpause).
    with no_cyclic_gc(), PageWriter(workers, folder) as writer:
        for kind, item in items():
            (datasets if kind == "dataset" else services).append(item)
            if len(datasets) + len(services) == size:
                flush()
                page, datasets, services = page + 1, [], []
        if datasets or services or page == 1:
            flush()
        else:
            page -= 1
    for ext in formats:  # the catalogue's entry point in each format is its first page
        shutil.copyfile(folder / page_file(1, ext), folder / f"catalog.{ext}")
    log.info("catalogue: %d datasets and %d data services in %d pages of %d", n_datasets, n_services, page, size)
    return {"datasets": n_datasets, "data_services": n_services, "pages": page, "page_size": size,
            "formats": {ext: MEDIA_TYPES[ext] for ext in formats}, "first": {ext: page_file(1, ext) for ext in formats},
            "public_url": config.catalog_uri()}
