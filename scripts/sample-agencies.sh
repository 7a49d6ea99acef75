# Sourced by demo.sh and airflow-standalone.sh: the environment of a local run, and the sample
# agencies started in the background when the demo sources are used (stopped on exit).
export INVENTORY_SOURCES="${INVENTORY_SOURCES:-$PWD/config/sources.demo.yaml}"
export INVENTORY_DATA_DIR="${INVENTORY_DATA_DIR:-$PWD/data}"
sample_port="${SAMPLE_AGENCIES_PORT:-8765}"
export SAMPLE_AGENCIES_URL="${SAMPLE_AGENCIES_URL:-http://127.0.0.1:$sample_port}"
log_dir="$INVENTORY_DATA_DIR/logs"
mkdir -p "$log_dir" "$AIRFLOW_HOME"

sample_pid=""
stop_sample_agencies() { [ -n "$sample_pid" ] && kill "$sample_pid" 2>/dev/null || true; }
trap stop_sample_agencies EXIT

if [[ "$INVENTORY_SOURCES" == *sources.demo.yaml ]]; then
  # The sample API register requires an API key: the demo's Airflow connection (the key is the sample's own,
  # plugins/inventory/demo/fixtures/api_register/register.json; a real one belongs in Airflow's connections).
  export AIRFLOW_CONN_API_REGISTER_DEMO="${AIRFLOW_CONN_API_REGISTER_DEMO:-{\"conn_type\": \"http\", \"password\": \"demo-register-key\"}}"
  # Something already answering there (an earlier demo left running, another checkout) would be
  # harvested in place of this checkout's samples: refuse, and say how to move.
  if curl -fsS -o /dev/null --max-time 2 "$SAMPLE_AGENCIES_URL/" 2>/dev/null ||
     (exec 3<>"/dev/tcp/127.0.0.1/$sample_port") 2>/dev/null; then
    echo "Port $sample_port is already in use, so the sample agencies cannot start there;" \
         "stop what listens on it or choose another port: SAMPLE_AGENCIES_PORT=8766 make demo" >&2
    exit 1
  fi
  python -m inventory.demo.sample_agencies --port "$sample_port" >"$log_dir/sample-agencies.log" 2>&1 &
  sample_pid=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "$SAMPLE_AGENCIES_URL/ckan/national-portal/api/3/action/package_search?rows=1" 2>/dev/null && break
    kill -0 "$sample_pid" 2>/dev/null || { echo "The sample agencies did not start:"; cat "$log_dir/sample-agencies.log"; exit 1; }
    sleep 0.2
  done
  echo "Sample agencies serving at $SAMPLE_AGENCIES_URL"
fi
