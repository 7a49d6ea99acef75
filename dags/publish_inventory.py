"""
# publish_inventory

Publishes the consolidated inventory whenever a harvest DAG has staged new batches (it is scheduled
on the assets `inventory://staging/catalogues` and `inventory://staging/algorithm-registers`).

**publish** loads every validated batch into the store in **one transaction** — DuckDB
(`$INVENTORY_DATA_DIR/inventory.duckdb`, the default) or PostgreSQL (`INVENTORY_STORE=postgres`,
connection `inventory_db`) — and then writes Parquet and CSV exports under `exports/`:

* a **complete** harvest replaces that source's records;
* a **partial** harvest only adds and updates (it deletes nothing);
* a **failed** harvest keeps the source's previous records; its `harvest_runs` row says why;
* a complete listing that would **withdraw** more than the allowed share of a source's records
  (default 10 %) is **held** for review: nothing of that source changes until a steward runs
  `inventory release SOURCE_ID RUN_ID`.

Every published version is kept (`<table>_history`, `valid_from`/`valid_to`) and each change is
logged in `changes`. **check_published** fails the run naming the held sources, which alerts the
operators (e-mail / webhook, `config/notifications.yaml`).

A reader sees the previous inventory or the new one, never a mix. The asset
`inventory://published/inventory` is updated with the counts.

In the same transaction it derives the cross-source links (`dataset_clusters`, `algorithm_datasets`).
Each export release also holds the **DCAT-AP-NL 3.0 catalogue** (`exports/latest/catalog/`, Turtle,
JSON-LD and RDF/XML, Hydra-paged) and the **algorithm register export** in the publication standard
1.0 (`exports/latest/algorithm_register/`); records marked non-public are left out of all exports.
While no dataset, distribution or data service has changed (an algorithm register's publish, say),
the release links the previous catalogue's pages instead of writing them again.
The API and the Inventory page (`/inventory/ui/`) read what this DAG published.

**check_links** then checks the distributions' access and download URLs that are due (HEAD, else a
ranged GET; one request at a time per host; a URL is checked again only after
`INVENTORY_LINK_CHECK_TTL_HOURS`, default a week; no new request after
`INVENTORY_LINK_CHECK_BUDGET_S`, default 300 s; `INVENTORY_LINK_CHECKS=off` skips it) into `link_checks`.

**check_conformance** validates each dataset's DCAT-AP-NL 3.0 description (as the consolidated
catalogue writes it) against the project's SHACL shapes in `config/shapes/` with pyshacl, into
`shacl_results` (only descriptions that changed are validated again; `INVENTORY_SHACL_BUDGET_S`,
default 300 s, bounds it; `INVENTORY_SHACL=off` skips it).

**score_quality** then scores every published dataset with the EU Metadata Quality Assessment
(405 points: findability, accessibility, interoperability, reusability, contextuality) into the
table `quality_scores`, and keeps the averages per source, per publisher and per run in
`quality_aggregates` (the trend across runs), and measures every algorithm's register entry
against the publication standard 1.0 (`algorithm_completeness`, per organisation in
`algorithm_completeness_aggregates`). Its return value shows each source's average score and rating.

**write_scorecards** writes the HTML scorecards: `reports/scorecards/index.html` (overview) and one
page per publisher, with charts and a "fix these first" list; the GX Data Docs index links to them.
"""

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from inventory.airflow_dags import DEFAULT_ARGS, START_DATE
from inventory.assets import PUBLISHED_INVENTORY, STAGED_ALGORITHM_REGISTERS, STAGED_CATALOGUES
from inventory.notify import InventoryNotifier


@dag(
    dag_id="publish_inventory",
    schedule=(STAGED_CATALOGUES | STAGED_ALGORITHM_REGISTERS),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
    tags=["inventory", "publish", "quality"],
)
def publish_inventory():
    @task(outlets=[PUBLISHED_INVENTORY])
    def publish() -> dict:
        from inventory import pipeline

        summary = pipeline.publish()
        get_current_context()["outlet_events"][PUBLISHED_INVENTORY].extra = {
            "sources": {
                s: {**{k: v for k, v in info.items() if isinstance(v, (int, str)) or v is None},
                    "records": dict(info.get("records") or {})}  # rows per record table the store holds now
                for s, info in (summary.get("sources") or {}).items()
            },
        }
        return summary

    @task
    def check_links() -> dict:
        from inventory import pipeline

        return pipeline.check_links()

    @task
    def check_conformance() -> dict:
        from inventory import pipeline

        return pipeline.check_conformance()

    @task
    def score_quality(summary: dict) -> dict:
        from inventory import pipeline

        return pipeline.score_quality(summary.get("publish_id"))

    @task
    def write_scorecards() -> dict:
        from inventory import pipeline

        return pipeline.write_scorecards()

    @task(retries=0, on_failure_callback=InventoryNotifier())
    def check_published(summary: dict) -> None:
        """Fail, naming them, when sources were held for review (the rest is published)."""
        from inventory import pipeline

        held = pipeline.held_sources(summary)
        if held:
            raise RuntimeError("Sources held for review (nothing of them was published): " + " ".join(held))

    published = publish()
    published >> check_links() >> check_conformance() >> score_quality(published) >> write_scorecards()
    check_published(published)


publish_inventory()
