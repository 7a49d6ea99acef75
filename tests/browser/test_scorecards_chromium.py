"""The scorecards as a browser shows them: Debian's headless Chromium driven by chromedriver (selenium).

Needs ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). When they are missing these
tests FAIL, unless INVENTORY_SKIP_BROWSER=1 is set.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.unit.test_quality_scorecards import _scored_inventory

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        if os.environ.get("INVENTORY_SKIP_BROWSER") == "1":
            pytest.skip(f"{', '.join(missing)} missing and INVENTORY_SKIP_BROWSER=1")
        pytest.fail(f"{', '.join(missing)} not installed: apt-get install -y --no-install-recommends chromium "
                    "chromium-driver (or set INVENTORY_SKIP_BROWSER=1)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,2000", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _charts_rendered(driver) -> dict[str, tuple[int, int]]:
    """Each chart figure's SVG as laid out by the browser (width, height in CSS pixels)."""
    from selenium.webdriver.common.by import By

    sizes = {}
    for figure in driver.find_elements(By.CSS_SELECTOR, "figure.chart"):
        svg = figure.find_element(By.TAG_NAME, "svg")
        sizes[figure.get_attribute("id")] = (svg.size["width"], svg.size["height"])
    return sizes


def test_overview_and_publisher_page_render_charts_and_fix_first(browser):
    from selenium.webdriver.common.by import By

    result = _scored_inventory()
    browser.get("file://" + result["overview"])
    assert "Metadata quality of the inventory" in browser.find_element(By.TAG_NAME, "h1").text

    sizes = _charts_rendered(browser)
    assert set(sizes) == {"chart-distribution", "chart-dimensions", "chart-trend"}
    assert all(w > 200 and h > 80 for w, h in sizes.values()), sizes
    # the bars and lines are drawn, not only the axes
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-distribution svg path")

    items = browser.find_elements(By.CSS_SELECTOR, "ol#fix-first > li")
    assert len(items) == 4 and items[0].text.startswith("Dataset 2")
    assert "keywords (dcat:keyword): +30.0" in items[0].text
    fields = browser.find_elements(By.CSS_SELECTOR, "table#fix-fields tr")
    assert len(fields) > 2

    browser.find_element(By.LINK_TEXT, "Gemeente Utrecht").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Gemeente Utrecht"
    assert all(w > 200 and h > 80 for w, h in _charts_rendered(browser).values())
    mixed = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ol#fix-first > li")]
    assert any(t.startswith("Dataset 1") and "a theme (dcat:theme): +30.0" in t for t in mixed), mixed
    # nothing failed to load: no console errors (a missing script or stylesheet would show here)
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == []
