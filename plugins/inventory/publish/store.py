"""The store behind the published inventory: the SQL both back-ends share.

A store holds the tables of ``model.ALL_TABLES`` (created from the Arrow schemas, the contract) plus
three bookkeeping tables of its own:

``schema_version``     one row per applied schema version (so later migrations know where they are);
``publish_log``        one row per publish that changed something (its id and time);
``published_batches``  every staging batch applied, with a fingerprint of its report, so a publish that
                       crashed after COMMIT but before it could mark the batch reports ``published`` is
                       reconciled on the next run instead of being applied twice.

All SQL here is written with ``?`` placeholders and double-quoted identifiers (the model has columns
such as ``column`` and ``format``); the PostgreSQL store translates placeholders for psycopg.
Back-end specifics (connecting, bulk loading a Parquet file, exporting) live in the subclasses.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa

from .. import model

log = logging.getLogger("inventory.publish")

# Bump together with an entry in MIGRATIONS when the store layout changes.
SCHEMA_VERSION = 1
MIGRATIONS: dict[int, str] = {
    1: "canonical tables of model.ALL_TABLES; publish_log; published_batches",
}

# Provenance that changes on every harvest without the record itself changing.
VOLATILE_COLUMNS = frozenset({"harvested_at", "run_id", "raw_sha256"})

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    **{table: (uid,) for table, uid in model.UID_COLUMN.items()},
    "harvest_runs": ("run_id", "source_id"),
}

# Deterministic row order of the exports.
EXPORT_ORDER: dict[str, tuple[str, ...]] = {
    **{table: (uid,) for table, uid in model.UID_COLUMN.items()},
    "quarantine": ("source_id", "record_type", "record_uid", "suite", "expectation", "column", "quarantined_at"),
    "harvest_runs": ("source_id", "started_at", "run_id"),
}

BOOKKEEPING_TABLES: dict[str, pa.Schema] = {
    "schema_version": pa.schema([("version", pa.int64()), ("description", pa.string()),
                                 ("applied_at", model.TS)]),
    "publish_log": pa.schema([("publish_id", pa.string()), ("published_at", model.TS),
                              ("batches", pa.int64())]),
    "published_batches": pa.schema([
        ("source_id", pa.string()), ("batch_id", pa.string()), ("fingerprint", pa.string()),
        ("publish_id", pa.string()), ("status", pa.string()),
        ("added", pa.int64()), ("changed", pa.int64()), ("removed", pa.int64()),
    ]),
}
BOOKKEEPING_KEYS: dict[str, tuple[str, ...]] = {
    "schema_version": ("version",),
    "publish_log": ("publish_id",),
    "published_batches": ("source_id", "batch_id", "fingerprint"),
}


def q(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def cols(names: Iterable[str], prefix: str = "") -> str:
    return ", ".join(prefix + q(n) for n in names)


def stage_name(table: str) -> str:
    return f"_stage_{table}"


def is_string_list(dt: pa.DataType) -> bool:
    return (pa.types.is_list(dt) or pa.types.is_large_list(dt)) and (
        pa.types.is_string(dt.value_type) or pa.types.is_large_string(dt.value_type)
    )


class Store:
    """One open connection to the inventory store. Use as a context manager."""

    kind = ""
    TEXT = "TEXT"
    TEXT_LIST = "TEXT[]"
    DOUBLE = "DOUBLE PRECISION"
    secondary_indexes = True

    # ------------------------------------------------------------------ back-end hooks
    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def location(self) -> str:
        """Where the store is, safe to log and to show (never a password)."""
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        raise NotImplementedError

    def begin(self) -> None:
        self.execute("BEGIN")

    def begin_snapshot(self) -> None:
        """A read-only transaction with one consistent snapshot (for exports)."""
        self.begin()

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        raise NotImplementedError

    def lock(self) -> None:
        """Serialise publishers for the rest of the transaction (no-op where the engine does it)."""

    def load_stage(self, table: str, schema: pa.Schema, path: Path) -> int:
        """Bulk load a Parquet file into the temporary table ``_stage_<table>`` (replacing it)."""
        raise NotImplementedError

    def dedupe_stage(self, table: str, key: str) -> None:
        raise NotImplementedError

    def export_table(self, table: str, schema: pa.Schema, parquet_path: Path, csv_path: Path) -> None:
        raise NotImplementedError

    def export_tables(self, jobs: list[tuple[str, pa.Schema, Path, Path]]) -> None:
        """Export every ``(table, schema, parquet_path, csv_path)`` (one after the other here)."""
        for table, schema, parquet_path, csv_path in jobs:
            self.export_table(table, schema, parquet_path, csv_path)

    def ts_text(self, expr: str) -> str:
        """SQL giving a TIMESTAMPTZ as ISO-8601 text in UTC (``2026-11-28T10:00:00.000000Z``)."""
        raise NotImplementedError

    def list_json(self, expr: str) -> str:
        """SQL giving a list column as JSON array text."""
        raise NotImplementedError

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.fetchall(sql, params)
        return rows[0][0] if rows else None

    def sql_type(self, dt: pa.DataType) -> str:
        if pa.types.is_string(dt) or pa.types.is_large_string(dt):
            return self.TEXT
        if is_string_list(dt):
            return self.TEXT_LIST
        if pa.types.is_timestamp(dt):
            return "TIMESTAMPTZ"
        if pa.types.is_integer(dt):
            return "BIGINT"
        if pa.types.is_floating(dt):
            return self.DOUBLE
        if pa.types.is_boolean(dt):
            return "BOOLEAN"
        raise TypeError(f"no SQL type for Arrow type {dt}")

    def csv_expr(self, name: str, dt: pa.DataType) -> str:
        """The column as it goes into CSV: lists as JSON arrays, timestamps as ISO-8601 UTC."""
        if is_string_list(dt):
            return f"{self.list_json(q(name))} AS {q(name)}"
        if pa.types.is_timestamp(dt):
            return f"{self.ts_text(q(name))} AS {q(name)}"
        return q(name)

    def table_exists(self, table: str) -> bool:
        return bool(self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name = ?", [table]))

    def table_columns(self, table: str) -> list[str]:
        return [r[0] for r in self.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", [table])]

    def create_table_sql(self, table: str, schema: pa.Schema, key: Sequence[str] = (),
                         temporary: bool = False) -> str:
        defs = [f"{q(f.name)} {self.sql_type(f.type)}" for f in schema]
        if key:
            defs.append(f"PRIMARY KEY ({cols(key)})")
        kind = "TEMPORARY TABLE" if temporary else "TABLE IF NOT EXISTS"
        return f"CREATE {kind} {q(table)} ({', '.join(defs)})"

    # ------------------------------------------------------------------ schema
    def schema_version(self) -> int:
        if not self.table_exists("schema_version"):
            return 0
        return int(self.scalar('SELECT max("version") FROM "schema_version"') or 0)

    def ensure_schema(self) -> None:
        """Create what is missing (tables, columns added to the model since), in one transaction."""
        self.begin()
        try:
            self.lock()
            for table, schema in BOOKKEEPING_TABLES.items():
                self.execute(self.create_table_sql(table, schema, BOOKKEEPING_KEYS[table]))
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the inventory store at {self.location()} has schema version {current}, newer than "
                    f"this code knows ({SCHEMA_VERSION}); upgrade the code before publishing")
            for table, schema in model.ALL_TABLES.items():
                self.execute(self.create_table_sql(table, schema, PRIMARY_KEYS.get(table, ())))
                present = set(self.table_columns(table))
                for field in schema:
                    if field.name not in present:  # additive change of the model: add the column
                        log.info("store: adding column %s.%s", table, field.name)
                        self.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(field.name)} "
                                     f"{self.sql_type(field.type)}")
                if self.secondary_indexes and "source_id" in schema.names:
                    self.execute(f"CREATE INDEX IF NOT EXISTS {q(f'ix_{table}_source_id')} "
                                 f"ON {q(table)} ({q('source_id')})")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self.execute('INSERT INTO "schema_version" ("version", "description", "applied_at") '
                             "VALUES (?, ?, CURRENT_TIMESTAMP)", [version, MIGRATIONS[version]])
            self.commit()
        except BaseException:
            self.rollback()
            raise

    # ------------------------------------------------------------------ applying one batch
    def check_stage(self, table: str, source_id: str, where: str) -> int:
        """Refuse rows a validated batch must never contain; drop duplicate keys. Returns row count."""
        stage, uid = q(stage_name(table)), q(model.UID_COLUMN[table])
        missing = self.scalar(f"SELECT count(*) FROM {stage} WHERE {uid} IS NULL")
        if missing:
            raise ValueError(f"{where}: {missing} {table} rows without {model.UID_COLUMN[table]}")
        foreign = self.scalar(f'SELECT count(*) FROM {stage} WHERE "source_id" IS DISTINCT FROM ?',
                              [source_id])
        if foreign:
            raise ValueError(f"{where}: {foreign} {table} rows whose source_id is not {source_id!r}")
        total, distinct = self.fetchall(f"SELECT count(*), count(DISTINCT {uid}) FROM {stage}")[0]
        if total != distinct:
            log.warning("%s: %d duplicate %s keys in %s, keeping one row each",
                        where, total - distinct, model.UID_COLUMN[table], table)
            self.dedupe_stage(table, model.UID_COLUMN[table])
        return int(distinct)

    def diff(self, table: str, source_id: str, complete: bool) -> dict[str, int]:
        """added / changed / removed of the staged rows against the source's published rows."""
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        content = [n for n in model.RECORD_TABLES[table].names
                   if n != model.UID_COLUMN[table] and n not in VOLATILE_COLUMNS]
        differs = " OR ".join(f"s.{q(c)} IS DISTINCT FROM m.{q(c)}" for c in content)
        added = self.scalar(
            f'SELECT count(*) FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {main} m '
            f'WHERE m.{uid} = s.{uid} AND m."source_id" = ?)', [source_id])
        changed = self.scalar(
            f'SELECT count(*) FROM {stage} s JOIN {main} m ON m.{uid} = s.{uid} '
            f'WHERE m."source_id" = ? AND ({differs})', [source_id])
        removed = 0
        if complete:
            removed = self.scalar(
                f'SELECT count(*) FROM {main} m WHERE m."source_id" = ? AND NOT EXISTS '
                f'(SELECT 1 FROM {stage} s WHERE s.{uid} = m.{uid})', [source_id])
        return {"added": int(added), "changed": int(changed), "removed": int(removed)}

    def apply(self, table: str, source_id: str, complete: bool) -> None:
        """complete: the source's rows become the staged ones; partial: upsert the staged rows."""
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        if complete:
            self.execute(f'DELETE FROM {main} WHERE "source_id" = ?', [source_id])
        self.execute(f"DELETE FROM {main} WHERE {uid} IN (SELECT {uid} FROM {stage})")
        names = cols(model.RECORD_TABLES[table].names)
        self.execute(f"INSERT INTO {main} ({names}) SELECT {names} FROM {stage}")

    def replace_quarantine(self, source_id: str, path: Path | None) -> None:
        self.execute('DELETE FROM "quarantine" WHERE "source_id" = ?', [source_id])
        if path is None:
            return
        self.load_stage("quarantine", model.QUARANTINE, path)
        stage = q(stage_name("quarantine"))
        # Quarantine rows of a batch belong to its source, whatever the refused record said.
        self.execute(f'UPDATE {stage} SET "source_id" = ? WHERE "source_id" IS DISTINCT FROM ?',
                     [source_id, source_id])
        names = cols(model.QUARANTINE.names)
        self.execute(f'INSERT INTO "quarantine" ({names}) SELECT {names} FROM {stage}')

    def upsert_harvest_run(self, row: dict[str, Any]) -> None:
        names = model.HARVEST_RUNS.names
        self.execute('DELETE FROM "harvest_runs" WHERE "run_id" = ? AND "source_id" = ?',
                     [row["run_id"], row["source_id"]])
        self.execute(f'INSERT INTO "harvest_runs" ({cols(names)}) VALUES ({", ".join("?" for _ in names)})',
                     [row.get(n) for n in names])

    # ------------------------------------------------------------------ bookkeeping
    def published_batch(self, source_id: str, batch_id: str, fingerprint: str) -> dict | None:
        rows = self.fetchall(
            'SELECT "publish_id", "status", "added", "changed", "removed" FROM "published_batches" '
            'WHERE "source_id" = ? AND "batch_id" = ? AND "fingerprint" = ?',
            [source_id, batch_id, fingerprint])
        if not rows:
            return None
        publish_id, status, added, changed, removed = rows[0]
        return {"publish_id": publish_id, "status": status, "added": added, "changed": changed,
                "removed": removed}

    def record_batch(self, source_id: str, batch_id: str, fingerprint: str, publish_id: str,
                     status: str, totals: dict[str, int]) -> None:
        self.execute(
            'INSERT INTO "published_batches" ("source_id", "batch_id", "fingerprint", "publish_id", '
            '"status", "added", "changed", "removed") VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [source_id, batch_id, fingerprint, publish_id, status,
             totals["added"], totals["changed"], totals["removed"]])

    def record_publish(self, publish_id: str, published_at: datetime, batches: int) -> None:
        self.execute('INSERT INTO "publish_log" ("publish_id", "published_at", "batches") VALUES (?, ?, ?)',
                     [publish_id, published_at, batches])

    def last_publish_id(self) -> str | None:
        if not self.table_exists("publish_log"):
            return None
        return self.scalar('SELECT "publish_id" FROM "publish_log" '
                           'ORDER BY "published_at" DESC, "publish_id" DESC LIMIT 1')

    # ------------------------------------------------------------------ reading
    def counts_by_source(self, table: str, source_id: str | None = None) -> dict[str, int]:
        if not self.table_exists(table):
            return {}
        if source_id is None:
            rows = self.fetchall(f'SELECT "source_id", count(*) FROM {q(table)} GROUP BY "source_id"')
        else:
            rows = self.fetchall(f'SELECT "source_id", count(*) FROM {q(table)} WHERE "source_id" = ? '
                                 'GROUP BY "source_id"', [source_id])
        return {r[0]: int(r[1]) for r in rows}

    def latest_harvest_runs(self) -> list[dict[str, Any]]:
        """Per source the newest harvest_runs row, timestamps as ISO text."""
        if not self.table_exists("harvest_runs"):
            return []
        schema = model.HARVEST_RUNS
        exprs = [self.ts_text(q(f.name)) if pa.types.is_timestamp(f.type) else q(f.name) for f in schema]
        rows = self.fetchall(
            f"SELECT {', '.join(exprs)} FROM (SELECT *, row_number() OVER (PARTITION BY \"source_id\" "
            'ORDER BY "started_at" DESC NULLS LAST, "finished_at" DESC NULLS LAST, "run_id" DESC) AS rn '
            'FROM "harvest_runs") t WHERE rn = 1 ORDER BY "source_id"')
        return [dict(zip(schema.names, r)) for r in rows]
