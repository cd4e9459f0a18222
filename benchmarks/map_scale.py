"""The embedding map at 10^5 and 10^6 points: bytes on the wire and time to first paint in headless Chromium.

    uv run python benchmarks/map_scale.py [--sizes 100000,1000000] [--repeats 3] [--out benchmarks/results/service]

For each size N, a scratch workspace holds a synthetic source of N rows (catalog rows only: drawing the map
decodes no image), synthetic 32-d float16 embeddings (a mixture of 20 Gaussians), a PCA layout made by
``thresher layout --method pca`` (timed) and a clustering whose clusters are the mixture's components. Then
``thresher serve`` runs in its own process and Debian's Chromium (headless, driven by Playwright; WebGL is
SwiftShader, a software renderer, on a machine without a GPU) opens ``#/map/<layout>?color=cluster:<run>``,
each repeat in a fresh browser context (nothing cached in the browser):

- time to first paint: from navigation start to the page's performance mark ``map-points-drawn``, which it
  sets once the frame that drew all N points has been drawn (a one-pixel ``readPixels`` waits for it);
- bytes on the wire: the response bodies of the page's load up to that mark (the points: x, y float32 and
  the cluster as one byte each; the rest: the app's modules, the layout's JSON, the legend), per point;
  and the id column the page fetches after its first paint, for hover.

- a lasso: after each load with the page's own renderer, a circle (40 pointer moves, a quarter of the
  stage's height across) drawn around the middle; timed from the pointer's release to the preview's counts
  on the page (the points inside highlighted at once in the browser, then the server's point-in-polygon,
  counts and gallery), and the preview request alone (its request start to its response end).

Each size is loaded ``--repeats`` times with the page's own choice of renderer (``auto``: WebGL on a graphics
card, the canvas-2D loop where WebGL runs in software, as it does here) and as many times with WebGL forced
(``&renderer=webgl``). The first load meets a cold server (a fresh process: columns computed from the
Parquet layout and the catalog), the others its memory cache. The page also marks ``map-points-received``
(the columns fetched and decoded), printed in brackets. Prints the figures and writes ``map_scale.json``
under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' synthetic embeddings and the benchmarks' server

from benchmarks.thumbnails import Server  # noqa: E402
from tests.conftest import synthetic_embeddings  # noqa: E402
from thresher.catalog.names import utcnow  # noqa: E402
from thresher.catalog.scores import score_run, score_table, write_score_part  # noqa: E402
from thresher.catalog.tables import insert_row  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402
from thresher.curate.config import LayoutConfig  # noqa: E402
from thresher.curate.layout import run_layout  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 900}
COMPONENTS = 20
DIM = 32
MARK = "map-points-drawn"


def synthetic_workspace(root: Path, n: int) -> tuple[str, str, float]:
    """(layout id, clustering id, seconds the layout took) of a fresh workspace of ``n`` synthetic rows."""
    ws = Workspace(root)
    rng = np.random.default_rng(0)
    component = rng.integers(0, COMPONENTS, n)
    with ws.connect() as con:
        insert_row(con, "sources", {"id": "syn", "uri": "synthetic", "kind": "synthetic", "revision": "0",
                                    "fingerprint": f"syn-{n}", "n_rows": n, "n_ok": n, "created": utcnow()})  # fmt: skip
        table = {"source": np.full(n, "syn"), "row": np.arange(n), "sample_id": np.arange(n),
                 "label": component.astype(np.int32), "status": np.full(n, "ok")}  # fmt: skip
        con.register("rows", table)  # type: ignore[arg-type]
        con.execute('INSERT INTO samples (source, "row", sample_id, label, status) SELECT * FROM rows')
    centres = rng.normal(0, 4, (COMPONENTS, DIM))
    vectors = (centres[component] + rng.normal(0, 1, (n, DIM))).astype(np.float16)
    synthetic_embeddings(ws, "syn", vectors, part_size=100_000)
    started = time.perf_counter()
    layout = run_layout(ws, LayoutConfig(method="pca")).layout
    seconds = time.perf_counter() - started
    ids = np.arange(n)
    with score_run(ws, "cluster-syn", "cluster", "syn", {"k": COMPONENTS, "embedder": "synthetic"}) as folder:
        write_score_part(folder, score_table(ids, "cluster", score=np.zeros(n), cluster=component))
    return layout, "cluster-syn", seconds


def lasso(page) -> dict[str, float]:
    """Draw a lasso around the middle of the map and wait for its preview; its times and count."""
    stage = page.locator("#map-overlay").bounding_box()
    x, y = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
    radius = stage["height"] / 8
    page.click("#map-tool-lasso")
    page.mouse.move(x + radius, y)
    page.mouse.down()
    for k in range(1, 41):
        page.mouse.move(
            x + radius * math.cos(2 * math.pi * k / 40), y + radius * math.sin(2 * math.pi * k / 40)
        )
    with page.expect_response(lambda r: r.url.endswith("/preview")) as answer:
        started = time.perf_counter()
        page.mouse.up()
        page.locator("#map-selected-count").wait_for(timeout=300_000)
        shown = time.perf_counter() - started
    timing = answer.value.request.timing
    return {"lasso_ms": shown * 1000, "preview_ms": timing["responseEnd"] - timing["requestStart"],
            "lasso_n": int(page.locator("#map-selected-count").get_attribute("data-n"))}  # fmt: skip


def first_paint(browser, base: str, route: str, with_lasso: bool = False) -> dict[str, float]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/#/{route}")
    page.wait_for_function(f"() => performance.getEntriesByName('{MARK}').length > 0", timeout=300_000)
    painted = page.evaluate(f"() => performance.getEntriesByName('{MARK}')[0].startTime")
    received = page.evaluate("() => performance.getEntriesByName('map-points-received')[0].startTime")
    renderer = page.locator("#map-canvas").get_attribute("data-renderer")
    drawn = int(page.locator("#map-canvas").get_attribute("data-drawn"))
    page.wait_for_load_state("networkidle")  # the id column, fetched after the paint, has arrived too
    sizes = {r.url: r.sizes()["responseBodySize"] for r in finished if "/preview" not in r.url}
    selected = lasso(page) if with_lasso else {}
    context.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    points = sum(s for u, s in sizes.items() if "/points" in u and "columns=id" not in u)
    ids = sum(s for u, s in sizes.items() if "columns=id" in u)
    # Everything but the id column was needed for the first paint: the page asks for ids only after it.
    return {"ms": painted, "received_ms": received, "points_bytes": points, "id_bytes": ids, "other_bytes": sum(sizes.values()) - points - ids,
            "renderer": renderer, "drawn": drawn, **selected}  # fmt: skip


def measure(browser, root: Path, n: int, repeats: int) -> dict:
    """One size: the workspace, a fresh server, ``repeats`` loads with the page's own choice of renderer (the
    first meets the cold server) and ``repeats`` with WebGL forced; printed as they come."""
    layout, clustering, layout_seconds = synthetic_workspace(root, n)
    server = Server(root)
    runs: dict[str, list[dict]] = {}
    try:
        for renderer in ("auto", "webgl"):
            route = f"map/{layout}?color=cluster:{clustering}&renderer={renderer}"
            runs[renderer] = [
                first_paint(browser, server.url, route, renderer == "auto") for _ in range(repeats)
            ]
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    first = runs["auto"][0]
    row = {"n": n, "layout_pca_s": round(layout_seconds, 2), "runs": runs,
           "points_bytes_per_point": first["points_bytes"] / n, "id_bytes_per_point": first["id_bytes"] / n,
           "other_bytes": first["other_bytes"]}  # fmt: skip
    print(f"{n:,} points: layout (pca) {layout_seconds:.1f} s; points {row['points_bytes_per_point']:.2f} B/pt "
          f"(+ ids after the paint {row['id_bytes_per_point']:.2f} B/pt), the rest {row['other_bytes'] / 1024:.0f} KiB")  # fmt: skip
    for renderer, loads in runs.items():
        assert all(load["drawn"] == n for load in loads), loads
        paints = ", ".join(f"{r['ms'] / 1000:.2f} ({r['received_ms'] / 1000:.2f})" for r in loads)
        cold = " (the first: a cold server)" if renderer == "auto" else ""
        print(
            f"  {renderer} → {loads[0]['renderer']}: first paint {paints} s{cold}; in brackets: data received"
        )
    lassos = runs["auto"]
    print("  lasso → preview shown: " + ", ".join(f"{r['lasso_ms'] / 1000:.2f}" for r in lassos) + " s; "
          "the preview request: " + ", ".join(f"{r['preview_ms'] / 1000:.2f}" for r in lassos) + " s; "
          f"{lassos[0]['lasso_n']:,} points inside")  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "service")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    scratch = Path(tempfile.mkdtemp(prefix="thresher-map-"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for n in (int(s) for s in args.sizes.split(",")):
                results.append(measure(browser, scratch / f"ws-{n}", n, args.repeats))
            browser.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    machine = {"cpus": os.cpu_count(), "load_average": [round(v, 1) for v in os.getloadavg()],
               "python": platform.python_version(), "chromium": CHROMIUM}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "map_scale.json").write_text(
        json.dumps({"machine": machine, "results": results}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
