"""The embedded store: one DuckDB file (``settings.duckdb_path()``).

Parquet goes in and out through DuckDB itself (``read_parquet`` and ``COPY … TO``), which is fast and
never passes rows through Python. DuckDB lets one process write a database file at a time; a second
process waits here (up to ``lock_timeout`` seconds) for the file lock instead of failing at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .. import settings
from .store import EXPORT_ORDER, Store, cols, q, stage_name


SORTED_EXPORTS = frozenset({"harvest_runs"})
MEMORY_LIMIT_ENV = "INVENTORY_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "2GB"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DuckDBStore(Store):
    kind = "duckdb"
    TEXT = "VARCHAR"
    TEXT_LIST = "VARCHAR[]"
    DOUBLE = "DOUBLE"
    # DuckDB scans are fast; ART indexes on non-unique columns only slow the bulk loads down.
    secondary_indexes = False

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
        # Bounded memory whatever the size of the inventory: DuckDB spills to disk beyond the limit.
        limit = os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
        self.con.execute(f"SET memory_limit = {_literal(limit)}")
        if not read_only:
            self.con.execute(f"SET temp_directory = {_literal(str(self.path.with_name(self.path.name + '.tmp')))}")

    def close(self) -> None:
        self.con.close()

    def location(self) -> str:
        return str(self.path)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, list(params) if params else None)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, list(params) if params else None).fetchall()

    def begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:  # no transaction open (it never began)
            pass

    def ts_text(self, expr: str) -> str:
        return f"strftime({expr} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')"

    def list_json(self, expr: str) -> str:
        return f"CAST(to_json({expr}) AS VARCHAR)"

    def load_stage(self, table: str, schema: pa.Schema, path: Path) -> int:
        present = set(pq.read_schema(path).names)
        exprs = [
            f"CAST({q(f.name) if f.name in present else 'NULL'} AS {self.sql_type(f.type)}) AS {q(f.name)}"
            for f in schema
        ]
        self.con.execute(
            f"CREATE OR REPLACE TEMPORARY TABLE {q(stage_name(table))} AS "
            f"SELECT {', '.join(exprs)} FROM read_parquet({_literal(str(path))})")
        return int(self.scalar(f"SELECT count(*) FROM {q(stage_name(table))}"))

    def dedupe_stage(self, table: str, key: str) -> None:
        stage = q(stage_name(table))
        self.con.execute(f"DELETE FROM {stage} WHERE rowid NOT IN "
                         f"(SELECT max(rowid) FROM {stage} GROUP BY {q(key)})")

    def export_table(self, table: str, schema: pa.Schema, parquet_path: Path, csv_path: Path) -> None:
        # Only small tables are sorted: sorting a million wide rows would hold them all in memory,
        # while without ORDER BY DuckDB streams the table out in its (stable) insertion order.
        order = cols(EXPORT_ORDER.get(table, ())) if table in SORTED_EXPORTS else ""
        order_by = f" ORDER BY {order}" if order else ""
        self.con.execute(
            f"COPY (SELECT {cols(schema.names)} FROM {q(table)}{order_by}) "
            f"TO {_literal(str(parquet_path))} (FORMAT parquet, COMPRESSION zstd)")
        csv_cols = ", ".join(self.csv_expr(f.name, f.type) for f in schema)
        self.con.execute(
            f"COPY (SELECT {csv_cols} FROM {q(table)}{order_by}) "
            f"TO {_literal(str(csv_path))} (FORMAT csv, HEADER)")
