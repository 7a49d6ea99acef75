"""Publish into PostgreSQL: the same scenarios as the DuckDB store, in a database of their own.

Needs the server on 127.0.0.1:5432 (user postgres, trust auth). When it is unreachable these tests
FAIL, unless INVENTORY_SKIP_POSTGRES=1 is set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

import psycopg
from psycopg import sql

from tests.unit import publish_scenarios as sc
from inventory import model
from inventory.publish import open_store, publish

pytestmark = pytest.mark.postgres

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


@pytest.fixture(scope="module")
def pg_database():
    try:
        admin = psycopg.connect(ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("INVENTORY_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL unreachable and INVENTORY_SKIP_POSTGRES=1: {exc}")
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is unreachable ({exc}); start it or set "
                    "INVENTORY_SKIP_POSTGRES=1 to skip these tests", pytrace=False)
    name = f"inventory_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def pg_env(pg_database, tmp_path, monkeypatch) -> sc.StoreEnv:
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INVENTORY_STORE", "postgres")
    monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_DB", f"postgresql://postgres@127.0.0.1:5432/{pg_database}")
    # Every test starts from an empty store.
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_database}", autocommit=True) as c:
        c.execute("DROP SCHEMA public CASCADE")
        c.execute("CREATE SCHEMA public")
    return sc.StoreEnv("postgres", tmp_path, monkeypatch)


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda f: f.__name__.removeprefix("scenario_"))
def test_publish_postgres(scenario, pg_env):
    scenario(pg_env)


def test_schema_types_and_keys(pg_env, pg_database):
    summary = publish()
    assert summary["store"] == {"kind": "postgres",
                                "location": f"postgresql://postgres@127.0.0.1:5432/{pg_database}"}
    with open_store() as st:
        types = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'datasets'"))
        assert types["title"] == "text" and types["keyword"] == "ARRAY"
        assert types["harvested_at"] == "timestamp with time zone"
        runs = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'harvest_runs'"))
        assert runs["duration_s"] == "double precision" and runs["pages"] == "bigint"
        services = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'data_services'"))
        assert services["adr_score"] == "double precision" and services["authentication"] == "ARRAY"
        for table, schema in model.ALL_TABLES.items():
            assert st.table_columns(table) == schema.names
        pks = {}
        for table, column in st.fetchall(
                "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
                "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
                "AND kcu.table_name = tc.table_name WHERE tc.constraint_type = 'PRIMARY KEY' "
                "AND tc.table_schema = 'public' ORDER BY kcu.ordinal_position"):
            pks.setdefault(table, []).append(column)
        assert pks["datasets"] == ["dataset_uid"] and pks["algorithms"] == ["algorithm_uid"]
        assert pks["data_services"] == ["service_uid"]
        assert pks["harvest_runs"] == ["run_id", "source_id"]
        assert st.schema_version() == 3  # 3 changes nothing here: PostgreSQL keeps the record key indexes


def test_readers_see_the_previous_inventory_during_a_publish(pg_env, pg_database):
    """While a publish transaction is open, another connection reads the old inventory."""
    sc.allow_withdrawals(pg_env, "100%")
    sc.first_publish(pg_env)
    sc.make_batch("gem-a", "run2", datasets=[sc.dataset("gem-a", 1, "run2")], quarantine=[])
    seen = {}
    real = sc.core._apply_batch

    def peek(store, batch, *args, **kwargs):
        out = real(store, batch, *args, **kwargs)
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_database}") as other:
            seen["during"] = other.execute("SELECT count(*) FROM datasets WHERE source_id = 'gem-a'").fetchone()[0]
        return out

    pg_env.monkeypatch.setattr(sc.core, "_apply_batch", peek)
    publish()
    assert seen["during"] == 5
    assert len(pg_env.rows("datasets", "gem-a")) == 1


def test_the_catalogue_reads_postgres_range_by_range_into_the_same_pages(pg_env, monkeypatch):
    """The ranges of dataset_uid the catalogue is read in (see catalog._uid_ranges) in PostgreSQL's SQL."""
    from inventory.publish import catalog, export
    from tests.unit.test_catalog import EU, _canonical_pages, publish_inventory, rich_dataset, rich_distribution

    monkeypatch.setenv(catalog.PUBLIC_URL_ENV, "https://inventaris.example.nl/inventory")
    monkeypatch.setenv("INVENTORY_CATALOG_PAGE_SIZE", "2")
    folder = publish_inventory([rich_dataset(i) for i in range(6)] + [rich_dataset(6, access_rights=f"{EU}access-right/NON_PUBLIC")],
                               [rich_distribution(i) for i in range(7)])
    whole = _canonical_pages(folder)
    monkeypatch.setattr(catalog, "RANGE_DATASETS", 4)
    assert _canonical_pages(Path(export()) / "catalog") == whole and len(whole) == 3
