"""RDF pages written in every export format, in worker processes beside the loop that builds them.

The catalogue export builds each page as N-Triples text (cheap, in Python) and then has pyoxigraph
parse it once and serialise it as Turtle, JSON-LD and RDF/XML: three quarters of the export's CPU.
Pages are independent, so that part runs in worker processes (:class:`PageWriter`) while the
export's own process reads the store and builds the next pages: the export's wall time drops by up
to half on two cores. Its CPU does not: the same work is done, only at the same time.

A worker is a :class:`~inventory.worker_process.WorkerProcess`: a fresh interpreter that imports
this module, which imports nothing but pyoxigraph, so it costs about 20 MiB and a tenth of a second.
Not a ``multiprocessing`` pool: a ``spawn`` child first re-runs the parent's main script, and in an
Airflow task that is the ``airflow`` command, which imports Airflow (115 MiB and 1.6 s a worker,
measured).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Iterable

import pyoxigraph
from pyoxigraph import RdfFormat

from .worker_process import WorkerProcess, WorkerProcessEnded

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


class PageWriteError(RuntimeError):
    """A catalogue page could not be written; the message names the page and the cause."""


def _cause(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _cannot_write(page: int, cause: str) -> PageWriteError:
    return PageWriteError(f"catalogue page {page} could not be written: {cause}")


class PageWriter:
    """Writes pages with :func:`write_page`, in ``workers`` processes or, with 0, in this process.

    A page goes to a worker as a file of N-Triples in a scratch folder under ``scratch_in`` (the
    worker reads and deletes it), never through the pipe: a page sent as text would be held in this
    process once more for every page waiting (about 90 MiB on two workers, measured). Pages go to
    the workers in turn; at most one page per worker waits (``submit`` blocks on the oldest beyond
    that). A page that fails to write raises :class:`PageWriteError` from ``submit`` or ``close``,
    naming the page; the caller's publish then fails as a whole.
    """

    def __init__(self, workers: int, scratch_in: Path) -> None:
        self._workers: list[WorkerProcess] = []
        self._scratch: Path | None = None
        self._pending: deque[tuple[int, Future]] = deque()
        if workers > 0:
            try:
                self._scratch = Path(tempfile.mkdtemp(prefix=".ntriples-", dir=scratch_in))
                for _ in range(workers):  # one by one: those started before a refusal are stopped by close
                    self._workers.append(WorkerProcess("page writer"))
                self._in_turn = itertools.cycle(self._workers)
            except OSError as exc:
                # No processes left to start (a container's pid limit, say): the catalogue is still
                # written, only in this one process.
                log.warning("catalogue pages are written in this process: worker processes could not start (%s)", exc)
                self.close(wait=False)

    def submit(self, page: int, body: str, views: dict[str, str], folder: Path, names: dict[str, str]) -> None:
        if not self._workers:
            try:
                write_page(body, views, str(folder), names)
            except Exception as exc:
                raise _cannot_write(page, _cause(exc)) from exc
            return
        assert self._scratch is not None  # made with the workers
        text = self._scratch / f"{page}.nt"
        text.write_text(body, encoding="utf-8")
        self._pending.append((page, next(self._in_turn).submit(write_page, text, views, str(folder), names)))
        while len(self._pending) > len(self._workers):
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        page, written = self._pending.popleft()
        try:
            written.result()
        except WorkerProcessEnded as exc:
            raise _cannot_write(page, str(exc)) from None
        except Exception as exc:
            raise _cannot_write(page, _cause(exc)) from exc

    def close(self, *, wait: bool = True) -> None:
        """Wait for every page (``wait``) or stop at once; stop the workers, remove the scratch
        folder. Nothing is left running either way."""
        try:
            while wait and self._pending:
                self._wait_oldest()
        finally:
            for worker in self._workers:
                worker.shutdown(wait=True, cancel_futures=not wait)
            self._workers = []
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None
            self._pending.clear()

    def __enter__(self) -> "PageWriter":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # On an error (here or in the caller) the pages still waiting do not matter: the publish fails
        # as a whole, so the workers are stopped at once.
        self.close(wait=exc_type is None)
