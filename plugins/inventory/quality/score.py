"""The EU Metadata Quality Assessment (MQA) score of every dataset: 405 points in five dimensions.

The metrics, their points and the rating bands are those of DESIGN.md ("Quality score"), which
follows data.europa.eu's MQA methodology. The whole inventory is scored by a few SQL statements
inside the store (DuckDB or PostgreSQL): no row passes through Python, so a million datasets score
in the time of one join of datasets, distributions and the link checks.

* **Dataset metrics** (keyword, theme, spatial, temporal, access rights, contact point, publisher,
  issued, modified, DCAT-AP compliance) earn all their points or none.
* **Distribution metrics** earn ``points x the share of the dataset's distributions that pass``;
  a dataset without distributions earns none of them.
* A value "from the vocabulary" is one that ``config/vocabularies/`` knows under any spelling
  (compared trimmed, lower case, without trailing slashes).
* A distribution without its own licence inherits the dataset's (DCAT-AP-NL lets the dataset carry it).
* "accessURL/downloadURL answers" use the ``link_checks`` table (``inventory.quality.links``): a
  URL that was never checked earns nothing, and is said so in the scorecards.
* "DCAT-AP compliance" uses the ``shacl_results`` table (``inventory.quality.shacl``): a dataset
  that was not checked earns nothing.

Results go to ``quality_scores`` (one row per current dataset, one column per metric, replaced
on every scoring) and ``quality_aggregates`` (per scoring run: the inventory, each source and each
publisher, kept across runs so the scorecards can show the trend).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

import pyarrow as pa

from .. import model, vocab
from ..publish.store import Store, q

log = logging.getLogger("inventory.quality")

MAX_POINTS = 405
# (rating, lowest total that earns it), best first: Excellent 351-405, Good 221-350,
# Sufficient 121-220, Bad 0-120.
RATING_BANDS: tuple[tuple[str, int], ...] = (("Excellent", 351), ("Good", 221), ("Sufficient", 121), ("Bad", 0))
DIMENSIONS: tuple[tuple[str, int], ...] = (
    ("findability", 100), ("accessibility", 100), ("interoperability", 110), ("reusability", 75),
    ("contextuality", 20),
)


@dataclass(frozen=True)
class Metric:
    name: str  # the column is "<name>_points"
    dimension: str
    points: int
    level: str  # "dataset" (all or nothing) or "distribution" (share of passing distributions)
    passes: str  # SQL condition on the dataset row ``ds`` or the distribution row ``d`` (+ joins)
    fix: str  # what a data steward adds or repairs to earn the points, in words

    @property
    def column(self) -> str:
        return f"{self.name}_points"


def _present(expr: str) -> str:
    return f"(nullif(trim({expr}), '') IS NOT NULL)"


def _key(expr: str) -> str:
    """A value in the form the vocabulary tables are keyed by (see ``vocab.normalise_key``)."""
    return f"rtrim(lower(trim({expr})), '/')"


# {list_nonempty} is filled per store: DuckDB and PostgreSQL spell a list's length differently.
METRICS: tuple[Metric, ...] = (
    Metric("keyword", "findability", 30, "dataset", "{keyword_nonempty}", "keywords (dcat:keyword)"),
    Metric("theme", "findability", 30, "dataset", "{theme_nonempty}", "a theme (dcat:theme)"),
    Metric("spatial", "findability", 20, "dataset", _present("ds.spatial"), "spatial coverage (dct:spatial)"),
    Metric("temporal", "findability", 20, "dataset",
           f"({_present('ds.temporal_start')} OR {_present('ds.temporal_end')})", "temporal coverage (dct:temporal)"),
    Metric("access_url_reachable", "accessibility", 50, "distribution",
           "(la.status BETWEEN 200 AND 399)", "an access URL that answers (dcat:accessURL)"),
    Metric("download_url", "accessibility", 20, "distribution", _present("d.download_url"),
           "a download URL (dcat:downloadURL)"),
    Metric("download_url_reachable", "accessibility", 30, "distribution",
           "(ld.status BETWEEN 200 AND 399)", "a download URL that answers (dcat:downloadURL)"),
    Metric("format", "interoperability", 20, "distribution", _present("d.format"), "a format (dct:format)"),
    Metric("media_type", "interoperability", 10, "distribution", _present("d.media_type"),
           "a media type (dcat:mediaType)"),
    Metric("format_vocabulary", "interoperability", 10, "distribution",
           "(ff.key IS NOT NULL OR fm.key IS NOT NULL)",
           "a format or media type from the EU file-type / IANA lists"),
    Metric("non_proprietary", "interoperability", 20, "distribution",
           "coalesce(ff.non_proprietary, fm.non_proprietary, FALSE)", "a non-proprietary format"),
    Metric("machine_readable", "interoperability", 20, "distribution",
           "coalesce(ff.machine_readable, fm.machine_readable, FALSE)", "a machine-readable format"),
    Metric("dcat_ap_compliance", "interoperability", 30, "dataset", "coalesce(sh.conforms, FALSE)",
           "a description that conforms to DCAT-AP-NL 3.0 (SHACL)"),
    Metric("license", "reusability", 20, "distribution", _present("coalesce(d.license, ds.license)"),
           "a licence (dct:license)"),
    Metric("license_vocabulary", "reusability", 10, "distribution", "coalesce(lic.known, FALSE)",
           "a known licence (config/vocabularies/licenses.csv)"),
    Metric("access_rights", "reusability", 10, "dataset", _present("ds.access_rights"),
           "access rights (dct:accessRights)"),
    Metric("access_rights_vocabulary", "reusability", 5, "dataset", "(ar.key IS NOT NULL)",
           "access rights from the EU access-right list"),
    Metric("contact_point", "reusability", 20, "dataset", _present("ds.contact_point"),
           "a contact point (dcat:contactPoint)"),
    Metric("publisher", "reusability", 10, "dataset", f"({_present('ds.publisher')} OR {_present('ds.publisher_uri')})",
           "a publisher (dct:publisher)"),
    Metric("rights", "contextuality", 5, "distribution", _present("d.rights"), "rights (dct:rights)"),
    Metric("byte_size", "contextuality", 5, "distribution", "(d.byte_size IS NOT NULL)",
           "the byte size (dcat:byteSize)"),
    Metric("issued", "contextuality", 5, "dataset", _present("ds.issued"), "the date of issue (dct:issued)"),
    Metric("modified", "contextuality", 5, "dataset", _present("ds.modified"),
           "the modification date (dct:modified)"),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
assert sum(m.points for m in METRICS) == MAX_POINTS
assert all(sum(m.points for m in METRICS if m.dimension == d) == p for d, p in DIMENSIONS)

F64 = pa.float64()
QUALITY_SCORES = pa.schema(
    [("dataset_uid", pa.string()), ("source_id", pa.string()), ("publisher", pa.string()), ("title", pa.string()),
     ("distributions", pa.int64())]
    + [(m.column, F64) for m in METRICS]
    + [(f"{d}_points", F64) for d, _ in DIMENSIONS]
    + [("total_points", F64), ("rating", pa.string()), ("publish_id", pa.string()), ("scored_at", model.TS)]
)
# One row per scoring run and scope: the whole inventory (level "inventory", name "*"), each source
# (level "source", name = source id) and each publisher (level "publisher", name = publisher).
QUALITY_AGGREGATES = pa.schema(
    [("publish_id", pa.string()), ("scored_at", model.TS), ("level", pa.string()), ("name", pa.string()),
     ("datasets", pa.int64())]
    + [(f"avg_{d}_points", F64) for d, _ in DIMENSIONS]
    + [("avg_total_points", F64), ("min_total_points", F64), ("max_total_points", F64), ("rating", pa.string())]
    + [(f"{r.lower()}_datasets", pa.int64()) for r, _ in RATING_BANDS]
)
# Written by inventory.quality.links: the last answer of every URL checked.
LINK_CHECKS = pa.schema([("url", pa.string()), ("status", pa.int64()), ("checked_at", model.TS),
                         ("error", pa.string()), ("final_url", pa.string())])
# Written by inventory.quality.shacl: whether each dataset's DCAT-AP-NL description conforms.
SHACL_RESULTS = pa.schema([("dataset_uid", pa.string()), ("conforms", pa.bool_()), ("violations", pa.int64()),
                           ("messages", pa.string()), ("checked_at", model.TS), ("content_hash", pa.string())])

QUALITY_TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    "quality_scores": (QUALITY_SCORES, ("dataset_uid",)),
    "quality_aggregates": (QUALITY_AGGREGATES, ("publish_id", "level", "name")),
    "link_checks": (LINK_CHECKS, ("url",)),
    "shacl_results": (SHACL_RESULTS, ("dataset_uid",)),
}


def ensure_tables(st: Store, tables: dict[str, tuple[pa.Schema, tuple[str, ...]]] | None = None) -> None:
    """Create the quality tables (and columns added since) when missing. Call outside a transaction."""
    st.begin()
    try:
        st.lock()
        for table, (schema, key) in (tables or QUALITY_TABLES).items():
            st.execute(st.create_table_sql(table, schema, key))
            present = set(st.table_columns(table))
            for field in schema:
                if field.name not in present:
                    st.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(field.name)} {st.sql_type(field.type)}")
        st.commit()
    except BaseException:
        st.rollback()
        raise


def rating_sql(total: str) -> str:
    cases = " ".join(f"WHEN {total} >= {low} THEN '{name}'" for name, low in RATING_BANDS[:-1])
    return f"CASE {cases} ELSE '{RATING_BANDS[-1][0]}' END"


def rating(total: float) -> str:
    """The rating band of a total, as the SQL computes it."""
    return next(name for name, low in RATING_BANDS if total >= low)


# ------------------------------------------------------------------------------- vocabulary tables
def _list_nonempty(st: Store, column: str) -> str:
    length = f"len({column})" if st.kind == "duckdb" else f"cardinality({column})"
    return f"(coalesce({length}, 0) > 0)"


def _temp_table(st: Store, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
    st.execute(f"DROP TABLE IF EXISTS {q(name)}")
    st.execute(f"CREATE TEMPORARY TABLE {q(name)} ({', '.join(f'{q(c)} {t}' for c, t in columns)})")
    width = len(columns)
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        values = ", ".join("(" + ", ".join("?" for _ in range(width)) + ")" for _ in chunk)
        st.execute(f"INSERT INTO {q(name)} VALUES {values}", [v for row in chunk for v in row])


def load_vocabularies(st: Store) -> None:
    """The controlled vocabularies the metrics need, as temporary tables keyed by spelling."""
    text = st.TEXT
    formats = [(key, e["uri"], bool(e["machine_readable"]), bool(e["non_proprietary"]))
               for key, e in vocab.format_flags().items()]
    _temp_table(st, "_q_formats", [("key", text), ("uri", text), ("machine_readable", "BOOLEAN"),
                                   ("non_proprietary", "BOOLEAN")], formats)
    licences = {key: (row["uri"], vocab.flag(row, "known")) for row in vocab.rows("licenses")
                for key in vocab.spellings(row)}
    _temp_table(st, "_q_licenses", [("key", text), ("uri", text), ("known", "BOOLEAN")],
                [(k, uri, known) for k, (uri, known) in licences.items()])
    rights = {key: row["uri"] for row in vocab.rows("access_rights") for key in vocab.spellings(row)}
    _temp_table(st, "_q_access_rights", [("key", text), ("uri", text)], list(rights.items()))


# ------------------------------------------------------------------------------- scoring
def _metric_sql(st: Store) -> dict[str, str]:
    fill = {"keyword_nonempty": _list_nonempty(st, "ds.keyword"), "theme_nonempty": _list_nonempty(st, "ds.theme")}
    return {m.name: m.passes.format(**fill) for m in METRICS}


def scores_select(st: Store, publish_id: str, scored_at: datetime) -> tuple[str, list[Any]]:
    """The SELECT that yields one ``quality_scores`` row per current dataset, and its parameters."""
    passes = _metric_sql(st)
    dist_metrics = [m for m in METRICS if m.level == "distribution"]
    shares = ",\n       ".join(
        f"avg(CASE WHEN {passes[m.name]} THEN 1.0 ELSE 0.0 END) AS {q(m.name)}" for m in dist_metrics)
    per_distribution = f"""
SELECT d.dataset_uid, count(*) AS n,
       {shares}
FROM distributions d
JOIN datasets ds ON ds.dataset_uid = d.dataset_uid
LEFT JOIN _q_formats ff ON ff.key = {_key('d.format')}
LEFT JOIN _q_formats fm ON fm.key = {_key('d.media_type')}
LEFT JOIN _q_licenses lic ON lic.key = {_key('coalesce(d.license, ds.license)')}
LEFT JOIN link_checks la ON la.url = d.access_url
LEFT JOIN link_checks ld ON ld.url = d.download_url
GROUP BY d.dataset_uid"""
    points: list[str] = []
    for m in METRICS:
        if m.level == "dataset":
            points.append(f"CASE WHEN {passes[m.name]} THEN {float(m.points)} ELSE 0.0 END")
        else:
            points.append(f"coalesce(dist.{q(m.name)}, 0.0) * {float(m.points)}")
    metric_cols = ",\n       ".join(f"{expr} AS {q(m.column)}" for m, expr in zip(METRICS, points))
    inner = f"""
SELECT ds.dataset_uid, ds.source_id, ds.publisher, ds.title, coalesce(dist.n, 0) AS distributions,
       {metric_cols}
FROM datasets ds
LEFT JOIN ({per_distribution}) dist ON dist.dataset_uid = ds.dataset_uid
LEFT JOIN shacl_results sh ON sh.dataset_uid = ds.dataset_uid
LEFT JOIN _q_access_rights ar ON ar.key = {_key('ds.access_rights')}"""
    dims = {d: " + ".join(q(m.column) for m in METRICS if m.dimension == d) for d, _ in DIMENSIONS}
    total = " + ".join(q(m.column) for m in METRICS)
    select = (
        "SELECT dataset_uid, source_id, publisher, title, distributions, "
        + ", ".join(q(m.column) for m in METRICS) + ", "
        + ", ".join(f"{expr} AS {q(d + '_points')}" for d, expr in dims.items())
        + f", {total} AS total_points, {rating_sql('(' + total + ')')} AS rating, "
        + f"CAST(? AS {st.TEXT}) AS publish_id, CAST(? AS TIMESTAMPTZ) AS scored_at FROM ({inner}) scored"
    )
    return select, [publish_id, scored_at]


def _aggregate_sql(st: Store, level: str, name_expr: str) -> str:
    dims = ", ".join(f"avg({q(d + '_points')})" for d, _ in DIMENSIONS)
    bands = ", ".join(f"count(*) FILTER (WHERE rating = '{r}')" for r, _ in RATING_BANDS)
    names = ", ".join(q(n) for n in QUALITY_AGGREGATES.names)
    group = " HAVING count(*) > 0" if level == "inventory" else " GROUP BY 4"
    return (f"INSERT INTO quality_aggregates ({names}) "
            f"SELECT CAST(? AS {st.TEXT}), CAST(? AS TIMESTAMPTZ), '{level}', {name_expr}, count(*), {dims}, "
            f"avg(total_points), min(total_points), max(total_points), {rating_sql('avg(total_points)')}, {bands} "
            f"FROM quality_scores{group}")


def score(st: Store, *, publish_id: str | None = None, scored_at: datetime | None = None) -> dict[str, Any]:
    """Score every current dataset of the open store in one transaction; returns the summary of
    ``summary()``. ``publish_id`` names the run in ``quality_aggregates`` (default: the last publish)."""
    ensure_tables(st)
    scored_at = scored_at or datetime.now(timezone.utc)
    publish_id = publish_id or st.last_publish_id() or "unpublished"
    st.begin()
    try:
        st.lock()
        load_vocabularies(st)
        select, params = scores_select(st, publish_id, scored_at)
        st.execute("DELETE FROM quality_scores")
        st.execute(f"INSERT INTO quality_scores ({', '.join(q(n) for n in QUALITY_SCORES.names)}) {select}", params)
        st.execute("DELETE FROM quality_aggregates WHERE publish_id = ?", [publish_id])
        for level, name_expr in (("inventory", "'*'"), ("source", "source_id"),
                                 ("publisher", f"coalesce(publisher, '(no publisher)')")):
            st.execute(_aggregate_sql(st, level, name_expr), [publish_id, scored_at])
        for name in ("_q_formats", "_q_licenses", "_q_access_rights"):
            st.execute(f"DROP TABLE IF EXISTS {q(name)}")
        st.commit()
    except BaseException:
        st.rollback()
        raise
    result = summary(st, publish_id)
    log.info("quality: scored %d datasets (publish %s), average %.1f", result["datasets"], publish_id,
             result["average"] or 0.0)
    return result


def summary_empty() -> dict[str, Any]:
    return {"publish_id": None, "datasets": 0, "average": None, "rating": None, "sources": {}}


def summary(st: Store, publish_id: str | None = None) -> dict[str, Any]:
    """The inventory's and each source's average score and rating of one scoring run (default: the latest)."""
    if not st.table_exists("quality_aggregates"):
        return summary_empty()
    if publish_id is None:
        publish_id = st.scalar("SELECT publish_id FROM quality_aggregates ORDER BY scored_at DESC, publish_id DESC LIMIT 1")
    rows = st.fetchall("SELECT level, name, datasets, avg_total_points, rating FROM quality_aggregates "
                       "WHERE publish_id = ? AND level IN ('inventory', 'source') ORDER BY level, name", [publish_id])
    out: dict[str, Any] = {"publish_id": publish_id, "datasets": 0, "average": None, "rating": None, "sources": {}}
    for level, name, datasets, average, band in rows:
        entry = {"datasets": int(datasets), "average": None if average is None else round(float(average), 1),
                 "rating": band}
        if level == "inventory":
            out.update(entry)
        else:
            out["sources"][name] = entry
    return out
