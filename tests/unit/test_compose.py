"""The distributed stack's files agree with each other and with the installed Airflow.

No Docker engine is needed: docker-compose.yml, the Dockerfile and config/airflow.distributed.env
are read as text/YAML and checked against the repository and against Airflow's own configuration
metadata (core and installed providers). `docker compose config` runs only when a Compose v2
binary is present.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_FILE_REL = "config/airflow.distributed.env"
ENV_FILE = ROOT / ENV_FILE_REL
LOCK_FILE = ROOT / "requirements.lock"

AIRFLOW_HOME_IN_IMAGE = "/opt/airflow"
LONG_RUNNING = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
REQUIRED_SERVICES = {"postgres", "redis", "airflow-init", *LONG_RUNNING}
# Mount targets every Airflow container needs (host folder -> /opt/airflow/<same name>).
REPO_MOUNTS = ("dags", "plugins", "expectations", "config")


# --------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)  # resolves the x-airflow-common anchor and `<<` merges
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict:
    svcs = compose.get("services")
    assert isinstance(svcs, dict) and svcs, "docker-compose.yml has no services"
    return svcs


@pytest.fixture(scope="module")
def airflow_services(services) -> dict:
    """Services built from the repository's image, i.e. those that use the common anchor."""
    found = {name: svc for name, svc in services.items() if "build" in svc}
    assert found, "no service builds the project image (x-airflow-common `build:` missing?)"
    return found


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse a Compose env file strictly: KEY=VALUE lines, `#` comment lines, blank lines."""
    env: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        assert m, f"{path.name}:{lineno}: not KEY=VALUE: {raw!r}"
        key, value = m.group(1), m.group(2)
        assert key not in env, f"{path.name}:{lineno}: {key} is set twice"
        # Compose interpolates ${VAR}/$VAR inside env files; a literal `$` would be mangled.
        assert "$" not in value, f"{path.name}:{lineno}: `$` in the value of {key}"
        assert not re.search(r"\s#", value), f"{path.name}:{lineno}: inline comment in {key}"
        assert value == value.strip(), f"{path.name}:{lineno}: whitespace around the value of {key}"
        env[key] = value
    return env


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    assert ENV_FILE.is_file(), f"{ENV_FILE_REL} is missing"
    return parse_env_file(ENV_FILE)


def env_files_of(service: dict) -> list[str]:
    value = service.get("env_file")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item["path"] if isinstance(item, dict) else item for item in items]


def environment_keys(service: dict) -> list[str]:
    value = service.get("environment") or {}
    if isinstance(value, dict):
        return list(value)
    return [item.split("=", 1)[0] for item in value]


def split_volume(spec) -> tuple[str | None, str, str]:
    """(source, target, type) of a short- or long-syntax service volume."""
    if isinstance(spec, dict):
        return spec.get("source"), spec["target"], spec.get("type", "volume")
    parts = spec.split(":")
    if len(parts) == 1:
        return None, parts[0], "volume"  # anonymous volume
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return source, target, kind


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and line continuations joined."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
        current = ""
    return instructions


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


# ------------------------------------------------------------------------------ docker-compose.yml


def test_compose_parses_and_has_the_stack(compose, services):
    assert "x-airflow-common" in compose, "the shared x-airflow-common anchor is missing"
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"
    for name, command in LONG_RUNNING.items():
        assert services[name].get("command") == command, f"{name} should run `airflow {command}`"
    assert services["postgres"]["image"].split(":")[1].startswith("16"), "postgres should be 16"


def test_every_airflow_service_uses_the_one_env_file(compose, services, airflow_services):
    common = compose["x-airflow-common"]
    assert env_files_of(common) == [ENV_FILE_REL]
    assert ENV_FILE.is_file(), f"{ENV_FILE_REL} does not exist"
    expected = set(REQUIRED_SERVICES) - {"postgres", "redis"}
    assert expected <= set(airflow_services), (
        f"these Airflow services do not use the common anchor: {sorted(expected - set(airflow_services))}"
    )
    for name, svc in airflow_services.items():
        assert env_files_of(svc) == [ENV_FILE_REL], f"{name}: env_file must be {ENV_FILE_REL}"
        assert svc.get("build") == common["build"], f"{name}: builds something else than the anchor"
        assert svc.get("image") == common.get("image"), f"{name}: another image tag than the anchor"


def test_airflow_settings_live_only_in_the_env_file(services):
    for name, svc in services.items():
        stray = [k for k in environment_keys(svc) if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "INVENTORY_"))]
        assert not stray, f"{name} sets {stray} in docker-compose.yml; put them in {ENV_FILE_REL}"


def test_bind_mounts_and_named_volumes_exist(compose, services, airflow_services):
    declared_volumes = set((compose.get("volumes") or {}).keys())
    for name, svc in services.items():
        for spec in svc.get("volumes") or []:
            source, target, kind = split_volume(spec)
            assert target.startswith("/"), f"{name}: mount target {target!r} is not absolute"
            if kind == "bind":
                host = (ROOT / os.path.expanduser(source)).resolve()
                assert host.exists(), f"{name}: bind-mounted host path {source!r} does not exist"
                assert ROOT in (host, *host.parents), f"{name}: {source!r} is outside the repository"
            elif source is not None:
                assert source in declared_volumes, f"{name}: named volume {source!r} is not declared"
    for name, svc in airflow_services.items():
        targets = {split_volume(v)[1]: split_volume(v) for v in svc.get("volumes") or []}
        for folder in REPO_MOUNTS:
            mount = targets.get(f"{AIRFLOW_HOME_IN_IMAGE}/{folder}")
            assert mount and mount[2] == "bind", f"{name}: ./{folder} is not mounted on /opt/airflow/{folder}"
            assert (ROOT / mount[0]).resolve() == ROOT / folder, f"{name}: wrong host folder for {folder}"
        assert f"{AIRFLOW_HOME_IN_IMAGE}/data" in targets, f"{name}: no volume on /opt/airflow/data"


def test_postgres_init_scripts_exist(services):
    mounts = [split_volume(v) for v in services["postgres"].get("volumes") or []]
    init = [m for m in mounts if m[1] == "/docker-entrypoint-initdb.d"]
    assert init and init[0][2] == "bind", "postgres has no init scripts mounted"
    folder = ROOT / init[0][0]
    scripts = sorted(p for p in folder.iterdir() if p.suffix in {".sql", ".sh"} or p.name.endswith(".sql.gz"))
    assert scripts, f"{init[0][0]} holds no .sql/.sh init script"


def test_depends_on_conditions_and_healthchecks(services):
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on should use conditions (long syntax)"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep!r}"
            condition = (spec or {}).get("condition")
            assert condition in conditions, f"{name} -> {dep}: missing/invalid condition {condition!r}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; {dep} has no healthcheck"
    for name in ("postgres", "redis", *LONG_RUNNING):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    for name in LONG_RUNNING:
        deps = services[name]["depends_on"]
        assert deps.get("airflow-init", {}).get("condition") == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_airflow_init_migrates_the_database(services):
    init = services["airflow-init"]
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "airflow db migrate" in script
    assert "chown" in script, "airflow-init should hand the shared volumes to AIRFLOW_UID"


def test_optional_services_sit_behind_profiles(services):
    for name in ("flower", "airflow-cli"):
        if name in services:
            assert services[name].get("profiles"), f"{name} should only start with a --profile"


def test_urls_in_the_env_file_point_at_compose_services(env, services, airflow_services):
    def host(url: str) -> str:
        return urlsplit(url).hostname or ""

    assert host(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) in services
    assert host(env["AIRFLOW__CELERY__RESULT_BACKEND"]) in services
    assert host(env["AIRFLOW__CELERY__BROKER_URL"]) in services
    assert host(env["AIRFLOW_CONN_INVENTORY_DB"]) in services

    api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert api.hostname == "airflow-apiserver" and api.path.rstrip("/") == "/execution"
    published = [str(p) for p in services["airflow-apiserver"].get("ports", [])]
    assert any(p.split(":")[-1] == str(api.port or 80) for p in published), "execution API port mismatch"

    # INVENTORY_* paths are inside the mounts every Airflow container has.
    targets = {split_volume(v)[1] for v in next(iter(airflow_services.values())).get("volumes") or []}
    for key in ("INVENTORY_DATA_DIR", "INVENTORY_SOURCES", "INVENTORY_EXPECTATIONS_DIR"):
        if key in env:
            assert any(env[key] == t or env[key].startswith(t + "/") for t in targets), f"{key} is not on a mount"
    if "INVENTORY_SOURCES" in env:
        rel = Path(env["INVENTORY_SOURCES"]).relative_to(AIRFLOW_HOME_IN_IMAGE)
        assert (ROOT / rel).is_file(), f"INVENTORY_SOURCES points at {rel}, which is not in the repository"


def test_inventory_connection_matches_the_postgres_init(env, services):
    conn = urlsplit(env["AIRFLOW_CONN_INVENTORY_DB"])
    assert conn.scheme in {"postgres", "postgresql"}
    dbname = conn.path.lstrip("/")
    mounts = [split_volume(v) for v in services["postgres"].get("volumes") or []]
    folder = ROOT / next(m[0] for m in mounts if m[1] == "/docker-entrypoint-initdb.d")
    sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.sql")))
    assert re.search(rf"CREATE (ROLE|USER) {re.escape(conn.username)}\b", sql), "init SQL creates no such user"
    assert re.search(rf"PASSWORD '+{re.escape(conn.password)}'+", sql), "init SQL sets another password"
    assert re.search(rf"CREATE DATABASE {re.escape(dbname)}\b", sql), "init SQL creates no such database"


# ---------------------------------------------------------------------------------------- Dockerfile


def test_build_context_and_dockerfile_exist(compose):
    build = compose["x-airflow-common"]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context).is_dir()
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE and DOCKERFILE.is_file()


def test_dockerfile_base_image_matches_the_lock():
    text = DOCKERFILE.read_text(encoding="utf-8")
    m = re.search(r"apache/airflow:(?:slim-)?(\d+\.\d+\.\d+)-python(\d+\.\d+)", text)
    assert m, "the Dockerfile does not start from an official apache/airflow image"
    assert m.group(1) == lock_pins()["apache-airflow"], "base image and requirements.lock disagree on Airflow"
    assert m.group(2) == "3.11", "the lock is compiled for Python 3.11"


def test_dockerfile_installs_the_lock_with_hashes_then_the_package():
    runs = [args for ins, args in dockerfile_instructions() if ins == "RUN"]
    lock_installs = [
        r for r in runs
        if re.search(r"pip install\b", r) and re.search(r"-r\s+\S*requirements\.lock\b", r)
    ]
    assert lock_installs, "no `pip install -r requirements.lock` in the Dockerfile"
    for r in lock_installs:
        assert "--require-hashes" in r and "--no-deps" in r, r
    assert any(re.search(r"pip install\b.*\s(-e\s+)?(\.|/opt/airflow)(\s|$)", r) for r in runs), (
        "the Dockerfile does not install the project package"
    )
    users = [args for ins, args in dockerfile_instructions() if ins == "USER"]
    assert users and users[-1].split(":")[0] in {"airflow", "50000"}, "pip must run as the airflow user"


def test_requirements_lock_is_fully_hashed():
    """--require-hashes fails the build on any pin without a hash."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK_FILE.read_text(encoding="utf-8"))
    unhashed = [
        e.split()[0] for e in entries
        if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", e) and "--hash=sha256:" not in e
    ]
    assert not unhashed, f"pins without hashes in requirements.lock: {unhashed}"


def test_dockerfile_copy_sources_exist():
    for ins, args in dockerfile_instructions():
        if ins not in {"COPY", "ADD"}:
            continue
        tokens = [t for t in shlex.split(args) if not t.startswith("--")]
        if any(t.startswith("--from") for t in shlex.split(args)) or "<<" in args:
            continue
        sources = tokens[:-1]
        assert sources, f"{ins} {args}: no source"
        matched = []
        for src in sources:
            if any(ch in src for ch in "*?["):
                matched += list(ROOT.glob(src.rstrip("/")))
            else:
                assert (ROOT / src).exists(), f"{ins} source {src!r} does not exist in the repository"
                matched.append(ROOT / src)
        assert matched, f"{ins} {args}: nothing to copy"


def test_dockerignore_keeps_local_state_out():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", "data", "airflow_home", ".git", ".pytest_cache", "**/__pycache__"):
        assert entry in ignored, f".dockerignore should exclude {entry}"
    for needed in ("requirements.lock", "pyproject.toml", "plugins", "Dockerfile"):
        assert needed not in ignored, f".dockerignore excludes {needed}, which the build needs"


# ------------------------------------------------------------------- the env file vs. Airflow's config

_CONFIG_PROBE = r"""
import importlib, json, sys
from airflow.configuration import conf, retrieve_configuration_description
from airflow.executors.executor_constants import CORE_EXECUTOR_NAMES
desc = retrieve_configuration_description(include_airflow=True, include_providers=True)
print(json.dumps({
    "options": {
        s: {o: {"type": (m or {}).get("type"), "default": (m or {}).get("default")}
            for o, m in ((v or {}).get("options") or {}).items()}
        for s, v in desc.items()
    },
    "deprecated": {f"{old[0]}.{old[1]}": f"{new[0]}.{new[1]}" for new, old in conf.deprecated_options.items()},
    "sensitive": sorted(f"{s}.{o}" for s, o in conf.sensitive_config_values),
    "executors": sorted(CORE_EXECUTOR_NAMES),
    "importable": {
        path: hasattr(importlib.import_module(path.rpartition(".")[0]), path.rpartition(".")[2])
        for path in sys.argv[1:]
    },
}))
"""


@pytest.fixture(scope="module")
def airflow_config(tmp_path_factory, env) -> dict:
    """Airflow 3.3's option catalogue (core + installed providers), read in a clean subprocess
    (its own AIRFLOW_HOME, no AIRFLOW__ overrides), plus whether the env file's class paths import."""
    pytest.importorskip("airflow")
    home = tmp_path_factory.mktemp("airflow_home")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    child_env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    proc = subprocess.run(
        [sys.executable, "-c", _CONFIG_PROBE, env["AIRFLOW__CORE__AUTH_MANAGER"]],
        env=child_env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_airflow_variable_is_a_real_option(env, airflow_config):
    options = airflow_config["options"]
    unknown = []
    for key, value in env.items():
        if not key.startswith("AIRFLOW__"):
            continue
        parts = key[len("AIRFLOW__"):].split("__")
        assert len(parts) == 2, f"{key} is not AIRFLOW__SECTION__KEY"
        section, option = parts[0].lower(), parts[1].lower()
        for suffix in ("_cmd", "_secret"):
            if option.endswith(suffix) and f"{section}.{option[: -len(suffix)]}" in airflow_config["sensitive"]:
                option = option[: -len(suffix)]
        if option not in options.get(section, {}):
            hint = airflow_config["deprecated"].get(f"{section}.{option}")
            unknown.append(f"{key}" + (f" (deprecated: use [{hint.replace('.', '] ')})" if hint else ""))
            continue
        kind, default = options[section][option]["type"], options[section][option]["default"]
        # Some booleans are typed "string" in the metadata (e.g. [core] load_examples): go by the default too.
        if kind == "boolean" or str(default) in {"True", "False"}:
            assert value.lower() in {"true", "false", "t", "f", "1", "0"}, f"{key}={value!r} is not a boolean"
        elif kind == "integer" and value:
            assert re.fullmatch(r"-?\d+", value), f"{key}={value!r} is not an integer"
    assert not unknown, f"not options of Airflow 3.3 or of an installed provider: {unknown}"


def test_required_settings_are_present(env, airflow_config):
    required = {
        "AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__CORE__AUTH_MANAGER",
        "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
        "AIRFLOW__CORE__PARALLELISM", "AIRFLOW__CELERY__WORKER_CONCURRENCY", "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
        "INVENTORY_DATA_DIR", "INVENTORY_STORE", "INVENTORY_SOURCES", "AIRFLOW_CONN_INVENTORY_DB",
    }
    missing = required - set(env)
    assert not missing, f"missing from {ENV_FILE_REL}: {sorted(missing)}"
    assert env["AIRFLOW__CORE__EXECUTOR"] in airflow_config["executors"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["INVENTORY_STORE"] in {"duckdb", "postgres"}
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"], "an empty JWT secret makes every component pick its own"


def test_auth_manager_class_exists(env, airflow_config):
    path = env["AIRFLOW__CORE__AUTH_MANAGER"]
    assert airflow_config["importable"][path], f"{path} does not exist in the installed Airflow"


def test_database_and_broker_drivers_are_installed(env):
    """The drivers the URLs name are in the locked environment (and so in the image)."""
    import importlib.util

    def driver(url: str) -> str:
        # postgresql+psycopg -> psycopg; plain postgresql (also Celery's db+postgresql) -> psycopg2,
        # SQLAlchemy's default PostgreSQL driver.
        scheme = urlsplit(url).scheme.removeprefix("db+")
        assert scheme.startswith("postgresql"), url
        return scheme.split("+", 1)[1] if "+" in scheme else "psycopg2"

    needed = {
        driver(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
        driver(env["AIRFLOW__CELERY__RESULT_BACKEND"]),
        "redis" if env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis") else "kombu",
    }
    missing = sorted(m for m in needed if importlib.util.find_spec(m) is None)
    assert not missing, f"not installed: {missing}"
    pins = lock_pins()
    for module, dist in {"psycopg": "psycopg", "psycopg2": "psycopg2-binary", "redis": "redis"}.items():
        if module in needed:
            assert dist in pins, f"{dist} is not in requirements.lock, so not in the image"


# ----------------------------------------------------------------------------- docker compose config


def _compose_command() -> list[str] | None:
    def works(cmd: list[str]) -> bool:
        try:
            out = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        # Compose v1 (docker-compose 1.x, Python) does not know this file's spec; only v2 counts.
        return out.returncode == 0 and re.search(r"v?2\.\d+", out.stdout) is not None

    if shutil.which("docker") and works(["docker", "compose"]):
        return ["docker", "compose"]
    if shutil.which("docker-compose") and works(["docker-compose"]):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file():
    cmd = _compose_command()
    if cmd is None:
        pytest.skip("no Docker Compose v2 (`docker compose` plugin or docker-compose 2.x) on PATH")
    proc = subprocess.run(
        [*cmd, "-f", str(COMPOSE_FILE), "--profile", "flower", "--profile", "debug", "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
