"""Scorecards: static HTML under ``$INVENTORY_DATA_DIR/reports/scorecards/`` that a data steward can act on.

``index.html`` (the overview) and ``publishers/<slug>.html`` (one per publisher), each with

* charts as inline SVG drawn by matplotlib (no JavaScript, no CDN: the pages work offline and can be
  mailed): the score distribution, the average per dimension against its maximum, the trend over runs;
* the sources' / publishers' averages and ratings;
* **fix these first**: the fields that would gain the most points over all datasets, and the datasets
  with the most points to gain, each naming the missing fields and what each is worth;
* the algorithm register's completeness per organisation, with algorithms that need an impact
  assessment and have none.

Everything is read with a few aggregate queries from ``quality_scores``, ``quality_aggregates`` and
``algorithm_completeness``; only the handful of datasets listed per page are fetched row by row.
The GX Data Docs index gets a link to the overview.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import settings
from ..publish.store import Store, q
from . import score as mqa

log = logging.getLogger("inventory.quality.scorecards")

TEMPLATES = Path(__file__).with_name("templates")
FIX_FIRST_DATASETS = 15
TREND_RUNS = 30
HISTOGRAM_BIN = 25  # points per bar of the score distribution
BAND_COLOURS = {"Excellent": "#1a7f37", "Good": "#4c9a2a", "Sufficient": "#d4a72c", "Bad": "#cf222e"}
DATA_DOCS_MARKER = "<!-- inventory:scorecards-link -->"


def scorecards_dir() -> Path:
    return settings.reports_dir() / "scorecards"


def slug(name: str) -> str:
    """A file name for a publisher: readable, and unique by a short hash of the exact name."""
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "publisher"
    return f"{readable}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


# ----------------------------------------------------------------------------------------- charts
def _svg(fig, left: float = 0.1) -> str:
    import matplotlib.pyplot as plt

    # Fixed margins: measuring the text for a tight box costs more than drawing the chart.
    fig.subplots_adjust(left=left, right=0.97, top=0.95, bottom=0.22)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and DOCTYPE


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def distribution_chart(bins: dict[int, int]) -> str:
    """Datasets per band of HISTOGRAM_BIN points, coloured by rating."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    starts = list(range(0, mqa.MAX_POINTS + 1, HISTOGRAM_BIN))
    counts = [bins.get(s // HISTOGRAM_BIN, 0) for s in starts]
    colours = [BAND_COLOURS[mqa.rating(s)] for s in starts]
    ax.bar(starts, counts, width=HISTOGRAM_BIN * 0.9, align="edge", color=colours)
    for _, low in mqa.RATING_BANDS[:-1]:
        ax.axvline(low, color="#57606a", linewidth=0.8, linestyle=":")
    ax.set_xlim(0, mqa.MAX_POINTS + 5)
    ax.set_xlabel("total score (of 405)")
    ax.set_ylabel("datasets")
    return _svg(fig)


def dimensions_chart(averages: dict[str, float | None]) -> str:
    """Average points per dimension as a share of the dimension's maximum."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.4))
    names = [d for d, _ in mqa.DIMENSIONS]
    shares = [100.0 * (averages.get(d) or 0.0) / most for d, most in mqa.DIMENSIONS]
    bars = ax.barh(names[::-1], shares[::-1], color="#0969da")
    for bar, (d, most) in zip(bars, list(mqa.DIMENSIONS)[::-1]):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                f"{averages.get(d) or 0:.0f} of {most}", va="center")
    ax.set_xlim(0, 115)
    ax.set_xlabel("% of the dimension's points")
    return _svg(fig, left=0.2)


def trend_chart(series: dict[str, list[tuple[datetime, float]]]) -> str:
    """Average score per scoring run, one line per series."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    times = [p[0] for points in series.values() for p in points]
    for name, points in series.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    label="all datasets" if name == "*" else name)
    if times and min(times) == max(times):  # a single run: a day either side, not matplotlib's years
        ax.set_xlim(min(times) - timedelta(days=1), max(times) + timedelta(days=1))
    for _, low in mqa.RATING_BANDS[:-1]:
        ax.axhline(low, color="#57606a", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, mqa.MAX_POINTS)
    ax.set_ylabel("average score")
    if 1 < len(series) <= 12:
        ax.legend(fontsize=7, loc="lower left")
    fig.autofmt_xdate()
    return _svg(fig, left=0.12)


# ----------------------------------------------------------------------------------------- queries
def _dicts(st: Store, columns: list[str], rest: str, params: list | None = None) -> list[dict[str, Any]]:
    """``SELECT columns rest`` as dicts keyed by column."""
    rows = st.fetchall(f"SELECT {', '.join(columns)} {rest}", params)
    return [dict(zip(columns, r)) for r in rows]


AGG_COLUMNS = ["name", "datasets", "avg_total_points", "min_total_points", "max_total_points", "rating"] + [
    f"avg_{d}_points" for d, _ in mqa.DIMENSIONS] + [f"{r.lower()}_datasets" for r, _ in mqa.RATING_BANDS]


def _aggregates(st: Store, publish_id: str, level: str) -> list[dict[str, Any]]:
    return _dicts(st, AGG_COLUMNS, "FROM quality_aggregates WHERE publish_id = ? AND level = ? ORDER BY name",
                  [publish_id, level])


def _trend(st: Store, level: str) -> dict[str, list[tuple[datetime, float]]]:
    rows = st.fetchall(
        "SELECT name, scored_at, avg_total_points FROM quality_aggregates WHERE level = ? AND publish_id IN "
        f"(SELECT publish_id FROM (SELECT publish_id, max(scored_at) AS t FROM quality_aggregates "
        f"GROUP BY publish_id ORDER BY t DESC LIMIT {TREND_RUNS}) runs) ORDER BY scored_at", [level])
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for name, at, avg in rows:
        series[name].append((at, float(avg or 0.0)))
    return series


def _histograms(st: Store) -> dict[str | None, dict[int, int]]:
    """Per publisher (and None: everything) the datasets per bin of HISTOGRAM_BIN points."""
    rows = st.fetchall(
        f"SELECT coalesce(publisher, '(no publisher)'), CAST(floor(total_points / {HISTOGRAM_BIN}) AS BIGINT), count(*) "
        "FROM quality_scores GROUP BY 1, 2")
    out: dict[str | None, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for publisher, bucket, n in rows:
        out[publisher][int(bucket)] += int(n)
        out[None][int(bucket)] += int(n)
    return out


def _gains_by_field(st: Store) -> dict[str | None, list[dict[str, Any]]]:
    """Per publisher (and None: everything): each metric's points still to gain over all datasets."""
    sums = ", ".join(f"sum({m.points} - {q(m.column)})" for m in mqa.METRICS)
    counts = ", ".join(f"count(*) FILTER (WHERE {q(m.column)} < {m.points})" for m in mqa.METRICS)
    rows = st.fetchall(f"SELECT coalesce(publisher, '(no publisher)'), {sums}, {counts} FROM quality_scores GROUP BY 1")
    out: dict[str | None, list[dict[str, Any]]] = {}
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    n = len(mqa.METRICS)
    for row in rows:
        publisher, gains, missing = row[0], row[1:1 + n], row[1 + n:]
        out[publisher] = _rank_fields(gains, missing)
        for m, g, c in zip(mqa.METRICS, gains, missing):
            totals[m.name][0] += float(g or 0.0)
            totals[m.name][1] += int(c or 0)
    out[None] = _rank_fields([totals[m.name][0] for m in mqa.METRICS], [totals[m.name][1] for m in mqa.METRICS])
    return out


def _rank_fields(gains, missing) -> list[dict[str, Any]]:
    fields = [{"metric": m.name, "fix": m.fix, "dimension": m.dimension, "points": m.points,
               "gain": float(g or 0.0), "datasets": int(c or 0)}
              for m, g, c in zip(mqa.METRICS, gains, missing) if (g or 0) > 0.0001]
    return sorted(fields, key=lambda f: (-f["gain"], f["metric"]))[:10]


def _fix_first(st: Store, limit: int, *, per_publisher: bool) -> dict[str | None, list[dict[str, Any]]]:
    """The datasets with the most points to gain, each with its missing fields, biggest gain first:
    ``limit`` for the whole inventory (key None), or ``limit`` per publisher, in one query."""
    metric_cols = ", ".join(f"s.{q(m.column)}" for m in mqa.METRICS)
    group = "coalesce(s.publisher, '(no publisher)')" if per_publisher else "'*'"
    rows = st.fetchall(
        f"SELECT * FROM (SELECT {group} AS grp, s.dataset_uid, s.source_id, s.title, s.total_points, s.rating, "
        f"d.landing_page, d.identifier, {metric_cols}, sh.messages, row_number() OVER (PARTITION BY {group} "
        f"ORDER BY s.total_points, s.dataset_uid) AS rn FROM quality_scores s "
        f"LEFT JOIN datasets d ON d.dataset_uid = s.dataset_uid "
        f"LEFT JOIN shacl_results sh ON sh.dataset_uid = s.dataset_uid) ranked "
        f"WHERE rn <= {int(limit)} ORDER BY grp, rn")
    out: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        group_name, uid, source, title, total, band, landing, identifier = row[:8]
        points = row[8:8 + len(mqa.METRICS)]
        shacl_messages = row[8 + len(mqa.METRICS)]
        # what the SHACL shapes said is wrong, beside the compliance metric (violations only)
        why = {"dcat_ap_compliance": [m for m in (shacl_messages or "").splitlines()
                                      if m and not m.startswith("(warning)")]}
        missing = sorted(
            ({"fix": m.fix, "gain": m.points - float(p or 0.0), "why": why.get(m.name, [])}
             for m, p in zip(mqa.METRICS, points) if m.points - float(p or 0.0) > 0.0001),
            key=lambda f: -f["gain"])
        out[group_name if per_publisher else None].append(
            {"dataset_uid": uid, "source_id": source, "title": title or uid, "total": float(total),
             "rating": band, "link": landing or (identifier if str(identifier or "").startswith("http") else None),
             "gain": mqa.MAX_POINTS - float(total), "missing": missing})
    return out


def _algorithms(st: Store) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Completeness per organisation (latest run), and per organisation its algorithms that need work."""
    if not st.table_exists("algorithm_completeness_aggregates"):
        return [], {}
    latest = st.scalar("SELECT publish_id FROM algorithm_completeness_aggregates ORDER BY scored_at DESC LIMIT 1")
    organisations = _dicts(
        st, ["organization", "algorithms", "avg_completeness", "all_mandatory_filled", "impact_assessment_missing"],
        "FROM algorithm_completeness_aggregates WHERE publish_id = ? ORDER BY avg_completeness, organization", [latest])
    rows = _dicts(
        st, ["organization", "name", "source_id", "completeness", "missing_mandatory", "missing_recommended",
             "invalid_values", "impact_assessment_missing"],
        "FROM algorithm_completeness WHERE completeness < 100 OR impact_assessment_missing "
        "ORDER BY impact_assessment_missing DESC, completeness, name")
    per_org: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        per_org[r["organization"] or "(no organisation)"].append(r)
    return organisations, per_org


# ----------------------------------------------------------------------------------------- pages
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    env.filters["points"] = lambda v: "–" if v is None else f"{float(v):.1f}"
    env.globals["band_colours"] = BAND_COLOURS
    env.globals["dimensions"] = mqa.DIMENSIONS
    return env


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a page


def write_scorecards(st: Store) -> dict[str, Any]:
    """Write the overview and one page per publisher from the latest scoring run; returns paths and counts."""
    out_dir = scorecards_dir()
    if not st.table_exists("quality_aggregates"):
        return {"overview": None, "publishers": 0}
    latest = st.fetchall("SELECT publish_id, max(scored_at) FROM quality_aggregates GROUP BY publish_id "
                         "ORDER BY 2 DESC LIMIT 1")
    if not latest:
        return {"overview": None, "publishers": 0}
    publish_id, scored_at = latest[0]
    inventory = (_aggregates(st, publish_id, "inventory") or [{}])[0]
    sources = _aggregates(st, publish_id, "source")
    publishers = _aggregates(st, publish_id, "publisher")
    histograms = _histograms(st)
    gains = _gains_by_field(st)
    publisher_trend = _trend(st, "publisher")
    organisations, algorithms_by_org = _algorithms(st)
    env = _environment()
    common = {"publish_id": publish_id, "scored_at": scored_at,
              "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}

    for p in publishers:
        p["href"] = f"publishers/{slug(p['name'])}.html"
    overview = env.get_template("overview.html.j2").render(
        **common, inventory=inventory, sources=sources, publishers=publishers,
        charts={"distribution": distribution_chart(histograms.get(None, {})),
                "dimensions": dimensions_chart({d: inventory.get(f"avg_{d}_points") for d, _ in mqa.DIMENSIONS}),
                "trend": trend_chart({**_trend(st, "inventory"), **_trend(st, "source")})},
        fields=gains.get(None, []), fix_first=_fix_first(st, FIX_FIRST_DATASETS, per_publisher=False)[None],
        organisations=organisations, data_docs="../data_docs/index.html")
    overview_path = out_dir / "index.html"
    _write(overview_path, overview)

    template = env.get_template("publisher.html.j2")
    fix_first = _fix_first(st, FIX_FIRST_DATASETS, per_publisher=True)
    for p in publishers:
        name = p["name"]
        page = template.render(
            **common, publisher=p,
            charts={"distribution": distribution_chart(histograms.get(name, {})),
                    "dimensions": dimensions_chart({d: p.get(f"avg_{d}_points") for d, _ in mqa.DIMENSIONS}),
                    "trend": trend_chart({name: publisher_trend.get(name, [])})},
            fields=gains.get(name, []), fix_first=fix_first.get(name, []),
            algorithms=algorithms_by_org.get(name, []))
        _write(out_dir / p["href"], page)
    link_from_data_docs(overview_path)
    log.info("scorecards: %s and %d publisher pages", overview_path, len(publishers))
    return {"overview": str(overview_path), "publishers": len(publishers)}


def link_from_data_docs(overview: Path) -> bool:
    """Put a link to the scorecards on the GX Data Docs index (again after GX rebuilt it)."""
    index = settings.data_docs_dir() / "index.html"
    if not index.exists():
        return False
    text = index.read_text(encoding="utf-8")
    if DATA_DOCS_MARKER in text:
        return True
    href = os.path.relpath(overview, index.parent)
    link = (f'{DATA_DOCS_MARKER}<div id="inventory-scorecards-link" style="position:fixed;bottom:1em;right:1em;'
            f'z-index:9999;background:#0969da;padding:.6em 1em;border-radius:6px">'
            f'<a style="color:#fff;font-weight:bold" href="{href}">Metadata quality scorecards (MQA) &rarr;</a></div>')
    text = text.replace("</body>", link + "</body>", 1) if "</body>" in text else text + link
    _write(index, text)
    return True
