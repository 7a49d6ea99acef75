"""RDF pages written in every export format, in worker processes beside the loop that builds them.

The catalogue export builds each page as N-Triples text (cheap, in Python) and then has pyoxigraph
parse it once and serialise it as Turtle, JSON-LD and RDF/XML: three quarters of the export's CPU.
Pages are independent, so that part runs in worker processes (:class:`PageWriter`) while the
export's own process reads the store and builds the next pages: the export's wall time drops by up
to half on two cores. Its CPU does not: the same work is done, only at the same time.

This module imports nothing but pyoxigraph, so that a worker (a fresh ``spawn`` interpreter)
costs about 20 MiB and a tenth of a second, not the hundred MiB of the publish package.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import pyoxigraph
from pyoxigraph import RdfFormat

log = logging.getLogger("inventory.publish")

# Export formats: file extension -> pyoxigraph format.
FORMATS: dict[str, RdfFormat] = {"ttl": RdfFormat.TURTLE, "jsonld": RdfFormat.JSON_LD, "rdf": RdfFormat.RDF_XML}

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
XSD = "http://www.w3.org/2001/XMLSchema#"
LOCN = "http://www.w3.org/ns/locn#"
GSP = "http://www.opengis.net/ont/geosparql#"
ADMS = "http://www.w3.org/ns/adms#"
DCATAP = "http://data.europa.eu/r5r/"

PREFIXES = {"dcat": DCAT, "dct": DCT, "foaf": FOAF, "vcard": VCARD, "hydra": HYDRA, "rdf": RDF,
            "rdfs": RDFS, "skos": SKOS, "xsd": XSD, "locn": LOCN, "adms": ADMS, "dcatap": DCATAP}

WORKERS_ENV = "INVENTORY_CATALOG_WORKERS"
# Fewer pages than this are written in the export's own process: a worker interpreter costs about a
# tenth of a second to start, about what serialising one page of 1,000 datasets in three formats costs.
MIN_PAGES = 4


def parse(ntriples: str | Path) -> list[Any]:
    """N-Triples text (or a file of it) as pyoxigraph quads. Lenient: an IRI the catalogue's checks
    let through but the strict parser would refuse must not fail a whole page."""
    if isinstance(ntriples, Path):
        return list(pyoxigraph.parse(path=ntriples, format=RdfFormat.N_TRIPLES, lenient=True))
    return list(pyoxigraph.parse(ntriples, RdfFormat.N_TRIPLES, lenient=True))


def serialise(ntriples: str | Iterable[Any], ext: str = "ttl", output: Path | None = None) -> bytes | None:
    """N-Triples text (or parsed quads) as Turtle (``ttl``), JSON-LD (``jsonld``) or RDF/XML (``rdf``):
    the bytes, or None once written to ``output`` (pyoxigraph writes the file itself, sparing a copy of
    every page through a Python ``bytes``)."""
    fmt = FORMATS[ext]
    kwargs: dict[str, Any] = {"format": fmt}
    if fmt is not RdfFormat.JSON_LD:
        kwargs["prefixes"] = PREFIXES
    quads = parse(ntriples) if isinstance(ntriples, str) else ntriples
    return pyoxigraph.serialize(quads, output, **kwargs)


def write_page(body: str | Path, views: dict[str, str], folder: str, names: dict[str, str]) -> None:
    """One page in every format: ``body`` (N-Triples text, or a file of it, deleted once read)
    parsed once, each format's file written with the body's quads followed by that format's own
    ``views[ext]`` (its paging links)."""
    quads = parse(body)
    if isinstance(body, Path):
        body.unlink()
    for ext, view in views.items():  # chained, not concatenated: no copy of the page's quads per format
        serialise(itertools.chain(quads, parse(view)), ext, Path(folder) / names[ext])


def workers_from_env() -> int:
    """``$INVENTORY_CATALOG_WORKERS``: worker processes for the pages (0: write them in-process).
    Default: one per core, at most two; beyond that the loop building the pages is the limit."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return min(2, os.cpu_count() or 1)
    try:
        workers = int(value)
    except ValueError:
        workers = -1
    if workers < 0:
        raise ValueError(f"{WORKERS_ENV} must be a whole number of worker processes (0 or more), not {value!r}")
    return workers


class PageWriter:
    """Writes pages with :func:`write_page`, in ``workers`` processes or, with 0, in this process.

    A page goes to a worker as a file of N-Triples in a scratch folder under ``scratch_in`` (the
    worker reads and deletes it), not through the pipe: a pickled page would be held in this
    process twice over (text and pickle) for every page waiting, about 90 MiB on two workers.
    At most one page per worker waits (``submit`` blocks on the oldest beyond that). A page that
    fails to write raises from ``submit`` or ``close`` with the page named; the caller's publish
    then fails as a whole.
    """

    def __init__(self, workers: int, scratch_in: Path) -> None:
        self._pool = (ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
                      if workers > 0 else None)  # spawn: never a fork of a process with threads
        self._scratch = Path(tempfile.mkdtemp(prefix=".ntriples-", dir=scratch_in)) if workers > 0 else None
        self._pending: deque[tuple[int, Future]] = deque()
        self._limit = workers
        self._started = False

    def submit(self, page: int, body: str, views: dict[str, str], folder: Path, names: dict[str, str]) -> None:
        if self._pool is None or self._scratch is None:
            _written(page, lambda: write_page(body, views, str(folder), names))
            return
        text = self._scratch / f"{page}.nt"
        text.write_text(body, encoding="utf-8")
        try:
            future = self._pool.submit(write_page, text, views, str(folder), names)
        except (AssertionError, OSError) as exc:
            if self._started:
                raise
            # The first page starts the workers. A process that may not have children (a daemonic
            # one) or may not start more still writes the catalogue, only in one process.
            log.warning("catalogue pages are written in this process: worker processes could not start (%s)", exc)
            self.close(wait=False)
            self.submit(page, body, views, folder, names)
            return
        self._started = True
        self._pending.append((page, future))
        while len(self._pending) > self._limit:
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        page, future = self._pending.popleft()
        _written(page, future.result)

    def close(self, *, wait: bool = True) -> None:
        """Wait for every page (``wait``) or cancel those not started; stop the workers. Nothing is
        left running either way."""
        try:
            while wait and self._pending:
                self._wait_oldest()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None
            self._pending.clear()

    def __enter__(self) -> "PageWriter":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # On an error in the caller, the pages still waiting do not matter: the publish fails as a whole.
        self.close(wait=exc_type is None)


def _written(page: int, write: Any) -> None:
    try:
        write()
    except Exception as exc:
        exc.add_note(f"while writing catalogue page {page}")
        raise
