"""docker-compose.yml and the distributed test cannot drift apart: they read the same settings file,
the test changes only the keys it lists (with the reason), and pools and queues agree everywhere.

Fast (no process is started); runs in every `make test`, also where the distributed test is skipped.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from inventory import distributed

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
IMAGE_HOME = "/opt/airflow"
# Variables the test's own code may name besides the env file's and ADDED keys: the per-worker name
# read by inventory.distributed.hostname, and the test's switches (read, never passed on).
OTHER_NAMES = {distributed.WORKER_NAME_VAR, "INVENTORY_SKIP_DISTRIBUTED"}


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return distributed.read_env_file()


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def airflow_services(compose) -> dict:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def stack_for_tests(tmp_path: Path) -> distributed.LocalStack:
    return distributed.LocalStack(
        airflow_home=tmp_path / "home", data_dir=tmp_path / "data", sources_file=tmp_path / "sources.yaml",
        metadata_db="meta_db", inventory_db="store_db", redis_db=7, api_port=18080,
        scheduler_health_port=18974, passwords_file=tmp_path / "passwords.json",
    )


# ------------------------------------------------------------------------------- one settings file


def test_compose_and_the_test_read_the_same_env_file(compose, airflow_services):
    files = {tuple(svc.get("env_file") or []) for svc in airflow_services.values()}
    assert files == {("config/airflow.distributed.env",)}, files
    assert (ROOT / "config/airflow.distributed.env").resolve() == distributed.ENV_FILE.resolve()
    assert compose["x-airflow-common"]["env_file"] == ["config/airflow.distributed.env"]


def test_overridden_keys_are_explicit_and_explained(env):
    assert set(distributed.REPLACED) <= set(env), (
        f"REPLACED names keys the env file does not set: {sorted(set(distributed.REPLACED) - set(env))}")
    assert not set(distributed.ADDED) & set(env), (
        f"the env file now sets {sorted(set(distributed.ADDED) & set(env))}: move them from ADDED to REPLACED")
    for key, reason in {**distributed.REPLACED, **distributed.ADDED}.items():
        assert len(reason) > 20, f"{key}: say why it differs"


def test_every_other_key_of_the_env_file_is_used_unchanged(env, tmp_path):
    local = distributed.local_environment(stack_for_tests(tmp_path))
    assert set(local) == set(env) | set(distributed.ADDED)
    for key, value in env.items():
        if key not in distributed.REPLACED:
            assert local[key] == value, f"{key} changed although it is not in REPLACED"
    changed = {k for k in distributed.REPLACED if local[k] != env[k]}
    assert changed == set(distributed.REPLACED), f"listed as REPLACED but unchanged: {set(distributed.REPLACED) - changed}"


def test_replaced_urls_keep_driver_and_change_only_where(env, compose, tmp_path):
    stack = stack_for_tests(tmp_path)
    local = distributed.local_environment(stack)
    services = set(compose["services"])
    for key, path in (
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "/meta_db"),
        ("AIRFLOW__CELERY__RESULT_BACKEND", "/meta_db"),
        ("AIRFLOW_CONN_INVENTORY_DB", "/store_db"),
        ("AIRFLOW__CELERY__BROKER_URL", "/7"),
        ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path),
    ):
        before, after = urlsplit(env[key]), urlsplit(local[key])
        assert before.hostname in services, f"{key}: the env file should name a compose service"
        assert after.scheme == before.scheme, f"{key}: the driver changed ({before.scheme} -> {after.scheme})"
        assert after.hostname == "127.0.0.1" and after.path == path, (key, local[key])
    assert urlsplit(local["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).port == stack.api_port
    assert local["AIRFLOW__API__PORT"] == str(stack.api_port)
    # Paths inside the image become the repository's folders (or the run's own).
    for key, value in local.items():
        assert not value.startswith(IMAGE_HOME), f"{key} still points into the image: {value}"


def test_local_environment_refuses_a_drifted_env_file(env, tmp_path):
    stack = stack_for_tests(tmp_path)
    missing = {k: v for k, v in env.items() if k != "AIRFLOW__CELERY__BROKER_URL"}
    with pytest.raises(KeyError, match="no longer sets"):
        distributed.local_environment(stack, missing)
    with pytest.raises(KeyError, match="move them from ADDED"):
        distributed.local_environment(stack, {**env, "AIRFLOW__API__PORT": "8080"})


def test_the_distributed_test_sets_no_setting_of_its_own(env):
    """Every setting name in tests/distributed/ is the env file's, an ADDED one, or a documented name."""
    allowed = set(env) | set(distributed.ADDED) | OTHER_NAMES
    pattern = re.compile(r"\b(AIRFLOW__[A-Z0-9_]+__[A-Z0-9_]+|AIRFLOW_CONN_[A-Z0-9_]+|AIRFLOW_HOME|INVENTORY_[A-Z0-9_]+)\b")
    for path in HERE.glob("*.py"):
        if path.name == Path(__file__).name:
            continue
        named = set(pattern.findall(path.read_text(encoding="utf-8")))
        assert named <= allowed, f"{path.name} names settings outside the env file and the lists: {sorted(named - allowed)}"


def test_hostname_callable(monkeypatch):
    import socket

    monkeypatch.setenv(distributed.WORKER_NAME_VAR, "worker-x")
    assert distributed.hostname() == "worker-x"
    monkeypatch.delenv(distributed.WORKER_NAME_VAR)
    assert distributed.hostname() == socket.getfqdn()


# --------------------------------------------------------------------------------- pools and queues


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def test_pools_file_is_in_the_import_format():
    pools = distributed.read_pools()
    assert pools
    for name, spec in pools.items():
        assert re.fullmatch(r"[a-z0-9_]+", name), name
        assert set(spec) <= {"slots", "description", "include_deferred", "team_name"}, spec
        assert isinstance(spec["slots"], int) and spec["slots"] >= 1, name
        assert isinstance(spec.get("description", ""), str) and isinstance(spec.get("include_deferred", False), bool)


def test_every_harvest_task_is_in_a_pool_of_the_pools_file(dags):
    pools = distributed.read_pools()
    used = set()
    for dag_id, dag in dags.items():
        for task in dag.tasks:
            if task.pool != "default_pool":
                assert task.pool in pools, f"{dag_id}.{task.task_id}: pool {task.pool!r} is not in config/pools.json"
                used.add(task.pool)
        if "source.harvest" in dag.task_dict:
            assert dag.get_task("source.harvest").pool == distributed.harvest_pool(dag_id)
    assert used == set(pools), f"pools nobody uses: {sorted(set(pools) - used)}"


def _served_queues(command: str) -> set[str]:
    argv = shlex.split(command)
    for flag in ("--queues", "-q"):
        if flag in argv:
            return set(argv[argv.index(flag) + 1].split(","))
    return {distributed.DEFAULT_QUEUE}  # airflow celery worker's default: [operators] default_queue


def test_compose_serves_every_queue_and_imports_the_pools(dags, airflow_services):
    queues = {task.queue for dag in dags.values() for task in dag.tasks}
    assert distributed.HEAVY_QUEUE in queues
    served = set()
    for svc in airflow_services.values():
        command = svc.get("command")
        if isinstance(command, str) and command.startswith("celery worker"):
            served |= _served_queues(command)
    assert queues <= served, f"no compose worker serves {sorted(queues - served)}"
    init = airflow_services["airflow-init"]["command"]
    script = " ".join(init) if isinstance(init, list) else init
    m = re.search(r"airflow pools import (\S+)", script)
    assert m, "airflow-init does not import the pools"
    assert m.group(1) == f"{IMAGE_HOME}/config/pools.json" and distributed.POOLS_FILE == ROOT / "config" / "pools.json"
