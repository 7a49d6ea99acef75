"""The steps as the DAGs and the CLI call them: one function per step, small JSON-able results.

Tasks pass source ids, run ids, paths and counts; records stay on disk (landing, staging, store).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from .config import SourceConfig, get_source, load_sources
from .harvest import HarvestFailed, ProgressFn, harvest_source
from .staging import Batch

log = logging.getLogger(__name__)

# The outcome fields of a batch report that are worth showing (XCom, asset extra, CLI).
SUMMARY_FIELDS = (
    "source_id", "status", "pages", "records_reported", "records_received", "records_valid",
    "records_quarantined", "message", "batch_path",
)


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in SUMMARY_FIELDS}


def harvest(source_id: str, run_id: str, *, progress: ProgressFn | None = None, source: SourceConfig | None = None) -> dict[str, Any]:
    """Harvest one source into its staging batch. Raises HarvestFailed when it broke off."""
    source = source or get_source(source_id)
    return summarise(harvest_source(source, run_id, progress=progress))


def validate(source_id: str, run_id: str, *, build_docs: bool = True) -> dict[str, Any]:
    """Validate one source's batch of this run (also a failed one: its report must reach publish)."""
    from .quality.validate import validate_batch

    batch = Batch.for_run(source_id, run_id)
    if not batch.report_path.exists():
        raise FileNotFoundError(
            f"No harvest report for source {source_id!r} in run {run_id!r} ({batch.path}); the harvest task did not get far enough to write one."
        )
    validate_batch(batch, build_docs=build_docs)
    return summarise(batch.read_report())


def run_reports(source_ids: list[str], run_id: str) -> list[dict[str, Any]]:
    """The batch reports of ``run_id`` for these sources (missing ones said as such)."""
    out = []
    for source_id in source_ids:
        batch = Batch.for_run(source_id, run_id)
        if batch.report_path.exists():
            out.append(summarise(batch.read_report()))
        else:
            out.append({"source_id": source_id, "status": "failed", "message": "no harvest report was written (the task did not run or crashed before starting)"})
    return out


def counts_for_asset(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """What an asset event carries in its extra: per-source status and counts, and totals."""
    return {
        "sources": {r["source_id"]: {k: r.get(k) for k in ("status", "records_received", "records_valid", "records_quarantined")} for r in reports},
        "records_received": sum(r.get("records_received") or 0 for r in reports),
        "records_valid": sum(r.get("records_valid") or 0 for r in reports),
        "records_quarantined": sum(r.get("records_quarantined") or 0 for r in reports),
        "failed": [r["source_id"] for r in reports if r.get("status") == "failed"],
        "partial": [r["source_id"] for r in reports if r.get("status") == "partial"],
    }


def problems(reports: list[dict[str, Any]]) -> list[str]:
    """One line per source that failed or was partial, naming it and saying why."""
    return [f"{r['source_id']} ({r.get('status')}): {r.get('message')}" for r in reports if r.get("status") != "complete"]


def publish() -> dict[str, Any]:
    from .publish import publish as publish_batches

    return publish_batches()


def check_links() -> dict[str, Any]:
    """Check the access and download URLs that are due (``inventory.quality.links``); counts."""
    from .publish import open_store
    from .quality import links

    with open_store() as st:
        st.ensure_schema()
        return links.check_links(st)


def check_conformance() -> dict[str, Any]:
    """DCAT-AP-NL 3.0 conformance (pyshacl) of the datasets that are due (``inventory.quality.shacl``)."""
    from .publish import open_store
    from .quality import shacl

    with open_store() as st:
        st.ensure_schema()
        return shacl.check_conformance(st)


def score_quality(publish_id: str | None = None) -> dict[str, Any]:
    """The MQA score of every published dataset, with aggregates per source, publisher and run
    (``inventory.quality.score``), and the completeness of every algorithm against the publication
    standard 1.0 (``inventory.quality.algorithms``); returns the averages and ratings."""
    from .publish import open_store
    from .quality import algorithms
    from .quality import score as mqa

    with open_store() as st:
        st.ensure_schema()
        result = mqa.score(st, publish_id=publish_id)
        result["algorithms"] = algorithms.score_algorithms(st, publish_id=result["publish_id"])["organizations"]
        return result


def write_scorecards() -> dict[str, Any]:
    """The HTML scorecards (overview and one page per publisher) of the latest scoring run."""
    from .publish import open_store
    from .quality import scorecards

    with open_store() as st:
        st.ensure_schema()
        return scorecards.write_scorecards(st)


def quality_summary() -> dict[str, Any]:
    """The latest scoring run's averages and ratings, without scoring again."""
    from . import settings
    from .publish import open_store
    from .quality import score as mqa

    if settings.store_kind() == "duckdb" and not settings.duckdb_path().exists():
        return mqa.summary_empty()
    with open_store(read_only=True) as st:
        return mqa.summary(st)


def held_sources(summary: dict[str, Any]) -> list[str]:
    """One line per source a publish held for review: its id and what its harvest_runs row says."""
    return [f"{source_id}: {info.get('message')}" for source_id, info in sorted((summary.get("sources") or {}).items())
            if info.get("status") == "held"]


def release(source_id: str, run_id: str, by: str | None = None) -> dict[str, Any]:
    from .publish import release as release_run

    return release_run(source_id, run_id, by=by)


def run_all(
    run_id: str,
    *,
    sources: list[SourceConfig] | None = None,
    progress_for: Callable[[SourceConfig], ProgressFn | None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Harvest and validate every source, then publish: the whole job without a scheduler."""
    sources = sources if sources is not None else load_sources()
    for source in sources:
        try:
            harvest(source.id, run_id, source=source, progress=progress_for(source) if progress_for else None)
        except HarvestFailed as exc:
            log.warning("%s", exc)
        validate(source.id, run_id)
    reports = run_reports([s.id for s in sources], run_id)
    summary = publish()
    summary["links"] = check_links()
    summary["conformance"] = check_conformance()
    summary["quality"] = score_quality(summary.get("publish_id"))
    summary["scorecards"] = write_scorecards()
    return reports, summary
