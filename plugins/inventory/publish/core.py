"""Publish validated staging batches into the store, atomically, then export the inventory.

One publish is one store transaction: every selected batch is applied inside it, oldest first, and any
error rolls the whole publish back, so readers keep the previous inventory. Only after COMMIT are the
batch reports marked ``published`` and the exports released.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa

from .. import model, settings, staging
from ..staging import Batch
from . import exports, links
from .store import Store

log = logging.getLogger("inventory.publish")

STATUSES = ("complete", "partial", "failed")
COUNTS = ("added", "changed", "removed")


def open_store(store: str | None = None, *, read_only: bool = False) -> Store:
    """An open connection to the configured store (``settings.store_kind()`` unless ``store`` given)."""
    kind = (store or settings.store_kind()).strip().lower()
    if kind == "duckdb":
        from .duckdb_store import DuckDBStore

        return DuckDBStore(read_only=read_only)
    if kind == "postgres":
        from .postgres_store import PostgresStore

        return PostgresStore()
    raise ValueError(f"unknown store {kind!r} (expected 'duckdb' or 'postgres')")


# --------------------------------------------------------------------------------------- selection
def _report_mtime(batch: Batch) -> float:
    try:
        return batch.report_path.stat().st_mtime
    except OSError:
        return 0.0


def _select(batches: Iterable[Batch | str | os.PathLike] | None) -> tuple[list[tuple[Batch, dict]], list[dict]]:
    """(batches to apply with their reports, oldest first; batches skipped with the reason)."""
    chosen: list[tuple[Batch, dict]] = []
    skipped: list[dict] = []
    if batches is None:
        for batch in staging.batches():
            try:
                report = batch.read_report()
            except (OSError, ValueError) as exc:
                log.warning("publish: skipping %s, unreadable report (%s)", batch.path, exc)
                skipped.append(_skip(batch, f"unreadable report: {exc}"))
                continue
            if report.get("state") == "validated":
                chosen.append((batch, report))
        return chosen, skipped
    for item in batches:
        batch = item if isinstance(item, Batch) else Batch.from_path(item)
        report = batch.read_report()
        state, status = report.get("state"), report.get("status")
        if state == "published":
            skipped.append(_skip(batch, "already published"))
        elif state == "validated" or (state == "harvested" and status == "failed"):
            chosen.append((batch, report))
        else:
            raise ValueError(f"batch {batch.path} is in state {state!r}; only validated batches "
                             "(or failed harvests) can be published")
    chosen.sort(key=lambda br: _report_mtime(br[0]))
    return chosen, skipped


def _skip(batch: Batch, reason: str) -> dict:
    return {"source_id": batch.source_id, "batch_id": batch.batch_id, "result": "skipped", "reason": reason}


def fingerprint(batch: Batch, report: dict) -> str:
    """Identifies one batch's content: its report (minus what publish writes) and its staged files."""
    data: dict[str, Any] = {k: report.get(k) for k in model.HARVEST_RUNS.names if k not in COUNTS}
    data["released_at"] = report.get("released_at")  # a released batch is applied anew
    files = sorted(batch.path.glob("validated/*.parquet")) + [batch.quarantine]
    data["_files"] = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists()]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------------------- applying
def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def harvest_run_row(batch: Batch, report: dict, totals: dict[str, int]) -> dict[str, Any]:
    """The batch's harvest_runs row from its report, with the computed added/changed/removed."""
    row: dict[str, Any] = {}
    for f in model.HARVEST_RUNS:
        value = report.get(f.name)
        if value is None or (value == "" and not pa.types.is_string(f.type)):
            row[f.name] = None
        elif pa.types.is_timestamp(f.type):
            row[f.name] = _ts(value)
        elif pa.types.is_integer(f.type):
            row[f.name] = int(value)
        elif pa.types.is_floating(f.type):
            row[f.name] = float(value)
        else:
            row[f.name] = str(value)
    if row["source_id"] and row["source_id"] != batch.source_id:
        raise ValueError(f"{batch.path}: report source_id {row['source_id']!r} is not the batch's "
                         f"source {batch.source_id!r}")
    row["source_id"] = batch.source_id
    row["run_id"] = row["run_id"] or batch.batch_id
    row.update(totals)
    return row


def _quarantine_file(batch: Batch) -> Path | None:
    for path in (batch.quarantine, batch.parse_quarantine):
        if path.exists():
            return path
    return None


def _removal_limits(selected: list[tuple[Batch, dict]]) -> dict[str, float]:
    """Per source of the selected batches: the largest share of its records one complete listing may
    withdraw (sources file ``options.max_removed_share``, else ``settings.max_removed_share()``)."""
    default = settings.max_removed_share()
    limits = {batch.source_id: default for batch, _ in selected}
    try:
        from ..config import load_sources

        configured = {s.id: s for s in load_sources(include_disabled=True)}
    except Exception as exc:  # an unreadable sources file must not stop a publish: the default applies
        log.warning("publish: sources file unreadable (%s); every source may withdraw at most %.0f %% "
                    "of its records", exc, default * 100)
        return limits
    for source_id in limits:
        source = configured.get(source_id)
        if source is not None and source.option("max_removed_share") is not None:
            limits[source_id] = settings.parse_share(source.option("max_removed_share"),
                                                     f"source {source_id!r}, option max_removed_share")
    return limits


def _mass_withdrawal(changes: dict[str, dict[str, int]], published: dict[str, int], limit: float) -> str | None:
    """Why a complete listing must be held for review (it would withdraw more than ``limit`` of the
    source's published datasets, data services or algorithms), or None.

    Distributions are not counted: an agency that replaces this month's files withdraws most of a
    dataset's distributions while every dataset stays, which is an update, not a mass deletion (and a
    dataset that disappears takes its distributions with it, so the datasets' share already says it).
    """
    over = [f"{c['removed']:,} of the {published[t]:,} published {t} ({c['removed'] / published[t]:.0%})"
            for t, c in changes.items()
            if t in model.TOP_LEVEL_TABLES and published.get(t) and c["removed"] / published[t] > limit]
    if not over:
        return None
    return (f"this complete listing would withdraw {' and '.join(over)}, more than the {limit:.0%} "
            "allowed")


def _outcome_sentence(status: str, totals: dict[str, int], records: dict[str, int]) -> str:
    """What publishing the batch did, in plain words, for harvest_runs.message."""
    kept = ", ".join(f"{n:,} {t}" for t, n in records.items() if n) or "no records"
    if status == "failed":
        return f"Nothing published: the previous records stay ({kept})."
    if not any(totals.values()):
        return f"Published: no changes ({kept})."
    return (f"Published: {totals['added']:,} added, {totals['changed']:,} changed, "
            f"{totals['removed']:,} withdrawn ({kept} now).")


def _apply_batch(store: Store, batch: Batch, report: dict, publish_id: str, fp: str,
                 published_at: datetime, limit: float) -> dict[str, Any]:
    """Apply one batch inside the open publish transaction. Returns its outcome.

    A complete listing that would withdraw more than ``limit`` of the source's records in a table is
    held for review instead (status ``held``): nothing of the source changes, unless the batch was
    released by a steward (``released_at`` in its report).
    """
    status = report.get("status")
    if status not in STATUSES:
        raise ValueError(f"{batch.path}: report status {status!r} is not one of {STATUSES}")
    where = f"batch {batch.source_id}/{batch.batch_id}"
    run_id = str(report.get("run_id") or batch.batch_id)
    changes: dict[str, dict[str, int]] = {}
    loaded: dict[str, int] = {}
    held: str | None = None
    if status != "failed":
        # Only a complete *full* listing may withdraw records; an incremental listing lists only
        # what changed, so, like a partial one, it adds and updates.
        complete = status == "complete" and not report.get("incremental")
        published: dict[str, int] = {}
        for table, schema in model.RECORD_TABLES.items():
            path = batch.validated(table)
            if not path.exists():  # this source kind does not produce the table: leave it alone
                continue
            published[table] = store.counts_by_source(table, batch.source_id).get(batch.source_id, 0)
            store.load_stage(table, schema, path)
            loaded[table] = store.check_stage(table, batch.source_id, where)
            changes[table] = store.diff(table, batch.source_id, complete)
        if complete and not report.get("released_at"):
            held = _mass_withdrawal(changes, published, limit)
        if held:
            for table in changes:
                store.discard_delta(table)
        else:
            for table in changes:
                store.record_versions(table, batch.source_id, complete, run_id=run_id,
                                      publish_id=publish_id, at=published_at)
                store.apply(table, batch.source_id, complete)
            store.replace_quarantine(batch.source_id, _quarantine_file(batch))
    totals = {k: sum(c[k] for c in changes.values()) for k in COUNTS}
    records = {t: n for t, n in ((t, store.counts_by_source(t, batch.source_id).get(batch.source_id, 0))
                                 for t in model.RECORD_TABLES)}
    if held:
        would = dict(totals)
        totals = dict.fromkeys(COUNTS, 0)
        status = "held"
        sentence = (f"Held for review: {held}; nothing of this source was published and its previous "
                    f"records stay ({', '.join(f'{n:,} {t}' for t, n in records.items() if n)}). "
                    f"If the withdrawals are real, a steward releases the run with "
                    f"`inventory release {batch.source_id} {batch.batch_id}`.")
        log.warning("publish: %s held for review: %s (would add %d, change %d, withdraw %d)",
                    where, held, would["added"], would["changed"], would["removed"])
    else:
        sentence = _outcome_sentence(status, totals, records)
        if report.get("released_at"):
            sentence = (f"Released for publication by {report.get('released_by') or 'a steward'} at "
                        f"{report['released_at']}. {sentence}")
    row = harvest_run_row(batch, report, totals)
    row["status"] = status
    row["message"] = " ".join(p for p in (report.get("message"), sentence) if p)
    store.upsert_harvest_run(row)
    store.record_batch(batch.source_id, batch.batch_id, fp, publish_id, status, totals)
    log.info("publish: %s %s: loaded %s; added %d, changed %d, withdrawn %d", where, status,
             loaded or "nothing", totals["added"], totals["changed"], totals["removed"])
    return {"source_id": batch.source_id, "batch_id": batch.batch_id, "run_id": report.get("run_id"),
            "status": status, "result": "held" if held else "published", **totals, "changes": changes,
            "loaded": loaded, "message": row["message"]}


def _mark_published(batch: Batch, outcome: dict, published_at: datetime) -> None:
    state = "held" if outcome["status"] == "held" else "published"
    batch.update_report(state=state, added=outcome["added"], changed=outcome["changed"],
                        removed=outcome["removed"], publish_id=outcome["publish_id"],
                        published_at=published_at.isoformat())


# --------------------------------------------------------------------------------------- API
def publish(batches: list[Batch] | None = None, *, store: str | None = None) -> dict[str, Any]:
    """Publish validated staging batches (default: every ``validated`` batch, oldest first).

    ``batches`` may also hold batch folder paths. ``store`` overrides ``settings.store_kind()``.
    Returns a JSON-able summary (see the module docs of ``inventory.publish``).
    """
    selected, skipped = _select(batches)
    publish_id = exports.new_id()
    published_at = datetime.now(timezone.utc)
    limits = _removal_limits(selected)
    outcomes: list[dict[str, Any]] = []
    # Seconds per phase: the store's (its schema check, waiting for its lock, the transaction), then
    # the export release's parts.
    timings: dict[str, float] = {}
    with open_store(store) as st:
        started = time.monotonic()
        st.ensure_schema()
        st.begin()
        try:
            st.lock()
            for batch, report in selected:
                fp = fingerprint(batch, report)
                prior = st.published_batch(batch.source_id, batch.batch_id, fp)
                if prior is not None:  # applied by a publish that crashed before marking the report
                    log.info("publish: %s/%s already in the store (publish %s); marking it published",
                             batch.source_id, batch.batch_id, prior["publish_id"])
                    outcomes.append({"source_id": batch.source_id, "batch_id": batch.batch_id,
                                     "run_id": report.get("run_id"), "status": prior["status"],
                                     "result": "reconciled", "added": prior["added"],
                                     "changed": prior["changed"], "removed": prior["removed"],
                                     "publish_id": prior["publish_id"], "changes": {}, "loaded": {}})
                    continue
                outcome = _apply_batch(st, batch, report, publish_id, fp, published_at,
                                       limits[batch.source_id])
                outcome["publish_id"] = publish_id
                outcomes.append(outcome)
            applied = [o for o in outcomes if o["result"] in ("published", "held")]
            if applied:
                links.refresh(st)
                st.record_publish(publish_id, published_at, len(applied))
            st.commit()
            timings["store"] = round(time.monotonic() - started, 3)
        except BaseException:
            try:
                st.rollback()
            except Exception:  # the connection may be gone; the server rolls back on its own
                log.exception("publish: rollback failed")
            raise

        by_batch = {(b.source_id, b.batch_id): b for b, _ in selected}
        for outcome in outcomes:
            _mark_published(by_batch[(outcome["source_id"], outcome["batch_id"])], outcome, published_at)

        records = {t: st.counts_by_source(t) for t in model.RECORD_TABLES}
        quarantined = st.counts_by_source("quarantine")

        manifest = exports.read_manifest()
        stale = (manifest is None or manifest.get("publish_id") != st.last_publish_id()
                 or manifest.get("store") != st.kind)
        release = exports.write_release(st, timings) if (applied or stale) else exports.current_release()
        location = st.location()
    log.info("publish: took %s", ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items()))

    sources: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        s = sources.setdefault(o["source_id"], {"added": 0, "changed": 0, "removed": 0})
        s.update(status=o["status"], batch=o["batch_id"], run_id=o["run_id"], result=o["result"],
                 message=o.get("message"))
        for k in COUNTS:
            s[k] += int(o[k] or 0)
    for src, s in sources.items():
        s["records"] = {t: records[t].get(src, 0) for t in model.RECORD_TABLES}
        s["quarantined"] = quarantined.get(src, 0)
    return {
        "publish_id": publish_id if applied else None,
        "published_at": published_at.isoformat(),
        "store": {"kind": st.kind, "location": location},
        "exports": {"path": str(exports.latest_link()), "release": str(release) if release else None,
                    "written": bool(applied or stale)},
        "sources": sources,
        "batches": outcomes + skipped,
        "timings_s": timings,
    }


class ReleaseError(ValueError):
    """A held run that cannot be released (not held, unknown, or superseded)."""


def release(source_id: str, run_id: str, *, by: str | None = None, store: str | None = None) -> dict[str, Any]:
    """A steward's decision that a held run's withdrawals are real: publish that batch now, without
    the mass-withdrawal check. Refused when the run is not held or a newer run of the source has been
    published since (releasing the older listing would roll the source back). Returns the publish
    summary."""
    batch = Batch.for_run(source_id, run_id)
    if not batch.report_path.exists():
        raise ReleaseError(f"no run {run_id!r} of source {source_id!r} in the staging area ({batch.path})")
    report = batch.read_report()
    if report.get("state") != "held":
        raise ReleaseError(f"run {run_id!r} of source {source_id!r} is not held for review "
                           f"(its state is {report.get('state')!r}); only a held run can be released")
    started = _ts(report.get("started_at"))
    with open_store(store) as st:
        st.ensure_schema()
        newer = [r for r in st.fetchall(
            'SELECT "run_id", "status" FROM "harvest_runs" WHERE "source_id" = ? AND "run_id" <> ? '
            'AND "status" <> \'held\' AND "started_at" > ? ORDER BY "started_at"',
            [source_id, report.get("run_id") or batch.batch_id, started])]
    if newer:
        raise ReleaseError(
            f"run {run_id!r} of source {source_id!r} was superseded by the newer run {newer[-1][0]!r} "
            f"({newer[-1][1]}); releasing the older listing would roll the source back, so harvest it again instead")
    by = by or os.environ.get("USER") or "a steward"
    batch.update_report(state="validated", released_at=datetime.now(timezone.utc).isoformat(), released_by=by)
    log.warning("publish: %s/%s released for publication by %s", source_id, run_id, by)
    try:
        return publish([batch], store=store)
    except BaseException:
        batch.update_report(state="held", released_at=None, released_by=None)
        raise


def export(store: str | None = None) -> str:
    """Write a fresh export release from the store now, the catalogue written anew too (a publish
    reuses an unchanged one); returns the release folder."""
    with open_store(store) as st:
        st.ensure_schema()
        return str(exports.write_release(st, reuse_catalog=False))


def read_summary(store: str | None = None) -> list[dict[str, Any]]:
    """Per source: its newest harvest_runs row (timestamps as ISO text), records per table and
    quarantined rows in the store. Empty when nothing has been published yet."""
    kind = (store or settings.store_kind()).strip().lower()
    if kind == "duckdb" and not settings.duckdb_path().exists():
        return []
    with open_store(kind, read_only=True) as st:
        runs = {r["source_id"]: r for r in st.latest_harvest_runs()}
        records = {t: st.counts_by_source(t) for t in model.RECORD_TABLES}
        quarantined = st.counts_by_source("quarantine")
    sources = set(runs) | set(quarantined)
    for counts in records.values():
        sources |= set(counts)
    out = []
    for src in sorted(s for s in sources if s is not None):
        row = runs.get(src) or {**dict.fromkeys(model.HARVEST_RUNS.names), "source_id": src}
        row = dict(row)
        row["records"] = {t: records[t].get(src, 0) for t in model.RECORD_TABLES}
        row["quarantined"] = quarantined.get(src, 0)
        out.append(row)
    return out
