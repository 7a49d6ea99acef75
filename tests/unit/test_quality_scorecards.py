"""Scorecards from a scored inventory: the overview, a page per publisher, charts, the fix-first list."""

from __future__ import annotations

import re

from inventory import settings
from inventory.publish import open_store
from inventory.quality import algorithms, scorecards
from inventory.quality import score as mqa
from tests.unit import quality_scenarios as qs


def _scored_inventory(runs: int = 2) -> dict:
    qs.publish_fixtures()
    qs.add_checks("duckdb")
    with open_store() as st:
        for n in range(runs):
            mqa.score(st, publish_id=f"p{n}", scored_at=qs.CHECKED.replace(hour=9 + n))
        algorithms.score_algorithms(st, publish_id=f"p{runs - 1}")
        return scorecards.write_scorecards(st)


def test_overview_and_publisher_pages_with_charts_and_fix_first():
    data_docs = settings.data_docs_dir()
    data_docs.mkdir(parents=True)
    (data_docs / "index.html").write_text("<html><body><h1>Data Docs</h1></body></html>")
    result = _scored_inventory()

    overview = settings.reports_dir() / "scorecards" / "index.html"
    assert result == {"overview": str(overview), "publishers": 3}
    html = overview.read_text()
    for chart in ("chart-distribution", "chart-dimensions", "chart-trend"):
        figure = re.search(rf'<figure class="chart" id="{chart}">(.*?)</figure>', html, re.S)
        assert figure and "<svg" in figure.group(1), chart
    assert "<script" not in html and "http://cdn" not in html and "https://cdn" not in html  # works offline
    assert "gem-q" in html and "Gemeente Utrecht" in html

    # the fix-first list names the datasets with the most to gain, with their missing fields
    fix_first = re.search(r'<ol class="fix-first" id="fix-first">(.*?)</ol>', html, re.S).group(1)
    items = [re.sub(r"<[^>]+>", "", i) for i in re.findall(r"<li><b>(.*?)</b>", fix_first)]
    assert items[0] == "Dataset 2"  # the bare dataset: 405 points to gain
    assert "keywords (dcat:keyword): +30.0" in fix_first

    utrecht = settings.reports_dir() / "scorecards" / "publishers" / f"{scorecards.slug('Gemeente Utrecht')}.html"
    page = utrecht.read_text()
    assert f'href="publishers/{utrecht.name}"' in html
    assert page.count('<figure class="chart"') == 3
    mixed = re.search(r'<li><b><a href="https://example.nl/ds/1">Dataset 1</a></b>(.*?)</ul>', page, re.S).group(1)
    assert "a theme (dcat:theme): +30.0" in mixed
    assert "an access URL that answers (dcat:accessURL): +16.7" in mixed
    assert "a contact point (dcat:contactPoint): +20.0" in mixed

    docs = (data_docs / "index.html").read_text()
    assert 'href="../scorecards/index.html"' in docs
    scorecards.link_from_data_docs(overview)
    assert (data_docs / "index.html").read_text().count('id="inventory-scorecards-link"') == 1  # added once


def test_no_scores_no_pages():
    with open_store() as st:
        st.ensure_schema()
        assert scorecards.write_scorecards(st) == {"overview": None, "publishers": 0}


def test_publisher_slugs_are_file_names_and_unique():
    assert scorecards.slug("Gemeente 's-Hertogenbosch").startswith("gemeente-s-hertogenbosch-")
    assert scorecards.slug("A/B") != scorecards.slug("A B")
