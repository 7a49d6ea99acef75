"""The Inventory page: one server-rendered HTML page (no scripts), shown inside the Airflow UI.

Every number carries ``data-*`` attributes naming what it counts (``data-count="datasets"
data-source="…"``), so a browser test can read them back and compare them with the store. Links are
relative to the page (``/inventory/ui/``), so they work behind a proxy prefix too.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

LABELS = {"datasets": "Datasets", "distributions": "Distributions", "data_services": "Data services",
          "algorithms": "Algorithms"}
STATUS_CLASS = {"complete": "ok", "partial": "warn", "failed": "bad"}

TEMPLATE = _ENV.from_string("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Inventory</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
 h1 { font-size: 1.5rem; margin: 0 0 .25rem } h2 { font-size: 1.1rem; margin-top: 1.75rem }
 table { border-collapse: collapse; margin-top: .5rem } th, td { padding: .3rem .7rem; border-bottom: 1px solid #ddd; text-align: left }
 td.n, th.n { text-align: right; font-variant-numeric: tabular-nums }
 .ok { color: #146c2e } .warn { color: #8a5a00 } .bad { color: #b3261e; font-weight: 600 }
 .tiles { display: flex; gap: 1rem; flex-wrap: wrap } .tile { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem }
 .tile b { display: block; font-size: 1.6rem } .muted { color: #666 }
</style>
</head>
<body>
<h1>Inventory</h1>
<p class="muted">The published inventory{% if publish_id %} (publish <code>{{ publish_id }}</code>){% endif %}.
 API: <a href="../docs">OpenAPI</a> · <a href="../catalog">DCAT-AP-NL catalogue</a> · <a href="../summary">summary as JSON</a></p>

<section class="tiles" id="totals">
{% for table, n in totals.items() %}
 <div class="tile"><b data-total="{{ table }}">{{ n }}</b><a href="../{{ table | replace('_', '-') }}">{{ labels[table] }}</a></div>
{% endfor %}
{% for table, n in non_public.items() if n %}
 <div class="tile"><b data-non-public="{{ table }}">{{ n }}</b>{{ labels[table] | lower }} marked non-public (kept out of the API and the exports)</div>
{% endfor %}
{% if clusters %}
 <div class="tile"><b data-total="clustered_datasets">{{ clusters.datasets }}</b>datasets found in more than one catalogue</div>
{% endif %}
</section>

<h2>Sources</h2>
<table id="sources">
 <thead><tr><th>source</th>{% for table in totals %}<th class="n">{{ labels[table] | lower }}</th>{% endfor %}<th class="n">quarantined</th>
  <th>last run</th><th>finished</th><th class="n">added</th><th class="n">changed</th><th class="n">removed</th></tr></thead>
 <tbody>
 {% for s in sources %}
 <tr data-source="{{ s.source_id }}">
  <td><a href="../datasets?source={{ s.source_id | urlencode }}">{{ s.source_id }}</a></td>
  {% for table in totals %}<td class="n" data-count="{{ table }}" data-source="{{ s.source_id }}">{{ s.counts[table] }}</td>{% endfor %}
  <td class="n" data-count="quarantined" data-source="{{ s.source_id }}">{{ s.quarantined }}</td>
  {% if s.last_run %}
  <td class="{{ status_class.get(s.last_run.status, '') }}" data-status data-source="{{ s.source_id }}" title="{{ s.last_run.message or '' }}">{{ s.last_run.status }}</td>
  <td>{{ s.last_run.finished_at or '' }}</td>
  <td class="n">{{ s.last_run.added if s.last_run.added is not none else '' }}</td>
  <td class="n">{{ s.last_run.changed if s.last_run.changed is not none else '' }}</td>
  <td class="n">{{ s.last_run.removed if s.last_run.removed is not none else '' }}</td>
  {% else %}<td colspan="5" class="muted" data-status data-source="{{ s.source_id }}">never run</td>{% endif %}
 </tr>
 {% else %}
 <tr><td colspan="9" class="muted">Nothing published yet.</td></tr>
 {% endfor %}
 </tbody>
</table>

<h2>Quality ratings (datasets)</h2>
{% if ratings %}
<table id="ratings"><tr>{% for r, n in ratings.items() %}<th>{{ r }}</th>{% endfor %}</tr>
<tr>{% for r, n in ratings.items() %}<td class="n" data-rating="{{ r }}"><a href="../datasets?rating={{ r }}">{{ n }}</a></td>{% endfor %}</tr></table>
{% else %}
<p class="muted" id="ratings">No quality scores in the store yet.</p>
{% endif %}

<h2>Latest changes</h2>
<table id="changes">
 {% if changes %}
 <thead><tr>{% for col in changes[0] %}<th>{{ col }}</th>{% endfor %}</tr></thead>
 <tbody>{% for row in changes %}<tr>{% for v in row.values() %}<td>{{ '' if v is none else v }}</td>{% endfor %}</tr>{% endfor %}</tbody>
 {% else %}<tr><td class="muted">No changes recorded yet.</td></tr>{% endif %}
</table>

<h2>Reports</h2>
<ul id="reports">
{% for name, href in reports.items() %}<li><a href="{{ href }}">{{ name }}</a></li>
{% else %}<li class="muted">No reports yet (Data Docs and scorecards appear after the first validation).</li>{% endfor %}
</ul>
</body>
</html>
""")

UNAVAILABLE = _ENV.from_string("""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Inventory</title></head>
<body style="font-family: system-ui, sans-serif; margin: 1.5rem"><h1>Inventory</h1><p id="unavailable">{{ message }}</p></body></html>""")


def render(summary: dict[str, Any], reports: dict[str, str]) -> str:
    return TEMPLATE.render(labels=LABELS, status_class=STATUS_CLASS, reports=reports, **summary)


def unavailable(message: str) -> str:
    return UNAVAILABLE.render(message=message[0].upper() + message[1:] + ".")
