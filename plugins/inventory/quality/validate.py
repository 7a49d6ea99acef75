"""The validation step: run the GX suites in ``expectations/`` over one staging batch.

For each record table the harvest step left in the batch (``harvested/<table>.parquet``), in the
order datasets -> distributions -> data_services -> algorithms:

1. the Parquet file is streamed in chunks (at most ``chunk_rows`` rows, default 100,000, and
   about ``CHUNK_BYTES`` of the columns the suite reads), so memory stays bounded whatever the
   size of the catalogue;
2. Great Expectations validates each chunk against the table's suite (GX 1.x, called directly:
   one ephemeral context per process, a pandas datasource, a whole-dataframe batch definition),
   with ``result_format`` COMPLETE so every failing row is known by its index;
3. a row failing any ``critical`` expectation goes to the batch's ``quarantine.parquet``, one row
   per failed expectation (a record's rows together, in the suite's order), with the offending
   value and the expectation's ``meta.why`` as the reason; all other rows go to
   ``validated/<table>.parquet``. ``warning`` failures are counted;
4. uniqueness is checked across chunks and keeps the first occurrence: every later duplicate is
   quarantined. A first pass over the column finds the values that may repeat (by a 64-bit hash,
   8 bytes a row); only those are remembered, exactly, so memory does not grow with the table;
5. a distribution whose dataset has no validated record is quarantined too ("its dataset was
   quarantined").

The records refused while parsing (``harvested/quarantine.parquet``) are copied into the batch's
``quarantine.parquet`` first. GX Data Docs are rendered once per table per batch, after the last
chunk, into ``settings.data_docs_dir()``: one page per table whose counts are GX's chunk results
summed (so the page describes the whole table, and nothing is validated twice). The GX validation
results behind the pages are kept under ``settings.reports_dir()/gx/validations`` so the index
lists the latest batches of every source. Finally ``report.json`` moves to state ``validated``.

Performance and memory: GX's cost is partly per chunk and per expectation (metric graph,
configuration objects: about 20 ms an expectation a chunk), partly per row; not per failing row:
COMPLETE costs about the same as SUMMARY. So chunks are large, but hold only the columns the suite
reads (Arrow-backed strings, never Python objects); the whole records follow ``WRITE_ROWS`` at a
time (the other columns read beside the chunk's own), and valid rows pass through as Arrow, never
as Python dicts. GX's per-batch frame fingerprint (a hash of every cell, used only to label a
batch) is skipped, and GX's cache of the last batch is emptied after each chunk. Peak memory is
about 0.6 GiB (GX itself is a quarter of it), the same for 100,000 datasets as for a million.

Suites are JSON files in GX 1.x ExpectationSuite form; each expectation carries ``meta.severity``
(``critical`` or ``warning``) and ``meta.why`` (the plain-words reason shown to data stewards).
A critical expectation must be a row-level (column map) expectation, so that the failing records
can be named. ``mostly`` does not soften a critical expectation: every failing row is quarantined.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import model, native_memory, settings, staging

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning")
# GX's cost is mostly per chunk and per expectation (about 20 ms an expectation a chunk), so chunks
# are large: up to CHUNK_ROWS rows, and no more than about CHUNK_BYTES of the columns GX reads.
CHUNK_ROWS = 100_000
CHUNK_BYTES = 96 * 2**20
# Parquet is read, and whole records are split and written, this many rows at a time.
WRITE_ROWS = 16_384
# Verdicts on chunks waiting for the thread that writes their records.
SINK_BACKLOG = 2
# Parents before children: a distribution is judged after its dataset.
TABLE_ORDER = ("datasets", "distributions", "data_services", "algorithms")
PARENTS = model.PARENTS
# "records" in the harvest_runs sense (records_valid / records_quarantined)
TOP_LEVEL_TABLES = model.TOP_LEVEL_TABLES

UNIQUE = "expect_column_values_to_be_unique"
PARENT_CHECK = "parent_quarantined"
DOCS_SITE = "inventory"
DOCS_INDEX_LIMIT = 300  # validation results listed on the Data Docs index (newest first)
PARTIAL_EXAMPLES = 20  # example values per expectation on a Data Docs page
# COMPLETE: every failing row index (GX caps only the *values* list, at 200, never the indices).
RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": 20, "return_unexpected_index_query": False}
# Keys an expectation may have in a suite file ("id", as GX exports it, is ignored: GX assigns ids).
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "id", "notes", "description"}
_SUITE_KEYS = {"name", "expectations", "meta", "notes", "id", "suite_parameters"}


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file (and the expectation index)."""


class ValidationError(RuntimeError):
    """GX could not evaluate an expectation (an error, not a data quality finding)."""


# --------------------------------------------------------------------------------------------
# Suites
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One expectation of a suite file, as validate.py uses it."""

    suite: str
    index: int  # position in the file's "expectations" list (0-based)
    type: str
    kwargs: dict
    severity: str
    why: str
    key_suffix: str = ""  # "#<index>" when another expectation of the suite would have the same key

    @property
    def columns(self) -> tuple[str, ...]:
        kw = self.kwargs
        if "column" in kw:
            return (kw["column"],)
        if "column_A" in kw:
            return (kw["column_A"], kw["column_B"])
        return tuple(kw.get("column_list") or ())

    @property
    def column(self) -> str | None:
        return ", ".join(self.columns) or None

    @property
    def key(self) -> str:
        """``<suite>.<column>.<expectation type>``: the name used in the warning/critical counts.

        Columns of a multi-column expectation are joined with ", ". Should two expectations of one
        severity share a key, each gets ``#<index>`` appended (its place in the suite file).
        """
        return f"{self.suite}.{self.column or '(table)'}.{self.type}{self.key_suffix}"


@dataclass
class LoadedSuite:
    name: str
    path: Path
    gx_suite: Any  # great_expectations.core.ExpectationSuite
    checks: list[Check]
    meta: dict

    def columns(self) -> list[str]:
        """Every column the suite reads (the frame handed to GX holds only these)."""
        cols: list[str] = []
        for check in self.checks:
            for c in (*check.columns, *_condition_columns(check.kwargs.get("row_condition"))):
                if c not in cols:
                    cols.append(c)
        return cols


def suite_path(name: str) -> Path:
    return settings.expectations_dir() / f"{name}.json"


def load_suite(name: str):
    """The GX ``ExpectationSuite`` stored in ``expectations/<name>.json``.

    Each expectation keeps its ``meta`` (severity, why); its GX ``severity`` field is set from
    ``meta.severity`` so the Data Docs show it too. Raises :class:`SuiteError` naming the file and
    the index of the offending expectation when the file is malformed.
    """
    return _load(name).gx_suite


def _load(name: str) -> LoadedSuite:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from . import expectations as _custom  # noqa: F401  registers the project's own expectation types

    path = suite_path(name)
    if not path.is_file():
        raise SuiteError(f"{path}: suite file not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if not isinstance(doc, dict):
        raise SuiteError(f"{path}: a suite must be a JSON object with 'name' and 'expectations'")
    unknown = set(doc) - _SUITE_KEYS
    if unknown:
        raise SuiteError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_SUITE_KEYS)}")
    if doc.get("name") != name:
        raise SuiteError(f"{path}: 'name' must be {name!r} (the file name), not {doc.get('name')!r}")
    exps = doc.get("expectations")
    if not isinstance(exps, list) or not exps:
        raise SuiteError(f"{path}: 'expectations' must be a non-empty list")
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(f"{path}: 'meta' must be an object")

    checks: list[Check] = []
    domain_objs = []
    for i, exp in enumerate(exps):
        where = f"{path}: expectations[{i}]"
        if not isinstance(exp, dict):
            raise SuiteError(f"{where}: must be an object with 'type', 'kwargs' and 'meta'")
        where = f"{where} ({exp.get('type', '?')})"
        unknown = set(exp) - _EXPECTATION_KEYS
        if unknown:
            raise SuiteError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_EXPECTATION_KEYS)}")
        etype, kwargs, emeta = exp.get("type"), exp.get("kwargs"), exp.get("meta")
        if not isinstance(etype, str) or not etype.startswith("expect_"):
            raise SuiteError(f"{where}: 'type' must be an expectation type such as 'expect_column_values_to_not_be_null'")
        if not isinstance(kwargs, dict):
            raise SuiteError(f"{where}: 'kwargs' must be an object")
        if not isinstance(emeta, dict):
            raise SuiteError(f"{where}: 'meta' must be an object with 'severity' and 'why'")
        severity = emeta.get("severity")
        if severity not in SEVERITIES:
            raise SuiteError(f"{where}: meta.severity must be one of {list(SEVERITIES)}, not {severity!r}")
        why = emeta.get("why")
        if not isinstance(why, str) or not why.strip():
            raise SuiteError(f"{where}: meta.why must say in plain words why a record fails it")
        if _has_suite_parameter(kwargs):
            raise SuiteError(f"{where}: $PARAMETER values are not supplied by validate.py; write the value itself")
        try:
            config = ExpectationConfiguration(
                type=etype,
                kwargs=_re2_friendly_kwargs(kwargs),
                meta=emeta,
                # Data Docs show an expectation's notes: the steward's reason, unless the file says more
                notes=exp.get("notes") or f"{severity}: {why.strip()}",
                description=exp.get("description"),
                severity=severity,
            )
            obj = config.to_domain_obj()
        except Exception as exc:  # GX raises many kinds: unknown type, pydantic errors, ...
            raise SuiteError(f"{where}: GX refuses it: {exc}") from exc
        if severity == "critical" and not isinstance(obj, ColumnMapExpectation):
            raise SuiteError(
                f"{where}: a critical expectation must be row-level (a column map expectation) so the "
                "failing records can be quarantined; make it a warning or choose a row-level expectation"
            )
        checks.append(Check(name, i, etype, dict(kwargs), severity, why.strip()))
        domain_objs.append(obj)

    seen_keys: dict[tuple[str, str], int] = {}
    for c in checks:
        seen_keys[(c.severity, c.key)] = seen_keys.get((c.severity, c.key), 0) + 1
    checks = [
        dataclasses.replace(c, key_suffix=f"#{c.index}") if seen_keys[(c.severity, c.key)] > 1 else c for c in checks
    ]
    try:
        gx_suite = ExpectationSuite(name=name, expectations=domain_objs, meta=meta, notes=doc.get("notes"))
    except Exception as exc:
        raise SuiteError(f"{path}: GX refuses the suite: {exc}") from exc
    if len(gx_suite.expectations) != len(domain_objs):  # GX drops invalid expectations with a log line only
        raise SuiteError(f"{path}: GX dropped {len(domain_objs) - len(gx_suite.expectations)} expectation(s)")
    return LoadedSuite(name=name, path=path, gx_suite=gx_suite, checks=checks, meta=meta)


# Python's \s (every character str.isspace() accepts), written out. pandas runs a regex on Arrow
# strings with pyarrow's RE2 engine (vectorised) unless the pattern has \s or \S: RE2's \s misses
# some of these characters, so pandas then falls back to Python's re, value by value, which cost a
# tenth of validation's time. Spelled out, the same set runs in RE2 and matches exactly the same.
_WHITESPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _re2_friendly(regex: str) -> str:
    """``regex`` with every ``\\s`` / ``\\S`` replaced by the explicit character set (inside a
    character class, its members); the pattern matches exactly the same strings."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\" and i + 1 < len(regex):
            nxt = regex[i + 1]
            if nxt == "s":
                out.append(_WHITESPACE if in_class else f"[{_WHITESPACE}]")
            elif nxt == "S" and not in_class:
                out.append(f"[^{_WHITESPACE}]")
            else:  # any other escape (and \S inside a class, which has no spelled-out form) stays
                out.append(c + nxt)
            i += 2
            continue
        if in_class:
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
        elif c == "[":
            in_class = True
            if regex[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                if regex[i : i + 1] == "]":  # a literal ] right after [^ belongs to the class
                    out.append("]")
                    i += 1
                continue
            if regex[i + 1 : i + 2] == "]":  # a literal ] right after [ belongs to the class
                out.append("[]")
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _re2_friendly_kwargs(kwargs: dict) -> dict:
    out = dict(kwargs)
    if isinstance(out.get("regex"), str):
        out["regex"] = _re2_friendly(out["regex"])
    if isinstance(out.get("regex_list"), list):
        out["regex_list"] = [_re2_friendly(r) if isinstance(r, str) else r for r in out["regex_list"]]
    return out


def _has_suite_parameter(value: Any) -> bool:
    if isinstance(value, dict):
        return "$PARAMETER" in value or any(_has_suite_parameter(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_suite_parameter(v) for v in value)
    return False


def _condition_columns(cond: Any) -> list[str]:
    """Columns named by a GX row_condition given as a Condition dict (the non-deprecated form)."""
    if not isinstance(cond, dict):
        return []
    if "conditions" in cond:
        return [c for sub in cond["conditions"] for c in _condition_columns(sub)]
    col = cond.get("column")
    if isinstance(col, dict) and "name" in col:
        return [col["name"]]
    return []


# --------------------------------------------------------------------------------------------
# The GX runtime: one ephemeral context per process (per reports folder), cached.
# --------------------------------------------------------------------------------------------


class _GxRuntime:
    """An ephemeral GX context whose Data Docs and validation results live under reports_dir()."""

    def __init__(self, docs_dir: Path, results_dir: Path):
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        defaults = InMemoryStoreBackendDefaults()
        stores = dict(defaults.stores)
        # The results behind Data Docs are kept on disk so the index lists every validated batch
        # (only the one docs run per table per batch is stored; chunk runs are not).
        stores[defaults.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(results_dir)},
        }
        config = DataContextConfig(
            stores=stores,
            expectations_store_name=defaults.expectations_store_name,
            validation_results_store_name=defaults.validation_results_store_name,
            checkpoint_store_name=defaults.checkpoint_store_name,
            data_docs_sites={
                DOCS_SITE: {
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                    "site_index_builder": {
                        "class_name": "DefaultSiteIndexBuilder",
                        "show_cta_footer": False,
                        # the index reads every result it lists: keep it to the latest ones
                        "validation_results_limit": DOCS_INDEX_LIMIT,
                    },
                }
            },
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.docs_dir = docs_dir
        _skip_frame_fingerprint()
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.datasource = self.context.data_sources.add_pandas("inventory")
        self._batch_definitions: dict[str, Any] = {}
        self._registered: dict[str, tuple[str, Any]] = {}  # suite name -> (fingerprint, GX suite)

    def batch_definition(self, table: str):
        if table not in self._batch_definitions:
            asset = self.datasource.add_dataframe_asset(table)
            self._batch_definitions[table] = asset.add_batch_definition_whole_dataframe("chunk")
        return self._batch_definitions[table]

    def register(self, loaded: LoadedSuite):
        """Add (or refresh) the suite in the context; cached by content, so repeated batches are cheap."""
        fingerprint = json.dumps(
            [[(c.type, c.kwargs, c.severity, c.why) for c in loaded.checks], loaded.meta, loaded.gx_suite.notes],
            sort_keys=True,
            default=str,
        )
        cached = self._registered.get(loaded.name)
        if cached and cached[0] == fingerprint:
            return cached[1]
        suite = self.context.suites.add_or_update(loaded.gx_suite)
        self._registered[loaded.name] = (fingerprint, suite)
        return suite

    def validate(self, table: str, suite, frame) -> Any:
        """Run ``suite`` on one chunk: every failing row index (COMPLETE), nothing stored."""
        # The V1 Validator is what ValidationDefinition.run uses, minus storing the result: chunk
        # results must not pile up in a store. (Batch.validate would fingerprint the frame twice.)
        from great_expectations.validator.v1_validator import Validator

        _narrow_domain_records(self.datasource.get_execution_engine())
        validator = Validator(
            batch_definition=self.batch_definition(table),
            batch_parameters={"dataframe": frame},
            result_format=RESULT_FORMAT,
        )
        try:
            return validator.validate_expectation_suite(suite)
        finally:
            self._forget_batches()

    def _forget_batches(self) -> None:
        """Drop GX's reference to the last chunk's frame (its execution engine caches the batch data
        per asset): otherwise a chunk's frame lives on while the next one is read, doubling memory."""
        manager = getattr(self.datasource.get_execution_engine(), "batch_manager", None)
        if manager is None:
            return
        manager.reset_batch_cache()
        cache = getattr(manager, "_batch_data_cache", None)
        if isinstance(cache, dict):
            cache.clear()

    def publish_docs(self, suite, result, run_name: str, run_time: datetime, batch_identifier: str) -> None:
        """Store ``result`` (the table's aggregate) and render its Data Docs page, the suite page and the index."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        suite_id = ExpectationSuiteIdentifier(name=suite.name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id,
            run_id=RunIdentifier(run_name=run_name, run_time=run_time),
            batch_identifier=batch_identifier,
        )
        self.context.validation_results_store.set(key, result)
        self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=[key, suite_id])

    def build_index(self) -> None:
        """Only the index page (GX re-renders *every* stored result when given no identifiers)."""
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        self.context.build_data_docs(
            site_names=[DOCS_SITE], resource_identifiers=[ExpectationSuiteIdentifier(name="(index only)")]
        )


def _narrow_domain_records(engine) -> None:
    """Hand a column's expectation only the columns it names (not the whole chunk), on this engine.

    GX's pandas engine gives every column-map metric the chunk's whole frame as its "domain
    records", and then filters that frame row-wise (rows where the column is not null, then the
    failing rows) just to learn the failing rows' index: a copy of every column of the chunk, for
    every expectation. The frame narrowed to the expectation's own column(s) has the same rows and
    index, so every count, value and row index GX reports stays the same; only the copying goes.
    Done after GX's own work on the domain (row_condition, ignore_row_if), so that is unchanged.
    """
    if getattr(engine, "_inventory_narrowed", False):
        return
    whole = engine.get_domain_records

    def get_domain_records(domain_kwargs: dict):
        data = whole(domain_kwargs)
        if "column" in domain_kwargs:
            named = [domain_kwargs["column"]]
        elif "column_A" in domain_kwargs and "column_B" in domain_kwargs:
            named = [domain_kwargs["column_A"], domain_kwargs["column_B"]]
        else:
            named = list(domain_kwargs.get("column_list") or ())
        if named and len(named) < len(data.columns) and all(c in data.columns for c in named):
            return data[list(dict.fromkeys(named))]
        return data

    engine.get_domain_records = get_domain_records
    engine._inventory_narrowed = True


def _skip_frame_fingerprint() -> None:
    """Stop GX hashing every chunk's frame for its batch marker ``pandas_data_fingerprint``.

    GX's pandas engine hashes the whole dataframe of each batch (pandas ``hash_pandas_object``,
    every column, every row) unless the frame holds more than ``HASH_THRESHOLD`` bytes; the hash
    only labels the batch in a result. Chunk results are never stored, and the Data Docs page is
    the table's summed result, so the label is never used: hashing it costs a third of GX's time
    on a chunk and checks nothing. No expectation is affected.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


_RUNTIMES: dict[tuple[str, str], _GxRuntime] = {}
_RUNTIME_LOCK = threading.Lock()


def gx_runtime() -> _GxRuntime:
    """The process's GX runtime for the current ``$INVENTORY_DATA_DIR`` (created once, then reused)."""
    docs_dir = settings.data_docs_dir()
    results_dir = settings.reports_dir() / "gx" / "validations"
    key = (str(docs_dir), str(results_dir))
    with _RUNTIME_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            from . import expectations as _custom  # noqa: F401

            runtime = _RUNTIMES[key] = _GxRuntime(docs_dir, results_dir)
        return runtime


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly the columns of ``schema``, in order (missing ones null)."""
    if table.schema.equals(schema):
        return table
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@dataclass
class _TableStats:
    rows: int = 0
    valid: int = 0
    quarantined: int = 0  # records
    quarantine_rows: int = 0  # one per failed expectation per record
    critical: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    quarantined_uids: set = field(default_factory=set)
    docs_error: str | None = None

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "quarantined": self.quarantined,
            "quarantine_rows": self.quarantine_rows,
        }


class _ResultAggregate:
    """GX's per-chunk results of one table summed into one suite result, for the Data Docs page.

    Counts (element, missing, unexpected) are added up over the chunks, the example values are the
    first ones met, example row numbers are positions in the whole table, and success is recomputed
    from the totals (with ``mostly``). The page thus describes the whole table, not one chunk.
    """

    def __init__(self) -> None:
        self.first = None
        self.chunks = 0
        self.rows = 0
        self._acc: dict[str, dict] = {}

    def add(self, suite_result, offset: int, rows: int) -> None:
        if self.first is None:
            self.first = suite_result
        self.chunks += 1
        self.rows += rows
        for res in suite_result.results:
            r = res.result or {}
            acc = self._acc.setdefault(
                res.expectation_config.id,
                {"res": res, "success": True, "counted": "unexpected_count" in r, "element": 0, "missing": None,
                 "unexpected": 0, "partial": [], "partial_index": [], "value_counts": {}},
            )
            acc["success"] = acc["success"] and bool(res.success)
            if not acc["counted"]:
                continue
            acc["element"] += int(r.get("element_count") or 0)
            acc["unexpected"] += int(r.get("unexpected_count") or 0)
            if r.get("missing_count") is not None:
                acc["missing"] = (acc["missing"] or 0) + int(r["missing_count"])
            room = PARTIAL_EXAMPLES - len(acc["partial"])
            if room > 0:
                acc["partial"].extend((r.get("partial_unexpected_list") or [])[:room])
                acc["partial_index"].extend(
                    i + offset if isinstance(i, int) else i for i in (r.get("partial_unexpected_index_list") or [])[:room]
                )
            for vc in r.get("partial_unexpected_counts") or []:
                try:
                    acc["value_counts"][vc["value"]] = acc["value_counts"].get(vc["value"], 0) + int(vc["count"])
                except TypeError:  # unhashable example value
                    pass

    def result(self, run_id, run_time: datetime, extra_meta: dict):
        from great_expectations.core.expectation_validation_result import (
            ExpectationSuiteValidationResult,
            ExpectationValidationResult,
        )

        results = []
        for acc in self._acc.values():
            res = acc["res"]
            if not acc["counted"]:
                results.append(
                    ExpectationValidationResult(
                        success=acc["success"], expectation_config=res.expectation_config, result=res.result,
                        meta=res.meta, exception_info=res.exception_info,
                    )
                )
                continue
            element, missing, unexpected = acc["element"], acc["missing"], acc["unexpected"]
            considered = element - (missing or 0)
            mostly = res.expectation_config.kwargs.get("mostly", 1) or 1
            success = considered == 0 or (considered - unexpected) / considered >= mostly
            pct_nonmissing = unexpected / considered * 100 if considered else None
            out = {
                "element_count": element,
                "unexpected_count": unexpected,
                "unexpected_percent": pct_nonmissing,
                "partial_unexpected_list": acc["partial"],
                "partial_unexpected_index_list": acc["partial_index"],
                "partial_unexpected_counts": [
                    {"value": v, "count": c}
                    for v, c in sorted(acc["value_counts"].items(), key=lambda kv: -kv[1])[:PARTIAL_EXAMPLES]
                ],
            }
            if missing is not None:
                out.update(
                    missing_count=missing,
                    missing_percent=missing / element * 100 if element else None,
                    unexpected_percent_total=unexpected / element * 100 if element else None,
                    unexpected_percent_nonmissing=pct_nonmissing,
                )
            results.append(
                ExpectationValidationResult(
                    success=success, expectation_config=res.expectation_config, result=out,
                    meta=res.meta, exception_info=res.exception_info,
                )
            )
        successful = sum(1 for r in results if r.success)
        meta = dict(self.first.meta)
        asset = f"{extra_meta.get('source_id')}: {extra_meta.get('table')}"  # shown as "Data asset" on the page
        meta.update(
            batch_spec={**(meta.get("batch_spec") or {}), "data_asset_name": asset},
            run_id=run_id,
            validation_time=run_time,
            batch_parameters={"dataframe": "<DATAFRAME>"},
            inventory={**extra_meta, "rows": self.rows, "chunks": self.chunks,
                       "note": "GX results of every chunk of the table, summed"},
        )
        return ExpectationSuiteValidationResult(
            success=successful == len(results),
            results=results,
            suite_name=self.first.suite_name,
            statistics={
                "evaluated_expectations": len(results),
                "successful_expectations": successful,
                "unsuccessful_expectations": len(results) - successful,
                "success_percent": successful / len(results) * 100 if results else None,
            },
            meta=meta,
            batch_id=self.first.batch_id,
        )


def _raise_on_gx_error(table: str, check: Check, result) -> None:
    info = result.exception_info or {}
    errors = []
    if info.get("raised_exception"):
        errors.append(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            errors.append(value.get("exception_message"))
    if errors:
        raise ValidationError(
            f"GX could not evaluate {table} expectations[{check.index}] ({check.type} on {check.column}): "
            + "; ".join(str(e) for e in errors)
        )


def _validate_table(
    batch: staging.Batch,
    table: str,
    runtime: _GxRuntime,
    q_writer: staging.TableWriter,
    *,
    chunk_rows: int,
    build_docs: bool,
    dead_parents: dict[str, set],
    quarantined_at: datetime,
    default_run_id: str | None,
) -> tuple[_TableStats, bool]:
    """Validate one table of the batch; returns its stats and whether a Data Docs page was built.

    Two readers stream the same Parquet file side by side: one hands GX chunks (up to
    ``chunk_rows`` rows, about ``CHUNK_BYTES``) holding only the columns the suite reads; the other,
    in a thread of its own (:class:`_RecordSink`), follows with the whole records, ``WRITE_ROWS``
    rows at a time, split into validated and quarantined rows by the verdict on their chunk. So a
    large GX chunk (few GX calls) never means holding that many whole records, and reading and
    writing records overlap with GX's work on the next chunk.
    """
    loaded = _load(table)
    suite = runtime.register(loaded)
    by_id = {exp.id: check for exp, check in zip(suite.expectations, loaded.checks)}
    schema = model.RECORD_TABLES[table]
    uid_col = model.UID_COLUMN[table]
    gx_columns = loaded.columns()
    for c in gx_columns:
        if c not in schema.names:
            raise SuiteError(f"{loaded.path}: column {c!r} is not a column of the {table} table")
    parent = PARENTS.get(table)
    frame_columns = list(dict.fromkeys([uid_col, *gx_columns]))
    read_columns = list(dict.fromkeys([*frame_columns, *([parent[1]] if parent else [])]))
    read_schema = pa.schema([schema.field(c) for c in read_columns])
    stats = _TableStats()
    for check in loaded.checks:
        (stats.warnings if check.severity == "warning" else stats.critical)[check.key] = 0

    path = batch.harvested(table)
    file_columns = set(pq.read_schema(path).names)
    # Uniqueness across chunks (the first occurrence wins): a first pass finds the values that may
    # occur more than once (by a 64-bit hash: 8 bytes a row, briefly); only those are then
    # remembered, exactly, while the chunks go by.
    unique = {
        c.index: _UniqueTracker(path, c.kwargs["column"] if c.kwargs["column"] in file_columns else None)
        for c in loaded.checks
        if c.type == UNIQUE and c.severity == "critical"
    }
    dead = dead_parents.get(parent[0], set()) if parent else set()
    dead_array = pa.array(sorted(dead), type=pa.string()) if dead else None
    parent_check = (
        Check(table, -1, PARENT_CHECK, {"column": parent[1]}, "critical", f"its {parent[0][:-1]} was quarantined")
        if parent
        else None
    )
    aggregate = _ResultAggregate() if build_docs else None
    offset = 0
    writer = staging.TableWriter(batch.validated(table), schema)
    # Whole records are split and written by a thread of its own while GX judges the next chunk
    # (Parquet reading and writing let go of the GIL, GX mostly does not).
    sink = _RecordSink(path, schema, writer, q_writer, table, uid_col, stats, quarantined_at, default_run_id)
    try:
        columns = _RecordStream(path, read_schema)  # the columns GX reads, chunk by chunk
        rows_per_chunk = None
        while True:
            if rows_per_chunk is None:  # the first rows read tell how wide a row is
                parts = list(columns.take(min(chunk_rows, WRITE_ROWS), short_ok=True))
                width = sum(p.nbytes for p in parts) / max(1, sum(p.num_rows for p in parts))
                rows_per_chunk = max(1, min(chunk_rows, int(CHUNK_BYTES / max(width, 1.0))))
                parts += columns.take(rows_per_chunk - sum(p.num_rows for p in parts), short_ok=True)
            else:
                parts = list(columns.take(rows_per_chunk, short_ok=True))
            if not parts:
                break
            # a chunk is the small tables as read, never copied into one
            chunk = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
            del parts
            n = chunk.num_rows
            # RangeIndex: GX index == row position. Strings stay Arrow-backed (no Python objects).
            frame = chunk.select(frame_columns).to_pandas()
            result = runtime.validate(table, suite, frame)
            del frame
            if aggregate is not None:
                aggregate.add(result, offset, n)
            offset += n

            failures: list[tuple[Check, np.ndarray]] = []
            for res in result.results:
                check = by_id.get(res.expectation_config.id)
                if check is None:
                    raise ValidationError(f"GX returned a result for an unknown expectation: {res.expectation_config}")
                _raise_on_gx_error(table, check, res)
                if check.severity == "warning":
                    count = res.result.get("unexpected_count")
                    stats.warnings[check.key] += int(count) if count is not None else (0 if res.success else 1)
                    continue
                if check.type == UNIQUE:
                    # GX judged the chunk; whether a value came before, in an earlier chunk, is ours
                    rows = unique[check.index].later_duplicates(chunk.column(check.kwargs["column"]))
                else:
                    index_list = res.result.get("unexpected_index_list")
                    if index_list is None or len(index_list) != (res.result.get("unexpected_count") or 0):
                        raise ValidationError(
                            f"GX did not name every failing row of {table} expectations[{check.index}] ({check.type}): "
                            f"{res.result.get('unexpected_count')} failing, "
                            f"{'no' if index_list is None else len(index_list)} row indices"
                        )
                    rows = np.asarray(index_list, dtype=np.int64)
                if rows.size:
                    failures.append((check, rows))
            del result
            if parent_check is not None and dead_array is not None:
                link = chunk.column(parent[1])
                mask = pc.fill_null(pc.is_in(link, value_set=dead_array), False)
                rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
                if rows.size:
                    failures.append((parent_check, rows))
            del chunk

            bad = np.zeros(n, dtype=bool)
            failed_checks: dict[int, list[Check]] = {}
            for check, rows in failures:
                bad[rows] = True
                for r in rows.tolist():
                    failed_checks.setdefault(r, []).append(check)
            stats.rows += n
            stats.quarantined += len(failed_checks)
            stats.valid += n - len(failed_checks)
            sink.put(n, bad, failed_checks)
        columns.close()
        sink.close()
        writer.close()
    except BaseException:
        sink.abort()
        writer.abort()
        raise
    docs_built = False
    if aggregate is not None and aggregate.first is not None:
        from great_expectations.core.run_identifier import RunIdentifier

        # Data Docs are a report: a failure to render them is logged and reported, it does not
        # undo a validation whose files are already written.
        try:
            run_name = staging.safe_name(f"{batch.source_id}__{batch.batch_id}")
            docs_result = aggregate.result(
                RunIdentifier(run_name=run_name, run_time=quarantined_at),
                quarantined_at,
                {"source_id": batch.source_id, "batch_id": batch.batch_id, "table": table},
            )
            runtime.publish_docs(suite, docs_result, run_name, quarantined_at, staging.safe_name(batch.source_id))
            docs_built = True
        except Exception as exc:
            log.exception("GX Data Docs for %s of %s could not be built", table, batch.path)
            stats.docs_error = f"{type(exc).__name__}: {exc}"
    return stats, docs_built


class _RecordStream:
    """Rows of a staged Parquet file (the columns of ``schema``), handed out in order.

    ``take(n)`` yields the next ``n`` rows as a few tables of at most ``batch_rows`` rows each, in
    ``schema`` (columns missing from the file are null), sliced from what the reader returns, never
    copied into one. Two streams over one file (the columns GX reads; the whole records) stay in
    step as long as both are asked for the same numbers of rows.
    """

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int = WRITE_ROWS):
        self.schema = schema
        self.path = path
        self._file = pq.ParquetFile(path)
        present = set(self._file.schema_arrow.names)
        self._batches = _iter_batches(self._file, [c for c in schema.names if c in present], batch_rows)
        self._pending: pa.RecordBatch | None = None

    def take(self, n: int, *, short_ok: bool = False):
        while n > 0:
            if self._pending is None:
                try:
                    self._pending = next(self._batches)
                except StopIteration:
                    if short_ok:
                        return
                    raise ValidationError(f"{self.path}: the file ended before its chunks did") from None
                continue
            head = self._pending
            if head.num_rows <= n:
                self._pending = None
            else:
                self._pending = head.slice(n)
                head = head.slice(0, n)
            if head.num_rows == 0:
                continue
            n -= head.num_rows
            yield _conform(pa.Table.from_batches([head]), self.schema)

    def close(self) -> None:
        self._pending = None
        self._file.close()


class _RecordSink:
    """Writes the whole records of each judged chunk, in a thread of its own.

    ``put(n, bad, failed_checks)`` hands over the verdict on the next ``n`` rows of the table; the
    thread reads those rows (whole records, ``WRITE_ROWS`` at a time), writes the good ones to the
    validated file and the bad ones to the quarantine, one row per failed check. At most
    ``SINK_BACKLOG`` verdicts wait (small: a boolean and the failures per row), so memory does not
    grow; ``close()`` waits for the thread and re-raises what went wrong in it.
    """

    def __init__(self, path: Path, schema: pa.Schema, writer: staging.TableWriter, q_writer: staging.TableWriter,
                 table: str, uid_col: str, stats: _TableStats, quarantined_at: datetime, default_run_id: str | None):
        self._records = _RecordStream(path, schema)
        self._writer, self._q_writer = writer, q_writer
        self._table, self._uid_col, self._stats = table, uid_col, stats
        self._quarantined_at, self._default_run_id = quarantined_at, default_run_id
        self._queue: queue.Queue = queue.Queue(maxsize=SINK_BACKLOG)
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"validate-{table}-records", daemon=True)
        self._thread.start()

    def put(self, n: int, bad: np.ndarray, failed_checks: dict[int, list[Check]]) -> None:
        while True:
            self._raise()
            try:
                self._queue.put((n, bad, failed_checks), timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self._finish()
        self._raise()

    def abort(self) -> None:
        self._stop = True
        self._finish()

    def _finish(self) -> None:
        if self._thread.is_alive():
            while True:
                try:
                    self._queue.put(None, timeout=0.2)
                    break
                except queue.Full:
                    if not self._thread.is_alive():
                        break
            self._thread.join()
        self._records.close()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while True:
                job = self._queue.get()
                if job is None or self._stop:
                    return
                n, bad, failed_checks = job
                start = 0
                for part in self._records.take(n):
                    m = part.num_rows
                    part_bad = bad[start : start + m]
                    if part_bad.any():
                        self._writer.write_table(part.filter(pa.array(~part_bad)))
                        _write_quarantine(
                            self._q_writer, self._table, part, self._uid_col, np.flatnonzero(part_bad), start,
                            failed_checks, self._stats, self._quarantined_at, self._default_run_id,
                        )
                    else:
                        self._writer.write_table(part)
                    start += m
        except BaseException as exc:  # handed to the validating thread
            self._error = exc
            while True:  # let a waiting put() through, and see the end
                try:
                    if self._queue.get(timeout=0.2) is None:
                        return
                except queue.Empty:
                    if self._stop:
                        return


def _iter_batches(pf: pq.ParquetFile, columns: list[str], batch_rows: int):
    """The file's record batches, one row group after the other, each through a reader of its own:
    a reader kept for the whole file holds on to more and more memory as it goes (about 150 MB
    by the end of 2.7 million distributions), one per row group gives it back every time."""
    for i in range(pf.num_row_groups):
        yield from pf.iter_batches(batch_size=batch_rows, row_groups=[i], columns=columns, use_threads=False)


class _UniqueTracker:
    """``expect_column_values_to_be_unique`` across the chunks of one table, exactly, in little memory.

    A first pass over the column hashes every (non-null) value to 64 bits (8 bytes a row, freed
    after the pass) and keeps the hashes met more than once: the only values that *may* repeat.
    While the chunks go by, only values with such a hash are remembered (as themselves, so a
    hash collision never quarantines a record); a value met again is a later duplicate. Memory is
    thus the hashes of one pass, then the repeated values, instead of every value of the table.
    """

    def __init__(self, path: Path, column: str | None):
        self.seen: set = set()
        candidates: np.ndarray = np.empty(0, dtype=np.uint64)
        if column is not None:
            pf = pq.ParquetFile(path)
            hashes = np.empty(pf.metadata.num_rows, dtype=np.uint64)
            filled = 0
            for record_batch in _iter_batches(pf, [column], 65_536):
                values = record_batch.column(0)
                if values.null_count:
                    values = values.drop_null()
                h = _hash64(values)
                hashes[filled : filled + len(h)] = h
                filled += len(h)
            pf.close()
            hashes = hashes[:filled]
            hashes.sort()
            repeated = hashes[1:] == hashes[:-1]
            candidates = np.unique(hashes[1:][repeated])
            del hashes, repeated
        self.candidates = candidates

    def later_duplicates(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Row positions whose (non-null) value was already seen (earlier in this chunk or before)."""
        if self.candidates.size == 0:
            return np.empty(0, dtype=np.int64)
        values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        maybe = np.isin(_hash64(values), self.candidates)
        if values.null_count:
            maybe &= values.is_valid().to_numpy(zero_copy_only=False)
        dup = []
        seen, add = self.seen, self.seen.add
        rows = np.flatnonzero(maybe)
        for i, value in zip(rows.tolist(), values.take(pa.array(rows)).to_pylist()):
            if value in seen:
                dup.append(i)
            else:
                add(value)
        return np.asarray(dup, dtype=np.int64)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_HASH_WORDS = 8  # the first 64 bytes of a value are hashed, plus its length and its last 8 bytes


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (uint64 arithmetic wraps)."""
    h ^= h >> np.uint64(30)
    h *= _M1
    h ^= h >> np.uint64(27)
    h *= _M2
    h ^= h >> np.uint64(31)
    return h


def _hash64(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of every value of a string (or binary) array, vectorised (nulls hash as empty).

    A pure function of the value (the same value hashes the same in every chunk); values longer
    than 64 bytes are hashed by their length, first 64 and last 8 bytes only, which is fine for
    what it is used for (finding *candidate* repeats, checked exactly afterwards).
    """
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    if not (pa.types.is_string(values.type) or pa.types.is_binary(values.type)
            or pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)):
        values = pc.cast(values, pa.string())
    large = pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
    bufs = values.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if large else np.int32, count=n + 1, offset=values.offset * (8 if large else 4)).astype(np.int64)
    if values.null_count:  # a null slot may still own bytes: hash it as empty
        offsets = offsets.copy()
        lengths = np.diff(offsets)
        lengths[~values.is_valid().to_numpy(zero_copy_only=False)] = 0
    else:
        lengths = np.diff(offsets)
    starts = offsets[:-1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, dtype=np.uint8)
    h = _mix(lengths.astype(np.uint64) * _GOLDEN + np.uint64(1))
    longest = int(lengths.max())
    if int(lengths.min()) == longest and longest > 0:
        # All of one length (uids usually are): the bytes are an (n, length) matrix, no gathering.
        first = int(starts[0])
        matrix = data[first : first + n * longest].reshape(n, longest)
        width = min(8 * _HASH_WORDS, longest)
        words = np.zeros((n, (width + 7) // 8 * 8), dtype=np.uint8)
        words[:, :width] = matrix[:, :width]
        words = words.view(np.uint64)
        for j in range(words.shape[1]):
            h = _mix(h ^ words[:, j])
        if longest > 8 * _HASH_WORDS:
            h = _mix(h ^ np.ascontiguousarray(matrix[:, longest - 8 :]).view(np.uint64).reshape(n))
        return h
    # Pad the data so that reading 8 bytes at any value's start stays inside the buffer.
    end = int(offsets[-1])
    padded = np.zeros(end + 8, dtype=np.uint8)
    padded[: min(end, len(data))] = data[:end]
    byte = np.arange(8, dtype=np.int64)
    for j in range(min(_HASH_WORDS, (longest + 7) // 8)):
        word = padded[np.minimum(starts[:, None] + (8 * j + byte)[None, :], end)]
        word[(8 * j + byte)[None, :] >= lengths[:, None]] = 0
        mixed = _mix(h ^ word.view(np.uint64).reshape(n))
        # a value has no word j when it is shorter: its hash must not depend on the longest value
        h = mixed if int(lengths.min()) > 8 * j else np.where(lengths > 8 * j, mixed, h)
    if longest > 8 * _HASH_WORDS:
        word = padded[np.minimum((starts + lengths - 8)[:, None] + byte[None, :], end)]
        h = np.where(lengths > 8 * _HASH_WORDS, _mix(h ^ word.view(np.uint64).reshape(n)), h)
    return h


def _write_quarantine(
    q_writer: staging.TableWriter,
    table: str,
    part: pa.Table,
    uid_col: str,
    bad_rows: np.ndarray,
    first_row: int,
    failed_checks: dict[int, list[Check]],
    stats: _TableStats,
    quarantined_at: datetime,
    default_run_id: str | None,
) -> None:
    """One quarantine row per failed critical expectation per record (``bad_rows`` are positions
    in ``part``, whose first row is row ``first_row`` of the GX chunk)."""
    records = part.take(pa.array(bad_rows)).to_pylist()
    for r, rec in zip(bad_rows.tolist(), records):
        record_json = json.dumps(rec, ensure_ascii=False, default=_json_default)
        uid = rec.get(uid_col)
        if uid is not None:
            stats.quarantined_uids.add(uid)
        for check in failed_checks[first_row + r]:
            observed = None
            if check.columns:
                observed = " | ".join(t for t in (_as_text(rec.get(c)) for c in check.columns) if t is not None) or None
            q_writer.write(
                {
                    "record_type": table,
                    "record_uid": uid,
                    "source_id": rec.get("source_id"),
                    "source_record_id": rec.get("source_record_id"),
                    "run_id": rec.get("run_id") or default_run_id,
                    "suite": check.suite,
                    "expectation": check.type,
                    "column": check.column,
                    "observed_value": observed,
                    "reason": check.why,
                    "record": record_json,
                    "quarantined_at": quarantined_at,
                }
            )
            stats.quarantine_rows += 1
            stats.critical[check.key] = stats.critical.get(check.key, 0) + 1


_ARROW_POOL_LOCK = threading.Lock()


def _use_returning_pool() -> Any:
    """Make Arrow allocate from its jemalloc pool for the duration of a validation; returns the pool
    to restore (None: nothing changed).

    Arrow's default pool (mimalloc) keeps the pages of the chunks it freed: the process's peak
    grows by about 150 MB over a million datasets, and stays there for the next step in the same
    process. Arrays know the pool they came from, so switching back afterwards is safe.
    """
    with _ARROW_POOL_LOCK:
        try:
            pool = pa.jemalloc_memory_pool()
        except (NotImplementedError, AttributeError):  # an Arrow built without jemalloc
            return None
        previous = pa.default_memory_pool()
        if previous.backend_name == pool.backend_name:
            return None
        pa.set_memory_pool(pool)
        return previous


def _give_memory_back(previous_pool: Any = None) -> None:
    """Return the memory validation freed to the OS (Arrow's pools and the C heap keep freed memory
    for reuse), so that the next step in the same process (publish, in a DAG test or a benchmark)
    starts from what is really in use; restore Arrow's default pool."""
    pa.default_memory_pool().release_unused()
    if previous_pool is not None:
        with _ARROW_POOL_LOCK:
            pa.set_memory_pool(previous_pool)
        previous_pool.release_unused()
    native_memory.trim()


def _copy_parse_quarantine(batch: staging.Batch, q_writer: staging.TableWriter) -> int:
    path = batch.parse_quarantine
    if not path.exists():
        return 0
    copied = 0
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
        rows = _conform(pa.Table.from_batches([record_batch]), model.QUARANTINE).to_pylist()
        q_writer.write_many(rows)
        copied += len(rows)
    return copied


def _surviving_parents(batch: staging.Batch, table: str, quarantined: set) -> set:
    """The quarantined uids of ``table`` that have no validated record (a duplicate may have one)."""
    if not quarantined:
        return set()
    uid_col = model.UID_COLUMN[table]
    candidates = pa.array(list(quarantined), type=pa.string())
    alive: set = set()
    path = batch.validated(table)
    if path.exists():
        for record_batch in pq.ParquetFile(path).iter_batches(batch_size=200_000, columns=[uid_col]):
            col = record_batch.column(0)
            hits = pc.filter(col, pc.fill_null(pc.is_in(col, value_set=candidates), False))
            alive.update(hits.to_pylist())
    return quarantined - alive


def validate_batch(batch: staging.Batch, *, build_docs: bool = True, chunk_rows: int = CHUNK_ROWS) -> dict:
    """Validate every record table of ``batch``; returns a small JSON-able summary (no records).

    Writes ``validated/<table>.parquet`` for each harvested table, ``quarantine.parquet`` (parse
    quarantine + validation quarantine), GX Data Docs (when ``build_docs``), and moves
    ``report.json`` to state ``validated``.
    """
    started = time.monotonic()
    quarantined_at = staging.utcnow()
    report = batch.read_report() if batch.report_path.exists() else {}
    default_run_id = report.get("run_id")
    tables = [t for t in TABLE_ORDER if batch.harvested(t).exists()]
    runtime = gx_runtime()

    stats: dict[str, _TableStats] = {}
    dead_parents: dict[str, set] = {}
    docs_built = False
    q_writer = staging.TableWriter(batch.quarantine, model.QUARANTINE)
    previous_pool = _use_returning_pool()
    try:
        parse_quarantined = _copy_parse_quarantine(batch, q_writer)
        for table in tables:
            stats[table], built = _validate_table(
                batch,
                table,
                runtime,
                q_writer,
                chunk_rows=chunk_rows,
                build_docs=build_docs,
                dead_parents=dead_parents,
                quarantined_at=quarantined_at,
                default_run_id=default_run_id,
            )
            docs_built |= built
            if table in {p for p, _ in PARENTS.values()}:
                dead_parents[table] = _surviving_parents(batch, table, stats[table].quarantined_uids)
            stats[table].quarantined_uids = set()  # free memory
        q_writer.close()
    except BaseException:
        q_writer.abort()
        raise
    finally:
        _give_memory_back(previous_pool)

    docs_index = None
    docs_errors = {t: s.docs_error for t, s in stats.items() if s.docs_error}
    if build_docs:
        if not docs_built and not docs_errors:  # nothing to validate: still give the index page
            try:
                runtime.build_index()
            except Exception as exc:
                log.exception("the GX Data Docs index could not be built")
                docs_errors["index"] = f"{type(exc).__name__}: {exc}"
        index = settings.data_docs_dir() / "index.html"
        docs_index = str(index) if index.exists() else None

    warnings: dict[str, int] = {}
    critical: dict[str, int] = {}
    for s in stats.values():
        warnings.update(s.warnings)
        critical.update(s.critical)
    top = [t for t in stats if t in TOP_LEVEL_TABLES]
    records_valid = sum(stats[t].valid for t in top)
    records_quarantined = sum(stats[t].quarantined for t in top) + parse_quarantined
    duration = round(time.monotonic() - started, 3)
    validation = {
        "validated_at": quarantined_at.isoformat(),
        "duration_s": duration,
        "tables": {t: s.as_dict() for t, s in stats.items()},
        "parse_quarantined": parse_quarantined,
        "critical": critical,
        "data_docs": docs_index,
        **({"data_docs_errors": docs_errors} if docs_errors else {}),
    }
    if batch.report_path.exists():
        batch.update_report(
            state="validated",
            records_valid=records_valid,
            records_quarantined=records_quarantined,
            warnings=warnings,
            validation=validation,
        )
    else:
        batch.write_report(
            {
                "source_id": batch.source_id,
                "state": "validated",
                "records_valid": records_valid,
                "records_quarantined": records_quarantined,
                "warnings": warnings,
                "validation": validation,
            }
        )
    summary = {
        "batch": str(batch.path),
        "source_id": batch.source_id,
        "batch_id": batch.batch_id,
        "state": "validated",
        "records_valid": records_valid,
        "records_quarantined": records_quarantined,
        "tables": validation["tables"],
        "parse_quarantined": parse_quarantined,
        "warnings": warnings,
        "critical": critical,
        "paths": {
            "validated": {t: str(batch.validated(t)) for t in stats},
            "quarantine": str(batch.quarantine),
            "data_docs": docs_index,
            "report": str(batch.report_path),
        },
        **({"data_docs_errors": docs_errors} if docs_errors else {}),
        "duration_s": duration,
    }
    log.info(
        "validated %s: %s valid, %s quarantined (%s rows in quarantine) in %.1fs",
        batch.path,
        records_valid,
        records_quarantined,
        sum(s.quarantine_rows for s in stats.values()) + parse_quarantined,
        duration,
    )
    return summary


__all__ = ["validate_batch", "load_suite", "SuiteError", "ValidationError", "SEVERITIES", "CHUNK_ROWS", "gx_runtime"]
