"""The distributed stack's settings, for components that run as processes on one machine.

``config/airflow.distributed.env`` is THE settings file of the CeleryExecutor stack:
``docker-compose.yml`` hands it to every Airflow container (``env_file:``). :func:`local_environment`
reads the same file and changes only what must differ when the components run as plain processes
on one host instead of containers on the compose network (the distributed test,
``tests/distributed/``, does exactly that). Every key it changes is listed, with the reason, in
:data:`REPLACED` (the env file has the key; its value is rewritten) or :data:`ADDED` (the env file
lacks the key because the container image supplies it or one host needs it); every other key of
the env file is passed on unchanged. ``tests/distributed/test_settings.py`` fails when the lists
and the env file drift apart.

Also here, because the DAGs and the deployment must agree on them: the names of the harvest pools
(:func:`harvest_pool`, slots in ``config/pools.json``) and of the queue for heavy work
(:data:`HEAVY_QUEUE`), and :func:`hostname`, a ``[core] hostname_callable`` for several Celery
workers on one machine.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from . import settings

ENV_FILE = settings.PROJECT_ROOT / "config" / "airflow.distributed.env"
POOLS_FILE = settings.PROJECT_ROOT / "config" / "pools.json"

# Celery queue of the CPU-heavy work (validation: parsing the staged batches and running the GX
# suites). Harvest tasks stay on Airflow's default queue ([operators] default_queue, "default"):
# they mostly wait on agencies' servers.
HEAVY_QUEUE = "inventory_heavy"
DEFAULT_QUEUE = "default"

# Read by hostname(): the name a worker reports, when several run on one machine.
WORKER_NAME_VAR = "INVENTORY_HOSTNAME"


def harvest_pool(dag_id: str) -> str:
    """The Airflow pool of a harvest DAG's mapped ``harvest`` tasks: ``inventory_<dag_id>``.

    One pool per harvest DAG, i.e. per kind of agency server (catalogue portals, algorithm
    registers). Its slots in ``config/pools.json`` bound how many sources of that kind are harvested
    at once, however many workers run: adding workers never multiplies the load on an agency.
    """
    return f"inventory_{dag_id}"


def hostname() -> str:
    """``[core] hostname_callable``: ``$INVENTORY_HOSTNAME`` when set, else the machine's FQDN.

    Airflow records the host a task instance ran on (its ``hostname``) from this callable. In
    containers every worker has its own host name; two workers on one machine would share one, so
    each gets ``INVENTORY_HOSTNAME`` (the distributed test sets it to the worker's Celery name).
    """
    return os.environ.get(WORKER_NAME_VAR) or socket.getfqdn()


# Keys of the env file whose value differs on one machine, and why.
REPLACED: dict[str, str] = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
        "host `postgres` (compose service) -> the local server; the run's own database, user and password",
    "AIRFLOW__CELERY__RESULT_BACKEND":
        "same database as the metadata database, like in the env file",
    "AIRFLOW__CELERY__BROKER_URL":
        "host `redis` (compose service) -> the local server; the run's own Redis database number",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
        "host `airflow-apiserver`:8080 -> 127.0.0.1 and the api-server's local port",
    "AIRFLOW_CONN_INVENTORY_DB":
        "host `postgres` -> the local server; the run's own inventory database",
    "INVENTORY_DATA_DIR": "the shared volume /opt/airflow/data -> a local folder all processes share",
    "INVENTORY_SOURCES": "/opt/airflow/config/sources.yaml (real agencies) -> the run's sources file",
    "INVENTORY_EXPECTATIONS_DIR": "the mount /opt/airflow/expectations -> the repository's expectations/",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY":
        "8 task processes per worker container -> a small number: all workers share this machine's cores",
}

# Keys the env file does not set, and why one machine needs them.
ADDED: dict[str, str] = {
    "AIRFLOW_HOME": "the image's /opt/airflow -> a throw-away folder (airflow.cfg, logs)",
    "AIRFLOW__CORE__DAGS_FOLDER": "the compose mount /opt/airflow/dags -> the repository's dags/",
    "AIRFLOW__CORE__PLUGINS_FOLDER": "the compose mount /opt/airflow/plugins -> the repository's plugins/",
    "AIRFLOW__API__HOST": "a container listens on all its interfaces; on a shared machine only on 127.0.0.1",
    "AIRFLOW__API__PORT": "compose publishes 8080; on a shared machine a free port",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT":
        "the scheduler's /health (8974 in its container) on a free port",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
        "a password file written beforehand, so the REST client knows the admin password "
        "(compose: generated on first start and printed in the api-server's log)",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE":
        "inventory.distributed.hostname: workers on one machine report distinct host names",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT":
        "how soon a task whose worker died is failed and retried (default 300 s) on the test's timescale",
}


def read_env_file(path: Path | str = ENV_FILE) -> dict[str, str]:
    """A Compose env file as a dict: ``KEY=value`` lines; blank and ``#`` lines skipped."""
    env: dict[str, str] = {}
    for lineno, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if not m:
            raise ValueError(f"{path}:{lineno}: not KEY=value: {raw!r}")
        env[m.group(1)] = m.group(2)
    return env


def read_pools(path: Path | str = POOLS_FILE) -> dict[str, dict]:
    """``config/pools.json`` (the format of ``airflow pools import``): name -> {slots, description, ...}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class LocalStack:
    """Where the components of one local run find each other and keep their state."""

    airflow_home: Path
    data_dir: Path
    sources_file: Path
    metadata_db: str
    inventory_db: str
    redis_db: int
    api_port: int
    scheduler_health_port: int
    passwords_file: Path
    worker_concurrency: int = 2
    heartbeat_timeout_s: int = 30
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def _with_netloc(url: str, host: str, port: int | None, user: str | None, password: str | None, path: str) -> str:
    """``url`` with another host/port/credentials/path; the scheme (driver) is kept as it is."""
    parts = urlsplit(url)
    if user is None:  # keep the userinfo as written (e.g. Redis' empty `:@`)
        userinfo = parts.netloc.rpartition("@")[0] + "@" if "@" in parts.netloc else ""
    else:
        userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    netloc = f"{userinfo}{host}" + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def local_values(stack: LocalStack, env: dict[str, str]) -> dict[str, str]:
    """The value of every key of :data:`REPLACED` and :data:`ADDED` for this local stack."""
    pg = dict(host=stack.postgres_host, port=stack.postgres_port, user=stack.postgres_user,
              password=stack.postgres_password)
    api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            _with_netloc(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], path=f"/{stack.metadata_db}", **pg),
        "AIRFLOW__CELERY__RESULT_BACKEND":
            _with_netloc(env["AIRFLOW__CELERY__RESULT_BACKEND"], path=f"/{stack.metadata_db}", **pg),
        "AIRFLOW__CELERY__BROKER_URL":
            _with_netloc(env["AIRFLOW__CELERY__BROKER_URL"], stack.redis_host, stack.redis_port, None, None,
                         f"/{stack.redis_db}"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
            urlunsplit((api.scheme, f"127.0.0.1:{stack.api_port}", api.path, api.query, api.fragment)),
        "AIRFLOW_CONN_INVENTORY_DB": _with_netloc(env["AIRFLOW_CONN_INVENTORY_DB"], path=f"/{stack.inventory_db}", **pg),
        "INVENTORY_DATA_DIR": str(stack.data_dir),
        "INVENTORY_SOURCES": str(stack.sources_file),
        "INVENTORY_EXPECTATIONS_DIR": str(settings.PROJECT_ROOT / "expectations"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(stack.worker_concurrency),
        "AIRFLOW_HOME": str(stack.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.PROJECT_ROOT / "plugins"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(stack.api_port),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(stack.scheduler_health_port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(stack.passwords_file),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.hostname",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(stack.heartbeat_timeout_s),
    }


def local_environment(stack: LocalStack, env: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of the distributed stack for processes on this machine.

    Exactly the env file's ``KEY=value`` pairs, with the keys of :data:`REPLACED` rewritten and those
    of :data:`ADDED` set (see their reasons). Raises when the lists and the env file disagree.
    """
    env = read_env_file() if env is None else dict(env)
    missing = sorted(set(REPLACED) - set(env))
    if missing:
        raise KeyError(f"{ENV_FILE.name} no longer sets {missing}; update inventory.distributed.REPLACED")
    clash = sorted(set(ADDED) & set(env))
    if clash:
        raise KeyError(f"{ENV_FILE.name} now sets {clash}; move them from ADDED to REPLACED")
    values = local_values(stack, env)
    assert set(values) == set(REPLACED) | set(ADDED), "local_values() and REPLACED/ADDED disagree"
    return {**env, **values}
