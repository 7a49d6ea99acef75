"""The store behind the published inventory: the SQL both back-ends share.

A store holds the tables of ``model.ALL_TABLES`` (created from the Arrow schemas, the contract) plus
three bookkeeping tables of its own:

``schema_version``     one row per applied schema version (so later migrations know where they are);
``publish_log``        one row per publish that changed something (its id and time);
``published_batches``  every staging batch applied, with a fingerprint of its report, so a publish that
                       crashed after COMMIT but before it could mark the batch reports ``published`` is
                       reconciled on the next run instead of being applied twice.

History: the record tables hold the *current* records (what consumers query); every record table T
also has ``T_history`` (T's columns plus ``model.HISTORY_COLUMNS``) holding every published version,
and a view ``T_withdrawn`` of the tombstones (records withdrawn from a complete listing and not back
since). A batch is applied in three steps, all inside the publish transaction: ``diff`` finds the
keys added, changed or gone (a temporary table ``_delta_T``), ``record_versions`` writes them to
``changes`` and closes/opens versions in ``T_history``, ``apply`` brings T up to date. Rows whose
content is unchanged only get their new provenance in T, and no new version.

All SQL here is written with ``?`` placeholders and double-quoted identifiers (the model has columns
such as ``column`` and ``format``); the PostgreSQL store translates placeholders for psycopg.
Back-end specifics (connecting, bulk loading a Parquet file, exporting) live in the subclasses.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pyarrow as pa

from .. import model

log = logging.getLogger("inventory.publish")

# Bump together with an entry in MIGRATIONS when the store layout changes.
SCHEMA_VERSION = 3
MIGRATIONS: dict[int, str] = {
    1: "canonical tables of model.ALL_TABLES; publish_log; published_batches",
    2: "changes; <record table>_history (valid_from/valid_to, tombstones) and <record table>_withdrawn views",
    3: "record tables without a primary-key index where the store does not keep them (DuckDB)",
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
    "changes": ("changed_at", "source_id", "record_type", "change", "record_uid"),
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


def delta_name(table: str) -> str:
    return f"_delta_{table}"


def withdrawn_view(table: str) -> str:
    return f"{table}_withdrawn"


def content_columns(table: str) -> list[str]:
    """The columns whose change makes a new version: all but the key and the volatile provenance."""
    return [n for n in model.RECORD_TABLES[table].names
            if n != model.UID_COLUMN[table] and n not in VOLATILE_COLUMNS]


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
    # A primary key on every record table's uid. The publish keeps keys unique without it (a batch's
    # duplicate keys are collapsed in check_stage; apply deletes a key before inserting it again);
    # the index is a second guard, and what makes a lookup by uid cheap.
    record_key_indexes = True
    # table -> (source_id, complete, temporary table of the keys that are not unchanged (None: the
    # source had no rows, every staged row is added), counts by kind); set by ``diff``
    _deltas: dict[str, tuple[str, bool, str | None, dict[str, int]]]

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

    def stream(self, sql: str, size: int, params: Sequence[Any] | None = None) -> Iterator[list[tuple]]:
        """The rows of a query in batches of ``size``, without holding the whole result. Several
        streams may be open at once (the DCAT catalogue merges two); run them inside
        ``begin_snapshot()`` so they read one consistent state."""
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

    @contextmanager
    def reading_in_ranges(self) -> Iterator[None]:
        """Around a phase that reads the store a range at a time (the catalogue): an engine that
        keeps what the phases before cached may give that memory back for it. Nothing by default."""
        yield

    def lock(self) -> None:
        """Serialise publishers for the rest of the transaction (no-op where the engine does it)."""

    def load_stage(self, table: str, schema: pa.Schema, path: Path) -> int:
        """Bulk load a Parquet file into the temporary table ``_stage_<table>`` (replacing it)."""
        raise NotImplementedError

    def dedupe_stage(self, table: str, key: str) -> None:
        raise NotImplementedError

    def export_table(self, table: str, schema: pa.Schema, parquet_path: Path, csv_path: Path) -> None:
        raise NotImplementedError

    # Per table, an SQL condition the rows of a public export must meet (see ``publish.public``).
    export_filters: dict[str, str] = {}

    def export_from(self, table: str) -> str:
        """What an export of ``table`` reads: the table, or only its rows that meet its export filter."""
        where = self.export_filters.get(table)
        return q(table) if not where else f"(SELECT * FROM {q(table)} WHERE {where}) AS {q(table)}"

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

    def regex_test(self, expr: str, pattern: str) -> str:
        """SQL true when the regular expression ``pattern`` matches somewhere in ``expr``."""
        raise NotImplementedError

    def regex_first(self, expr: str, pattern: str) -> str:
        """SQL giving the first match of ``pattern`` in ``expr`` (NULL when none)."""
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

    def table_key(self, table: str) -> tuple[str, ...]:
        """The primary key ``table`` is created with: none for a record table in a store without
        record key indexes (``record_key_indexes``)."""
        if table in model.UID_COLUMN and not self.record_key_indexes:
            return ()
        return PRIMARY_KEYS.get(table, ())

    def drop_record_key_indexes(self) -> None:
        """Remove the primary keys of record tables made when this store kept them (a migration)."""
        raise NotImplementedError(f"{type(self).__name__} keeps its record tables' primary keys")

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
            if not self.record_key_indexes:
                self.drop_record_key_indexes()
            for table, schema in model.ALL_TABLES.items():
                self.execute(self.create_table_sql(table, schema, self.table_key(table)))
                present = set(self.table_columns(table))
                for field in schema:
                    if field.name not in present:  # additive change of the model: add the column
                        log.info("store: adding column %s.%s", table, field.name)
                        self.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(field.name)} "
                                     f"{self.sql_type(field.type)}")
                if self.secondary_indexes and "source_id" in schema.names:
                    self.execute(f"CREATE INDEX IF NOT EXISTS {q(f'ix_{table}_source_id')} "
                                 f"ON {q(table)} ({q('source_id')})")
            for table in model.RECORD_TABLES:
                self._ensure_history(table)
            for table, schema in model.DERIVED_TABLES.items():
                self.execute(self.create_table_sql(table, schema, model.DERIVED_KEYS[table]))
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self.execute('INSERT INTO "schema_version" ("version", "description", "applied_at") '
                             "VALUES (?, ?, CURRENT_TIMESTAMP)", [version, MIGRATIONS[version]])
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def _ensure_history(self, table: str) -> None:
        """``T_history`` (created from T's current rows when it is new, so a store published before
        history existed starts with one open version per record) and the ``T_withdrawn`` view."""
        hist, schema = model.history_table(table), model.history_schema(table)
        uid = model.UID_COLUMN[table]
        new = not self.table_exists(hist)
        self.execute(self.create_table_sql(hist, schema))
        present = set(self.table_columns(hist))
        for field in schema:
            if field.name not in present:
                self.execute(f"ALTER TABLE {q(hist)} ADD COLUMN {q(field.name)} {self.sql_type(field.type)}")
        if self.secondary_indexes:
            self.execute(f"CREATE INDEX IF NOT EXISTS {q(f'ix_{hist}_uid')} ON {q(hist)} ({q(uid)}, {q('valid_to')})")
        if new:
            names = cols(model.RECORD_TABLES[table].names)
            self.execute(f'INSERT INTO {q(hist)} ({names}, "valid_from") '
                         f'SELECT {names}, coalesce("harvested_at", CURRENT_TIMESTAMP) FROM {q(table)}')
        view = q(withdrawn_view(table))
        # Re-created every time: a view's column list is fixed when it is created.
        self.execute(f"DROP VIEW IF EXISTS {view}")
        self.execute(
            f"CREATE VIEW {view} AS SELECT h.* FROM {q(hist)} h WHERE h.\"withdrawn_run_id\" IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {q(table)} t WHERE t.{q(uid)} = h.{q(uid)}) "
            f"AND NOT EXISTS (SELECT 1 FROM {q(hist)} later WHERE later.{q(uid)} = h.{q(uid)} "
            f"AND later.\"valid_from\" > h.\"valid_from\")")

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
        """added / changed / removed of the staged rows against the source's published rows.

        Keeps the keys that are not unchanged in ``_delta_<table>`` (u, kind) for ``record_versions``
        and ``apply``; when the source has no rows yet every staged row is added and no delta is made.
        """
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        published = int(self.scalar(f'SELECT count(*) FROM {main} WHERE "source_id" = ?', [source_id]))
        if published == 0:
            counts = {"added": self._staged_count(table), "changed": 0, "removed": 0}
            self._deltas[table] = (source_id, complete, None, counts)
            return dict(counts)
        delta = delta_name(table)
        self.execute(f"DROP TABLE IF EXISTS {q(delta)}")
        self.execute(f"CREATE TEMPORARY TABLE {q(delta)} (u {self.TEXT}, kind {self.TEXT})")
        self._fill_delta(table, source_id, complete, delta)
        found = dict(self.fetchall(f"SELECT kind, count(*) FROM {q(delta)} GROUP BY kind"))
        counts = {k: int(found.get(k, 0)) for k in ("added", "changed", "removed")}
        self._deltas[table] = (source_id, complete, delta, counts)
        return dict(counts)

    def _staged_count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {q(stage_name(table))}"))

    def _fill_delta(self, table: str, source_id: str, complete: bool, delta: str) -> None:
        """Column by column comparison (``IS DISTINCT FROM``) of the staged and the published rows."""
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        differs = " OR ".join(f"s.{q(c)} IS DISTINCT FROM m.{q(c)}" for c in content_columns(table))
        self.execute(
            f"INSERT INTO {q(delta)} (u, kind) SELECT s.{uid}, CASE WHEN m.{uid} IS NULL THEN 'added' "
            f"ELSE 'changed' END FROM {stage} s LEFT JOIN {main} m ON m.{uid} = s.{uid} AND m.\"source_id\" = ? "
            f"WHERE m.{uid} IS NULL OR {differs}", [source_id])
        if complete:
            self.execute(
                f"INSERT INTO {q(delta)} (u, kind) SELECT m.{uid}, 'removed' FROM {main} m "
                f'WHERE m."source_id" = ? AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.{uid} = m.{uid})',
                [source_id])

    def _delta(self, table: str, source_id: str, complete: bool) -> tuple[str | None, dict[str, int]]:
        if self._deltas.get(table, (None, None))[:2] != (source_id, complete):
            self.diff(table, source_id, complete)
        _, _, delta, counts = self._deltas[table]
        return delta, counts

    def changed_fields(self, names: list[str]) -> str:
        """SQL: the list of ``names`` whose staged value (``s``) differs from the published one (``m``)."""
        raise NotImplementedError

    def record_versions(self, table: str, source_id: str, complete: bool, *, run_id: str, publish_id: str,
                        at: datetime) -> None:
        """Write the diff's changes to ``changes`` and to ``<table>_history``: a changed or withdrawn
        record's open version is closed at ``at`` (a withdrawal marks it with ``run_id``), an added or
        changed record gets a new open version. Call after ``diff`` and before ``apply``."""
        delta, counts = self._delta(table, source_id, complete)
        if not any(counts.values()):
            return
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        hist = q(model.history_table(table))
        names = cols(model.RECORD_TABLES[table].names)
        change_cols = cols(model.CHANGES.names)
        version_cols = f'{names}, "valid_from", "publish_id"'
        if delta is None:  # the source's first rows: all added
            self.execute(
                f"INSERT INTO \"changes\" ({change_cols}) SELECT ?, ?, ?, {uid}, \"source_record_id\", 'added', "
                f"CAST(NULL AS {self.TEXT_LIST}), ?, ? FROM {stage}", [run_id, source_id, table, publish_id, at])
            if self.scalar(f"SELECT count(*) FROM {main}"):  # a key another source holds moves here
                self.execute(f'UPDATE {hist} SET "valid_to" = ? WHERE "valid_to" IS NULL AND {uid} IN '
                             f"(SELECT {uid} FROM {stage})", [at])
            self.execute(f"INSERT INTO {hist} ({version_cols}) SELECT {names}, ?, ? FROM {stage}", [at, publish_id])
            return
        d = q(delta)
        fields = self.changed_fields(content_columns(table))
        self.execute(
            f"INSERT INTO \"changes\" ({change_cols}) SELECT ?, ?, ?, d.u, "
            f'coalesce(s."source_record_id", m."source_record_id"), '
            f"CASE d.kind WHEN 'removed' THEN 'withdrawn' ELSE d.kind END, "
            f"CASE WHEN d.kind = 'changed' THEN {fields} END, ?, ? "
            f"FROM {d} d LEFT JOIN {stage} s ON s.{uid} = d.u "
            f'LEFT JOIN {main} m ON m.{uid} = d.u AND m."source_id" = ?',
            [run_id, source_id, table, publish_id, at, source_id])
        # Close the open version of every changed and withdrawn record, and of an "added" key another
        # source held until now (a record that moved catalogue); only a withdrawal leaves a tombstone.
        self.execute(
            f'UPDATE {hist} SET "valid_to" = ?, "withdrawn_run_id" = CASE WHEN {uid} IN '
            f"(SELECT u FROM {d} WHERE kind = 'removed') THEN ? END "
            f'WHERE "valid_to" IS NULL AND {uid} IN (SELECT u FROM {d})', [at, run_id])
        if counts["added"] or counts["changed"]:
            self.execute(f"INSERT INTO {hist} ({version_cols}) SELECT {names}, ?, ? FROM {stage} "
                         f"WHERE {uid} IN (SELECT u FROM {d} WHERE kind <> 'removed')", [at, publish_id])

    def apply(self, table: str, source_id: str, complete: bool) -> None:
        """complete: the source's rows become the staged ones; partial: upsert the staged rows.

        Touches only what changed: rows added, changed or gone are inserted or deleted; unchanged rows
        only get their new provenance (``harvested_at``, ``run_id``, ``raw_sha256``)."""
        delta, counts = self._delta(table, source_id, complete)
        self._deltas.pop(table)
        stage, main, uid = q(stage_name(table)), q(table), q(model.UID_COLUMN[table])
        names = cols(model.RECORD_TABLES[table].names)
        if delta is None:  # the source's first rows: one bulk insert
            if self.scalar(f"SELECT count(*) FROM {main}"):  # a key another source holds goes
                self.execute(f"DELETE FROM {main} WHERE {uid} IN (SELECT {uid} FROM {stage})")
            self.execute(f"INSERT INTO {main} ({names}) SELECT {names} FROM {stage}")
            return
        volatile = [n for n in model.RECORD_TABLES[table].names if n in VOLATILE_COLUMNS]
        if volatile:
            self.execute(
                f"UPDATE {main} AS m SET {', '.join(f'{q(c)} = s.{q(c)}' for c in volatile)} "
                f"FROM (SELECT {cols([model.UID_COLUMN[table], *volatile])} FROM {stage}) AS s "
                f'WHERE m.{uid} = s.{uid} AND m."source_id" = ? '
                f"AND m.{uid} NOT IN (SELECT u FROM {q(delta)})", [source_id])
        # Changed and removed rows go, and a key of an added row that another source holds.
        if any(counts.values()):
            self.execute(f"DELETE FROM {main} WHERE {uid} IN (SELECT u FROM {q(delta)})")
        if counts["added"] or counts["changed"]:
            self.execute(f"INSERT INTO {main} ({names}) SELECT {names} FROM {stage} "
                         f"WHERE {uid} IN (SELECT u FROM {q(delta)} WHERE kind <> 'removed')")
        self.execute(f"DROP TABLE {q(delta)}")

    def discard_delta(self, table: str) -> None:
        """Forget a diff that will not be applied (a held batch)."""
        entry = self._deltas.pop(table, None)
        if entry and entry[2]:
            self.execute(f"DROP TABLE IF EXISTS {q(entry[2])}")

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

    def change_count(self, tables: Sequence[str]) -> int:
        """Rows of ``changes`` about records of ``tables``. The log only grows (a change is never
        deleted), so the same count in a later snapshot means that no such record was added, changed
        or withdrawn in between, whatever order the publishes committed in."""
        if not self.table_exists("changes"):
            return 0
        marks = ", ".join("?" for _ in tables)
        return int(self.scalar(f'SELECT count(*) FROM "changes" WHERE "record_type" IN ({marks})', list(tables)) or 0)

    def knows_publish(self, publish_id: str | None) -> bool:
        """Whether ``publish_id`` is in this store's ``publish_log`` (not so for another store)."""
        if not publish_id or not self.table_exists("publish_log"):
            return False
        return bool(self.scalar('SELECT count(*) FROM "publish_log" WHERE "publish_id" = ?', [publish_id]))

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
