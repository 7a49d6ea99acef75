#!/usr/bin/env bash
# make airflow: Airflow's own UI and scheduler (`airflow standalone`, SQLite) with the project's DAGs,
# harvesting the bundled sample agencies. Open http://localhost:8080 (the admin password is printed
# by standalone and written under $AIRFLOW_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sample-agencies.sh
# The harvest tasks run in pools (config/pools.json); a real scheduler never starts a task whose
# pool does not exist, so create them before the scheduler starts.
airflow db migrate >"$log_dir/airflow-db-migrate.log" 2>&1 || { tail -20 "$log_dir/airflow-db-migrate.log"; exit 1; }
airflow pools import config/pools.json
airflow standalone
