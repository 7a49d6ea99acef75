"""The shared store: PostgreSQL, reached through the Airflow connection ``inventory_db``.

The connection is resolved at call time (never at import): first ``AIRFLOW_CONN_INVENTORY_DB`` from the
environment (Airflow URI ``postgresql://user:pass@host:port/db?sslmode=require`` or ``postgres://…``,
or Airflow's JSON form ``{"conn_type": "postgres", "host": …, "login": …, "password": …,
"schema": "<database>", "port": 5432, "extra": {…}}``), else Airflow's own lookup
(``airflow.sdk.BaseHook.get_connection``: metadata DB, secrets backends). The password is never logged
nor shown: ``location()`` and ``repr`` leave it out.

Bulk loads stream the Parquet file in record batches into ``COPY … FROM STDIN (FORMAT BINARY)``, and
exports stream ``COPY … TO STDOUT`` into a Parquet writer and a CSV file, so memory stays bounded
whatever the size of a table.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .store import EXPORT_ORDER, Store, cols, is_string_list, q, stage_name

log = logging.getLogger("inventory.publish")

CONN_ID = "inventory_db"
ENV_VAR = "AIRFLOW_CONN_" + CONN_ID.upper()
COPY_BATCH_ROWS = 10_000  # rows per Parquet record batch streamed into COPY / per export batch
LOCK_KEY = 0x1F0_7E11_0001  # pg_advisory_xact_lock key that serialises publishers
CONNECT_TIMEOUT_S = 10

# libpq parameters that may come through the connection's extras; Airflow-only extras are ignored.
LIBPQ_OPTIONS = frozenset({
    "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "sslcompression",
    "connect_timeout", "application_name", "options", "target_session_attrs", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
    "gssencmode", "krbsrvname", "channel_binding", "client_encoding", "passfile", "service",
    "hostaddr", "load_balance_hosts", "requiressl",
})


class StoreConfigError(RuntimeError):
    """The store cannot be reached because it is not configured (or not reachable)."""


@dataclass
class PgConnInfo:
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    dbname: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    origin: str = ENV_VAR

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
        for key, value in self.options.items():
            if key in LIBPQ_OPTIONS and value is not None:
                kwargs[key] = value
            elif key not in LIBPQ_OPTIONS:
                log.debug("connection %s: ignoring extra %r (not a libpq parameter)", CONN_ID, key)
        for key, value in (("host", self.host), ("port", self.port), ("user", self.user),
                           ("password", self.password), ("dbname", self.dbname)):
            if value not in (None, ""):
                kwargs[key] = value
        return kwargs

    def location(self) -> str:
        """``postgresql://user@host:port/db`` without the password."""
        user = quote(self.user, safe="") + "@" if self.user else ""
        host = self.host or "localhost"
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{host}{port}/{self.dbname or ''}"


def _extras(value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise StoreConfigError(f"connection {CONN_ID!r}: extra must be a JSON object")
    return dict(value)


def parse_airflow_uri(uri: str, origin: str = ENV_VAR) -> PgConnInfo:
    """Airflow's connection URI form, as ``airflow.models.Connection`` parses it."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower().replace("-", "_")
    if scheme not in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        raise StoreConfigError(f"connection {CONN_ID!r} ({origin}) is not a PostgreSQL connection "
                               f"(scheme {parts.scheme!r})")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    options = _extras(query.pop("__extra__")) if "__extra__" in query else query
    try:
        port = parts.port
    except ValueError as exc:
        raise StoreConfigError(f"connection {CONN_ID!r} ({origin}): bad port") from exc
    return PgConnInfo(
        host=unquote(parts.hostname) if parts.hostname else None,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        dbname=unquote(parts.path[1:]) if parts.path and len(parts.path) > 1 else None,
        options=options,
        origin=origin,
    )


def parse_airflow_json(text: str, origin: str = ENV_VAR) -> PgConnInfo:
    """Airflow's JSON connection form."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreConfigError(f"connection {CONN_ID!r} ({origin}) is not valid JSON") from exc
    if data.get("uri"):
        return parse_airflow_uri(data["uri"], origin)
    conn_type = (data.get("conn_type") or "postgres").lower()
    if conn_type not in ("postgres", "postgresql"):
        raise StoreConfigError(f"connection {CONN_ID!r} ({origin}) has conn_type {conn_type!r}, "
                               "not postgres")
    return PgConnInfo(
        host=data.get("host"),
        port=int(data["port"]) if data.get("port") not in (None, "") else None,
        user=data.get("login"),
        password=data.get("password"),
        dbname=data.get("schema"),
        options=_extras(data.get("extra")),
        origin=origin,
    )


def _airflow_connection(conn_id: str) -> Any:
    """Airflow's lookup (metadata DB, secrets backends). Imported here, never at module import."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def resolve_connection() -> PgConnInfo:
    """The ``inventory_db`` connection: environment first, then Airflow."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw:
        if raw.startswith("{"):
            return parse_airflow_json(raw)
        return parse_airflow_uri(raw)
    try:
        conn = _airflow_connection(CONN_ID)
    except Exception as exc:  # ImportError, AirflowNotFoundException, no task context, ...
        raise StoreConfigError(
            f"INVENTORY_STORE=postgres needs the Airflow connection {CONN_ID!r}, which is not available "
            f"({type(exc).__name__}: {exc}). Set {ENV_VAR}=postgresql://user:password@host:5432/database "
            f"or add the connection {CONN_ID!r} in Airflow.") from None
    if (conn.conn_type or "postgres").lower() not in ("postgres", "postgresql"):
        raise StoreConfigError(f"Airflow connection {CONN_ID!r} has conn_type {conn.conn_type!r}, not postgres")
    extra = getattr(conn, "extra_dejson", None) or {}
    return PgConnInfo(host=conn.host, port=conn.port, user=conn.login, password=conn.password,
                      dbname=conn.schema, options=dict(extra), origin=f"Airflow connection {CONN_ID}")


# ---------------------------------------------------------------------------------------------------
def _pg_type_name(dt: pa.DataType) -> str:
    """psycopg type names for binary COPY."""
    if pa.types.is_string(dt) or pa.types.is_large_string(dt):
        return "text"
    if is_string_list(dt):
        return "text[]"
    if pa.types.is_timestamp(dt):
        return "timestamptz"
    if pa.types.is_integer(dt):
        return "int8"
    if pa.types.is_floating(dt):
        return "float8"
    if pa.types.is_boolean(dt):
        return "bool"
    raise TypeError(f"no PostgreSQL COPY type for Arrow type {dt}")


def _parquet_rows(path: Path, schema: pa.Schema, batch_rows: int) -> Iterator[tuple]:
    """Rows of a Parquet file in ``schema``'s column order, one record batch in memory at a time."""
    pf = pq.ParquetFile(path)
    present = [n for n in schema.names if n in set(pf.schema_arrow.names)]
    for batch in pf.iter_batches(batch_size=batch_rows, columns=present):
        columns = []
        for f in schema:
            if f.name in present:
                arr = batch.column(batch.schema.get_field_index(f.name))
                if not arr.type.equals(f.type):
                    arr = pc.cast(arr, f.type, safe=False)
                columns.append(arr.to_pylist())
            else:
                columns.append([None] * batch.num_rows)
        yield from zip(*columns)


class PostgresStore(Store):
    kind = "postgres"

    def __init__(self, conn_info: PgConnInfo | None = None):
        self.info = conn_info or resolve_connection()
        try:
            self.con = psycopg.connect(**self.info.connect_kwargs(), autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreConfigError(
                f"cannot connect to the PostgreSQL store {self.info.location()} "
                f"({self.info.origin}): {str(exc).strip()}") from None
        self.con.execute("SET TIME ZONE 'UTC'")
        self._deltas = {}

    def close(self) -> None:
        self.con.close()

    def location(self) -> str:
        return self.info.location()

    @staticmethod
    def _sql(sql: str, params: Sequence[Any] | None) -> str:
        if not params:
            return sql
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(self._sql(sql, params), list(params) if params else None)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(self._sql(sql, params), list(params) if params else None).fetchall()

    def stream(self, sql: str, size: int, params: Sequence[Any] | None = None) -> Iterator[list[tuple]]:
        # A server-side cursor (inside the caller's transaction): rows come over in batches.
        self._streams = getattr(self, "_streams", 0) + 1
        with self.con.cursor(name=f"inventory_stream_{self._streams}") as cursor:
            cursor.itersize = size
            cursor.execute(self._sql(sql, params), list(params) if params else None)
            while batch := cursor.fetchmany(size):
                yield batch

    def begin_snapshot(self) -> None:
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def rollback(self) -> None:
        if self.con.closed:
            return
        self.con.execute("ROLLBACK")  # a no-op with a warning when no transaction is open
        self._deltas.clear()  # the temporary tables of the transaction are gone with it

    def lock(self) -> None:
        self.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")

    def ts_text(self, expr: str) -> str:
        return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

    def regex_test(self, expr: str, pattern: str) -> str:
        return "(" + expr + " ~ '" + pattern.replace("'", "''") + "')"

    def regex_first(self, expr: str, pattern: str) -> str:
        return "substring(" + expr + " from '" + pattern.replace("'", "''") + "')"

    def list_json(self, expr: str) -> str:
        return f"to_json({expr})::text"

    def load_stage(self, table: str, schema: pa.Schema, path: Path) -> int:
        stage = q(stage_name(table))
        self.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
        self.execute(self.create_table_sql(stage_name(table), schema, temporary=True))
        types = [_pg_type_name(f.type) for f in schema]
        rows = 0
        with self.con.cursor() as cur:
            with cur.copy(f"COPY {stage} ({cols(schema.names)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in _parquet_rows(path, schema, COPY_BATCH_ROWS):
                    copy.write_row(row)
                    rows += 1
        self.execute(f"ANALYZE {stage}")
        return rows

    def changed_fields(self, names: list[str]) -> str:
        cases = ", ".join(f"CASE WHEN s.{q(n)} IS DISTINCT FROM m.{q(n)} THEN '{n}' END" for n in names)
        return f"array_remove(ARRAY[{cases}]::text[], NULL)"

    def dedupe_stage(self, table: str, key: str) -> None:
        stage = q(stage_name(table))
        self.execute(f"DELETE FROM {stage} a USING {stage} b WHERE a.{q(key)} = b.{q(key)} "
                     "AND a.ctid < b.ctid")

    def export_table(self, table: str, schema: pa.Schema, parquet_path: Path, csv_path: Path) -> None:
        order = cols(EXPORT_ORDER.get(table, ()))
        order_by = f" ORDER BY {order}" if order else ""
        types = [_pg_type_name(f.type) for f in schema]
        with self.con.cursor() as cur:
            with pq.ParquetWriter(parquet_path, schema, compression="zstd") as writer:
                with cur.copy(f"COPY (SELECT {cols(schema.names)} FROM {self.export_from(table)}{order_by}) "
                              "TO STDOUT (FORMAT BINARY)") as copy:
                    copy.set_types(types)
                    buffer: list[tuple] = []
                    for row in copy.rows():
                        buffer.append(row)
                        if len(buffer) >= COPY_BATCH_ROWS:
                            writer.write_batch(_record_batch(buffer, schema))
                            buffer.clear()
                    if buffer:
                        writer.write_batch(_record_batch(buffer, schema))
            csv_cols = ", ".join(self.csv_expr(f.name, f.type) for f in schema)
            with open(csv_path, "wb") as out:
                with cur.copy(f"COPY (SELECT {csv_cols} FROM {self.export_from(table)}{order_by}) "
                              "TO STDOUT (FORMAT CSV, HEADER)") as copy:
                    for chunk in copy:
                        out.write(chunk)


def _record_batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows))
    return pa.RecordBatch.from_arrays(
        [pa.array(list(col), type=f.type) for col, f in zip(columns, schema)], schema=schema)
