"""The shared harvest loop: page through one source, land every page, normalise, stage.

One source, one run, one *batch* (see staging.py). The loop owns everything a source module must
not re-implement: landing before parsing, resume from the landing zone, the seen-set of record ids,
duplicate detection, loop detection (a request or a page body seen before ends the listing as
``partial``), and reconciliation of the count the server reported against the records received.
Memory stays bounded: rows stream to Parquet page by page, and the seen-set keeps about 16 bytes an
id (:class:`SeenIds`).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from . import credentials, native_memory, organizations, page_worker
from .settings import data_dir
from .config import SourceConfig
from .http import HarvestHTTPError, HttpClient, HttpSettings
from .landing import LandedPage, LandingZone, PageRequest
from .model import QUARANTINE, RECORD_TABLES, stable_uid
from .organizations import ORGANIZATION_COLUMNS, OrganizationMatcher, OrganizationsConfigError
from .sources import module_for
from .sources.base import PageError, ParseContext, ParsedPage, Refusal
from .staging import Batch, TableWriter, batches, utcnow
from .worker_process import WorkerProcessEnded

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, "int | None"], None]


class HarvestFailed(RuntimeError):
    """The source could not be harvested completely; the batch report says what happened."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


@dataclass
class _Listing:
    pages: int = 0
    entries: int = 0  # listing entries received, duplicates and refusals included
    reported: int | None = None
    received: int = 0
    duplicates: int = 0
    refused: int = 0
    replayed: int = 0
    high_water_mark: str | None = None
    stop_reason: str | None = None  # why the listing ended early (loop, repeated page)
    drift: str | None = None  # the reported total changed while paging
    retried: int = 0  # requests that needed more than one attempt
    retry_after: list[dict[str, Any]] = field(default_factory=list)  # the server's Retry-After waits
    charsets: dict[str, int] = field(default_factory=dict)  # "utf-8 (declared)" -> pages
    charset_guesses: list[str] = field(default_factory=list)  # pages whose charset nothing declared reliably


class SeenIds:
    """The exact set of the record ids a listing produced, in about 16 bytes an id: 17 MiB for a
    million UUIDs, where a ``set`` of the strings takes 113 MiB (and grew the harvest's peak RSS
    with the size of the catalogue).

    Each id's 64-bit hash is kept in a sorted numpy array, beside the offset of the id itself in an
    append-only scratch file (in ``scratch_dir``, the data folder in a harvest rather than a /tmp
    that may be memory; unlinked from the start, so it vanishes with the process). Exactness
    does not rest on the hash: an id whose hash is already there is read back from the file and
    compared, so only a true repeat counts as seen; the rare id whose hash an *other* id already
    has (a collision) is kept, as the string, in a small ordinary set. The latest ids wait in a
    dict until ``MERGE_EVERY`` of them are merged into the arrays (a linear merge, no re-sort).

    The hash is Python's own ``hash(str)``: 64 bits, cached on the string, and seeded per process,
    which is fine since the set lives for one harvest in one process (a resumed run rebuilds it by
    replaying the landed pages).
    """

    MERGE_EVERY = 65_536
    MOVE_CHUNK = 65_536  # merged ids moved at a time when new ones are merged in (see _merge)
    _hash = staticmethod(hash)
    _LENGTH = struct.Struct("<I")

    def __init__(self, scratch_dir: Path | None = None):
        self._scratch_dir = scratch_dir
        self._file: IO[bytes] | None = None
        self._end = 0  # bytes written to the scratch file
        self._hashes = np.empty(0, dtype=np.int64)  # sorted; every hash once
        self._offsets = np.empty(0, dtype=np.int64)  # where the id that has _hashes[i] starts
        self._recent: dict[int, int] = {}  # hash -> offset, not merged yet
        self._collided: set[str] = set()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, record_id: str) -> bool:
        if record_id in self._collided:
            return True
        offset = self._offset_of(self._hash(record_id))
        return offset is not None and self._read(offset) == record_id

    def add(self, record_id: str) -> bool:
        """Add ``record_id``; True when it is new, False when the set already had it."""
        h = self._hash(record_id)
        first = self._add(record_id, h, self._offset_of(h))
        self._merge_when_due()
        return first

    def add_many(self, record_ids: list[str]) -> list[bool]:
        """``add`` for each id of a page in turn (a repeat within the page counts too), with the
        hashes looked up in the merged arrays all at once (about half the CPU of ``add`` one by one)."""
        hashes = np.fromiter(map(self._hash, record_ids), dtype=np.int64, count=len(record_ids))
        merged: list[int | None] = [None] * len(record_ids)
        if len(self._hashes):
            at = np.minimum(self._hashes.searchsorted(hashes), len(self._hashes) - 1)
            offsets = np.where(self._hashes[at] == hashes, self._offsets[at], -1).tolist()
            merged = [None if offset < 0 else offset for offset in offsets]
        # The arrays do not change until the page is done (no merge before), so ``merged`` holds;
        # a hash is either in the arrays or in ``_recent``, never in both.
        recent = self._recent
        firsts = [self._add(record_id, h, recent.get(h, offset))
                  for record_id, h, offset in zip(record_ids, hashes.tolist(), merged)]
        self._merge_when_due()
        return firsts

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _offset_of(self, h: int) -> int | None:
        """Where the id that has hash ``h`` starts in the scratch file (None: no id has it)."""
        offset = self._recent.get(h)
        if offset is None and len(self._hashes):
            i = int(self._hashes.searchsorted(h))
            if i < len(self._hashes) and self._hashes[i] == h:
                offset = int(self._offsets[i])
        return offset

    def _add(self, record_id: str, h: int, offset: int | None) -> bool:
        """``offset``: where the id that already has hash ``h`` starts (None: no id has it yet)."""
        if record_id in self._collided:
            return False
        if offset is None:
            self._recent[h] = self._write(record_id)
        elif self._read(offset) == record_id:
            return False
        else:
            self._collided.add(record_id)  # another id has this hash
        self._count += 1
        return True

    def _merge_when_due(self) -> None:
        if len(self._recent) >= self.MERGE_EVERY:
            self._merge()

    def _write(self, record_id: str) -> int:
        if self._file is None:
            if self._scratch_dir is not None:
                self._scratch_dir.mkdir(parents=True, exist_ok=True)
            self._file = tempfile.TemporaryFile(prefix="seen-ids-", dir=self._scratch_dir)
        data = record_id.encode("utf-8", "surrogatepass")  # JSON may carry a lone surrogate
        offset = self._end
        self._file.write(self._LENGTH.pack(len(data)) + data)
        self._end += self._LENGTH.size + len(data)
        return offset

    def _read(self, offset: int) -> str:
        assert self._file is not None
        self._file.flush()
        fd = self._file.fileno()
        (length,) = self._LENGTH.unpack(os.pread(fd, self._LENGTH.size, offset))
        return os.pread(fd, length, offset + self._LENGTH.size).decode("utf-8", "surrogatepass")

    def _merge(self) -> None:
        """Merge ``_recent`` into the sorted arrays in place, so that the set is never held twice.

        ``np.insert`` would build new arrays beside the old ones: 16 more MiB at a million ids at
        every merge, the harvest's peak. Here the arrays grow (``ndarray.resize``: a ``realloc``,
        which for a block mapped on its own, as the harvest has every block of a megabyte or more,
        see native_memory, moves pages, not bytes), then the merged ids move back to make room,
        ``MOVE_CHUNK`` at a time from the end, and the new ones drop into the gaps.
        """
        new_hashes = np.fromiter(self._recent.keys(), dtype=np.int64, count=len(self._recent))
        new_offsets = np.fromiter(self._recent.values(), dtype=np.int64, count=len(self._recent))
        order = new_hashes.argsort()
        new_hashes, new_offsets = new_hashes[order], new_offsets[order]
        n, k = len(self._hashes), len(new_hashes)
        # Where each new hash goes among the merged ones (a hash is never in both, see add_many).
        at = self._hashes.searchsorted(new_hashes)
        for array in (self._hashes, self._offsets):
            array.resize(n + k, refcheck=False)
        # A merged id at i moves back by the number of new ids that go before it: at[j] <= i. Chunks
        # are moved from the end, so a chunk's targets (at or after its own place) have been moved
        # out of the way already; each chunk is copied before it is written back.
        for end in range(n, 0, -self.MOVE_CHUNK):
            start = max(0, end - self.MOVE_CHUNK)
            where = np.arange(start, end)
            to = where + at.searchsorted(where, side="right")
            for array in (self._hashes, self._offsets):
                array[to] = array[start:end].copy()
        into = at + np.arange(k)
        self._hashes[into] = new_hashes
        self._offsets[into] = new_offsets
        self._recent.clear()


def _previous_high_water_mark(source_id: str, current: Batch) -> str | None:
    for batch in reversed(batches(source_id)):
        if batch == current:
            continue
        report = batch.read_report()
        if report.get("status") == "complete" and report.get("high_water_mark"):
            return report["high_water_mark"]
    return None


def _quarantine_row(kind_table: str, source: SourceConfig, refusal: Refusal, run_id: str, uid_of: Callable[[str], str]) -> dict:
    return {
        "record_type": kind_table,
        "record_uid": uid_of(refusal.record_id) if refusal.record_id else None,
        "source_id": source.id,
        "source_record_id": refusal.record_id,
        "run_id": run_id,
        "suite": "harvest",
        "expectation": refusal.check,
        "column": refusal.column,
        "observed_value": refusal.observed,
        "reason": refusal.reason,
        "record": json.dumps(refusal.raw, ensure_ascii=False, default=str)[:100_000],
        "quarantined_at": utcnow(),
    }


def _fetch(client: HttpClient, landing: LandingZone, seq: int, request: PageRequest, listing: _Listing) -> LandedPage:
    response = client.request(
        request.method,
        request.url,
        params=request.params or None,
        json_body=request.json_body,
        data=request.body.encode("utf-8") if request.body is not None else None,
        headers=request.headers,
    )
    if response.attempts > 1:
        listing.retried += 1
    listing.retry_after.extend(response.retry_after)
    return landing.land(seq, request, url=response.url, status=response.status, headers=response.headers, body=response.body)


def _failed(exc: BaseException) -> Future:
    """A future that already failed with ``exc``."""
    future: Future = Future()
    future.set_exception(exc)
    return future


def harvest_source(
    source: SourceConfig,
    run_id: str,
    *,
    client: HttpClient | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Harvest ``source`` into the staging batch of ``run_id``; return the batch report.

    Raises :class:`HarvestFailed` (after writing the report) when the listing broke off; records
    received until then stay staged, and a partial run deletes nothing when published.
    """
    module = module_for(source.kind)
    table = module.RECORD_TABLE
    # Pages are megabytes each: their buffers go back to the system when freed, or a long listing
    # fragments the heap (see native_memory).
    native_memory.unmap_large_buffers()
    batch = Batch.for_run(source.id, run_id)
    landing = LandingZone(source.id, batch.batch_id)
    started_at = utcnow()
    clock = time.monotonic()
    ctx = ParseContext(run_id=run_id, harvested_at=started_at)
    since = None
    if source.option("incremental"):
        since = source.option("modified_since") or _previous_high_water_mark(source.id, batch)

    def uid_of(record_id: str) -> str:
        return stable_uid(source.id, record_id)

    writers: dict[str, TableWriter] = {}
    # One place for every kind: the organisation columns become canonical as rows are staged.
    organisations: OrganizationMatcher | None = None
    organisations_error = None
    try:
        organisations = OrganizationMatcher()
    except OrganizationsConfigError as exc:  # fails this harvest with the sentence, in its report
        organisations_error = str(exc)

    def writer(name: str) -> TableWriter:
        if name not in writers:
            transform = None
            if organisations is not None and name in ORGANIZATION_COLUMNS:
                transform = lambda t, name=name: organisations.canonicalise(t, name)  # noqa: E731
            writers[name] = TableWriter(batch.harvested(name), RECORD_TABLES[name], transform=transform)
        return writers[name]

    writer(table)
    quarantine = TableWriter(batch.parse_quarantine, QUARANTINE)
    own_client = client is None
    if client is None:
        settings = HttpSettings.from_options(source.options, allow_private_network=source.allow_private_network)
        client = HttpClient(settings)

    listing = _Listing()
    seen = SeenIds(data_dir())
    request_keys: set[str] = set()
    body_hashes: set[str] = set()
    error: str | None = None
    def refuse(refusal: Refusal) -> None:
        listing.refused += 1
        if refusal.record_id:
            seen.add(refusal.record_id)  # it exists at the source; it just is not usable
        quarantine.write(_quarantine_row(table, source, refusal, run_id, uid_of))

    def accept(record_id: str, row: Callable[[], dict]) -> bool:
        """The seen-set: the first occurrence of an id is kept, a repeat is quarantined."""
        return seen.add(record_id) or repeated(record_id, row)

    def repeated(record_id: str, row: Callable[[], dict]) -> bool:
        """Quarantine a repeat of an id the listing already produced; False (the record is not kept)."""
        listing.duplicates += 1
        refusal = Refusal(record_id, "record_id_unique_in_listing", "source_record_id", record_id,
                          "the same record id appeared twice in the listing; the first one was kept", row())
        quarantine.write(_quarantine_row(table, source, refusal, run_id, uid_of))
        return False

    def raise_watermark(*marks: str | None) -> None:
        for mark in marks:
            if mark and (listing.high_water_mark is None or mark > listing.high_water_mark):
                listing.high_water_mark = mark

    def get_page(seq: int, request: PageRequest) -> LandedPage:
        """The page from the landing zone when an earlier attempt landed it, else from the source."""
        page = landing.replay(seq, request)
        if page is None:
            return _fetch(client, landing, seq, request, listing)
        listing.replayed += 1
        return page

    # One page is fetched ahead while the current one is normalised: network waits overlap with
    # parsing work (the socket read releases the GIL), and memory stays at two pages.
    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fetch-{source.id}")
    pending: Future | None = None
    sent_credentials: str | None = None  # what credentials.apply put on the session, in words
    # A big listing of a kind that maps column by column is parsed and mapped in a worker process
    # (page_worker.py), from the moment the worker is up; until then, and for small listings, here.
    worker: Executor | None = None
    worker_up: Future | None = None
    worker_lost = threading.Event()  # the worker died and the log said so

    def worker_gone(exc: WorkerProcessEnded) -> Future:
        """The page worker died (killed for memory, say): the pages are parsed here from now on,
        the ones it had not answered included. Says so once; returns the failed future that says so."""
        if not worker_lost.is_set():
            worker_lost.set()
            log.warning("%s: %s; the remaining pages are parsed in the harvest's own process", source.id, exc)
        return _failed(exc)

    def fetch_and_parse(seq: int, request: PageRequest) -> tuple[LandedPage, Future | None]:
        page = get_page(seq, request)
        if worker_up is None or not worker_up.done():
            return page, None
        failure = worker_up.exception()
        if failure is None:  # a worker that has ended since fails this call: the loop hears of it there
            return page, worker.submit(page_worker.parse, source.kind, source, page, ctx)
        if isinstance(failure, WorkerProcessEnded):
            worker_gone(failure)  # it died warming up (said once)
        return page, None

    try:
        if organisations_error:
            raise PageError(organisations_error)
        if own_client:  # inside the try: a missing connection or certificate is a failed source, said in one sentence
            sent_credentials = credentials.apply(source, client)
        request = module.first_request(source, since=since)
        request_keys.add(request.key())
        seq = 1
        pending = prefetch.submit(fetch_and_parse, seq, request)
        while pending is not None:
            page, parsing = pending.result()
            pending = None
            listing.pages += 1
            _count_charset(listing, page)
            if page.status >= 400 and page.status not in (409, 422) and page.status not in page.request.tolerate:
                if parsing is not None:
                    parsing.cancel()
                if page.status in (401, 403):
                    raise HarvestHTTPError(credentials.refused(source, sent_credentials, page.url, page.status, seq))
                raise HarvestHTTPError(f"{page.url} answered HTTP {page.status} on page {seq}")
            parsed: ParsedPage | None = None
            mapping: Future | None = None
            if parsing is not None:
                try:
                    parsed = parsing.result()
                    mapping = worker.submit(page_worker.columns, page.seq)
                except WorkerProcessEnded as exc:
                    worker_up = worker_gone(exc)
            if parsed is None:
                parsed = module.parse_page(source, page, ctx)
            if worker is None and worker_up is None and page_worker.wanted(module, parsed.reported_total):
                try:
                    worker = page_worker.start()
                    worker_up = worker.submit(page_worker.warm_up, source.kind)
                except Exception as exc:  # no second process here: the pages are parsed in this one
                    log.warning("%s: pages are parsed in the harvest's own process (no worker process: %s)", source.id, exc)
                    if worker is not None:
                        worker.shutdown(wait=False, cancel_futures=True)
                    worker = None
                    worker_up = _failed(exc)
            if parsed.entries and page.sha256 in body_hashes:
                listing.stop_reason = f"page {seq} ({page.url}) repeated an earlier page byte for byte; stopped to avoid a loop"
                break
            body_hashes.add(page.sha256)
            next_request = parsed.next_request
            if next_request is not None:
                if next_request.key() in request_keys:
                    listing.stop_reason = (
                        f"the listing asked for the same page twice ({next_request.url} "
                        f"{next_request.params or next_request.json_body}); stopped to avoid a loop"
                    )
                else:
                    request_keys.add(next_request.key())
                    pending = prefetch.submit(fetch_and_parse, seq + 1, next_request)
            if parsed.reported_total is not None:
                if listing.reported is not None and parsed.reported_total != listing.reported and not listing.drift:
                    listing.drift = (
                        f"the catalogue changed while it was paged (the reported total went from {listing.reported:,} "
                        f"to {parsed.reported_total:,} at page {seq}), so records may have shifted past a page boundary"
                    )
                listing.reported = parsed.reported_total
            listing.entries += parsed.entries
            columns = None
            if mapping is not None:
                try:
                    columns = mapping.result()
                except WorkerProcessEnded as exc:
                    # The worker's copy of the page had its columns (a parse, then a map there): it
                    # is parsed again here, and mapped below.
                    worker_up = worker_gone(exc)
                    parsed, mapping = module.parse_page(source, page, ctx), None
            if mapping is None and parsed.columns is not None:
                columns = parsed.columns()
            if columns is not None:
                for refusal in columns.refusals:
                    refuse(refusal)
                firsts = seen.add_many(columns.record_ids)
                keep = [i for i, first in enumerate(firsts) if first or repeated(columns.record_ids[i], lambda i=i: columns.row(table, i))]
                if len(keep) != len(columns.record_ids):
                    columns = columns.select(keep)
                for name, values in columns.tables.items():
                    if isinstance(values, dict):
                        writer(name).write_columns(values)
                    else:  # Arrow, from the worker
                        writer(name).write_table(values)
                raise_watermark(*(columns.watermarks or ()))
            for item in parsed.items:
                if isinstance(item, Refusal):
                    refuse(item)
                elif accept(item.record_id, lambda item=item: item.row):
                    writer(table).write(item.row)
                    for child_table, rows in item.children.items():
                        writer(child_table).write_many(rows)
                    raise_watermark(item.watermark)
            listing.received = len(seen)
            if progress:
                progress(listing.pages, listing.received, listing.reported)
            seq += 1
    except (HarvestHTTPError, PageError) as exc:
        error = str(exc)
    except Exception as exc:  # an unexpected bug must still leave a report saying so
        error = f"{type(exc).__name__}: {exc}"
        log.exception("harvest of %s crashed", source.id)
    finally:
        if pending is not None:
            pending.cancel()
        prefetch.shutdown(wait=True)
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)
        for w in list(writers.values()) + [quarantine]:
            w.close()
        seen.close()
        if own_client:
            client.close()
    listing.received = len(seen)
    unmatched = organisations.unmatched_rows(source.id) if organisations else []
    if organisations:
        organizations.write_report(source.id, unmatched)

    status, message = _verdict(source, listing, error, incremental=since is not None)
    finished_at = utcnow()
    report = {
        "run_id": run_id,
        "source_id": source.id,
        "kind": source.kind,
        "status": status,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": round(time.monotonic() - clock, 3),
        "pages": listing.pages,
        "records_reported": listing.reported,
        "records_received": listing.received,
        "records_valid": None,
        "records_quarantined": listing.refused + listing.duplicates,
        "added": None,
        "changed": None,
        "removed": None,
        "message": message,
        "error": error,
        "unmatched_organizations": len(unmatched),
        "unmatched_organizations_summary": organisations.summary() if organisations else None,
        # Not harvest_runs columns: hand-over details for the next steps.
        "state": "harvested",
        "record_table": table,
        "rows_staged": {name: w.rows_written for name, w in writers.items()},
        "duplicates": listing.duplicates,
        "refused": listing.refused,
        "pages_replayed": listing.replayed,
        "requests_retried": listing.retried,
        "charsets": listing.charsets,
        "charset_guesses": listing.charset_guesses,
        "retry_after": listing.retry_after,
        "incremental": since is not None,
        "since": since,
        "high_water_mark": listing.high_water_mark,
        "batch_path": str(batch.path),
    }
    batch.write_report(report)
    log.info("%s: %s", source.id, message)
    if status == "failed" or error:
        raise HarvestFailed(f"{source.id}: {message}", report)
    return report


def _count_charset(listing: _Listing, page: LandedPage) -> None:
    charset = page.charset
    if charset is None:
        return
    key = f"{charset.codec} ({charset.how.replace('-', ' ')})"
    listing.charsets[key] = listing.charsets.get(key, 0) + 1
    if charset.guessed:
        listing.charset_guesses.append(f"page {page.seq} ({page.url}) read as {charset.describe()}")


def _verdict(source: SourceConfig, listing: _Listing, error: str | None, *, incremental: bool) -> tuple[str, str]:
    """complete / partial / failed, and the sentence an operator reads in harvest_runs and the UI."""
    got = f"{listing.received:,} records in {listing.pages} page(s)"
    extras = []
    if listing.duplicates:
        extras.append(f"{listing.duplicates} duplicate id(s) quarantined")
    if listing.refused:
        extras.append(f"{listing.refused} record(s) refused while parsing")
    if listing.replayed:
        extras.append(f"{listing.replayed} page(s) replayed from the landing zone")
    if listing.charset_guesses:
        more = f" and {len(listing.charset_guesses) - 1} more" if len(listing.charset_guesses) > 1 else ""
        extras.append(f"charset not reliably declared: {listing.charset_guesses[0]}{more}")
    if listing.retried:
        extras.append(f"{listing.retried} request(s) retried")
    if listing.retry_after:
        waited = sum(w["waited_s"] for w in listing.retry_after)
        extras.append(f"the server asked to wait {len(listing.retry_after)} time(s) (Retry-After); waited {waited:g} s in all")
    tail = f" ({'; '.join(extras)})" if extras else ""
    if error:
        if listing.received == 0:
            return "failed", f"Harvest failed before any record was received: {error}. Previous records are kept."
        return "partial", f"Harvest broke off after {got}: {error}. Nothing is deleted; previous records are kept{tail}."
    if listing.stop_reason:
        return "partial", f"Listing ended early after {got}: {listing.stop_reason}. Nothing is deleted{tail}."
    if listing.drift:
        return "partial", f"Received {got}, but {listing.drift}; nothing is deleted, the next run will catch up{tail}."
    # The server counts listing entries, so entries (duplicates included) are what must add up.
    if listing.reported is not None and listing.entries < listing.reported:
        return "partial", (
            f"The server reported {listing.reported:,} records but {listing.entries:,} were received "
            f"({listing.pages} page(s)); the listing is incomplete, so nothing is deleted{tail}."
        )
    kind = "Incremental harvest" if incremental else "Complete harvest"
    reported = f"; the server reported {listing.reported:,}" if listing.reported is not None else ""
    return "complete", f"{kind}: {got}{reported}{tail}."
