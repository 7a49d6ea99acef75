"""The Inventory page in a real browser: headless Chromium (Debian's ``chromium``) loads the page from
the API served by uvicorn on 127.0.0.1, and the numbers it shows must be the store's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest
import uvicorn
from lxml import html

from inventory import pipeline
from inventory.api.app import create_app
from inventory.quality import scorecards
from inventory.publish import open_store, publish
from tests.unit import publish_scenarios as sc

pytestmark = pytest.mark.browser

EU = "http://publications.europa.eu/resource/authority/"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed for the Inventory page test: apt-get install chromium "
                "(.ci/run installs it)", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_api(data_dir):
    """A published inventory (two catalogues, a register, a failed source) behind uvicorn."""
    sc.make_batch("gem-a", "run1", datasets=[sc.dataset("gem-a", i) for i in range(4)]
                  + [sc.dataset("gem-a", 9, access_rights=f"{EU}access-right/NON_PUBLIC")],
                  distributions=[sc.distribution("gem-a", i) for i in range(3)],
                  quarantine=[sc.quarantine_row("gem-a", "bad-1"), sc.quarantine_row("gem-a", "bad-2")])
    sc.make_batch("prov-b", "run1", datasets=[sc.dataset("prov-b", i) for i in range(2)], quarantine=[])
    sc.make_batch("alg-reg", "run1", kind="algoritmeregister", quarantine=[],
                  algorithms=[sc.algorithm("alg-reg", i) for i in range(3)])
    sc.make_batch("broken", "run1", status="failed", datasets=None, quarantine=None)
    publish()
    pipeline.score_quality()
    with open_store() as st:
        scorecards.write_scorecards(st)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_inventory_page_shows_the_stores_numbers(served_api, tmp_path):
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000", "--dump-dom",
         f"{served_api}/ui/"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = html.fromstring(result.stdout)
    assert dom.findtext(".//h1") == "Inventory"

    shown = {(td.get("data-source"), td.get("data-count")): int(td.text_content())
             for td in dom.xpath("//td[@data-count]")}
    status = {td.get("data-source"): td.text_content().strip() for td in dom.xpath("//td[@data-status]")}
    totals = {b.get("data-total"): int(b.text_content()) for b in dom.xpath("//b[@data-total]")}
    with open_store() as st:
        expected = {}
        for table in ("datasets", "distributions", "algorithms"):
            for source, n in st.counts_by_source(table).items():
                expected[(source, table)] = n
        for source, n in st.counts_by_source("quarantine").items():
            expected[(source, "quarantined")] = n
        runs = {r["source_id"]: r["status"] for r in st.latest_harvest_runs()}
        store_totals = {t: int(st.scalar(f'SELECT count(*) FROM "{t}"')) for t in ("datasets", "distributions", "algorithms")}
        store_ratings = dict(st.fetchall("SELECT rating, count(*) FROM quality_scores GROUP BY rating"))
    assert {k: v for k, v in shown.items() if v} == expected
    assert status == runs == {"gem-a": "complete", "prov-b": "complete", "alg-reg": "complete", "broken": "failed"}
    assert {t: totals[t] for t in store_totals} == store_totals == {"datasets": 7, "distributions": 3, "algorithms": 3}
    assert int(dom.xpath("//b[@data-non-public='datasets']")[0].text_content()) == 1
    ratings = {td.get("data-rating"): int(td.text_content()) for td in dom.xpath("//td[@data-rating]")}
    assert set(ratings) == {"Excellent", "Good", "Sufficient", "Bad"}
    assert {r: n for r, n in ratings.items() if n} == store_ratings and sum(ratings.values()) == 7
    # The page links to the API, the catalogue and (once validation ran) the reports.
    hrefs = {a.get("href") for a in dom.xpath("//a")}
    assert {"../docs", "../catalog", "../datasets?source=gem-a", "../reports/scorecards/index.html"} <= hrefs
    assert any(h.startswith("../reports/scorecards/publishers/") for h in hrefs)
    overview = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", f"{served_api}/reports/scorecards/index.html"],
        capture_output=True, text=True, timeout=120)
    assert overview.returncode == 0 and "<svg" in overview.stdout  # the linked scorecard is served
