#!/usr/bin/env bash
# make airflow: Airflow's own UI and scheduler (`airflow standalone`, SQLite) with the project's DAGs,
# harvesting the bundled sample agencies. Open http://localhost:8080 (credentials are printed by
# standalone and written to $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated).
set -euo pipefail
cd "$(dirname "$0")/.."
export INVENTORY_SOURCES="${INVENTORY_SOURCES:-$PWD/config/sources.demo.yaml}"
export INVENTORY_DATA_DIR="${INVENTORY_DATA_DIR:-$PWD/data}"
port="${SAMPLE_AGENCIES_PORT:-8765}"
export SAMPLE_AGENCIES_URL="${SAMPLE_AGENCIES_URL:-http://127.0.0.1:$port}"
mkdir -p "$INVENTORY_DATA_DIR/logs" "$AIRFLOW_HOME"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT
if [[ "$INVENTORY_SOURCES" == *sources.demo.yaml ]]; then
  python -m inventory.demo.sample_agencies --port "$port" >"$INVENTORY_DATA_DIR/logs/sample-agencies.log" 2>&1 &
  server_pid=$!
  echo "Sample agencies serving at $SAMPLE_AGENCIES_URL"
fi
airflow standalone
