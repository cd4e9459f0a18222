"""The web app in a real browser: Playwright drives Debian's Chromium (``/usr/bin/chromium``; nothing is
downloaded) against a real server on a free port. A curator's whole journey from the dashboard's forms,
following each job's progress bar to its end; the embedding map (drawing, hover, a lasso's preview; and,
slow, saving, publishing and diffing the lasso's subset); and a class folder named like markup shown as
text on every page. Screenshots of each step are saved under the test's tmp folder (``screenshots/``).

Skipped where Chromium is absent, unless THRESHER_REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import io
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.conftest import fake_clustering
from tests.service.browser import chromium_or_skip, launch, open_page, queue_job, wait_for_job
from tests.service.hostile_data import HOSTILE, hostile_image_folder
from tests.service.live_server import live_server
from tests.service.polygons import inside_polygon
from thresher.api import command
from thresher.catalog.layouts import read_layout, require_layout
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


@pytest.fixture(scope="module")
def digits_embedded(tmp_path_factory) -> Path:
    """A workspace with digits ingested and embedded (pixels:8:16), made once in this process through the
    same command table the service's jobs run; the tests work on copies (the two steps are most of a test's
    setup)."""
    root = tmp_path_factory.mktemp("digits") / "ws"
    ws = Workspace(root)
    for name, config in [
        ("ingest", {"source": "builtin:digits"}),
        ("embed", {"embedder": "pixels:8:16", "num_workers": 0}),
    ]:
        row = command(name)
        row.run(ws, row.build(config))
    return root


def digits_with(template: Path, root: Path, steps: list[tuple[str, dict[str, Any]]]) -> Workspace:
    """A copy of the embedded digits at ``root``, then ``steps`` (command, config) run on it."""
    shutil.copytree(template, root)
    ws = Workspace(root)
    for name, config in steps:
        row = command(name)
        row.run(ws, row.build(config))
    return ws


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


def test_a_curator_selects_from_the_form_and_compares_the_subsets(browser, digits_embedded, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    digits_with(digits_embedded, tmp_path / "ws", [("cluster", {"ks": [10]})])
    with live_server(tmp_path / "ws", workers=2) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        open_page(page, base, "dashboard")
        select_and_compare(page, base, shots)
    assert not seen.errors and not seen.dialogs and not seen.failed, seen
    assert {p.name for p in shots.iterdir()} == {"dashboard.png", "subset.png", "diff.png", "console.png"}


def test_a_page_left_while_its_data_loads_leaves_nothing_beside_the_next(browser, digits_embedded, tmp_path):
    """Loading the app and going straight to a route: the first render, still awaiting its data, used to
    finish into main beside the second (every job listed twice on the dashboard)."""
    digits_with(digits_embedded, tmp_path / "ws", [("cluster", {"ks": [10]})])
    with live_server(tmp_path / "ws", workers=1) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        for route in ("dashboard", "clusterings", "dashboard"):
            assert page.goto(base + "/").ok  # renders the dashboard, then at once ...
            open_page(page, base, route)  # ... another route
            page.wait_for_timeout(500)  # time for a stale render to land, were it able to
            assert page.locator("main h1").all_inner_texts() == [route], route
            assert page.locator("main #jobs").count() == (1 if route == "dashboard" else 0), route
    assert not seen.errors and not seen.dialogs and not seen.failed, seen


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


def digits_mapped(template: Path, root: Path) -> str:
    """The embedded digits with a random half selected and a layout (PCA); returns the layout's id."""
    ws = digits_with(template, root, [("select", {"name": "rnd", "method": "random", "ratio": 0.5})])
    row = command("layout")
    return row.run(ws, row.build({"method": "pca"})).layout


def drag_lasso(page: Any, centre: tuple[float, float], radius: float, steps: int = 36) -> None:
    """Draw a closed lasso: press, a circle of mouse moves around ``centre``, release."""
    x, y = centre
    page.mouse.move(x + radius, y)
    page.mouse.down()
    for k in range(1, steps + 1):
        angle = 2 * math.pi * k / steps
        page.mouse.move(x + radius * math.cos(angle), y + radius * math.sin(angle))
    page.mouse.up()


def ink(png: bytes) -> tuple[int, np.ndarray]:
    """How many pixels of a screenshot are not white, and their centre (x, y)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    rows, columns = np.nonzero((pixels < 235).any(axis=-1))
    return len(rows), np.array([columns.mean(), rows.mean()])


def lasso_preview(page: Any, centre: tuple[float, float], radius: float) -> tuple[int, list[list[float]]]:
    """Draw a lasso and wait for its preview; returns how many points it counts and the polygon the page
    sent, rounded as the service records it (7 significant digits)."""
    with page.expect_request(lambda r: r.url.endswith("/preview")) as sent:
        drag_lasso(page, centre, radius)
    polygon = [[float(f"{v:.7g}") for v in vertex] for vertex in json.loads(sent.value.post_data)["polygon"]]
    count = page.locator("#map-selected-count:not([data-n='0'])")
    count.wait_for()
    return int(count.get_attribute("data-n")), polygon


def test_the_map_draws_every_point_opens_the_hovered_one_and_previews_a_lasso(
    browser, digits_embedded, tmp_path
):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    root = tmp_path / "ws"
    layout = digits_mapped(digits_embedded, root)
    with live_server(root, workers=1) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        open_page(page, base, "map")
        page.click(f'a[href="#/map/{layout}"]')
        page.locator(f'main[data-ready="#/map/{layout}"]').wait_for()
        canvas = page.locator("#map-canvas")
        assert canvas.get_attribute("data-drawn") == "1797"
        assert int(canvas.get_attribute("data-bytes")) <= 12 * 1797 + 256  # x, y, the class and a header
        # WebGL (as on a graphics card) and the canvas loop (the choice here, where WebGL runs in software)
        # draw the same points in the same places.
        drawn = {}
        for kind in ("webgl", "canvas"):
            open_page(page, base, f"map/{layout}?renderer={kind}")
            assert (
                canvas.get_attribute("data-renderer") == kind and canvas.get_attribute("data-drawn") == "1797"
            )
            drawn[kind] = ink(canvas.screenshot())
        (webgl, webgl_centre), (plain, plain_centre) = drawn["webgl"], drawn["canvas"]
        assert webgl > 2000 and 0.5 < plain / webgl < 2 and np.abs(webgl_centre - plain_centre).max() < 3, (
            drawn
        )
        open_page(page, base, f"map/{layout}")
        centre = stage_centre(page)

        # Hover: the point under the pointer shows its thumbnail; a click opens that sample.
        tooltip = page.locator("#map-tooltip")
        for dx, dy in [(0, 0), (6, 0), (0, 6), (-6, 0), (0, -6), (12, 12), (-12, -12), (20, 0), (0, 20)]:
            page.mouse.move(centre[0] + dx, centre[1] + dy)
            page.wait_for_timeout(150)
            if tooltip.is_visible():
                break
        assert tooltip.is_visible() and all_decoded(page, "#map-tooltip img")
        hovered = tooltip.get_attribute("data-sample-id")
        page.mouse.down()
        page.mouse.up()
        assert page.locator("#map-sample").get_attribute("data-sample-id") == hovered

        # A lasso around nothing selects nothing, and cannot be saved.
        stage = page.locator("#map-overlay").bounding_box()
        page.click("#map-tool-lasso")
        drag_lasso(page, (stage["x"] + 25, stage["y"] + 25), 12, steps=12)
        page.locator('#map-selected-count[data-n="0"]').wait_for()
        assert page.locator("#map-save").is_disabled()

        # A lasso around the middle counts the layout's points inside the polygon it drew, and shows them.
        n, polygon = lasso_preview(page, centre, 110)
        _, xy = read_layout(require_layout(Workspace(root), layout)["folder"])
        assert 0 < n < 1797 and n == inside_polygon(xy, polygon).sum()
        assert all_decoded(page, "#map-gallery img")
        page.screenshot(path=str(shots / "map-selection.png"))
    assert not seen.errors and not seen.dialogs and not seen.failed, seen


def stage_centre(page: Any) -> tuple[float, float]:
    stage = page.locator("#map-overlay").bounding_box()
    return stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2


@pytest.mark.slow
def test_a_curator_lassos_a_region_on_the_map_saves_publishes_and_diffs_it(
    browser, digits_embedded, tmp_path
):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    root = tmp_path / "ws"
    layout = digits_mapped(digits_embedded, root)
    with live_server(root, workers=2) as base:
        page = browser.new_page(viewport=VIEWPORT)
        seen = watch(page)
        open_page(page, base, f"map/{layout}")
        page.click("#map-tool-lasso")
        n, _ = lasso_preview(page, stage_centre(page), 110)

        page.fill("#map-subset-name", "lasso")
        page.click("#map-save")
        page.locator("#map-saved").wait_for(timeout=120_000)
        assert page.locator("#map-saved").get_attribute("data-ref") == "lasso@v1"
        page.click("#map-publish")
        page.locator("#map-published").wait_for(timeout=120_000)
        page.screenshot(path=str(shots / "map-saved.png"), full_page=True)

        page.locator("#map-diff-against").select_option("rnd@v1")
        page.click("#map-diff")
        page.locator('main[data-ready^="#/diff?"]').wait_for()
        summary = page.locator("#diff-summary").text_content()
        assert f"lasso@v1 keeps {n:,}" in summary and "rnd@v1 keeps 899" in summary, summary
        page.screenshot(path=str(shots / "map-diff.png"), full_page=True)
    assert not seen.errors and not seen.dialogs and not seen.failed, seen

    # The subset keeps exactly the layout's points inside the polygon its card records.
    stats = json.loads((root / "subsets" / "lasso" / "v1" / "stats.json").read_text())
    assert stats["params"]["layout"] == layout and stats["score_config"]["n_ids"] == n
    ids, xy = read_layout(require_layout(Workspace(root), layout)["folder"])
    expected = ids[inside_polygon(xy, stats["params"]["polygon"])]
    kept = pq.read_table(root / "subsets" / "lasso" / "v1" / "ids.parquet").column("sample_id").to_numpy()
    assert np.array_equal(np.sort(kept), expected)
    assert (root / "published" / "lasso" / "v1" / "README.md").is_file()
