"""MQA scores in PostgreSQL: the same scenarios as DuckDB, in a database of their own."""

from __future__ import annotations

import pytest

from tests.unit import quality_scenarios as qs
from tests.unit.test_publish_postgres import pg_database, pg_env  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("scenario", qs.SCENARIOS, ids=lambda f: f.__name__.removeprefix("scenario_"))
def test_quality_postgres(scenario, pg_env):  # noqa: F811
    scenario(pg_env)
