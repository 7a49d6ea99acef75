# One Government Inventory — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := False

.PHONY: install demo test test-fast test-distributed airflow benchmark sample-agencies clean lock

# The venv, installed from the pinned lock (hashes checked; the lock is complete, hence --no-deps).
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# Harvest the bundled sample agencies with the three DAGs (airflow dags test, SQLite), publish to
# DuckDB, and print what was produced.
demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh

# The whole test suite (unit, DAG integrity, PostgreSQL, end to end, and the distributed test:
# the CeleryExecutor stack as processes, which needs Redis on 127.0.0.1:6379 too).
test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e and not postgres and not distributed"

# Only the distributed stack (tests/distributed/): a few minutes; prints the measured run times.
test-distributed: $(STAMP)
	$(BIN)/python -m pytest tests/distributed

# Airflow's own UI and scheduler on SQLite, with the project's DAGs, against the sample agencies.
airflow: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" scripts/airflow-standalone.sh

sample-agencies: $(STAMP)
	$(BIN)/python -m inventory.demo.sample_agencies --port $${SAMPLE_AGENCIES_PORT:-8765}

benchmark: $(STAMP)
	$(BIN)/python benchmarks/harvest.py

# Re-pin the lock after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra test --extra build --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf data airflow_home .pytest_cache
