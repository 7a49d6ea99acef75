#!/usr/bin/env bash
# make airflow: Airflow's own UI and scheduler (`airflow standalone`, SQLite) with the project's DAGs,
# harvesting the bundled sample agencies. Open http://localhost:8080 (the admin password is printed
# by standalone and written under $AIRFLOW_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sample-agencies.sh
airflow standalone
