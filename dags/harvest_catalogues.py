"""
# harvest_catalogues

Harvests every **catalogue** in the sources file (`$INVENTORY_SOURCES`, default
`config/sources.yaml`) whose `kind` is a catalogue kind: the dataset catalogues (`ckan`, `dcat`,
`csw`) and the national API register (`api-register`, a catalogue of data services: the access side of
the same datasets, on the same daily schedule), one mapped task group per source, named by its
source id in the grid:

1. **harvest** pages through the source, lands every response in the raw landing zone, and stages
   canonical `datasets` and `distributions`, or `data_services` (retries resume from the landing zone);
2. **validate** runs the Great Expectations suites in `expectations/`: failing records go to
   quarantine with the reason, Data Docs are built under `reports/data_docs/`.

**announce** then updates the asset `inventory://staging/catalogues` (its extra holds counts per
source), which schedules `publish_inventory`. **check_sources** fails the run and names the sources
that failed or were only partly harvested; their previous records stay published.
"""

from inventory.airflow_dags import build_harvest_dag
from inventory.assets import STAGED_CATALOGUES
from inventory.config import SourcesConfigError, sources_of_kinds
from inventory.sources import CATALOGUE_KINDS

try:
    SOURCE_IDS = [s.id for s in sources_of_kinds(CATALOGUE_KINDS)]
except SourcesConfigError as exc:
    # Re-raised here so that the UI's import error is this one sentence, not a deep traceback.
    raise SourcesConfigError(str(exc)) from None

build_harvest_dag(
    dag_id="harvest_catalogues",
    source_ids=SOURCE_IDS,
    asset=STAGED_CATALOGUES,
    schedule="@daily",
    doc_md=__doc__,
    tags=["inventory", "harvest", "datasets", "data_services"],
)
