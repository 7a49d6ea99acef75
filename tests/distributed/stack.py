"""The distributed stack as local processes: the machinery behind ``test_celery_stack.py``.

``LocalCeleryStack`` owns everything one run creates and removes it again, whatever happened:
two PostgreSQL databases (Airflow metadata, inventory), one Redis database number, a folder
(AIRFLOW_HOME, logs, data), and the processes (api-server, scheduler, dag-processor, triggerer,
Celery workers), each in its own process group with its log in a file. Every setting comes from
``config/airflow.distributed.env`` through :func:`inventory.distributed.local_environment`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from inventory import distributed

PROJECT = Path(__file__).resolve().parents[2]
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_CLAIM_KEY = "inventory-distributed-test:owner"
ADMIN_USER = "admin"  # AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin in the env file

# Environment variables of the test process that must not leak into the components: Airflow and
# inventory settings come from the env file (and the explicit overrides) only.
_SCRUBBED_PREFIXES = ("AIRFLOW", "INVENTORY_", "SAMPLE_AGENCIES")


class StackError(AssertionError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def wait_for(what: str, predicate: Callable[[], Any], timeout: float, interval: float = 1.0,
             check: Callable[[], None] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if check:
            check()
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - reported when the wait times out
            last_error = exc
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f} s waiting for {what}"
                             + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


# ------------------------------------------------------------------------------------ processes


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    stopped: bool = False  # stopped on purpose (not a crash)
    tree_at_stop: list = field(default_factory=list)  # psutil processes, taken at SIGTERM

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=PROJECT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,  # own process group
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def tree(self) -> list:
        """The process and all its descendants (task processes run in process groups of their own)."""
        import psutil

        if self.proc is None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        return procs

    def kill_hard(self) -> None:
        """SIGKILL the whole tree at once: the machine this worker ran on is gone."""
        procs = self.tree()
        for p in procs:
            try:
                p.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self.proc is not None:
            self.proc.wait(timeout=30)
        _wait_gone(procs, 10)

    def terminate(self) -> None:
        """SIGTERM the process group (remembering the tree, for reap())."""
        self.tree_at_stop = self.tree()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def reap(self, deadline: float) -> None:
        """Wait until ``deadline`` (time.monotonic()) for the process, then SIGKILL whatever of its tree is left."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        procs = self.tree_at_stop
        for p in _wait_gone(procs, 2):
            try:
                p.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _wait_gone(procs, 5)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the process group, wait up to ``grace`` s, then SIGKILL whatever of the tree is left."""
        self.terminate()
        self.reap(time.monotonic() + grace)


def _wait_gone(procs: list, timeout: float) -> list:
    import psutil

    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


# ------------------------------------------------------------------------------------- REST API


class AirflowClient:
    """Airflow's public REST API (/api/v2) as a real client uses it: a JWT from POST /auth/token."""

    def __init__(self, base_url: str, username: str, password: str):
        import httpx

        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def login(self) -> None:
        resp = self.http.post("/auth/token", json=self._credentials)
        if resp.status_code != 201:
            raise StackError(f"POST /auth/token answered {resp.status_code}: {resp.text[:300]}")
        self._token = resp.json()["access_token"]

    def request(self, method: str, path: str, **kwargs) -> Any:
        if self._token is None:
            self.login()
        for attempt in (1, 2):
            resp = self.http.request(method, "/api/v2" + path,
                                     headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
            if resp.status_code == 401 and attempt == 1:
                self.login()
                continue
            break
        if resp.status_code >= 400:
            raise StackError(f"{method} /api/v2{path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params=params)

    # -- the calls the test makes

    def health(self) -> dict:
        return self.http.get("/api/v2/monitor/health").json()

    def dag(self, dag_id: str) -> dict:
        return self.get(f"/dags/{dag_id}")

    def unpause(self, dag_id: str) -> None:
        if self.dag(dag_id)["is_paused"]:
            self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, note: str | None = None) -> str:
        body = {"logical_date": None, "conf": {}, **({"note": note} if note else {})}
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=100, order_by="-run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries")["task_instances"]

    def consumed_events(self, run_id: str, dag_id: str = "publish_inventory") -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")["asset_events"]


# ----------------------------------------------------------------------------------- the stack


class LocalCeleryStack:
    """One throw-away CeleryExecutor stack on this machine (see the module docstring)."""

    def __init__(self, root: Path, sources_file: Path, *, worker_concurrency: int = 2, heartbeat_timeout_s: int = 30):
        token = f"{os.getpid()}_{secrets.token_hex(4)}"
        self.root = root
        self.log_dir = root / "logs"
        self.password = secrets.token_urlsafe(16)
        self.settings = distributed.LocalStack(
            airflow_home=root / "airflow_home",
            data_dir=root / "data",
            sources_file=sources_file,
            metadata_db=f"inventory_dist_airflow_{token}",
            inventory_db=f"inventory_dist_store_{token}",
            redis_db=-1,  # claimed in create_databases()
            api_port=free_port(),
            scheduler_health_port=free_port(),
            passwords_file=root / "airflow_home" / "simple_auth_manager_passwords.json",
            worker_concurrency=worker_concurrency,
            heartbeat_timeout_s=heartbeat_timeout_s,
        )
        self.components: dict[str, Component] = {}
        self.created_databases: list[str] = []
        self.redis_db: int | None = None
        self._redis_token = token
        self.client: AirflowClient | None = None
        self._closed = False

    # -- environment

    def environment(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        return {**base, **distributed.local_environment(self.settings), **extra}

    # -- databases

    def create_databases(self) -> None:
        import dataclasses

        import psycopg
        import redis
        from psycopg import sql

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for name in (self.settings.metadata_db, self.settings.inventory_db):
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                self.created_databases.append(name)
        # An empty Redis database number of our own, claimed atomically (SET NX) so that two runs
        # at once never share one.
        count = int(redis.Redis(REDIS_HOST, REDIS_PORT, socket_timeout=5).config_get("databases")["databases"])
        for number in [*range(count - 1, 0, -1)]:
            r = redis.Redis(REDIS_HOST, REDIS_PORT, db=number, socket_timeout=5)
            if r.set(REDIS_CLAIM_KEY, self._redis_token, nx=True):
                if r.dbsize() == 1:
                    self.redis_db = number
                    break
                r.delete(REDIS_CLAIM_KEY)
        if self.redis_db is None:
            raise StackError(f"no empty Redis database among 1..{count - 1} on {REDIS_HOST}:{REDIS_PORT}")
        self.settings = dataclasses.replace(self.settings, redis_db=self.redis_db)

    def drop_databases(self) -> list[str]:
        """Drop what this run created; returns what could not be removed."""
        import psycopg
        import redis
        from psycopg import sql

        problems = []
        if self.created_databases:
            try:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    for name in list(self.created_databases):
                        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                        self.created_databases.remove(name)
            except Exception as exc:  # noqa: BLE001 - reported
                problems.append(f"dropping {self.created_databases}: {exc!r}")
        if self.redis_db is not None:
            try:
                redis.Redis(REDIS_HOST, REDIS_PORT, db=self.redis_db, socket_timeout=5).flushdb()
                self.redis_db = None
            except Exception as exc:  # noqa: BLE001
                problems.append(f"flushing Redis db {self.redis_db}: {exc!r}")
        return problems

    def leftovers(self) -> list[str]:
        """Processes, databases or Redis keys of this run that still exist."""
        import psutil
        import psycopg
        import redis

        found = []
        home = str(self.settings.airflow_home)
        for p in psutil.process_iter(["pid", "cmdline"]):
            if p.pid == os.getpid():
                continue
            try:
                if p.environ().get("AIRFLOW_HOME") == home:
                    found.append(f"process {p.pid}: {' '.join(p.info['cmdline'] or [])[:120]}")
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            names = {self.settings.metadata_db, self.settings.inventory_db}
            rows = admin.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (list(names),)).fetchall()
            found += [f"database {r[0]}" for r in rows]
        if self.settings.redis_db >= 0:
            keys = redis.Redis(REDIS_HOST, REDIS_PORT, db=self.settings.redis_db, socket_timeout=5).dbsize()
            if keys and self.redis_db is None:  # flushed by us, yet keys again: something still writes
                found.append(f"{keys} keys in Redis db {self.settings.redis_db}")
        return found

    # -- Airflow

    def airflow(self, *args: str, timeout: float = 300) -> str:
        """Run one Airflow CLI command (like compose's airflow-init), its output logged."""
        log = self.log_dir / f"airflow-{args[0]}-{args[1] if len(args) > 1 else ''}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.environment(), cwd=PROJECT,
                              capture_output=True, text=True, timeout=timeout)
        log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
        if proc.returncode != 0:
            raise StackError(f"`airflow {' '.join(args)}` exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
        return proc.stdout

    def initialise(self) -> None:
        """What compose's airflow-init does: migrate the metadata DB, import the pools."""
        self.settings.airflow_home.mkdir(parents=True, exist_ok=True)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings.passwords_file.write_text(json.dumps({ADMIN_USER: self.password}) + "\n", encoding="utf-8")
        self.airflow("db", "migrate")
        self.airflow("pools", "import", str(distributed.POOLS_FILE))

    def start(self, name: str, *args: str, **extra_env: str) -> Component:
        comp = Component(name, [sys.executable, "-m", "airflow", *args], self.log_dir / f"{name}.log",
                         self.environment(**extra_env))
        self.components[name] = comp
        comp.start()
        return comp

    def start_worker(self, name: str) -> Component:
        # One machine, one log folder: the api-server reads task logs from it, so the workers serve
        # none (in compose each worker container serves its own on port 8793).
        queues = f"{distributed.DEFAULT_QUEUE},{distributed.HEAVY_QUEUE}"
        return self.start(name, "celery", "worker", "--celery-hostname", name, "--queues", queues,
                          "--skip-serve-logs", **{distributed.WORKER_NAME_VAR: name})

    def check_alive(self) -> None:
        dead = [c for c in self.components.values() if c.proc is not None and not c.alive() and not c.stopped]
        if dead:
            raise StackError("; ".join(f"{c.name} exited with {c.proc.returncode}" for c in dead))

    def worker_ready(self, name: str) -> bool:
        """`celery inspect ping` (compose's worker healthcheck), from this process."""
        from celery import Celery

        app = Celery(broker=self.environment()["AIRFLOW__CELERY__BROKER_URL"])
        try:
            replies = app.control.ping(destination=[f"celery@{name}"], timeout=1.0)
        finally:
            app.close()
        return any(f"celery@{name}" in r for r in replies)

    def connect(self) -> AirflowClient:
        self.client = AirflowClient(self.settings.api_url, ADMIN_USER, self.password)
        return self.client

    def stop_component(self, name: str, hard: bool = False) -> None:
        comp = self.components[name]
        comp.stopped = True
        comp.kill_hard() if hard else comp.stop()

    def tails(self, lines: int = 30) -> str:
        out = []
        for comp in self.components.values():
            out.append(f"----- {comp.name} ({comp.log_path}) -----\n{comp.tail(lines)}")
        return "\n".join(out)

    def close(self) -> list[str]:
        """Stop every process (workers first), drop the databases, flush Redis; what was left behind."""
        if self._closed:
            return []
        self._closed = True
        if self.client:
            self.client.close()
        # Workers first (they take no new task), then the rest; each group stopped in parallel.
        workers = [c for c in self.components.values() if "worker" in c.name]
        others = [c for c in self.components.values() if c not in workers]
        for group in (workers, others):
            for comp in group:
                comp.stopped = True
                try:
                    comp.terminate()
                except Exception as exc:  # noqa: BLE001 - go on with the rest
                    print(f"stopping {comp.name}: {exc!r}", file=sys.stderr)
            deadline = time.monotonic() + 20
            for comp in group:
                try:
                    comp.reap(deadline)
                except Exception as exc:  # noqa: BLE001
                    print(f"stopping {comp.name}: {exc!r}", file=sys.stderr)
        problems = self.drop_databases()
        return problems + self.leftovers()
