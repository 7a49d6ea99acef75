"""The embedded store: one DuckDB file (``settings.duckdb_path()``).

Parquet goes in and out through DuckDB itself (``read_parquet`` and ``COPY … TO``), which is fast and
never passes rows through Python. DuckDB lets one process write a database file at a time; a second
process waits here (up to ``lock_timeout`` seconds) for the file lock instead of failing at once.

Bounded memory whatever the size of the inventory:

* ``memory_limit`` (default ``DEFAULT_MEMORY_LIMIT``, ``$INVENTORY_DUCKDB_MEMORY_LIMIT`` overrides) caps
  DuckDB's buffer pool; beyond it, joins and aggregates spill to ``<store>.tmp`` beside the file.
* The record tables have no primary-key index (``record_key_indexes = False``): an ART index
  cannot spill, it must stay in memory while rows are inserted and until the commit (about 72
  bytes a key: 266 MiB for a million datasets and their 2.7 million distributions), and
  maintaining it was most of the commit's time (5.5 of 5.9 s at 1,000,000 datasets). Keys stay
  unique without it (see ``Store.record_key_indexes``); a store made with the indexes loses them
  once, in ``ensure_schema`` (schema version 3).
* ``threads`` (DuckDB's default: one per core; ``$INVENTORY_DUCKDB_THREADS`` overrides) is how
  many threads a statement uses; each has buffers of its own, so a worker with many cores may set
  it lower. On 2 cores, 1 thread instead of 2 did not change a publish's peak RSS measurably
  (100,000 datasets, 2026-11-29).
* A staged batch is never copied into a temporary table: ``_stage_<table>`` is a view over the
  batch's validated Parquet file, which every statement streams (a temporary table of a million
  wide rows would hold all of them in memory). Only a batch with duplicate keys is collapsed
  (its extra rows are left out of the view by file row number).
* Changes are found by joining the staged and the published rows on the key, each side carrying
  only the key and a 64-bit hash of the row's content (``hash()`` over every column except the key
  and the provenance that changes on every harvest), never the rows themselves.
* Applying touches what changed: rows added, changed or gone are inserted or deleted; rows that are
  unchanged only get their new provenance (``harvested_at``, ``run_id``, ``raw_sha256``). A source's
  first publish is a plain bulk insert.
* Exports run two at a time, each on its own cursor with one DuckDB thread, so each file is
  written in the table's (stable) insertion order while both cores are busy.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .. import model, settings
from .store import EXPORT_ORDER, VOLATILE_COLUMNS, Store, cols, is_string_list, q, stage_name

log = logging.getLogger("inventory.publish")

SORTED_EXPORTS = frozenset({"harvest_runs"})
MEMORY_LIMIT_ENV = "INVENTORY_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "512MB"
# The catalogue reads the store 50,000 datasets at a time and needs little of DuckDB's buffer pool,
# which still holds what the publish before it cached, up to the limit. A lower limit for that phase
# evicts it: at 1,000,000 datasets the catalogue's phase peaked at 782 MiB with the 512 MB limit and
# at 470 MiB with this one, in the same time (2026-11-29). Not applied when the environment fixes the limit.
RANGE_READ_MEMORY_LIMIT = "192MB"
THREADS_ENV = "INVENTORY_DUCKDB_THREADS"
# Rows per Parquet row group of an export: DuckDB holds one row group per writer in memory
# (122,880 rows by default: about 200 MB of dataset records).
EXPORT_ROW_GROUP_ROWS = 32_768
EXPORT_WORKERS = 2


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DuckDBStore(Store):
    kind = "duckdb"
    TEXT = "VARCHAR"
    TEXT_LIST = "VARCHAR[]"
    DOUBLE = "DOUBLE"
    # DuckDB scans are fast; ART indexes on non-unique columns only slow the bulk loads down.
    secondary_indexes = False
    record_key_indexes = False  # see the module docstring

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 lock_timeout: float = 60.0):
        self.path = Path(path) if path else settings.duckdb_path()
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                self.con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:  # another process holds the file
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
        self.con.execute("SET TimeZone = 'UTC'")
        # Bounded memory: DuckDB spills joins, aggregates and sorts to disk beyond the limit.
        self._fixed_limit = bool(os.environ.get(MEMORY_LIMIT_ENV))
        self._memory_limit = os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
        self.con.execute(f"SET memory_limit = {_literal(self._memory_limit)}")
        threads = os.environ.get(THREADS_ENV)
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if not read_only:
            self.con.execute(f"SET temp_directory = {_literal(str(self.path.with_name(self.path.name + '.tmp')))}")
        # table -> (Parquet file, SELECT list in the model's column order) of the staged batch
        self._stages: dict[str, tuple[Path, str]] = {}
        self._staged_rows: dict[str, int] = {}
        self._deltas: dict[str, tuple[str, bool, str | None, dict[str, int]]] = {}

    def close(self) -> None:
        self.con.close()

    def location(self) -> str:
        return str(self.path)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, list(params) if params else None)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, list(params) if params else None).fetchall()

    def stream(self, sql: str, size: int, params: Sequence[Any] | None = None) -> Iterator[list[tuple]]:
        # A cursor of its own: a DuckDB connection has one pending result at a time.
        cursor = self.con.cursor()
        try:
            cursor.execute(sql, list(params) if params else None)
            while batch := cursor.fetchmany(size):
                yield batch
        finally:
            cursor.close()

    def begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:  # no transaction open (it never began)
            pass
        # the temporary views and tables of the transaction are gone with it
        self._stages.clear()
        self._deltas.clear()

    def ts_text(self, expr: str) -> str:
        return f"strftime({expr} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')"

    def regex_test(self, expr: str, pattern: str) -> str:
        return f"regexp_matches({expr}, {_literal(pattern)})"

    def regex_first(self, expr: str, pattern: str) -> str:
        return f"nullif(regexp_extract({expr}, {_literal(pattern)}, 0), '')"

    def list_json(self, expr: str) -> str:
        return f"CAST(to_json({expr}) AS VARCHAR)"

    # ------------------------------------------------------------------ staging (a view, not a copy)
    def _temp_kind(self, name: str) -> str | None:
        rows = self.fetchall(
            "SELECT 'view' FROM duckdb_views() WHERE temporary AND view_name = ? "
            "UNION ALL SELECT 'table' FROM duckdb_tables() WHERE temporary AND table_name = ?", [name, name])
        return rows[0][0] if rows else None

    def _drop_temp(self, name: str) -> None:
        kind = self._temp_kind(name)
        if kind == "view":
            self.con.execute(f"DROP VIEW {q(name)}")
        elif kind == "table":
            self.con.execute(f"DROP TABLE {q(name)}")

    def _select_list(self, schema: pa.Schema, path: Path, replace: dict[str, str] | None = None) -> str:
        """The model's columns from a Parquet file, cast to their SQL types (missing ones NULL;
        ``replace`` gives an expression for a column instead)."""
        present = set(pq.read_schema(path).names)
        replace = replace or {}
        return ", ".join(
            f"CAST({replace.get(f.name) or (q(f.name) if f.name in present else 'NULL')} "
            f"AS {self.sql_type(f.type)}) AS {q(f.name)}"
            for f in schema
        )

    def load_stage(self, table: str, schema: pa.Schema, path: Path) -> int:
        """``_stage_<table>``: a view over the Parquet file (streamed by every statement, never copied)."""
        path = Path(path)
        select = self._select_list(schema, path)
        name = stage_name(table)
        self._drop_temp(name)
        self._drop_temp(f"{name}_extra")
        self.con.execute(f"CREATE TEMPORARY VIEW {q(name)} AS SELECT {select} FROM read_parquet({_literal(str(path))})")
        self._stages[table] = (path, select)
        self._deltas.pop(table, None)
        rows = int(pq.ParquetFile(path).metadata.num_rows)
        self._staged_rows[table] = rows
        return rows

    @contextmanager
    def reading_in_ranges(self) -> Iterator[None]:
        """The lower ``RANGE_READ_MEMORY_LIMIT`` for the phase (see there), then the limit as it was."""
        if self._fixed_limit:
            yield
            return
        self.con.execute(f"SET memory_limit = {_literal(RANGE_READ_MEMORY_LIMIT)}")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = {_literal(self._memory_limit)}")

    def drop_record_key_indexes(self) -> None:
        """Rebuild each record table that still has a primary key without it: DuckDB cannot drop a
        constraint, so the rows are copied (in their order) into a new table of the same columns."""
        keyed = [r[0] for r in self.fetchall(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
            "AND schema_name = current_schema() AND list_contains(?, table_name)", [list(model.UID_COLUMN)])]
        for table in keyed:
            rebuilt = f"{table}__without_key"
            self.execute(f"CREATE TABLE {q(rebuilt)} AS SELECT * FROM {q(table)}")
            self.execute(f"DROP TABLE {q(table)}")
            self.execute(f"ALTER TABLE {q(rebuilt)} RENAME TO {q(table)}")
            log.info("store: %s rebuilt without its primary-key index (schema version 3)", table)

    def check_stage(self, table: str, source_id: str, where: str) -> int:
        """Refuse rows a validated batch must never contain; drop duplicate keys. Returns row count."""
        if table not in self._stages:
            return super().check_stage(table, source_id, where)
        stage, key = q(stage_name(table)), model.UID_COLUMN[table]
        uid = q(key)
        total, missing, foreign = self.fetchall(
            f"SELECT count(*), count(*) FILTER (WHERE {uid} IS NULL), "
            f'count(*) FILTER (WHERE "source_id" IS DISTINCT FROM ?) FROM {stage}', [source_id])[0]
        if missing:
            raise ValueError(f"{where}: {missing} {table} rows without {key}")
        if foreign:
            raise ValueError(f"{where}: {foreign} {table} rows whose source_id is not {source_id!r}")
        extra = self._duplicate_rows(table)
        if extra:
            log.warning("%s: %d duplicate %s keys in %s, keeping one row each", where, extra, key, table)
            self.dedupe_stage(table, key)
        self._staged_rows[table] = int(total) - extra
        return int(total) - extra

    def _duplicate_rows(self, table: str) -> int:
        """Rows whose key an earlier row already has: candidates by a 64-bit hash of the key (a small
        aggregate), then counted exactly among the candidates only."""
        stage, uid = q(stage_name(table)), q(model.UID_COLUMN[table])
        return int(self.scalar(
            f"SELECT count(*) - count(DISTINCT {uid}) FROM {stage} WHERE hash({uid}) IN "
            f"(SELECT hash({uid}) FROM {stage} GROUP BY 1 HAVING count(*) > 1)") or 0)

    def dedupe_stage(self, table: str, key: str) -> None:
        """Keep the last row (in file order) of every key: the view leaves the others out."""
        if table not in self._stages:
            stage = q(stage_name(table))
            self.con.execute(f"DELETE FROM {stage} WHERE rowid NOT IN "
                             f"(SELECT max(rowid) FROM {stage} GROUP BY {q(key)})")
            return
        path, select = self._stages[table]
        name = stage_name(table)
        source = f"read_parquet({_literal(str(path))}, file_row_number = true)"
        extra = f"{name}_extra"
        self.con.execute(
            f"CREATE OR REPLACE TEMPORARY TABLE {q(extra)} AS SELECT file_row_number AS r FROM "
            f"(SELECT file_row_number, row_number() OVER (PARTITION BY {q(key)} ORDER BY file_row_number DESC) AS n "
            f"FROM {source} WHERE hash({q(key)}) IN "
            f"(SELECT hash({q(key)}) FROM {source} GROUP BY 1 HAVING count(*) > 1)) WHERE n > 1")
        self._drop_temp(name)
        self.con.execute(
            f"CREATE TEMPORARY VIEW {q(name)} AS SELECT {select} FROM {source} "
            f"WHERE file_row_number NOT IN (SELECT r FROM {q(extra)})")

    # ------------------------------------------------------------------ changes
    @staticmethod
    def _content_hash(table: str) -> str:
        """SQL for a 64-bit hash of a row's content: every column but the key and the volatile
        provenance. DuckDB hashes a NULL list like an empty one, so list lengths are hashed too."""
        schema = model.RECORD_TABLES[table]
        content = [f for f in schema if f.name != model.UID_COLUMN[table] and f.name not in VOLATILE_COLUMNS]
        lengths = [f"len({q(f.name)})" for f in content if is_string_list(f.type)]
        return f"hash({', '.join([q(f.name) for f in content] + lengths)})"

    def _staged_count(self, table: str) -> int:
        return self._staged_rows[table] if table in self._stages else super()._staged_count(table)

    def _fill_delta(self, table: str, source_id: str, complete: bool, delta: str) -> None:
        """Keys added, changed or gone, by a 64-bit hash of each row's content (every column but the
        key and the volatile provenance): two different rows pass for equal only on a hash collision
        (odds about 1 in 1.8e19 per changed row). Only keys and hashes are joined, never the rows."""
        if table not in self._stages:
            return super()._fill_delta(table, source_id, complete, delta)
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        h = self._content_hash(table)
        self.con.execute(
            f"INSERT INTO {q(delta)} (u, kind) "
            "SELECT coalesce(s.u, m.u), CASE WHEN m.u IS NULL THEN 'added' WHEN s.u IS NULL THEN 'removed' "
            "ELSE 'changed' END "
            f"FROM (SELECT {uid} AS u, {h} AS h FROM {stage}) s "
            f'FULL OUTER JOIN (SELECT {uid} AS u, {h} AS h FROM {main} WHERE "source_id" = ?) m ON s.u = m.u '
            "WHERE m.u IS NULL OR (s.u IS NULL AND ?) OR s.h <> m.h", [source_id, complete])

    def changed_fields(self, names: list[str]) -> str:
        cases = ", ".join(f"CASE WHEN s.{q(n)} IS DISTINCT FROM m.{q(n)} THEN {_literal(n)} END" for n in names)
        return f"[f FOR f IN [{cases}] IF f IS NOT NULL]"

    def replace_quarantine(self, source_id: str, path: Path | None) -> None:
        self.execute('DELETE FROM "quarantine" WHERE "source_id" = ?', [source_id])
        if path is None:
            return
        # Quarantine rows of a batch belong to its source, whatever the refused record said.
        select = self._select_list(model.QUARANTINE, Path(path), {"source_id": "?"})
        names = cols(model.QUARANTINE.names)
        self.execute(f'INSERT INTO "quarantine" ({names}) SELECT {select} FROM read_parquet({_literal(str(path))})',
                     [source_id])

    # ------------------------------------------------------------------ exports
    def _export_sql(self, table: str, schema: pa.Schema, path: Path, fmt: str) -> str:
        order = cols(EXPORT_ORDER.get(table, ())) if table in SORTED_EXPORTS else ""
        order_by = f" ORDER BY {order}" if order else ""
        if fmt == "parquet":
            return (f"COPY (SELECT {cols(schema.names)} FROM {self.export_from(table)}{order_by}) TO {_literal(str(path))} "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {EXPORT_ROW_GROUP_ROWS})")
        csv_cols = ", ".join(self.csv_expr(f.name, f.type) for f in schema)
        return f"COPY (SELECT {csv_cols} FROM {self.export_from(table)}{order_by}) TO {_literal(str(path))} (FORMAT csv, HEADER)"

    def export_table(self, table: str, schema: pa.Schema, parquet_path: Path, csv_path: Path) -> None:
        # Only small tables are sorted: sorting a million wide rows would hold them all in memory,
        # while without ORDER BY DuckDB streams the table out in its (stable) insertion order.
        self.con.execute(self._export_sql(table, schema, parquet_path, "parquet"))
        self.con.execute(self._export_sql(table, schema, csv_path, "csv"))

    def export_tables(self, jobs: list[tuple[str, pa.Schema, Path, Path]]) -> None:
        """Every export file, ``EXPORT_WORKERS`` at a time, each on its own cursor in its own read
        transaction (nothing writes meanwhile: this connection holds the file, and the caller's
        snapshot transaction is open), with one DuckDB thread each so rows keep insertion order."""
        sizes = {t: int(self.scalar(f"SELECT count(*) FROM {q(t)}")) * len(s) for t, s, _, _ in jobs}
        work = [(sizes[t], self._export_sql(t, s, p, "parquet")) for t, s, p, _ in jobs]
        work += [(sizes[t], self._export_sql(t, s, c, "csv")) for t, s, _, c in jobs]
        work.sort(key=lambda w: -w[0])  # the biggest first, so that the workers finish together
        queue = [sql for _, sql in work]
        errors: list[BaseException] = []
        lock = threading.Lock()

        def worker(cursor: duckdb.DuckDBPyConnection) -> None:
            try:
                cursor.execute("BEGIN TRANSACTION")
                while True:
                    with lock:
                        if errors or not queue:
                            break
                        sql = queue.pop(0)
                    cursor.execute(sql)
                cursor.execute("COMMIT")
            except BaseException as exc:  # re-raised in the caller's thread below
                with lock:
                    errors.append(exc)
            finally:
                cursor.close()

        previous = int(self.scalar("SELECT current_setting('threads')"))
        self.con.execute("SET threads = 1")
        try:
            workers = [threading.Thread(target=worker, args=(self.con.cursor(),), daemon=True)
                       for _ in range(min(EXPORT_WORKERS, len(queue)))]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        finally:
            self.con.execute(f"SET threads = {previous}")
        if errors:
            raise errors[0]
