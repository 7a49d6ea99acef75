#!/usr/bin/env bash
# make demo: start the sample agencies, run the three DAGs with `airflow dags test` on SQLite,
# print a summary. Everything stays under the project folder (data/, airflow_home/).
set -euo pipefail
cd "$(dirname "$0")/.."

export INVENTORY_SOURCES="${INVENTORY_SOURCES:-$PWD/config/sources.demo.yaml}"
export INVENTORY_DATA_DIR="${INVENTORY_DATA_DIR:-$PWD/data}"
port="${SAMPLE_AGENCIES_PORT:-8765}"
export SAMPLE_AGENCIES_URL="${SAMPLE_AGENCIES_URL:-http://127.0.0.1:$port}"

log_dir="$INVENTORY_DATA_DIR/logs"
mkdir -p "$log_dir" "$AIRFLOW_HOME"

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [[ "$INVENTORY_SOURCES" == *sources.demo.yaml ]]; then
  python -m inventory.demo.sample_agencies --port "$port" >"$log_dir/sample-agencies.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "$SAMPLE_AGENCIES_URL/ckan/national-portal/api/3/action/package_search?rows=1" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { echo "The sample agencies did not start:"; cat "$log_dir/sample-agencies.log"; exit 1; }
    sleep 0.2
  done
  echo "Sample agencies serving at $SAMPLE_AGENCIES_URL"
fi

echo "Sources: $INVENTORY_SOURCES"
inventory sources
echo
echo "Initialising Airflow metadata (SQLite) in $AIRFLOW_HOME ..."
airflow db migrate >"$log_dir/airflow-db-migrate.log" 2>&1 || { tail -20 "$log_dir/airflow-db-migrate.log"; exit 1; }

status=0
for dag in harvest_catalogues harvest_algorithm_registers publish_inventory; do
  echo "Running $dag (log: $log_dir/$dag.log) ..."
  if ! airflow dags test "$dag" >"$log_dir/$dag.log" 2>&1; then
    echo "  $dag did not succeed; the last lines of its log:"
    grep -E "ERROR|Sources that did not|failed" "$log_dir/$dag.log" | tail -8 | sed 's/^/    /'
    status=1
  fi
done

echo
inventory summary
echo
echo "Inventory:  $INVENTORY_DATA_DIR/inventory.duckdb (tables datasets, distributions, algorithms, quarantine, harvest_runs)"
echo "Exports:    $INVENTORY_DATA_DIR/exports/latest/ (Parquet and CSV per table)"
echo "Data Docs:  $INVENTORY_DATA_DIR/reports/data_docs/index.html"
echo "Raw pages:  $INVENTORY_DATA_DIR/landing/"
exit $status
