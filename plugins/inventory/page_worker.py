"""Parse and map a big listing's pages in a process of their own, beside the harvest loop.

Parsing JSON and mapping a page onto canonical columns is pure Python: in the harvest's own
process it holds the GIL, so the fetch of the next page, landing, and writing Parquet wait for it.
For a source kind that maps pages column by column (``PAGE_WORKER = True`` in its module) and a
listing big enough to pay for a second interpreter (``MIN_RECORDS``), one worker process does that
work while the loop's process fetches, lands and writes: two cores instead of one.

The worker takes each page in two steps, in order (one worker: the steps run in submission order):

1. :func:`parse` — the module's ``parse_page``; the worker keeps the parsed page and returns its
   paging facts (total, next request, entries, items), so the loop can ask for the next page at once;
2. :func:`columns` — the page's columns, mapped and turned into Arrow tables in the worker (Arrow
   tables cross the process boundary as buffers, not as Python objects).

Everything that judges records — the seen-set, duplicates, refusals, reconciliation, landing —
stays in the harvest loop, exactly as for a page parsed in-process. A worker that cannot start, or
dies (killed for memory, say), leaves the pages to the loop: the harvest goes on, only slower.

CKAN uses the worker; DCAT does not: a DCAT page's parse and map is nine tenths of its harvest, so
one worker beside the loop only moves the work (50,000 generated datasets: 5.6 s with it, 5.4-5.8 s
without, 2026-11-29).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from .config import SourceConfig
from .landing import LandedPage
from .model import RECORD_TABLES
from .sources import module_for
from .sources.base import Columns, ParseContext, ParsedPage, Refusal
from .worker_process import WorkerProcess

# A listing that reports fewer records than this is parsed in the loop's own process: starting an
# interpreter (about a second: pyarrow and the source module are imported) would cost more than
# the overlap gains.
MIN_RECORDS = 20_000

_parsed: dict[int, ParsedPage] = {}  # in the worker: pages parsed and not yet mapped, by seq


def wanted(module: Any, reported_total: int | None) -> bool:
    """Whether pages of this listing go to a worker process."""
    return bool(getattr(module, "PAGE_WORKER", False)) and reported_total is not None and reported_total >= MIN_RECORDS


def start() -> WorkerProcess:
    # A clean interpreter on this package alone: never a fork of a process with threads (Airflow's task
    # runner has some), and never one that first imports the caller's main script (see worker_process.py).
    return WorkerProcess("page worker")


def warm_up(kind: str) -> None:
    """In the worker: import the source module, so the first page does not wait for it."""
    module_for(kind)


def parse(kind: str, source: SourceConfig, page: LandedPage, ctx: ParseContext) -> ParsedPage:
    """In the worker: parse the page, keep it for :func:`columns`; return what paging needs."""
    parsed = module_for(kind).parse_page(source, page, ctx)
    if parsed.columns is not None:
        _parsed[page.seq] = parsed
    return replace(parsed, items=list(parsed.items), columns=None)


def columns(seq: int) -> "ArrowColumns | None":
    """In the worker: the page's columns as Arrow tables (None when the page had none)."""
    parsed = _parsed.pop(seq, None)
    if parsed is None or parsed.columns is None:
        return None
    return ArrowColumns.from_columns(parsed.columns())


@dataclass
class ArrowColumns:
    """:class:`~inventory.sources.base.Columns` with each table as an Arrow table in the canonical schema.

    Same interface as ``Columns`` for the harvest loop (``record_ids``, ``row``, ``select``, ...).
    ``mapped`` keeps the column names the mapper produced, so that ``row`` (the record quarantined
    as a duplicate) shows what an in-process page would show.
    """

    record_ids: list[str]
    tables: dict[str, pa.Table]
    parents: dict[str, list[int]] = field(default_factory=dict)
    watermarks: list[str | None] | None = None
    refusals: list[Refusal] = field(default_factory=list)
    mapped: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_columns(cls, cols: Columns) -> "ArrowColumns":
        tables, mapped = {}, {}
        for name, values in cols.tables.items():
            schema = RECORD_TABLES[name]
            length = len(next(iter(values.values()))) if values else 0
            tables[name] = pa.Table.from_arrays([_array(values.get(f.name), f.type, length) for f in schema], schema=schema)
            mapped[name] = list(values)
        return cls(cols.record_ids, tables, cols.parents, cols.watermarks, cols.refusals, mapped)

    def __getstate__(self) -> dict[str, Any]:
        # Arrow IPC streams cross the process boundary several times faster than pickled tables.
        state = dict(self.__dict__)
        state["tables"] = {name: _ipc_bytes(table) for name, table in self.tables.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["tables"] = {name: pa.ipc.open_stream(blob).read_all() for name, blob in state["tables"].items()}
        self.__dict__.update(state)

    def row(self, table: str, index: int) -> dict[str, Any]:
        record = self.tables[table].slice(index, 1).to_pylist()[0]
        return {name: record.get(name) for name in self.mapped.get(table, record)}

    def select(self, keep: list[int]) -> "ArrowColumns":
        """Only the records at these indexes, and their child rows."""
        position = {old: new for new, old in enumerate(keep)}
        tables: dict[str, pa.Table] = {}
        parents: dict[str, list[int]] = {}
        for name, table in self.tables.items():
            if name in self.parents:
                rows = [i for i, parent in enumerate(self.parents[name]) if parent in position]
                parents[name] = [position[self.parents[name][i]] for i in rows]
            else:
                rows = keep
            tables[name] = table.take(pa.array(rows, type=pa.int64()))
        watermarks = [self.watermarks[i] for i in keep] if self.watermarks is not None else None
        return ArrowColumns([self.record_ids[i] for i in keep], tables, parents, watermarks, self.refusals, self.mapped)


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _array(values: list | None, type_: pa.DataType, length: int) -> pa.Array:
    """One column; a column of one repeated value (the provenance: source, run, time, page hash) is
    made from that value once, not converted value by value (a timestamp with a zone is slow)."""
    if values is None:
        return pa.nulls(length, type_)
    if length and values.count(values[0]) == length:
        return pa.repeat(pa.scalar(values[0], type=type_), length)
    return pa.array(values, type=type_)
