"""The README's screenshots of the web app: the dashboard with a training job's live progress bar, and the
diff of two subsets.

    uv run python benchmarks/service_screenshots.py [--out docs/service]

Builds a workspace of the digits (ingest, embed pixels:8:16, cluster k=10, an equal-per-cluster and a random
half) through the command table, serves it with ``thresher serve`` (its own process, a free port), queues a
small training run from the dashboard and shoots the page while the run's bar moves, then the subset's page
and the diff. Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright as the browser tests do
(``tests/service/browser.py``).
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
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
                open_page(page, server.url, "dashboard")
                fewer = queue_job(
                    page, "select", {"name": "eq", "method": "cluster", "balance": "equal", "ratio": "0.7"}
                )
                wait_for_job(page, fewer)
                train = queue_job(
                    page, "train", {"dataset": "eq@v1", **{f"train.{k}": str(v) for k, v in TRAIN.items()}}
                )
                page.select_option("#job-command", "select")  # a shorter form under the jobs
                page.evaluate("() => window.scrollTo(0, 0)")
                bar_between(page, train, 0.3, 0.7)
                page.screenshot(path=str(args.out / "dashboard.png"))
                page.click(f'li.job[data-job="{train}"] button.cancel')
                open_page(page, server.url, "diff?a=eq%40v1&b=random%40v1")
                page.wait_for_timeout(1500)  # the grids' thumbnails
                page.screenshot(path=str(args.out / "diff.png"))
                browser.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for shot in ("dashboard.png", "diff.png"):
        print(args.out / shot)


if __name__ == "__main__":
    main()
