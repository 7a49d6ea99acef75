"""
# harvest_algorithm_registers

Harvests every **algorithm register** in the sources file (`$INVENTORY_SOURCES`, default
`config/sources.yaml`) whose `kind` is a register kind (`algoritmeregister`), one mapped task group
per source, named by its source id in the grid:

1. **harvest** pages through the register (records of every publication standard version, each
   `lars` check digit verified), lands every response and stages canonical `algorithms`;
2. **validate** runs `expectations/algorithms.json`: failing records are quarantined with the reason.

**announce** updates the asset `inventory://staging/algorithm-registers`, which schedules
`publish_inventory`; **check_sources** fails the run, naming the registers that failed or were partial.
"""

from inventory.airflow_dags import build_harvest_dag
from inventory.assets import STAGED_ALGORITHM_REGISTERS
from inventory.config import SourcesConfigError, sources_of_kinds
from inventory.sources import ALGORITHM_REGISTER_KINDS

try:
    SOURCE_IDS = [s.id for s in sources_of_kinds(ALGORITHM_REGISTER_KINDS)]
except SourcesConfigError as exc:
    # Re-raised here so that the UI's import error is this one sentence, not a deep traceback.
    raise SourcesConfigError(str(exc)) from None

build_harvest_dag(
    dag_id="harvest_algorithm_registers",
    source_ids=SOURCE_IDS,
    asset=STAGED_ALGORITHM_REGISTERS,
    schedule="@weekly",
    doc_md=__doc__,
    tags=["inventory", "harvest", "algorithms"],
)
