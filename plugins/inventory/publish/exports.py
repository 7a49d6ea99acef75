"""Downloadable exports of the published inventory: Parquet and CSV per table, released as a whole.

Layout under ``settings.exports_dir()``::

    releases/<release_id>/<table>.parquet   one file per table of model.ALL_TABLES and DERIVED_TABLES
    releases/<release_id>/<table>.csv       lists as JSON arrays, timestamps ISO-8601 UTC
    releases/<release_id>/catalog/          the DCAT-AP-NL 3.0 catalogue, paged (``publish.catalog``); hard
                                            links to the previous release's pages while no dataset,
                                            distribution or data service has changed since
    releases/<release_id>/algorithm_register/  algorithms in the publication standard 1.0 (``publish.algorithm_export``)
    releases/<release_id>/manifest.json     publish id, time, store kind, row counts

Records marked non-public are left out of a release (``publish.public``).
    latest -> releases/<release_id>         symlink, repointed atomically

A release is written into ``releases/.tmp-<release_id>`` and renamed into place only once complete,
then ``latest`` is repointed (a new symlink renamed over the old one), so a reader always sees one
whole release. The newest ``KEEP_RELEASES`` releases are kept.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .. import model, settings
from . import algorithm_export, catalog, public
from .store import Store

log = logging.getLogger("inventory.publish")

KEEP_RELEASES = 3
# The parts of a release that write_release times (the caller's dict may hold its own phases too).
RELEASE_PHASES = ("tables", "catalog", "algorithm_register")
STALE_TMP_S = 3600


def new_id() -> str:
    """A sortable unique id: UTC time to the microsecond plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def latest_link() -> Path:
    return settings.exports_dir() / "latest"


def releases_dir() -> Path:
    return settings.exports_dir() / "releases"


def read_manifest(release: Path | None = None) -> dict[str, Any] | None:
    path = (release or latest_link()) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextmanager
def timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    """Add the seconds the block takes to ``timings[phase]``: what a publish spent where, for the
    log, the task's summary and the benchmark (at a million datasets the catalogue alone is minutes)."""
    started = time.monotonic()
    try:
        yield
    finally:
        timings[phase] = round(timings.get(phase, 0.0) + time.monotonic() - started, 3)


def write_release(store: Store, timings: dict[str, float] | None = None, *, reuse_catalog: bool = True) -> Path:
    """Export every table from the store (one snapshot) as a new release and point ``latest`` at it.

    ``timings``, when given, receives the seconds of each part: ``tables`` (Parquet and CSV),
    ``catalog`` (the DCAT-AP-NL pages in every format) and ``algorithm_register``. The catalogue is
    the latest release's when nothing it is written from has changed, unless ``reuse_catalog`` is
    false (:func:`_write_or_reuse_catalog`)."""
    timings = {} if timings is None else timings
    releases = releases_dir()
    releases.mkdir(parents=True, exist_ok=True)
    release_id = new_id()
    tmp = releases / f".tmp-{release_id}"
    tmp.mkdir()
    try:
        store.begin_snapshot()
        try:
            store.export_filters = public.export_filters(store)
            tables = {**model.ALL_TABLES, **model.DERIVED_TABLES}
            with timed(timings, "tables"):
                store.export_tables([(table, schema, tmp / f"{table}.parquet", tmp / f"{table}.csv")
                                     for table, schema in tables.items()])
                counts = {table: int(store.scalar(f"SELECT count(*) FROM {store.export_from(table)}")) for table in tables}
            with timed(timings, "catalog"):
                catalogue = _write_or_reuse_catalog(store, tmp / "catalog", reuse=reuse_catalog)
            with timed(timings, "algorithm_register"):
                algorithms = algorithm_export.write(store, tmp / "algorithm_register",
                                                    where=store.export_filters.get("algorithms"))
            publish_id = store.last_publish_id()
            store.commit()
        except BaseException:
            store.rollback()
            raise
        finally:
            store.export_filters = {}
        manifest = {
            "release": release_id,
            "publish_id": publish_id,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "store": store.kind,
            "tables": {t: {"rows": n, "parquet": f"{t}.parquet", "csv": f"{t}.csv"} for t, n in counts.items()},
            "csv": {"lists": "JSON array", "timestamps": "ISO-8601 UTC", "null": "empty field"},
            "catalog": catalogue,
            "algorithm_register": algorithms,
            "non_public": "included" if public.include_non_public() else "left out",
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        final = releases / release_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    point_latest(final)
    prune(keep=KEEP_RELEASES)
    log.info("exports: release %s (%s); written in %s", release_id,
             ", ".join(f"{t} {n}" for t, n in counts.items()),
             ", ".join(f"{phase} {timings[phase]:.1f} s" for phase in RELEASE_PHASES if phase in timings))
    return final


def _write_or_reuse_catalog(store: Store, folder: Path, *, reuse: bool = True) -> dict[str, Any]:
    """The DCAT-AP-NL catalogue of this release: the latest release's, linked, when nothing it was
    written from has changed since (:func:`_reusable_catalog`), else written anew. Its manifest entry
    carries the inputs' fingerprint, and ``reused_from`` names the release that wrote the pages.

    A publish that changes no dataset, distribution or data service (an algorithm register's, or a
    harvest that found nothing new) would otherwise write the whole catalogue again: minutes of both
    cores at a million datasets, for the same bytes."""
    config = catalog.CatalogSettings.from_env()
    dataset_filter = public.public_dataset_sql("d") if "datasets" in store.export_filters else "TRUE"
    # What the catalogue is written from, as of this snapshot: besides the fingerprint of settings
    # and code, how many changes its records have had.
    inputs = {"fingerprint": catalog.inputs_fingerprint(config, dataset_filter),
              "source_changes": store.change_count(catalog.SOURCE_TABLES)}
    reused = _reusable_catalog(store, inputs) if reuse else None
    if reused is not None:
        previous, entry = reused
        try:
            _link_tree(previous / "catalog", folder)
        except OSError as exc:  # the previous release's pages are gone or unreadable: write them
            log.warning("exports: the catalogue of release %s could not be reused (%s); writing it anew",
                        previous.name, exc)
            shutil.rmtree(folder, ignore_errors=True)
        else:
            log.info("exports: catalogue unchanged since release %s (no dataset, distribution or data service "
                     "changed, same settings and code): its pages are reused", previous.name)
            return {**entry, "reused_from": entry.get("reused_from") or previous.name}
    with store.reading_in_ranges():
        written = catalog.write_catalog(store, folder, config=config, dataset_filter=dataset_filter)
    return {**written, **inputs}


def _reusable_catalog(store: Store, inputs: dict[str, Any]) -> tuple[Path, dict[str, Any]] | None:
    """The latest release and its manifest's catalogue entry, when that catalogue was written from
    this store (its publish is in the store's log) with the same ``inputs``: the same fingerprint
    and the same count of changes to the records it is written from. Else None."""
    previous = current_release()
    manifest = read_manifest(previous) if previous is not None else None
    entry = (manifest or {}).get("catalog") or {}
    if not manifest or manifest.get("store") != store.kind or any(entry.get(k) != v for k, v in inputs.items()):
        return None
    if not store.knows_publish(manifest.get("publish_id")) or not _every_page_there(previous / "catalog", entry):
        return None
    return previous, entry


def _every_page_there(folder: Path, entry: dict[str, Any]) -> bool:
    """Whether the folder still holds every file the manifest's catalogue entry lists (nobody should
    delete from a release, but a reused catalogue must not be a partial one)."""
    pages, formats = int(entry.get("pages") or 0), list(entry.get("formats") or ())
    if not pages or not formats:
        return False
    return all((folder / f"catalog.{ext}").is_file() and all(
        (folder / catalog.page_file(page, ext)).is_file() for page in range(1, pages + 1)) for ext in formats)


def _link_tree(source: Path, target: Path) -> None:
    """``source``'s files in ``target`` as hard links (releases are never changed once written, and a
    link survives the older release's pruning); copies where the file system refuses links."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_dir():
            _link_tree(path, target / path.name)
            continue
        try:
            os.link(path, target / path.name)
        except OSError:
            shutil.copy2(path, target / path.name)


def point_latest(release: Path) -> None:
    """Atomically make ``exports/latest`` a (relative) symlink to ``release``."""
    root = settings.exports_dir()
    link = latest_link()
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} exists and is not a symlink; move it away so exports can be released")
    tmp = root / f".latest.tmp-{os.getpid()}-{secrets.token_hex(3)}"
    os.symlink(os.path.relpath(release, root), tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def current_release() -> Path | None:
    link = latest_link()
    if not link.is_symlink():
        return None
    return link.resolve()


def prune(keep: int = KEEP_RELEASES) -> list[Path]:
    """Delete all but the ``keep`` newest releases (never the one ``latest`` points at)."""
    releases = releases_dir()
    if not releases.exists():
        return []
    current = current_release()
    done = [p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")]
    done.sort(key=lambda p: p.name, reverse=True)
    removed = []
    for old in done[keep:]:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old)
    now = time.time()
    for tmp in releases.glob(".tmp-*"):  # releases abandoned by a crashed writer
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_S:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass
    return removed
