"""The web app in a real browser: Playwright drives Debian's Chromium (``/usr/bin/chromium``; nothing is
downloaded) against a real server on a free port. A curator's whole journey from the dashboard's forms,
following each job's progress bar to its end, and a class folder named like markup shown as text on
every page. Screenshots of each step are saved under the test's tmp folder (``screenshots/``).

Skipped where Chromium is absent, unless THRESHER_REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_clustering
from tests.service.browser import chromium_or_skip, launch, open_page, queue_job, wait_for_job
from tests.service.hostile_data import HOSTILE, hostile_image_folder
from tests.service.live_server import live_server
from thresher.api import command
from thresher.catalog.workspace import Workspace
from thresher.curate.config import SelectConfig
from thresher.curate.select import select

VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that it must not: script errors, dialogs, refused or failed API calls."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def watch(page: Any) -> Watch:
    seen = Watch()
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)

    def dialog(d: Any) -> None:
        seen.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("response", lambda r: seen.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return seen


def all_decoded(page: Any, selector: str, timeout: float = 60.0) -> bool:
    """Whether every image of ``selector`` loads and decodes within ``timeout`` seconds (lazy ones are
    scrolled into view first; a hash route is no navigation, so the load state says nothing)."""
    images = page.locator(selector)
    images.last.scroll_into_view_if_needed()
    check = "all => all.length > 0 && all.every(i => i.complete && i.naturalWidth > 0)"
    deadline = time.monotonic() + timeout
    while not images.evaluate_all(check):
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(200)
    return True


def finished_with_full_bar(item: Any) -> None:
    bar = item.locator("progress.main")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "1", item.text_content()


def digits_clustered(root: Path) -> Path:
    """A workspace with digits ingested, embedded (pixels:8:16) and clustered (k=10), made in this process
    through the same command table the service's jobs run."""
    ws = Workspace(root)
    for name, config in [
        ("ingest", {"source": "builtin:digits"}),
        ("embed", {"embedder": "pixels:8:16", "num_workers": 0}),
        ("cluster", {"ks": [10]}),
    ]:
        row = command(name)
        row.run(ws, row.build(config))
    return root


def select_and_compare(page: Any, base: str, shots: Path) -> None:
    """From the dashboard: two selections as jobs; then the first one's page with its card and gallery, its
    diff with the second, a query in the console and the one-page gallery."""
    equal = queue_job(page, "select", {"name": "eq", "method": "cluster", "balance": "equal", "ratio": "0.5"})
    rand = queue_job(page, "select", {"name": "rnd", "method": "random", "ratio": "0.5"})
    for job in (equal, rand):
        finished_with_full_bar(wait_for_job(page, job))
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    open_page(page, base, "subsets/eq/1", timeout=120_000)
    assert page.locator("#card h1").text_content() == "eq v1"
    assert all_decoded(page, "#gallery img") and all_decoded(page, ".grid img")
    page.screenshot(path=str(shots / "subset.png"), full_page=True)
    gallery = page.locator("#gallery-page").get_attribute("href")

    page.select_option("#diff-against", "rnd@v1")
    page.click("#diff-button")
    page.locator('main[data-ready^="#/diff?"]').wait_for()
    summary = page.locator("#diff-summary").text_content()
    assert "eq@v1 keeps 899" in summary and "rnd@v1 keeps 899" in summary, summary
    assert all_decoded(page, "#only-a img") and all_decoded(page, "#only-b img")
    page.screenshot(path=str(shots / "diff.png"), full_page=True)

    open_page(page, base, "console")
    page.fill("#sql", "SELECT name, version, n FROM subsets ORDER BY name")
    page.click("#run-query")
    page.locator("#query-result").filter(has_text="rows)").wait_for()
    lines = page.locator("#query-result").text_content().splitlines()
    assert [line.split(" | ")[0].strip() for line in lines[2:4]] == ["eq", "rnd"] and lines[-1] == "(2 rows)"
    page.screenshot(path=str(shots / "console.png"))

    page.goto(base + gallery)  # the one-page gallery, served from inside the version's folder
    assert page.title() == "eq v1: what was kept and removed"


def test_a_curator_selects_from_the_form_and_compares_the_subsets(browser, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with live_server(digits_clustered(tmp_path / "ws"), workers=2) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        open_page(page, base, "dashboard")
        select_and_compare(page, base, shots)
    assert not seen.errors and not seen.dialogs and not seen.failed, seen
    assert {p.name for p in shots.iterdir()} == {"dashboard.png", "subset.png", "diff.png", "console.png"}


@pytest.mark.slow
def test_a_curator_runs_ingest_embed_cluster_and_select_from_the_forms(browser, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with live_server(tmp_path / "ws", workers=2) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        open_page(page, base, "dashboard")
        steps = [
            ("ingest", {"source": "builtin:digits"}),
            ("embed", {"embedder": "pixels:8:16", "num_workers": "0"}),
            ("cluster", {"ks": "10"}),
        ]
        for name, fields in steps:
            item = wait_for_job(page, queue_job(page, name, fields))
            finished_with_full_bar(item)
            if name != "ingest":  # their progress arrived live, as events (ingest's checks report none)
                assert int(item.get_attribute("data-events")) > 0, name
        select_and_compare(page, base, shots)
        assert page.goto(base + "/").ok
        open_page(page, base, "dashboard")
        assert page.locator("li.job[data-state=succeeded]").count() == 5
    assert not seen.errors and not seen.dialogs and not seen.failed, seen


# Pages whose content names the hostile class, and the rest of the pages (all are visited).
NAMING = ["sources", "sources/hostile", "sources/hostile?clustering=cluster-test&cluster=0",
          "clusterings/cluster-test", "subsets/eq/1", "diff?a=eq%40v1&b=rnd%40v1"]  # fmt: skip
OTHERS = ["dashboard", "clusterings", "scores", "scores/cluster-test", "subsets", "diff", "runs", "sweeps"]


def test_a_class_named_like_markup_is_text_on_every_page(browser, tmp_path):
    data = tmp_path / "data"
    folder = hostile_image_folder(data / "folder", per_class=12)
    with live_server(tmp_path / "ws", workers=1, allow_path=(str(data),)) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        open_page(page, base, "dashboard")
        wait_for_job(page, queue_job(page, "ingest", {"source": str(folder), "name": "hostile"}))
        # A clustering and two subsets of the hostile source, made here: the journey above runs their jobs.
        ws = Workspace(tmp_path / "ws")
        fake_clustering(ws, "hostile")
        select(ws, SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.5))
        select(ws, SelectConfig(name="rnd", method="random", ratio=0.5))
        for route in NAMING + OTHERS:
            open_page(page, base, route, timeout=120_000)
            page.wait_for_load_state("networkidle")
            assert page.locator("img[src=x]").count() == 0, route
            if route in NAMING:
                assert page.get_by_text(HOSTILE).count() > 0, route
                name = route.split("?")[0].replace("/", "-")
                page.screenshot(path=str(tmp_path / f"hostile-{name}.png"), full_page=True)
        open_page(page, base, "console")
        page.fill("#sql", "SELECT label_names FROM sources")
        page.click("#run-query")
        page.locator("#query-result").filter(has_text="row)").wait_for()
        assert HOSTILE in page.locator("#query-result").text_content()
        assert page.locator("#query-result *").count() == 0  # text, not elements
    assert not seen.dialogs, seen.dialogs
    assert not seen.errors and not seen.failed, seen
