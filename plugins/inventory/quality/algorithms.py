"""Completeness of every algorithm's register entry against the Algoritmeregister publication
standard 1.0 (``shared/samples/algoritmeregister/publicatiestandaard_v1_0.json``), by SQL in the store.

Per algorithm (table ``algorithm_completeness``):

* **mandatory** fields filled: those the standard marks ``required`` and the canonical model carries
  (``MANDATORY``);
* **recommended** fields filled: those the standard shows on every entry form (``show_always``) or
  that the register's readers rely on (``RECOMMENDED``);
* **valid values**: status and publication category from the standard's lists, a contact address
  that is an e-mail address, a begin date as ``YYYY-MM``, name and short description within the
  standard's lengths (``VALIDITY``);
* ``completeness`` (0-100) weighs a mandatory field twice, a recommended field and a valid value once;
* ``impact_assessment_missing``: a high-risk AI system or an impactful algorithm without any
  impact assessment (IAMA, DPIA, ...) - flagged whatever its completeness.

Every algorithm is measured against 1.0, also records published under an older version of the
standard or mapped from a foreign register: 1.0 is what the register asks for now.
Per organisation and run: ``algorithm_completeness_aggregates`` (kept across runs for the trend).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from .. import model
from ..publish.store import Store, q
from .score import ensure_tables

STATUSES = ("In ontwikkeling", "In gebruik", "Buiten gebruik")
CATEGORIES = ("Hoog-risico AI-systeem", "Impactvolle algoritmes", "Overige algoritmes")
NEEDS_IMPACT_ASSESSMENT = ("Hoog-risico AI-systeem", "Impactvolle algoritmes")


def _text(col: str) -> str:
    return f"(nullif(trim(a.{q(col)}), '') IS NOT NULL)"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"(a.{q(col)} IN ({', '.join(_literal(v) for v in values)}))"


# field -> SQL condition "filled" ({list:col} is a non-empty list; the dialect is filled in per store)
MANDATORY: dict[str, str] = {
    "name": _text("name"),
    "description_short": _text("description_short"),
    "organization": _text("organization"),
    "status": _text("status"),
    "publication_category": _text("publication_category"),
    "contact_email": _text("contact_email"),
    "source_data": "{list:source_data}",
}
RECOMMENDED: dict[str, str] = {
    "begin_date": _text("begin_date"),
    "goal": _text("goal"),
    "human_intervention": _text("human_intervention"),
    "risks": _text("risks"),
    "lawful_basis": _text("lawful_basis"),
    "impact_assessments": "{list:impact_assessments}",
    "website": _text("website"),
}
VALIDITY: dict[str, str] = {
    "status": _in("status", STATUSES),
    "publication_category": _in("publication_category", CATEGORIES),
    "contact_email": "(a.contact_email LIKE '%_@_%._%' AND a.contact_email NOT LIKE '% %')",
    "begin_date": "(a.begin_date IS NULL OR trim(a.begin_date) = '' OR a.begin_date LIKE '____-__%')",
    "name": "(length(coalesce(a.name, '')) <= 100)",
    "description_short": "(length(coalesce(a.description_short, '')) <= 400)",
}
WEIGHT_MANDATORY, WEIGHT_RECOMMENDED, WEIGHT_VALID = 2, 1, 1
MAX_WEIGHT = WEIGHT_MANDATORY * len(MANDATORY) + WEIGHT_RECOMMENDED * len(RECOMMENDED) + WEIGHT_VALID * len(VALIDITY)

I64, F64, STR = pa.int64(), pa.float64(), pa.string()
ALGORITHM_COMPLETENESS = pa.schema([
    ("algorithm_uid", STR), ("source_id", STR), ("organization", STR), ("name", STR),
    ("publication_category", STR), ("mandatory_filled", I64), ("mandatory_total", I64),
    ("recommended_filled", I64), ("recommended_total", I64), ("valid_values", I64), ("valid_total", I64),
    ("completeness", F64), ("missing_mandatory", STR), ("missing_recommended", STR), ("invalid_values", STR),
    ("impact_assessment_missing", pa.bool_()), ("publish_id", STR), ("scored_at", model.TS),
])
ALGORITHM_COMPLETENESS_AGGREGATES = pa.schema([
    ("publish_id", STR), ("scored_at", model.TS), ("organization", STR), ("algorithms", I64),
    ("avg_completeness", F64), ("all_mandatory_filled", I64), ("impact_assessment_missing", I64),
])
TABLES = {
    "algorithm_completeness": (ALGORITHM_COMPLETENESS, ("algorithm_uid",)),
    "algorithm_completeness_aggregates": (ALGORITHM_COMPLETENESS_AGGREGATES, ("publish_id", "organization")),
}


def _fill(st: Store, condition: str) -> str:
    """The condition in the store's dialect, never NULL (a NULL value fails its check)."""
    if "{list:" not in condition:
        return f"coalesce({condition}, FALSE)"
    col = condition[len("{list:"):-1]
    length = f"len(a.{q(col)})" if st.kind == "duckdb" else f"cardinality(a.{q(col)})"
    return f"(coalesce({length}, 0) > 0)"


def _count(st: Store, checks: dict[str, str]) -> str:
    return " + ".join(f"CASE WHEN {_fill(st, c)} THEN 1 ELSE 0 END" for c in checks.values())


def _failing(st: Store, checks: dict[str, str]) -> str:
    """Names of the checks that fail, comma-separated (NULL when none)."""
    parts = ", ".join(f"CASE WHEN NOT {_fill(st, c)} THEN '{name}' END" for name, c in checks.items())
    return f"nullif(concat_ws(', ', {parts}), '')"


def score_algorithms(st: Store, *, publish_id: str | None = None, scored_at: datetime | None = None) -> dict[str, Any]:
    """Measure every algorithm in the store; returns per organisation the average and the flags."""
    ensure_tables(st, TABLES)
    scored_at = scored_at or datetime.now(timezone.utc)
    publish_id = publish_id or st.last_publish_id() or "unpublished"
    mandatory, recommended, valid = _count(st, MANDATORY), _count(st, RECOMMENDED), _count(st, VALIDITY)
    completeness = (f"100.0 * ({WEIGHT_MANDATORY} * ({mandatory}) + {WEIGHT_RECOMMENDED} * ({recommended}) "
                    f"+ {WEIGHT_VALID} * ({valid})) / {MAX_WEIGHT}")
    impact_missing = (f"({_fill(st, _in('publication_category', NEEDS_IMPACT_ASSESSMENT))} "
                      f"AND NOT {_fill(st, '{list:impact_assessments}')})")
    names = ", ".join(q(n) for n in ALGORITHM_COMPLETENESS.names)
    select = (
        f"SELECT a.algorithm_uid, a.source_id, a.organization, a.name, a.publication_category, "
        f"{mandatory}, {len(MANDATORY)}, {recommended}, {len(RECOMMENDED)}, {valid}, {len(VALIDITY)}, "
        f"{completeness}, {_failing(st, MANDATORY)}, {_failing(st, RECOMMENDED)}, {_failing(st, VALIDITY)}, "
        f"{impact_missing}, CAST(? AS {st.TEXT}), CAST(? AS TIMESTAMPTZ) FROM algorithms a")
    aggregate_names = ", ".join(q(n) for n in ALGORITHM_COMPLETENESS_AGGREGATES.names)
    st.begin()
    try:
        st.lock()
        st.execute("DELETE FROM algorithm_completeness")
        st.execute(f"INSERT INTO algorithm_completeness ({names}) {select}", [publish_id, scored_at])
        st.execute("DELETE FROM algorithm_completeness_aggregates WHERE publish_id = ?", [publish_id])
        st.execute(
            f"INSERT INTO algorithm_completeness_aggregates ({aggregate_names}) "
            f"SELECT CAST(? AS {st.TEXT}), CAST(? AS TIMESTAMPTZ), coalesce(organization, '(no organisation)'), "
            "count(*), avg(completeness), count(*) FILTER (WHERE mandatory_filled = mandatory_total), "
            "count(*) FILTER (WHERE impact_assessment_missing) FROM algorithm_completeness GROUP BY 3",
            [publish_id, scored_at])
        st.commit()
    except BaseException:
        st.rollback()
        raise
    rows = st.fetchall("SELECT organization, algorithms, avg_completeness, impact_assessment_missing "
                       "FROM algorithm_completeness_aggregates WHERE publish_id = ? ORDER BY organization",
                       [publish_id])
    return {"publish_id": publish_id, "organizations": {
        r[0]: {"algorithms": int(r[1]), "average": round(float(r[2]), 1), "impact_assessment_missing": int(r[3])}
        for r in rows}}
