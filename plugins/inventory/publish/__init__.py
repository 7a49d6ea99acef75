"""Publish: validated staging batches -> the store (DuckDB or PostgreSQL) -> Parquet/CSV exports.

``publish(batches=None, *, store=None) -> dict``
    Applies batches (default: every staging batch whose report has ``state == "validated"``, oldest
    first) in ONE store transaction; per batch by its report ``status``:

    * ``complete`` - the source's rows in each record table the batch has a ``validated/<table>.parquet``
      for become the file's rows (a record table without a file is left alone); a record no longer
      listed is withdrawn: gone from the table, its last version closed in ``<table>_history`` and
      marked with the run (a tombstone). When that would withdraw more than the allowed share of the
      source's rows in a table (``settings.max_removed_share()``, per source ``options.max_removed_share``)
      the batch is **held**: nothing of the source changes, its harvest_runs row says ``held`` and
      why, its report's state becomes ``held`` until ``release(source_id, run_id)``;
    * ``partial``  - upsert only: rows with the batch's uids are replaced, nothing is withdrawn;
    * ``failed``   - the source's records and quarantine rows are kept untouched.

    Every added or changed record gets a new version in ``<table>_history`` (``valid_from`` = the
    publish time; the previous version's ``valid_to`` is set) and a row in ``changes``.

    Quarantine rows of a non-failed batch replace the source's previous ones; the batch's
    ``harvest_runs`` row is upserted with ``added/changed/removed`` summed over the record tables
    (changed ignores ``harvested_at``, ``run_id``, ``raw_sha256``). Any error rolls everything back.
    After COMMIT the reports become ``state="published"`` (+ counts, ``publish_id``, ``published_at``)
    and a new export release is written. Summary::

        {"publish_id": str | None,            # None when nothing was applied
         "published_at": iso str,
         "store": {"kind": "duckdb"|"postgres", "location": path or postgresql://user@host:port/db},
         "exports": {"path": ".../exports/latest", "release": ".../exports/releases/<id>" | None,
                     "written": bool},
         "sources": {source_id: {"status", "batch", "run_id", "result", "added", "changed", "removed",
                                 "records": {"datasets": n, "distributions": n, "algorithms": n},
                                 "quarantined": n}},
         "batches": [{"source_id", "batch_id", "run_id", "status", "result", "added", "changed",
                      "removed", "changes": {table: {"added", "changed", "removed"}},
                      "loaded": {table: rows}, "publish_id"}
                     | {"source_id", "batch_id", "result": "skipped", "reason"}],
         "timings_s": {"store": s, "tables": s, "catalog": s, "algorithm_register": s}}
                                              # seconds per phase: the store's (schema check, lock,
                                              # transaction), then the release's parts (those that ran)

``release(source_id, run_id, *, by=None, store=None) -> dict``
    Publishes a held batch without the mass-withdrawal check (a steward's decision); ``ReleaseError``
    when it is not held or a newer run of the source was published since.

``read_summary(store=None) -> list[dict]``
    Per source (sorted): the newest harvest_runs row (all HARVEST_RUNS columns, timestamps as ISO
    text) plus ``records`` per record table and ``quarantined``.

``export(store=None) -> str``   writes a fresh export release now.
``open_store(store=None, read_only=False) -> Store``   a connection (context manager) for queries.
"""

from .core import ReleaseError, export, fingerprint, open_store, publish, read_summary, release
from .postgres_store import StoreConfigError

__all__ = ["publish", "release", "read_summary", "export", "open_store", "fingerprint", "ReleaseError",
           "StoreConfigError"]
