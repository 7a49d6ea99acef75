"""The distributed stack run for real: CeleryExecutor, PostgreSQL, Redis, two Celery workers.

The settings are those of ``config/airflow.distributed.env`` (the file docker-compose.yml hands to
every Airflow container), through :func:`inventory.distributed.local_environment`: only host names,
the run's own databases, ports and paths differ (the explicit lists ``REPLACED``/``ADDED``).

The scenario, against the sample agencies (in this process; catalogue pages answered slowly):

0. own PostgreSQL databases (metadata, inventory) and an own Redis database number; ``airflow db
   migrate`` and ``airflow pools import config/pools.json`` (what compose's airflow-init does);
   api-server, scheduler, triggerer and worker A start, then the dag-processor; all healthy;
1. round 1, one worker: the harvest DAGs' first runs (the scheduler's own; the DAGs are not paused
   at creation), timed; the asset-triggered publish_inventory succeeds;
2. round 2, two workers: worker B joins; both harvest DAGs triggered through the REST API (JWT from
   ``POST /auth/token``), timed; the mapped harvests ran on both workers;
3. round 3: harvest_catalogues triggered again; worker B is SIGKILLed (its whole process tree)
   while it harvests; Airflow fails those task instances on their missed heartbeats and retries
   them on worker A; the run succeeds and publishes;
4. the inventory in PostgreSQL holds every source, complete, from the last run;
5. everything stops; databases dropped, Redis flushed; nothing of the run is left (also checked
   after a failure, by the fixture).

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and Redis on 127.0.0.1:6379. When
one is unreachable the test FAILS, unless INVENTORY_SKIP_DISTRIBUTED=1 is set (then it skips).
"""

from __future__ import annotations

import os
import time

import pytest

from inventory import distributed
from tests.distributed.conftest import FIGURES
from tests.distributed.stack import PG_ADMIN, REDIS_HOST, REDIS_PORT, LocalCeleryStack, StackError, parse_time, wait_for

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(900)]

SLOW_SECONDS = 4.0  # every catalogue page is answered after this long (the sample agencies' `slow` fault)
CATALOGUES = ("national-portal", "gemeente-utrecht", "utrecht-mirror")  # more than one worker runs at once
REGISTERS = ("algoritmeregister",)
HARVEST_DAGS = {"harvest_catalogues": CATALOGUES, "harvest_algorithm_registers": REGISTERS}
PUBLISH_DAG = "publish_inventory"
WORKER_A, WORKER_B = "worker-a", "worker-b"
CONCURRENCY = 2  # per worker (REPLACED: AIRFLOW__CELERY__WORKER_CONCURRENCY)
HEARTBEAT_TIMEOUT = 20  # s without a heartbeat before a task instance counts as lost (ADDED key)
RUN_TIMEOUT = 300  # seconds, per round


def sources_yaml(url: str) -> str:
    """The demo sources (same ids, same agencies) plus a mirror, catalogue pages answered slowly."""
    slow = f"{url}/faults/slow"
    return f"""\
sources:
  - id: national-portal
    kind: ckan
    url: {slow}/ckan/national-portal/api/3/action/
    allow_private_network: true
    options: {{rows: 100}}
  - id: gemeente-utrecht
    kind: ckan
    url: {slow}/ckan/gemeente-utrecht/api/3/action/
    publisher: Gemeente Utrecht
    allow_private_network: true
    options: {{rows: 25}}
  - id: utrecht-mirror
    kind: ckan
    url: {slow}/ckan/gemeente-utrecht/api/3/action/
    publisher: Gemeente Utrecht
    allow_private_network: true
    options: {{rows: 20}}
  - id: algoritmeregister
    kind: algoritmeregister
    url: {url}/algoritmeregister
    allow_private_network: true
    options: {{language: NLD, limit: 10}}
"""


def _require_services() -> None:
    import psycopg
    import redis

    problems = []
    try:
        psycopg.connect(PG_ADMIN).close()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"PostgreSQL on 127.0.0.1:5432: {exc}")
    try:
        redis.Redis(REDIS_HOST, REDIS_PORT, socket_timeout=5).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis on {REDIS_HOST}:{REDIS_PORT}: {exc}")
    if problems:
        if os.environ.get("INVENTORY_SKIP_DISTRIBUTED") == "1":
            pytest.skip("unreachable, and INVENTORY_SKIP_DISTRIBUTED=1: " + "; ".join(problems))
        pytest.fail("The distributed test needs " + "; ".join(problems)
                    + " (start them, or set INVENTORY_SKIP_DISTRIBUTED=1 to skip)", pytrace=False)


@pytest.fixture(scope="module")
def agencies():
    from inventory.demo.sample_agencies import SampleAgencies

    with SampleAgencies(slow_seconds=SLOW_SECONDS) as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory, agencies):
    _require_services()
    root = tmp_path_factory.mktemp("celery-stack")
    sources = root / "sources.yaml"
    sources.write_text(sources_yaml(agencies.url), encoding="utf-8")
    local = LocalCeleryStack(root, sources, worker_concurrency=CONCURRENCY, heartbeat_timeout_s=HEARTBEAT_TIMEOUT)
    try:
        local.create_databases()
        yield local
    finally:
        left = local.close()  # idempotent: the test closes it itself when it gets that far
        if left:
            pytest.fail(f"the distributed test left things behind: {left}", pytrace=False)


# ------------------------------------------------------------------------------------- helpers


def wait_for_run(stack: LocalCeleryStack, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> dict:
    client = stack.client

    def finished():
        run = client.dag_run(dag_id, run_id)
        return run if run["state"] in ("success", "failed") else None

    run = wait_for(f"{dag_id} run {run_id}", finished, timeout, interval=2, check=stack.check_alive)
    if run["state"] != "success":
        states = sorted((t["task_id"], t["rendered_map_index"], t["state"], t["hostname"])
                        for t in client.task_instances(dag_id, run_id))
        raise StackError(f"{dag_id} run {run_id} ended {run['state']}: {states}")
    return run


def wait_for_publish(stack: LocalCeleryStack, harvest_runs: list[tuple[str, str]]) -> None:
    """Until successful publish_inventory runs have consumed the asset events of these (dag_id, run_id)."""
    client = stack.client
    wanted = set(harvest_runs)

    def consumed():
        seen = set()
        for run in client.dag_runs(PUBLISH_DAG):
            if run["state"] == "failed":
                raise StackError(f"{PUBLISH_DAG} run {run['dag_run_id']} failed")
            if run["state"] == "success":
                seen |= {(e["source_dag_id"], e["source_run_id"]) for e in client.consumed_events(run["dag_run_id"])}
        return wanted <= seen

    wait_for(f"{PUBLISH_DAG} to publish {sorted(wanted)}", consumed, 180, interval=2, check=stack.check_alive)


def harvest_tis(stack: LocalCeleryStack, dag_id: str, run_id: str) -> list[dict]:
    return [t for t in stack.client.task_instances(dag_id, run_id) if t["task_id"] == "source.harvest"]


def max_overlap(tis: list[dict]) -> int:
    """The most task instances that ran at the same moment."""
    events = []
    for t in tis:
        if t["start_date"] and t["end_date"]:
            events += [(parse_time(t["start_date"]), 1), (parse_time(t["end_date"]), -1)]
    best = now = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        now += step
        best = max(best, now)
    return best


def check_round(stack: LocalCeleryStack, runs: dict[str, str], label: str) -> dict:
    """Pools, queues and timings of one round of harvest runs; returns the figures."""
    client, pools = stack.client, distributed.read_pools()
    figures = {}
    for dag_id, run_id in runs.items():
        run = client.dag_run(dag_id, run_id)
        tis = client.task_instances(dag_id, run_id)
        harvests = [t for t in tis if t["task_id"] == "source.harvest"]
        assert sorted(t["rendered_map_index"] for t in harvests) == sorted(HARVEST_DAGS[dag_id])
        pool = distributed.harvest_pool(dag_id)
        assert {t["pool"] for t in harvests} == {pool}, "the harvest tasks are not in their pool"
        assert max_overlap(harvests) <= pools[pool]["slots"], f"{pool}: more harvests at once than slots"
        assert {t["queue"] for t in tis if t["task_id"] == "source.validate"} == {distributed.HEAVY_QUEUE}
        starts = [parse_time(t["start_date"]) for t in harvests]
        ends = [parse_time(t["end_date"]) for t in harvests]
        figures[dag_id] = {
            "run_s": (parse_time(run["end_date"]) - parse_time(run["start_date"])).total_seconds(),
            "harvest_s": (max(ends) - min(starts)).total_seconds(),
            "hosts": sorted({t["hostname"] for t in harvests}),
        }
    cat = figures["harvest_catalogues"]
    FIGURES.append(
        f"{label}: harvest_catalogues ({len(CATALOGUES)} sources, pages {SLOW_SECONDS:.0f} s slow) "
        f"{cat['run_s']:.0f} s (harvests {cat['harvest_s']:.0f} s) on {', '.join(cat['hosts'])}; "
        f"harvest_algorithm_registers {figures['harvest_algorithm_registers']['run_s']:.0f} s"
    )
    print(FIGURES[-1])
    return figures


# ----------------------------------------------------------------------------------- the test


def test_celery_stack_end_to_end(stack: LocalCeleryStack, agencies):
    started = time.monotonic()

    def phase(text: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {text}", flush=True)

    try:
        scenario(stack, phase)
    except BaseException:
        print(f"\nLogs of the distributed stack under {stack.log_dir}; the last lines of each:\n{stack.tails(40)}")
        raise
    left = stack.close()
    phase("stopped; databases dropped, Redis flushed")
    assert not left, f"left behind: {left}"
    FIGURES.append(f"whole distributed test (set-up to tear-down): {time.monotonic() - started:.0f} s")
    print(FIGURES[-1])


def scenario(stack: LocalCeleryStack, phase) -> None:
    # -- 0. the stack
    stack.initialise()
    phase("metadata database migrated, pools imported")
    stack.start("api-server", "api-server")
    stack.start("scheduler", "scheduler")
    stack.start("triggerer", "triggerer", "--skip-serve-logs")
    stack.start_worker(WORKER_A)
    client = stack.connect()

    def healthy():
        health = client.health()
        return all(health.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler", "triggerer"))

    wait_for("api-server, scheduler and triggerer to be healthy", healthy, 180, interval=2, check=stack.check_alive)
    import httpx

    health_port = stack.settings.scheduler_health_port
    wait_for("the scheduler's /health", lambda: httpx.get(f"http://127.0.0.1:{health_port}/health", timeout=5).status_code == 200,
             60, check=stack.check_alive)
    wait_for(f"{WORKER_A} to answer a Celery ping", lambda: stack.worker_ready(WORKER_A), 120, interval=2, check=stack.check_alive)
    phase("api-server, scheduler, triggerer and worker A healthy")

    pools = {p["name"]: p["slots"] for p in client.get("/pools", limit=100)["pools"]}
    for name, spec in distributed.read_pools().items():
        assert pools.get(name) == spec["slots"], f"pool {name} not imported from config/pools.json: {pools}"

    # The DAGs appear once the dag-processor has parsed them; the scheduler then starts their first
    # runs at once (not paused at creation; catchup=False runs the latest interval).
    stack.start("dag-processor", "dag-processor")
    dag_ids = {*HARVEST_DAGS, PUBLISH_DAG}
    wait_for("the DAGs to be parsed", lambda: dag_ids <= {d["dag_id"] for d in client.get("/dags", limit=100)["dags"]},
             180, interval=2, check=stack.check_alive)
    assert client.get("/importErrors")["total_entries"] == 0, client.get("/importErrors")
    for dag_id in dag_ids:
        client.unpause(dag_id)
    phase("DAGs parsed")

    # -- 1. one worker: the scheduler's own first runs (or, if the schedule made none, triggered ones)
    round1 = {}
    for dag_id in HARVEST_DAGS:
        try:
            runs = wait_for(f"a first run of {dag_id}", lambda d=dag_id: client.dag_runs(d), 30, check=stack.check_alive)
            round1[dag_id] = runs[-1]["dag_run_id"]
        except StackError:
            round1[dag_id] = client.trigger(dag_id)
    for dag_id, run_id in round1.items():
        wait_for_run(stack, dag_id, run_id)
    one = check_round(stack, round1, "1 worker ")
    assert one["harvest_catalogues"]["hosts"] == [WORKER_A]
    stack.start_worker(WORKER_B)  # starts while round 1 publishes
    wait_for_publish(stack, list(round1.items()))
    phase("round 1 (one worker) harvested and published")

    # -- 2. two workers, runs triggered through the REST API
    wait_for(f"{WORKER_B} to answer a Celery ping", lambda: stack.worker_ready(WORKER_B), 120, interval=2, check=stack.check_alive)
    round2 = {dag_id: client.trigger(dag_id, note="distributed test: two workers") for dag_id in HARVEST_DAGS}
    for dag_id, run_id in round2.items():
        wait_for_run(stack, dag_id, run_id)
    two = check_round(stack, round2, "2 workers")
    assert two["harvest_catalogues"]["hosts"] == [WORKER_A, WORKER_B], "the mapped harvests did not run on both workers"
    phase("round 2 (two workers) harvested")

    # -- 3. lose worker B in the middle of a run
    dag_id = "harvest_catalogues"
    run3 = client.trigger(dag_id, note="distributed test: a worker is lost")

    def b_is_harvesting():
        """A catalogue harvest runs on B, and no task instance anywhere is queued: so no Celery
        message of a task that has not started yet is on its way to B."""
        tis = client.task_instances(dag_id, run3)
        victims = [t for t in tis if t["task_id"] == "source.harvest" and t["state"] == "running" and t["hostname"] == WORKER_B]
        queued = client.get("/dags/~/dagRuns/~/taskInstances", state="queued", limit=1)["total_entries"]
        return victims if victims and not queued else None

    victims = wait_for(f"{WORKER_B} to be harvesting", b_is_harvesting, 120, interval=0.5, check=stack.check_alive)
    stack.stop_component(WORKER_B, hard=True)
    killed_at = time.monotonic()
    phase(f"{WORKER_B} killed (SIGKILL, whole process tree) while harvesting {[CATALOGUES[v['map_index']] for v in victims]}")
    wait_for_run(stack, dag_id, run3)
    recovered_s = time.monotonic() - killed_at
    for victim in victims:
        tries = client.tries(dag_id, run3, victim["task_id"], victim["map_index"])
        by_try = {t["try_number"]: t for t in tries}
        first, last = by_try[victim["try_number"]], by_try[max(by_try)]
        assert first["hostname"] == WORKER_B and first["state"] in ("failed", "up_for_retry"), first
        assert last["try_number"] > first["try_number"] and last["state"] == "success" and last["hostname"] == WORKER_A, last
    FIGURES.append(f"worker lost  : {len(victims)} harvest(s) killed on {WORKER_B}, retried on {WORKER_A}; "
                   f"the run succeeded {recovered_s:.0f} s after the kill")
    print(FIGURES[-1])
    wait_for_publish(stack, [*round2.items(), (dag_id, run3)])
    phase("round 3 (worker lost) harvested; rounds 2 and 3 published")

    # -- 4. the inventory in PostgreSQL: every source, complete, from the last runs
    check_inventory(stack, {**round2, dag_id: run3})


def check_inventory(stack: LocalCeleryStack, last_runs: dict[str, str]) -> None:
    import psycopg

    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={stack.settings.inventory_db} connect_timeout=5"
    with psycopg.connect(dsn) as con:
        datasets = dict(con.execute("SELECT source_id, count(*) FROM datasets GROUP BY source_id").fetchall())
        algorithms = dict(con.execute("SELECT source_id, count(*) FROM algorithms GROUP BY source_id").fetchall())
        runs = con.execute("SELECT source_id, run_id, status FROM harvest_runs").fetchall()
    assert set(datasets) == set(CATALOGUES), datasets
    assert datasets["national-portal"] > 250 and all(datasets[s] > 50 for s in CATALOGUES[1:]), datasets
    assert set(algorithms) == set(REGISTERS) and algorithms["algoritmeregister"] > 25, algorithms
    for dag_id, run_id in last_runs.items():
        last = {source: status for source, rid, status in runs if rid == run_id}
        assert last == {s: "complete" for s in HARVEST_DAGS[dag_id]}, (dag_id, run_id, last)
