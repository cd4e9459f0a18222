"""The README's screenshots of the web app: the dashboard with a training job's live progress bar, the
diff of two subsets, and the embedding map with a lasso's preview.

    uv run python benchmarks/service_screenshots.py [--out docs/service] [--shots dashboard,diff,map]

Builds a workspace of the digits (ingest, embed pixels:8:16, cluster k=10, an equal-per-cluster and a random
half) through the command table, serves it with ``thresher serve`` (its own process, a free port), queues a
small training run from the dashboard and shoots the page while the run's bar moves, then the subset's page
and the diff; then a UMAP layout of the embeddings (``thresher layout``, a minute or two), the map coloured by
cluster with a lasso drawn around the zeros and its preview. Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright as the browser tests do
(``tests/service/browser.py``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the browser helpers of the tests

from benchmarks.thumbnails import Server  # noqa: E402
from tests.service.browser import launch, open_page, queue_job, wait_for_job  # noqa: E402
from thresher.api import command  # noqa: E402
from thresher.catalog.layouts import read_layout, require_layout  # noqa: E402
from thresher.catalog.samples import labels_of  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402

VIEWPORT = {"width": 1280, "height": 1000}
TRAIN = {"model_size": "DiT-T/2", "width": 64, "depth": 2, "heads": 2, "steps": 400, "batch_size": 64,
         "sample_count": 16}  # fmt: skip


def curated_digits(root: Path) -> None:
    ws = Workspace(root)
    for name, config in [
        ("ingest", {"source": "builtin:digits"}),
        ("embed", {"embedder": "pixels:8:16", "num_workers": 0}),
        ("cluster", {"ks": [10]}),
        ("select", {"name": "eq", "method": "cluster", "balance": "equal", "ratio": 0.5}),
        ("select", {"name": "random", "method": "random", "ratio": 0.5}),
    ]:
        row = command(name)
        row.run(ws, row.build(config))


def mapped_digits(root: Path) -> str:
    """A UMAP layout of the curated digits' embeddings; its id."""
    row = command("layout")
    return row.run(Workspace(root), row.build({"method": "umap"})).layout


def lasso_around_zeros(page, root: Path, layout: str) -> None:
    """Draw a lasso around the digit 0's points: their centre and spread on the screen, from the layout and
    the page's fit (the map shows the layout's bounds at 92% of the stage, one scale on both axes)."""
    ws = Workspace(root)
    ids, xy = read_layout(require_layout(ws, layout)["folder"])
    zeros = xy[labels_of(ws, "digits", ids) == 0]
    stage = page.locator("#map-overlay").bounding_box()
    low, high = xy.min(axis=0), xy.max(axis=0)
    scale = 0.92 * min(stage["width"] / (high[0] - low[0]), stage["height"] / (high[1] - low[1]))
    centre = (low + high) / 2

    def screen(point):
        return (float(stage["x"] + stage["width"] / 2 + (point[0] - centre[0]) * scale),
                float(stage["y"] + stage["height"] / 2 - (point[1] - centre[1]) * scale))  # fmt: skip

    x, y = screen(zeros.mean(axis=0))
    radius = float(max(scale * (zeros.std(axis=0).max() * 2.5), 20))
    page.click("#map-tool-lasso")
    page.mouse.move(x + radius, y)
    page.mouse.down()
    for k in range(1, 41):
        page.mouse.move(
            x + radius * math.cos(2 * math.pi * k / 40), y + radius * math.sin(2 * math.pi * k / 40)
        )
    page.mouse.up()
    page.locator("#map-selected-count").wait_for()


def bar_between(page, job: str, low: float, high: float, timeout: float = 300) -> None:
    """Wait until the job's bar stands between ``low`` and ``high`` of its total."""
    bar = page.locator(f'li.job[data-job="{job}"] progress.main')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bar.count() and bar.get_attribute("max") not in (None, "1"):
            done = float(bar.get_attribute("value") or 0) / float(bar.get_attribute("max"))
            if low <= done <= high:
                return
            if done > high:
                raise RuntimeError(f"the bar went past {high:.0%} between two looks: raise the steps")
        page.wait_for_timeout(100)
    raise RuntimeError("the training job's bar did not move")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "service")
    parser.add_argument("--shots", default="dashboard,diff,map", help="which of dashboard, diff, map")
    args = parser.parse_args()
    shots = args.shots.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    scratch = Path(tempfile.mkdtemp(prefix="thresher-shots-"))
    try:
        curated_digits(scratch / "ws")
        server = Server(scratch / "ws")
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                page = browser.new_page(viewport=VIEWPORT)
                if "dashboard" in shots:
                    open_page(page, server.url, "dashboard")
                    fewer = queue_job(
                        page,
                        "select",
                        {"name": "eq", "method": "cluster", "balance": "equal", "ratio": "0.7"},
                    )
                    wait_for_job(page, fewer)
                    train = queue_job(
                        page,
                        "train",
                        {"dataset": "eq@v1", **{f"train.{k}": str(v) for k, v in TRAIN.items()}},
                    )
                    page.select_option("#job-command", "select")  # a shorter form under the jobs
                    page.evaluate("() => window.scrollTo(0, 0)")
                    bar_between(page, train, 0.3, 0.7)
                    page.screenshot(path=str(args.out / "dashboard.png"))
                    page.click(f'li.job[data-job="{train}"] button.cancel')
                if "diff" in shots:
                    open_page(page, server.url, "diff?a=eq%40v1&b=random%40v1")
                    page.wait_for_timeout(1500)  # the grids' thumbnails
                    page.screenshot(path=str(args.out / "diff.png"))
                if "map" in shots:
                    layout = mapped_digits(scratch / "ws")
                    status = command("status").run(Workspace(scratch / "ws"), command("status").build({}))
                    run = status.clusterings[0]["id"]
                    open_page(page, server.url, f"map/{layout}?color=cluster%3A{run}")
                    lasso_around_zeros(page, scratch / "ws", layout)
                    page.wait_for_timeout(1500)  # the preview's thumbnails
                    page.evaluate("() => window.scrollTo(0, 0)")
                    page.screenshot(path=str(args.out / "map.png"))
                browser.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for shot in shots:
        print(args.out / f"{shot}.png")


if __name__ == "__main__":
    main()
