"""The validation step: run the GX suites in ``expectations/`` over one staging batch.

For each record table the harvest step left in the batch (``harvested/<table>.parquet``), in the
order datasets -> distributions -> algorithms:

1. the Parquet file is streamed in chunks (``chunk_rows``, default 50,000 rows), so memory stays
   bounded whatever the size of the catalogue;
2. Great Expectations validates each chunk against the table's suite (GX 1.x, called directly:
   one ephemeral context per process, a pandas datasource, a whole-dataframe batch definition),
   with ``result_format`` COMPLETE so every failing row is known by its index;
3. a row failing any ``critical`` expectation goes to the batch's ``quarantine.parquet``, one row
   per failed expectation, with the offending value and the expectation's ``meta.why`` as the
   reason; all other rows go to ``validated/<table>.parquet``. ``warning`` failures are counted;
4. uniqueness is checked across chunks (a set of the values seen so far) and keeps the first
   occurrence: every later duplicate is quarantined;
5. a distribution whose dataset has no validated record is quarantined too ("its dataset was
   quarantined").

The records refused while parsing (``harvested/quarantine.parquet``) are copied into the batch's
``quarantine.parquet`` first. GX Data Docs are rendered once per table per batch, after the last
chunk, into ``settings.data_docs_dir()``: one page per table whose counts are GX's chunk results
summed (so the page describes the whole table, and nothing is validated twice). The GX validation
results behind the pages are kept under ``settings.reports_dir()/gx/validations`` so the index
lists the latest batches of every source. Finally ``report.json`` moves to state ``validated``.

Performance: GX's cost is per chunk and per expectation (metric graph, frame fingerprint), not per
failing row: COMPLETE costs about the same as SUMMARY. Only the columns a suite reads are handed
to GX, and valid rows pass through as Arrow (never as Python dicts).

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

from .. import model, settings, staging

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning")
CHUNK_ROWS = 50_000
# Parents before children: a distribution is judged after its dataset.
TABLE_ORDER = ("datasets", "distributions", "algorithms")
# child table -> (parent table, column of the child holding the parent's uid)
PARENTS = {"distributions": ("datasets", "dataset_uid")}
# Tables whose rows are "records" in the harvest_runs sense (records_valid / records_quarantined);
# distributions are parts of a dataset and are counted per table only.
TOP_LEVEL_TABLES = ("datasets", "algorithms")

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
                kwargs=kwargs,
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

        validator = Validator(
            batch_definition=self.batch_definition(table),
            batch_parameters={"dataframe": frame},
            result_format=RESULT_FORMAT,
        )
        return validator.validate_expectation_suite(suite)

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


class _ArrowTableWriter(staging.TableWriter):
    """staging.TableWriter that also takes whole Arrow tables.

    Validation passes rows through as Arrow; turning 50,000 rows into dicts and back costs more
    than validating them. Same file life cycle as the base class (``.partial`` then atomic
    rename, an empty file with the schema when nothing was written).
    """

    def write_table(self, table: pa.Table) -> None:
        base = getattr(super(), "write_table", None)
        if base is not None:  # staging.TableWriter grew its own: use it
            base(table)
            return
        if table.num_rows == 0:
            return
        self._flush()
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        self._writer.write_table(table.select(self.schema.names).cast(self.schema))
        self.rows_written += table.num_rows


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
    """Validate one table of the batch; returns its stats and whether a Data Docs page was built."""
    loaded = _load(table)
    suite = runtime.register(loaded)
    by_id = {exp.id: check for exp, check in zip(suite.expectations, loaded.checks)}
    schema = model.RECORD_TABLES[table]
    uid_col = model.UID_COLUMN[table]
    gx_columns = loaded.columns()
    for c in gx_columns:
        if c not in schema.names:
            raise SuiteError(f"{loaded.path}: column {c!r} is not a column of the {table} table")
    frame_columns = list(dict.fromkeys([uid_col, *gx_columns]))
    stats = _TableStats()
    for check in loaded.checks:
        (stats.warnings if check.severity == "warning" else stats.critical)[check.key] = 0

    # Uniqueness across chunks: the values seen so far, per unique check; the first occurrence wins.
    seen: dict[int, set] = {c.index: set() for c in loaded.checks if c.type == UNIQUE and c.severity == "critical"}
    parent = PARENTS.get(table)
    dead = dead_parents.get(parent[0], set()) if parent else set()
    dead_array = pa.array(sorted(dead), type=pa.string()) if dead else None
    parent_check = (
        Check(table, -1, PARENT_CHECK, {"column": parent[1]}, "critical", f"its {parent[0][:-1]} was quarantined")
        if parent
        else None
    )
    aggregate = _ResultAggregate() if build_docs else None
    offset = 0
    writer = _ArrowTableWriter(batch.validated(table), schema)
    try:
        pf = pq.ParquetFile(batch.harvested(table))
        for record_batch in pf.iter_batches(batch_size=chunk_rows):
            chunk = _conform(pa.Table.from_batches([record_batch]), schema)
            n = chunk.num_rows
            if n == 0:
                continue
            frame = chunk.select(frame_columns).to_pandas()  # RangeIndex: GX index == row position
            result = runtime.validate(table, suite, frame)
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
                    rows = _later_duplicates(chunk.column(check.kwargs["column"]), seen[check.index])
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
            if parent_check is not None and dead_array is not None:
                link = chunk.column(parent[1])
                mask = pc.fill_null(pc.is_in(link, value_set=dead_array), False)
                rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
                if rows.size:
                    failures.append((parent_check, rows))

            bad = np.zeros(n, dtype=bool)
            for _, rows in failures:
                bad[rows] = True
            good = chunk.filter(pa.array(~bad)) if bad.any() else chunk
            writer.write_table(good)
            stats.rows += n
            stats.valid += good.num_rows
            if bad.any():
                stats.quarantined += int(bad.sum())
                _write_quarantine(
                    q_writer, table, chunk, uid_col, failures, np.flatnonzero(bad), stats, quarantined_at, default_run_id
                )
        writer.close()
    except BaseException:
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


def _later_duplicates(column: pa.ChunkedArray, seen: set) -> np.ndarray:
    """Row positions whose (non-null) value was already seen (earlier in this chunk or before)."""
    dup = []
    add = seen.add
    for i, value in enumerate(column.to_pylist()):
        if value is None:
            continue
        if value in seen:
            dup.append(i)
        else:
            add(value)
    return np.asarray(dup, dtype=np.int64)


def _write_quarantine(
    q_writer: staging.TableWriter,
    table: str,
    chunk: pa.Table,
    uid_col: str,
    failures: list[tuple["Check", np.ndarray]],
    bad_rows: np.ndarray,
    stats: _TableStats,
    quarantined_at: datetime,
    default_run_id: str | None,
) -> None:
    """One quarantine row per failed critical expectation per record."""
    records = chunk.take(pa.array(bad_rows)).to_pylist()
    by_row = {int(r): rec for r, rec in zip(bad_rows, records)}
    as_json: dict[int, str] = {}
    for check, rows in failures:
        for r in rows.tolist():
            rec = by_row[r]
            if r not in as_json:
                as_json[r] = json.dumps(rec, ensure_ascii=False, default=_json_default)
            uid = rec.get(uid_col)
            if uid is not None:
                stats.quarantined_uids.add(uid)
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
                    "record": as_json[r],
                    "quarantined_at": quarantined_at,
                }
            )
            stats.quarantine_rows += 1
            stats.critical[check.key] = stats.critical.get(check.key, 0) + 1


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
