"""The project's own GX expectation types, used by the suites in ``expectations/``.

Importing this module registers them with Great Expectations (GX registers an Expectation class
when it is defined), so a suite JSON naming them can be loaded. validate.py imports it first.

``expect_column_values_to_not_be_in_the_future``
    An ISO 8601 date or date-time string (``2023``, ``2023-01``, ``2023-01-31``,
    ``2023-01-31T10:00:00+01:00`` ...) fails when it denotes a moment after *the time of
    validation*: the current UTC time is read when the check runs, never stored in a suite.
    A value without a time zone may be local time anywhere, so it may be up to 14 hours ahead of
    UTC (the largest offset on earth) before it counts as future: a Dutch "modified 19:45" written
    at 19:45 CET must not be rejected because it was read as UTC. A date without a time denotes its
    first moment (``2023-01`` is 2023-01-01T00:00), so the current month or day is never future.
    Values that do not parse are left alone: the format check (a regex expectation) reports them.
    Nulls are ignored, like every GX column-map expectation.

``expect_column_list_values_to_be_in_set``
    For list-valued columns (``authentication[]``, ``theme[]`` ...): a row fails when any element
    of its list is outside ``value_set``. An empty list passes (use a not-null or a warning check
    for "must say something"); nulls are ignored like every GX column-map expectation. GX's own
    ``expect_column_values_to_be_in_set`` compares the whole list as one value, so it cannot be used.

The logic lives in :func:`future_mask` and :func:`list_values_in_set_mask` (plain pandas), so it
can be tested, and reused, without GX.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Tuple

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import RendererConfiguration, RendererValueType
from great_expectations.render.util import num_to_str, substitute_none_for_missing

# The largest UTC offset in use (Line Islands, UTC+14): how far ahead a zone-less value may be.
NAIVE_TOLERANCE = timedelta(hours=14)
# A value carries its zone when it ends in Z or an offset (+01:00, +0100, +01).
_ZONE_SUFFIX = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_HAS_TIME = r"[T ]\d{2}:"

NOT_IN_FUTURE = "expect_column_values_to_not_be_in_the_future"
LIST_VALUES_IN_SET = "expect_column_list_values_to_be_in_set"


def _rendered(template_str: str, params: dict, runtime_configuration: dict) -> list:
    """The legacy prescriptive rendering of an expectation: its sentence, led by the column name."""
    if runtime_configuration.get("include_column_name") is not False:
        template_str = f"$column {template_str}"
    return [
        RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={"template": template_str, "params": params, "styling": runtime_configuration.get("styling")},
        )
    ]


def future_mask(values: pd.Series, now: datetime | None = None) -> pd.Series:
    """True where a (non-null) ISO 8601 string lies in the future; False for nulls and unparseable values."""
    now = now or datetime.now(timezone.utc)
    if len(values) == 0:
        return pd.Series(np.zeros(0, dtype=bool), index=values.index)
    # Keep Arrow-backed strings as they are (fast regex); anything else becomes pandas "str".
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype(str)
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    has_zone = text.str.contains(_HAS_TIME, regex=True, na=False) & text.str.contains(
        _ZONE_SUFFIX, regex=True, na=False
    )
    limit = pd.Series(now_ts + NAIVE_TOLERANCE, index=values.index)
    limit = limit.where(~has_zone.to_numpy(), now_ts)
    future = (parsed > limit).fillna(False)
    return future.astype(bool)


class ColumnValuesNotInFuture(ColumnMapMetricProvider):
    """Metric ``column_values.not_in_future``: True where a value is not after the validation time."""

    condition_metric_name = "column_values.not_in_future"
    condition_value_keys = ()

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return ~future_mask(column)


class ExpectColumnValuesToNotBeInTheFuture(ColumnMapExpectation):
    """Expect ISO 8601 date/date-time values not to lie after the moment of validation (UTC).

    Zone-less values may be up to 14 hours ahead (they may be local time anywhere); values that do
    not parse and nulls are ignored (a format expectation reports those).
    """

    map_metric: ClassVar[str] = "column_values.not_in_future"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly",)
    args_keys: ClassVar[Tuple[str, ...]] = ("column",)
    library_metadata: ClassVar[dict] = {
        "maturity": "experimental",
        "tags": ["one-government-inventory", "dates"],
        "contributors": ["one-government-inventory"],
    }

    _TEMPLATE = "values must not lie after the moment of validation (UTC; values without a time zone may be up to 14 hours ahead)"

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration) -> RendererConfiguration:
        renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
        renderer_configuration.add_param(name="mostly", param_type=RendererValueType.NUMBER)
        template_str = f"{cls._TEMPLATE}."
        params = renderer_configuration.params
        if params.mostly and params.mostly.value < 1.0:
            renderer_configuration = cls._add_mostly_pct_param(renderer_configuration=renderer_configuration)
            template_str = f"{cls._TEMPLATE}, at least $mostly_pct % of the time."
        if renderer_configuration.include_column_name:
            template_str = f"$column {template_str}"
        renderer_configuration.template_str = template_str
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        runtime_configuration = runtime_configuration or {}
        params = substitute_none_for_missing(configuration.kwargs, ["column", "mostly"])
        template_str = f"{cls._TEMPLATE}."
        if isinstance(params.get("mostly"), (int, float)) and params["mostly"] < 1.0:
            params["mostly_pct"] = num_to_str(params["mostly"] * 100, no_scientific=True)
            template_str = f"{cls._TEMPLATE}, at least $mostly_pct % of the time."
        return _rendered(template_str, params, runtime_configuration)


def list_values_in_set_mask(values: pd.Series, value_set) -> pd.Series:
    """True where every element of the (non-null) list is in ``value_set``; True for nulls."""
    allowed = frozenset(value_set)

    def ok(items) -> bool:
        if items is None or (isinstance(items, float) and math.isnan(items)):
            return True
        return all(item in allowed for item in items)

    return values.map(ok).astype(bool)


class ColumnListValuesInSet(ColumnMapMetricProvider):
    """Metric ``column_values.list_values_in_set``: True where every list element is allowed."""

    condition_metric_name = "column_values.list_values_in_set"
    condition_value_keys = ("value_set",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, value_set, **kwargs):
        return list_values_in_set_mask(column, value_set)


class ExpectColumnListValuesToBeInSet(ColumnMapExpectation):
    """Expect every element of a list-valued column to be one of ``value_set`` (empty lists pass)."""

    value_set: list
    map_metric: ClassVar[str] = "column_values.list_values_in_set"
    success_keys: ClassVar[Tuple[str, ...]] = ("value_set", "mostly")
    args_keys: ClassVar[Tuple[str, ...]] = ("column", "value_set")
    library_metadata: ClassVar[dict] = {
        "maturity": "experimental",
        "tags": ["one-government-inventory", "lists"],
        "contributors": ["one-government-inventory"],
    }

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        runtime_configuration = runtime_configuration or {}
        params = substitute_none_for_missing(configuration.kwargs, ["column", "value_set", "mostly"])
        params["values"] = ", ".join(str(v) for v in params.get("value_set") or [])
        template_str = "every element of the list must be one of: $values."
        return _rendered(template_str, params, runtime_configuration)


__all__ = [
    "ExpectColumnValuesToNotBeInTheFuture", "ExpectColumnListValuesToBeInSet", "future_mask", "list_values_in_set_mask",
    "NOT_IN_FUTURE", "LIST_VALUES_IN_SET", "NAIVE_TOLERANCE",
]
