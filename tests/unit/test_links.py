"""Cross-source links (dataset_clusters, algorithm_datasets) and the algorithm register export, in
both stores: the scenarios of ``links_scenarios`` against DuckDB and against PostgreSQL."""

from __future__ import annotations

import pytest

from tests.unit import links_scenarios as links
from tests.unit.test_publish import duck_env  # noqa: F401 (fixture)
from tests.unit.test_publish_postgres import pg_database, pg_env  # noqa: F401 (fixtures)


@pytest.mark.parametrize("scenario", links.SCENARIOS, ids=lambda f: f.__name__.removeprefix("scenario_"))
def test_links_duckdb(scenario, duck_env):  # noqa: F811
    scenario(duck_env)


@pytest.mark.postgres
@pytest.mark.parametrize("scenario", links.SCENARIOS, ids=lambda f: f.__name__.removeprefix("scenario_"))
def test_links_postgres(scenario, pg_env):  # noqa: F811
    scenario(pg_env)
