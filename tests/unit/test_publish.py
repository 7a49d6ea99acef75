"""Publish into the embedded DuckDB store: the shared scenarios, schema, connection resolution."""

from __future__ import annotations

import json

import pytest

from tests.unit import publish_scenarios as sc
from inventory import model, settings
from inventory.publish import StoreConfigError, open_store, publish, read_summary
from inventory.publish import postgres_store


@pytest.fixture
def duck_env(tmp_path, monkeypatch) -> sc.StoreEnv:
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INVENTORY_STORE", raising=False)
    return sc.StoreEnv("duckdb", tmp_path, monkeypatch)


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda f: f.__name__.removeprefix("scenario_"))
def test_publish_duckdb(scenario, duck_env):
    scenario(duck_env)


def test_store_is_the_duckdb_file_and_schema_follows_the_model(duck_env):
    summary = publish()
    assert summary["store"] == {"kind": "duckdb", "location": str(settings.duckdb_path())}
    assert settings.duckdb_path().exists()
    with open_store() as st:
        types = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'datasets'"))
        assert types["title"] == "VARCHAR" and types["keyword"] == "VARCHAR[]"
        assert types["harvested_at"] == "TIMESTAMP WITH TIME ZONE"
        dist = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'distributions'"))
        assert dist["byte_size"] == "BIGINT"
        runs = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'harvest_runs'"))
        assert runs["duration_s"] == "DOUBLE"
        services = dict(st.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'data_services'"))
        assert services["adr_score"] == "DOUBLE" and services["authentication"] == "VARCHAR[]"
        for table, schema in model.ALL_TABLES.items():
            assert st.table_columns(table) == schema.names
        assert st.schema_version() == 3  # 2: history, changes, tombstones; 3: record tables without key indexes
        assert _primary_keys(st) == {"harvest_runs": ["run_id", "source_id"], "dataset_clusters": ["dataset_uid"],
                                     "algorithm_datasets": ["algorithm_uid", "dataset_uid"],
                                     "schema_version": ["version"], "publish_log": ["publish_id"],
                                     "published_batches": ["source_id", "batch_id", "fingerprint"]}


def _primary_keys(st) -> dict[str, list[str]]:
    return {r[0]: r[1] for r in st.fetchall(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'")}


def test_missing_model_column_is_added(duck_env):
    publish()
    with open_store() as st:
        st.execute('ALTER TABLE "algorithms" DROP COLUMN "language"')
    publish()
    with open_store() as st:
        assert sorted(st.table_columns("algorithms")) == sorted(model.ALGORITHMS.names)  # appended


def test_newer_store_schema_is_refused(duck_env):
    publish()
    with open_store() as st:
        st.execute('INSERT INTO "schema_version" VALUES (99, \'future\', CURRENT_TIMESTAMP)')
    with pytest.raises(RuntimeError, match="schema version 99"):
        publish()


def test_read_summary_without_a_store_is_empty(duck_env):
    assert read_summary() == []
    assert not settings.duckdb_path().exists()


def test_unknown_report_status_is_refused(duck_env):
    b = sc.make_batch("gem-a", "run1", datasets=[sc.dataset("gem-a", 1)])
    b.update_report(status="weird")
    with pytest.raises(ValueError, match="status 'weird'"):
        publish()
    assert b.read_report()["state"] == "validated"


# ----------------------------------------------------------------------------- PostgreSQL connection
def test_connection_from_airflow_uri(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_DB",
                       "postgresql://inv%40user:s3cr%2Ft@db.example:6543/inventory?sslmode=require&cursor=dict")
    info = postgres_store.resolve_connection()
    assert (info.host, info.port, info.user, info.password, info.dbname) == (
        "db.example", 6543, "inv@user", "s3cr/t", "inventory")
    kwargs = info.connect_kwargs()
    assert kwargs["sslmode"] == "require" and "cursor" not in kwargs and kwargs["password"] == "s3cr/t"
    assert info.location() == "postgresql://inv%40user@db.example:6543/inventory"
    assert "s3cr" not in repr(info) and "s3cr" not in info.location()


def test_connection_from_postgres_scheme_and_extra(monkeypatch):
    extra = json.dumps({"sslmode": "disable", "application_name": "inventory"})
    monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_DB", f"postgres://u:p@h/db?__extra__={extra}")
    info = postgres_store.resolve_connection()
    assert (info.host, info.port, info.dbname) == ("h", None, "db")
    assert info.connect_kwargs()["application_name"] == "inventory"


def test_connection_from_airflow_json(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_DB", json.dumps({
        "conn_type": "postgres", "host": "pg", "login": "inv", "password": "pw", "schema": "inventory",
        "port": 5432, "extra": {"sslmode": "prefer"}}))
    info = postgres_store.resolve_connection()
    assert (info.host, info.port, info.user, info.password, info.dbname) == ("pg", 5432, "inv", "pw", "inventory")
    assert info.connect_kwargs()["sslmode"] == "prefer"


def test_connection_of_the_wrong_type_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_DB", "mysql://u:p@h/db")
    with pytest.raises(StoreConfigError, match="inventory_db"):
        postgres_store.resolve_connection()


def test_missing_connection_names_it(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_INVENTORY_DB", raising=False)

    def not_found(conn_id):
        raise LookupError(f"The conn_id `{conn_id}` isn't defined")

    monkeypatch.setattr(postgres_store, "_airflow_connection", not_found)
    with pytest.raises(StoreConfigError) as err:
        postgres_store.resolve_connection()
    assert "inventory_db" in str(err.value) and "AIRFLOW_CONN_INVENTORY_DB" in str(err.value)


def test_airflow_connection_is_used_without_env(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_INVENTORY_DB", raising=False)

    class Conn:
        conn_type, host, port, login, password, schema = "postgres", "pg", 5433, "inv", "pw", "inventory"
        extra_dejson = {"sslmode": "require"}

    monkeypatch.setattr(postgres_store, "_airflow_connection", lambda conn_id: Conn())
    info = postgres_store.resolve_connection()
    assert (info.host, info.port, info.dbname, info.password) == ("pg", 5433, "inventory", "pw")
    assert "Airflow" in info.origin


def test_unreachable_postgres_error_hides_password(monkeypatch, tmp_path):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INVENTORY_STORE", "postgres")
    monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_DB", "postgresql://inv:topsecret@127.0.0.1:1/inventory")
    with pytest.raises(StoreConfigError) as err:
        publish()
    assert "topsecret" not in str(err.value) and "postgresql://inv@127.0.0.1:1/inventory" in str(err.value)


def test_duckdb_memory_is_bounded_and_configurable(duck_env):
    with open_store() as st:
        assert st.scalar("SELECT current_setting('memory_limit')") == "488.2 MiB"  # 512 MB
        assert st.scalar("SELECT current_setting('temp_directory')").endswith("inventory.duckdb.tmp")
    duck_env.monkeypatch.setenv("INVENTORY_DUCKDB_MEMORY_LIMIT", "1GB")
    duck_env.monkeypatch.setenv("INVENTORY_DUCKDB_THREADS", "1")
    with open_store() as st:
        assert st.scalar("SELECT current_setting('memory_limit')") == "953.6 MiB"  # 1 GB
        assert st.scalar("SELECT current_setting('threads')") == 1


def test_duckdb_catalogue_reads_with_a_smaller_buffer_pool(duck_env, monkeypatch):
    """The catalogue reads a range at a time: DuckDB gives back the cache the publish filled (its
    limit is lowered for that phase and restored after), unless the environment fixed the limit."""
    from inventory.publish import catalog

    seen = []
    write_catalog = catalog.write_catalog

    def record_limit(store, *args, **kwargs):
        seen.append(store.scalar("SELECT current_setting('memory_limit')"))
        return write_catalog(store, *args, **kwargs)
    monkeypatch.setattr(catalog, "write_catalog", record_limit)
    sc.first_publish(duck_env)
    assert seen == ["183.1 MiB"]  # 192 MB
    with open_store() as st:
        assert st.scalar("SELECT current_setting('memory_limit')") == "488.2 MiB"
        with st.reading_in_ranges():
            pass
        assert st.scalar("SELECT current_setting('memory_limit')") == "488.2 MiB"  # as it was
    monkeypatch.setenv("INVENTORY_DUCKDB_MEMORY_LIMIT", "1GB")
    sc.make_batch("gem-a", "run2", datasets=[sc.dataset("gem-a", i, "run2", title=f"v2 {i}") for i in range(5)])
    publish()
    assert seen[-1] == "953.6 MiB"  # fixed by the environment: left as it is

def test_duckdb_stages_a_batch_without_copying_it(duck_env):
    """The staged batch is a view over its Parquet file: no temporary table holds the rows."""
    b = sc.make_batch("gem-a", "run1", datasets=[sc.dataset("gem-a", i) for i in range(3)])
    with open_store() as st:
        st.ensure_schema()
        st.begin()
        assert st.load_stage("datasets", model.DATASETS, b.validated("datasets")) == 3
        assert st.check_stage("datasets", "gem-a", "test") == 3
        kinds = st.fetchall("SELECT 'view' FROM duckdb_views() WHERE temporary AND view_name = '_stage_datasets' "
                            "UNION ALL SELECT 'table' FROM duckdb_tables() WHERE temporary")
        assert kinds == [("view",)]
        st.rollback()


def test_duckdb_exports_keep_the_stored_order(duck_env):
    n = 3000
    rows = [sc.dataset("gem-big", i) for i in range(n)]
    rows.reverse()  # not the uid order: the export must follow the table, not sort it
    sc.make_batch("gem-big", "run1", datasets=rows, quarantine=[])
    publish()
    latest = settings.exports_dir() / "latest"
    with open_store() as st:
        stored = [r[0] for r in st.fetchall('SELECT "dataset_uid" FROM "datasets"')]
    assert stored == [r["dataset_uid"] for r in rows]
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    assert pq.read_table(latest / "datasets.parquet").column("dataset_uid").to_pylist() == stored
    assert pacsv.read_csv(latest / "datasets.csv").column("dataset_uid").to_pylist() == stored


def test_duckdb_export_failure_leaves_no_release(duck_env, monkeypatch):
    from inventory.publish import duckdb_store, exports

    sc.first_publish(duck_env)
    before = exports.current_release()
    real = duckdb_store.DuckDBStore._export_sql

    def broken(self, table, schema, path, fmt):
        return "COPY (SELECT no_such_column FROM datasets) TO '/nowhere.csv'" if table == "datasets" and fmt == "csv" else real(self, table, schema, path, fmt)

    monkeypatch.setattr(duckdb_store.DuckDBStore, "_export_sql", broken)
    with open_store() as st:
        threads = st.scalar("SELECT current_setting('threads')")
        with pytest.raises(Exception, match="no_such_column"):
            exports.write_release(st)
        assert st.scalar("SELECT current_setting('threads')") == threads
    assert exports.current_release() == before
    assert not [p for p in exports.releases_dir().iterdir() if p.name.startswith(".tmp-")]


def test_a_catalogue_missing_a_page_or_unreadable_is_written_anew(duck_env, monkeypatch):
    from inventory.publish import exports

    sc.first_publish(duck_env)
    (exports.current_release() / "catalog" / "page-000001.rdf").unlink()
    summary = sc._publish_algorithms("run2", 4)
    assert sc._reused(summary) is None and "page-000001.rdf" in sc._catalogue(summary)[1]
    assert sc._reused(sc._publish_algorithms("run3", 4)) is not None  # the new release's pages are whole

    def refused(*args, **kwargs):
        raise PermissionError("no links here")

    monkeypatch.setattr(exports.os, "link", refused)
    monkeypatch.setattr(exports.shutil, "copy2", refused)
    summary = sc._publish_algorithms("run4", 4)
    entry, pages, _ = sc._catalogue(summary)
    assert "reused_from" not in entry and b"Dataset 4" in pages["page-000001.ttl"]


def _keys_unique(st) -> dict[str, tuple[int, int]]:
    """(rows, distinct keys) of every record table."""
    return {t: tuple(st.fetchall(f'SELECT count(*), count(DISTINCT "{uid}") FROM "{t}"')[0])
            for t, uid in model.UID_COLUMN.items()}


def test_duckdb_record_keys_stay_unique_without_a_key_index(duck_env):
    """DuckDB's record tables have no primary-key index (it cannot spill and held 266 MiB at a
    million datasets): repeated keys in a batch, changed and re-harvested records, and a partial
    run still leave one row per key."""
    ds = [sc.dataset("gem-a", i) for i in range(6)]
    sc.make_batch("gem-a", "run1", datasets=ds + [ds[2]], distributions=[sc.distribution("gem-a", i) for i in range(6)])
    publish()
    sc.make_batch("gem-a", "run2", datasets=[sc.dataset("gem-a", i, "run2", title=f"v2 {i}") for i in range(8)],
                  distributions=[sc.distribution("gem-a", i, "run2") for i in range(8)])
    publish()
    sc.make_batch("gem-a", "run3", status="partial", datasets=[sc.dataset("gem-a", i, "run3", title=f"v3 {i}") for i in (3, 4, 9)])
    publish()
    with open_store() as st:
        assert _primary_keys(st).keys().isdisjoint(model.UID_COLUMN)
        counts = _keys_unique(st)
        assert counts["datasets"] == (9, 9) and counts["distributions"] == (8, 8), counts
        assert all(rows == keys for rows, keys in counts.values()), counts


def test_a_store_made_with_record_key_indexes_loses_them_and_keeps_its_rows(duck_env):
    """Upgrading a schema-2 store, whose record tables had a primary key: each is rebuilt without
    it, with its rows in their order, and the next publish applies on top."""
    sc.first_publish(duck_env)
    with open_store() as st:
        before = {t: st.fetchall(f'SELECT * FROM "{t}"') for t in model.RECORD_TABLES}
        st.begin()
        for table, schema in model.RECORD_TABLES.items():  # as schema version 2 made them
            st.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_old"')
            st.execute(st.create_table_sql(table, schema, (model.UID_COLUMN[table],)))
            st.execute(f'INSERT INTO "{table}" SELECT * FROM "{table}_old"')
            st.execute(f'DROP TABLE "{table}_old"')
        st.execute('DELETE FROM "schema_version" WHERE "version" = 3')
        st.commit()
        assert set(model.UID_COLUMN) <= set(_primary_keys(st))
    with open_store() as st:
        st.ensure_schema()
        assert st.schema_version() == 3
        assert _primary_keys(st).keys().isdisjoint(model.UID_COLUMN)
        assert {t: st.fetchall(f'SELECT * FROM "{t}"') for t in model.RECORD_TABLES} == before
        assert st.scalar('SELECT count(*) FROM "datasets_withdrawn"') == 0  # the views still read the tables
    sc.make_batch("gem-a", "run2", datasets=[sc.dataset("gem-a", i, "run2", title=f"v2 {i}") for i in range(5)])
    assert publish()["sources"]["gem-a"]["changed"] == 5


def test_a_store_published_before_history_existed_gets_it(duck_env):
    """Upgrading a schema-1 store: every current record starts with one open version."""
    sc.first_publish(duck_env)
    with open_store() as st:
        for table in model.RECORD_TABLES:
            st.execute(f'DROP VIEW "{table}_withdrawn"')
            st.execute(f'DROP TABLE "{model.history_table(table)}"')
        st.execute('DROP TABLE "changes"')
        st.execute('DELETE FROM "schema_version" WHERE "version" = 2')
    sc.make_batch("gem-a", "run2", datasets=[sc.dataset("gem-a", i, "run2", title=f"v2 {i}") for i in range(5)])
    publish()
    with open_store() as st:
        assert st.schema_version() == 3
        assert st.scalar('SELECT count(*) FROM "algorithms_history" WHERE "valid_to" IS NULL') == 3
        assert st.scalar('SELECT count(*) FROM "distributions_history"') == 5
    versions = sc.history(duck_env, "datasets", model.stable_uid("gem-a", "ds-2"))
    assert [(v["title"], v["valid_from"] == sc.T0, v["valid_to"] is None) for v in versions] == [
        ("Dataset 2", True, False), ("v2 2", False, True)]
