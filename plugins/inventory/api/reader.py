"""Read-only queries on the published inventory, for the API and the Inventory page.

Only the published store is read (DuckDB opened read-only, or PostgreSQL in a read-only session),
never staging. Tables another part of the project adds later (``data_services``, the quality scores,
the history and change log) are used when they exist and read as empty when they do not, so the
API works on every inventory, old or new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator, Sequence

from .. import settings
from ..publish import public
from ..publish.store import Store, cols, q

DUCKDB_LOCK_WAIT_S = 5.0


class StoreUnavailable(RuntimeError):
    """The published store cannot be read right now (not published yet, or being written)."""


def open_read_only() -> Store:
    kind = settings.store_kind()
    if kind == "duckdb":
        import duckdb

        from ..publish.duckdb_store import DuckDBStore

        if not settings.duckdb_path().exists():
            raise StoreUnavailable("nothing has been published yet: run the publish_inventory DAG (or `inventory run`)")
        try:
            return DuckDBStore(read_only=True, lock_timeout=DUCKDB_LOCK_WAIT_S)
        except duckdb.IOException as exc:
            raise StoreUnavailable(f"the inventory is being published right now; try again in a minute ({exc})") from exc
    from ..publish.postgres_store import PostgresStore

    store = PostgresStore()
    store.execute("SET default_transaction_read_only = on")
    return store


@dataclass(frozen=True)
class Kind:
    """One kind of record the API serves."""

    table: str
    uid: str
    path: str  # URL path segment
    text: tuple[str, ...]  # columns searched by ``q``
    publisher: tuple[str, ...]  # columns matched by ``publisher``
    status: str | None  # column matched by ``status``
    theme: str | None  # list column matched by ``theme``
    modified: str | None  # the source's own modification date (ISO text), for ``modified_since``
    order: tuple[str, ...]


KINDS = {
    "datasets": Kind("datasets", "dataset_uid", "datasets", ("title", "description", "identifier"),
                     ("publisher", "publisher_uri"), None, "theme", "modified", ("title", "dataset_uid")),
    "data_services": Kind("data_services", "service_uid", "data-services", ("title", "description"),
                          ("publisher", "publisher_uri"), "lifecycle_status", None, None,
                          ("title", "service_uid")),
    "algorithms": Kind("algorithms", "algorithm_uid", "algorithms", ("name", "description_short", "goal"),
                       ("organization",), "status", None, None, ("name", "algorithm_uid")),
}
RATINGS = ("Excellent", "Good", "Sufficient", "Bad")
# The per-dataset quality scores (``inventory.quality.score``).
QUALITY_TABLES = ("quality_scores",)
HISTORY_SUFFIX = "_history"


def jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


class Reader:
    """Queries over one open read-only store."""

    def __init__(self, store: Store):
        self.store = store
        self._tables: dict[str, list[str]] = {}
        # The API is public: what the public exports leave out (non-public records), it leaves out too.
        self.filters = public.export_filters(store)

    def src(self, table: str, alias: str = "t") -> str:
        """``table AS alias``, only its public rows."""
        where = self.filters.get(table)
        return f"(SELECT * FROM {q(table)} WHERE {where}) {alias}" if where else f"{q(table)} {alias}"

    # -------------------------------------------------------------------- what is there
    def columns(self, table: str) -> list[str]:
        if table not in self._tables:
            self._tables[table] = self.store.table_columns(table) if self.store.table_exists(table) else []
        return self._tables[table]

    def has(self, table: str) -> bool:
        return bool(self.columns(table))

    def quality_table(self) -> str | None:
        for name in QUALITY_TABLES:
            if self.has(name) and "dataset_uid" in self.columns(name):
                return name
        return None

    def rows(self, names: Sequence[str], sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """``SELECT <names> <sql>`` as JSON-able dicts (names are columns of the table aliased ``t``)."""
        found = self.store.fetchall(f"SELECT {cols(names, 't.')} {sql}", list(params))
        return [jsonable(dict(zip(names, r))) for r in found]

    # -------------------------------------------------------------------- filters
    def list_has(self, column: str) -> str:
        return f"list_contains({column}, ?)" if self.store.kind == "duckdb" else f"? = ANY({column})"

    def where(self, kind: Kind, *, q_text: str | None, publisher: str | None, theme: str | None,
              rating: str | None, status: str | None, changed_since: str | None,
              source: str | None, modified_since: str | None = None) -> tuple[str, list[Any]]:
        conds, params = ["TRUE"], []
        present = set(self.columns(kind.table))
        if q_text:
            searched = [c for c in kind.text if c in present]
            conds.append("(" + " OR ".join(f"t.{q(c)} ILIKE ?" for c in searched) + ")")
            params += [f"%{q_text}%"] * len(searched)
        if publisher:
            matched = [c for c in kind.publisher if c in present]
            conds.append("(" + " OR ".join(f"lower(t.{q(c)}) = lower(?)" for c in matched) + ")")
            params += [publisher] * len(matched)
        if theme and kind.theme in present:
            conds.append(self.list_has(f"t.{q(kind.theme)}"))
            params.append(theme)
        if status and kind.status in present:
            conds.append(f"lower(t.{q(kind.status)}) = lower(?)")
            params.append(status)
        if changed_since:
            # Changed in the inventory: a version published since then (the history), else, in a
            # store without history, harvested since then.
            history = self._history_table(kind)
            if history:
                conds.append(f"t.{q(kind.uid)} IN (SELECT {q(kind.uid)} FROM {q(history)} WHERE "
                             f"{q('valid_from')} >= CAST(? AS TIMESTAMPTZ))")
            else:
                conds.append(f"t.{q('harvested_at')} >= CAST(? AS TIMESTAMPTZ)")
            params.append(changed_since)
        if modified_since and kind.modified in present:
            conds.append(f"t.{q(kind.modified)} >= ?")  # ISO dates and date-times compare as text
            params.append(modified_since)
        if source:
            conds.append("t.source_id = ?")
            params.append(source)
        if rating:
            quality = self.quality_table() if kind.table == "datasets" else None
            if quality is None:
                conds.append("FALSE")  # no scores yet: nothing has this rating
            else:
                conds.append(f"t.dataset_uid IN (SELECT dataset_uid FROM {q(quality)} WHERE lower(rating) = lower(?))")
                params.append(rating)
        return " AND ".join(conds), params

    def _history_table(self, kind: Kind) -> str | None:
        name = kind.table + HISTORY_SUFFIX
        return name if self.has(name) and "valid_from" in self.columns(name) and kind.uid in self.columns(name) else None

    # -------------------------------------------------------------------- lists and records
    def search(self, kind: Kind, page: int, per_page: int, **filters: Any) -> dict[str, Any]:
        if not self.has(kind.table):
            return {"items": [], "total": 0}
        where, params = self.where(kind, **filters)
        table = self.src(kind.table)
        total = int(self.store.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params) or 0)
        names = self.columns(kind.table)
        order = ", ".join(f"t.{q(c)}" for c in kind.order if c in names)
        items = self.rows(names, f"FROM {table} WHERE {where} ORDER BY {order} "
                          f"LIMIT {int(per_page)} OFFSET {int((page - 1) * per_page)}", params)
        return {"items": items, "total": total}

    def stream_csv(self, kind: Kind, **filters: Any) -> Iterator[str]:
        """Every matching record as CSV (lists as JSON arrays), streamed from the store."""
        import csv
        import io

        names = self.columns(kind.table)
        where, params = self.where(kind, **filters)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        yield buffer.getvalue()
        for batch in self.store.stream(f"SELECT {cols(names, 't.')} FROM {self.src(kind.table)} WHERE {where} "
                                       f"ORDER BY t.{q(kind.uid)}", 2000, params):
            buffer.seek(0)
            buffer.truncate()
            for row in batch:
                writer.writerow([json.dumps(jsonable(v), ensure_ascii=False) if isinstance(v, (list, tuple))
                                 else "" if v is None else jsonable(v) for v in row])
            yield buffer.getvalue()

    def record(self, kind: Kind, uid: str) -> dict[str, Any] | None:
        if not self.has(kind.table):
            return None
        names = self.columns(kind.table)
        found = self.rows(names, f"FROM {self.src(kind.table)} WHERE t.{q(kind.uid)} = ?", [uid])
        if not found:
            return None
        out: dict[str, Any] = {"record": found[0], "history": self.history(kind, uid)}
        if kind.table == "datasets":
            out["distributions"] = self.related("distributions", "dataset_uid", uid)
            out["cluster"] = self.cluster(uid)
            out["quality"] = self.quality(uid)
            out["algorithms"] = self.related("algorithm_datasets", "dataset_uid", uid)
        if kind.table == "algorithms":
            out["datasets"] = self.related("algorithm_datasets", "algorithm_uid", uid)
        return out

    def related(self, table: str, key: str, uid: str) -> list[dict[str, Any]]:
        names = self.columns(table)
        if not names:
            return []
        return self.rows(names, f"FROM {self.src(table)} WHERE t.{q(key)} = ? ORDER BY {cols(names[:1], 't.')}", [uid])

    def cluster(self, uid: str) -> list[dict[str, Any]]:
        """The other records of the same dataset, harvested through other catalogues."""
        if not self.has("dataset_clusters"):
            return []
        return self.rows(
            ["dataset_uid", "source_id", "matched_by"],
            f"FROM {self.src('dataset_clusters')} WHERE t.cluster_id = "
            "(SELECT cluster_id FROM dataset_clusters WHERE dataset_uid = ?) AND t.dataset_uid <> ? "
            "ORDER BY t.dataset_uid", [uid, uid])

    def quality(self, uid: str) -> dict[str, Any] | None:
        table = self.quality_table()
        if table is None:
            return None
        found = self.rows(self.columns(table), f"FROM {q(table)} t WHERE t.dataset_uid = ?", [uid])
        return found[0] if found else None

    def history(self, kind: Kind, uid: str) -> list[dict[str, Any]]:
        """Every published version of the record (newest first) when the store keeps history; else the
        harvest runs of its source that touched the store since (what is known)."""
        table = self._history_table(kind)
        if table:
            names = self.columns(table)
            return self.rows(names, f"FROM {q(table)} t WHERE t.{q(kind.uid)} = ? "
                             f"ORDER BY t.{q('valid_from')} DESC", [uid])
        if self.has("changes") and "record_uid" in self.columns("changes"):
            names = self.columns("changes")
            return self.rows(names, f"FROM changes t WHERE t.record_uid = ? ORDER BY {cols(names[:1], 't.')} DESC",
                             [uid])
        return []

    # -------------------------------------------------------------------- the overview
    def summary(self) -> dict[str, Any]:
        """Counts per source and type (of everything the store holds: the data team's view), how many
        of them are non-public (left out of the API and the exports), last run per source, quality
        ratings, latest changes."""
        tables = [t for t in ("datasets", "distributions", "data_services", "algorithms") if self.has(t)]
        counts: dict[str, dict[str, int]] = {}
        for table in tables:
            for source, n in self.store.counts_by_source(table).items():
                counts.setdefault(source, {t: 0 for t in tables})[table] = n
        for source, n in self.store.counts_by_source("quarantine").items():
            counts.setdefault(source, {t: 0 for t in tables})["quarantined"] = n
        runs = {r["source_id"]: r for r in self.store.latest_harvest_runs()}
        sources = []
        for source in sorted(set(counts) | set(runs)):
            run = runs.get(source) or {}
            sources.append({"source_id": source, "counts": {t: counts.get(source, {}).get(t, 0) for t in tables},
                            "quarantined": counts.get(source, {}).get("quarantined", 0),
                            "last_run": {k: run.get(k) for k in ("run_id", "kind", "status", "started_at", "finished_at",
                                                                  "added", "changed", "removed", "message")} if run else None})
        totals = {t: sum(s["counts"][t] for s in sources) for t in tables}
        ratings = None
        quality = self.quality_table()
        if quality and "rating" in self.columns(quality):
            found = dict(self.store.fetchall(f"SELECT rating, count(*) FROM {q(quality)} GROUP BY rating"))
            ratings = {r: int(found.get(r, 0)) for r in RATINGS}
        non_public = {t: int(self.store.scalar(f"SELECT count(*) FROM {q(t)} WHERE NOT ({w})") or 0)
                      for t, w in self.filters.items() if t in ("datasets", "data_services")}
        return {"totals": totals, "non_public": non_public, "sources": sources, "ratings": ratings,
                "changes": self.latest_changes(),
                "clusters": self._clusters(), "publish_id": self.store.last_publish_id()}

    def _clusters(self) -> dict[str, int] | None:
        if not self.has("dataset_clusters"):
            return None
        row = self.store.fetchall("SELECT count(DISTINCT cluster_id), count(*) FROM dataset_clusters WHERE cluster_size > 1")
        return {"clusters": int(row[0][0] or 0), "datasets": int(row[0][1] or 0)}

    def latest_changes(self, limit: int = 20) -> list[dict[str, Any]]:
        """The change log's newest entries when the store keeps one; else the newest runs' counts."""
        if self.has("changes"):
            names = self.columns("changes")
            order = next((c for c in ("changed_at", "published_at", "valid_from", "run_id") if c in names), names[0])
            return self.rows(names, f"FROM changes t ORDER BY t.{q(order)} DESC LIMIT {int(limit)}")
        names = ["source_id", "run_id", "status", "finished_at", "added", "changed", "removed"]
        rows = self.store.fetchall(
            f"SELECT {cols(names[:3])}, {self.store.ts_text(q('finished_at'))}, {cols(names[4:])} FROM harvest_runs "
            f"ORDER BY {q('finished_at')} DESC NULLS LAST LIMIT {int(limit)}") if self.has("harvest_runs") else []
        return [dict(zip(names, r)) for r in rows]
