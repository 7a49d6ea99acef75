# The one image behind every Airflow component of the distributed stack (docker-compose.yml):
# api-server, scheduler, dag-processor, triggerer, Celery worker and the init job.
#
# Built the way Airflow's docs recommend ("extending the image"): start from the official image,
# then install on top, as the `airflow` user, exactly what the project's lock says.
#
#   docker compose build             # or: docker build -t one-government-inventory:local .
#
# The Airflow settings are NOT baked in here: they live in config/airflow.distributed.env.

# The slim image: the lock brings every provider the project needs, and the full image's extra
# providers would sit beside dependency versions the lock replaced.
ARG AIRFLOW_IMAGE=apache/airflow:slim-3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# The official image runs as `airflow` (UID 50000, GID 0) with Airflow in the virtualenv
# ~/.local; its `pip` refuses to run as root. AIRFLOW_HOME is /opt/airflow.
USER airflow
WORKDIR /opt/airflow

# 1. The pinned, hash-checked dependency set. The lock is complete (uv pip compile of
#    pyproject.toml, extras "test" and "build"), hence --no-deps; --require-hashes makes pip refuse anything
#    that is not exactly the locked artefact. Copied alone so that this slow layer is rebuilt
#    only when the lock changes.
COPY --chown=airflow:0 requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir --no-deps --require-hashes -r /opt/airflow/requirements.lock

# 2. The build backend for the project package (setuptools, wheel) comes from the lock too
#    (pyproject's extra "build"), so the editable install below needs nothing unpinned.

# 3. The project package `inventory` (it lives under plugins/). README.m[d] is optional: the
#    wildcard lets the COPY succeed while the repository has no README yet.
COPY --chown=airflow:0 pyproject.toml README.m[d] /opt/airflow/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/

# Editable on purpose: the venv then only holds a path entry for /opt/airflow/plugins, so
#  - the package's PROJECT_ROOT is /opt/airflow and its default config/ and expectations/ paths
#    are the ones docker-compose.yml mounts;
#  - the ./plugins bind mount of docker-compose.yml replaces the code without a rebuild;
#  - the `inventory` console script is installed.
# --no-build-isolation: use the setuptools pinned in the lock instead of fetching one unpinned.
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e /opt/airflow \
 && python -c "import inventory.settings as s; p = str(s.PROJECT_ROOT); assert p == '/opt/airflow', p" \
 && mkdir -p /opt/airflow/data /opt/airflow/logs \
 && chmod -R g+rwX /opt/airflow/data /opt/airflow/logs

# The image's own entrypoint (/entrypoint, dumb-init) and default user stay as they are.
