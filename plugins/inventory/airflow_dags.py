"""Builds the harvest DAGs: the two harvest DAGs differ only in the source kinds they take.

Wiring only; every task body is one call into :mod:`inventory.pipeline`. Per source, a mapped task
group ``source`` runs ``harvest`` then ``validate`` (validate runs even when the harvest failed, so
the failure reaches ``harvest_runs``); ``announce`` updates the staging asset with the counts, and
``check_sources`` fails the run, naming the sources, when any source failed or was partial, and its
``on_failure_callback`` (``inventory.notify.InventoryNotifier``) alerts the operators.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task, task_group

from inventory.distributed import HEAVY_QUEUE, harvest_pool
from inventory.notify import InventoryNotifier

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "inventory",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=6),
}

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


def build_harvest_dag(*, dag_id: str, source_ids: list[str], asset: Asset, schedule: str, doc_md: str, tags: list[str]):
    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        doc_md=doc_md,
        tags=tags,
    )
    def harvest_dag():
        @task_group(group_id="source")
        def per_source(source_id: str):
            # Politeness at scale: the pool's slots (config/pools.json) bound concurrent harvests of
            # this DAG's sources, however many workers run.
            @task(map_index_template="{{ source_id }}", pool=harvest_pool(dag_id))
            def harvest(source_id: str) -> dict[str, Any]:
                from inventory import pipeline

                context = get_current_context()
                context["source_id"] = source_id  # type: ignore[typeddict-unknown-key]
                return pipeline.harvest(source_id, context["run_id"])

            # CPU-heavy (parsing staged batches, GX suites): a queue of its own, for workers sized for it.
            @task(map_index_template="{{ source_id }}", trigger_rule="all_done", retries=1, queue=HEAVY_QUEUE)
            def validate(source_id: str) -> dict[str, Any]:
                from inventory import pipeline

                context = get_current_context()
                context["source_id"] = source_id  # type: ignore[typeddict-unknown-key]
                return pipeline.validate(source_id, context["run_id"])

            harvest(source_id) >> validate(source_id)

        @task(trigger_rule="all_done", outlets=[asset], retries=0)
        def announce() -> dict[str, Any]:
            """Tell the publish DAG what is staged: counts per source in the asset event."""
            from inventory import pipeline

            context = get_current_context()
            reports = pipeline.run_reports(source_ids, context["run_id"])
            counts = pipeline.counts_for_asset(reports)
            context["outlet_events"][asset].extra = counts
            return counts

        # Operators are told (config/notifications.yaml) when this fails.
        @task(trigger_rule="all_done", retries=0, on_failure_callback=InventoryNotifier(source_ids=source_ids))
        def check_sources(counts: dict[str, Any]) -> None:
            """Fail the run, naming them, when a source failed or was partial (publish still ran for the rest)."""
            bad = {**{s: "failed" for s in counts["failed"]}, **{s: "partial" for s in counts["partial"]}}
            if bad:
                raise RuntimeError(
                    "Sources that did not harvest completely: "
                    + ", ".join(f"{s} ({state})" for s, state in sorted(bad.items()))
                    + ". Their previous records are kept; see harvest_runs for what happened."
                )

        groups = per_source.expand(source_id=source_ids)
        counts = announce()
        groups >> counts
        check_sources(counts)

    return harvest_dag()
