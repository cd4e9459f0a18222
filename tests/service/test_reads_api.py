"""The curator's reads over HTTP: every endpoint against an independent computation from the workspace's
files, every bad request a 4xx with one message, no request parameter a path outside the workspace, and
every data string escaped in the HTML the API returns (a class folder named like an XSS payload)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.conftest import fake_clustering
from tests.service.conftest import make_client
from tests.service.hostile_data import HOSTILE, hostile_image_folder
from thresher.catalog.config import IngestConfig
from thresher.catalog.image_store_build import pixel_rows
from thresher.catalog.ingest import ingest
from thresher.catalog.query import run_query
from thresher.catalog.row_pixels import RowPixels
from thresher.catalog.samples import load_images, ok_sample_ids
from thresher.catalog.sweeps import record_cell, record_sweep
from thresher.catalog.workspace import Workspace
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.eval_run import evaluate_run
from thresher.service.app import service_state
from thresher.service.markdown_html import markdown_to_html
from thresher.service.routes_runs import MAX_CURVE_POINTS, loss_curve
from thresher.service.routes_sources import thumbnails_of
from thresher.service.thumbnails import Thumbnails
from thresher.train.config import TrainConfig, TrainRunConfig
from thresher.train.train_run import run_training

CLUSTERING = "cluster-test"
RANDOM_RUN = "random-hostile-seed0"


@dataclass
class Curated:
    ws: Workspace
    folder: Path
    run: str
    evaluation: str


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Curated:
    """A workspace with a hostile-named class, a clustering (clusters = labels), two subsets of it, a
    second source with a subset, a tiny training run with an evaluation, and a sweep with a report."""
    root = tmp_path_factory.mktemp("reads")
    ws = Workspace(root / "ws")
    folder = hostile_image_folder(root / "folder")
    ingest(ws, IngestConfig(source=str(folder), name="hostile"))
    fake_clustering(ws, "hostile", CLUSTERING)
    select(ws, SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.5, clustering=CLUSTERING))
    select(ws, SelectConfig(name="rnd", method="random", ratio=0.5))
    tiny = TrainConfig(model_size="DiT-T/4", width=32, depth=1, heads=2, steps=4, batch_size=8, sample_count=4,
                       checkpoint_every=1000, log_every=1)  # fmt: skip
    run = run_training(ws, TrainRunConfig(dataset="rnd@v1", train=tiny)).run_id
    evaluation = evaluate_run(
        ws, EvalRunConfig(run=run, n=8, steps=2, features="classifier", max_reference=40, batch_size=8)
    ).id
    ingest(ws, IngestConfig(source="builtin:digits"))
    select(ws, SelectConfig(name="dig", method="random", ratio=0.5, source="digits"))
    record_sweep(ws, "grid", {"source": "hostile"}, "grid.yaml", ["cell-a", "cell-b"])
    record_cell(ws, "cell-a", {"method": HOSTILE, "ratio": 0.5}, "rnd@v1", run, evaluation, {"train": 1.0})
    report = ws.root / "reports" / "sweep-grid"
    report.mkdir(parents=True)
    (report / "report.md").write_text(f"# grid\n\n| method | fid |\n|---|--:|\n| {HOSTILE} | 1.5 |\n\n"
                                      "![metrics](metrics.png)\n\n[evil](javascript:alert(1))\n")  # fmt: skip
    Image.new("RGB", (4, 4)).save(report / "metrics.png")
    (report / "report.html").write_text(
        "<html><head><style>body{margin:2em}</style></head><body>r</body></html>"
    )
    return Curated(ws, folder, run, evaluation)


@pytest.fixture(scope="module")
def client(curated):
    with make_client(curated.ws.root, workers=1) as client:
        yield client


def ok(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text)
    return response.json()


def refused(client, url: str, status: int, words: str) -> None:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and words in detail, (url, detail)


def catalog(ws: Workspace, sql: str) -> list[tuple]:
    return run_query(ws, sql).rows


def files_of(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the workspace outside the service's own folders, with size and modification time."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d).relative_to(root).parts[0] not in (".serve", "jobs")]
        for name in files:
            stat = Path(folder, name).stat()
            out[str(Path(folder, name).relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return out


# -- sources and samples ---------------------------------------------------------------------------------


def test_sources_list_their_class_names_and_counts_per_label_and_status(client, curated):
    sources = {s["id"]: s for s in ok(client, "/api/sources")}
    assert set(sources) == {"hostile", "digits"}
    assert sources["hostile"]["label_names"] == sorted([HOSTILE, "plain"])
    summary = ok(client, "/api/sources/hostile")
    names = summary["label_names"]
    counted = {names[entry["label"]]: entry["n"] for entry in summary["labels"] if entry["label"] is not None}
    on_disk = {
        d.name: len([f for f in d.iterdir() if f.name != "broken.png"]) for d in curated.folder.iterdir()
    }
    assert counted[HOSTILE] == on_disk[HOSTILE] == 20
    assert counted["plain"] == on_disk["plain"] + 1 == 21  # the broken file is a row too, a skipped one
    assert {s["status"]: s["n"] for s in summary["statuses"]} == {"ok": 40, "skipped": 1}
    assert summary["clusterings"] == [CLUSTERING] and set(summary["score_runs"]) == {CLUSTERING, RANDOM_RUN}


def test_sample_pages_filter_by_label_status_cluster_and_score_range(client, curated):
    ws = curated.ws
    labels = dict(catalog(ws, "SELECT sample_id, label FROM samples WHERE source = 'hostile'"))
    status = dict(catalog(ws, "SELECT sample_id, status FROM samples WHERE source = 'hostile'"))
    clusters = pq.read_table(next(ws.scores_dir(CLUSTERING).glob("*.parquet"))).to_pydict()
    cluster_of = dict(zip(clusters["sample_id"], clusters["cluster"], strict=True))
    scores = pq.read_table(next(ws.scores_dir(RANDOM_RUN).glob("*.parquet"))).to_pydict()
    score_of = dict(zip(scores["sample_id"], scores["score"], strict=True))
    low, high = np.quantile(list(score_of.values()), [0.25, 0.75])

    expected = sorted(
        i for i in labels if labels[i] == 1 and cluster_of.get(i) == 1 and low <= score_of.get(i, -1) <= high
    )
    query = f"label=1&clustering={CLUSTERING}&cluster=1&score_run={RANDOM_RUN}&min={low}&max={high}"
    pages = [ok(client, f"/api/sources/hostile/samples?{query}&offset={o}&limit=3") for o in range(0, 30, 3)]
    assert all(p["total"] == len(expected) for p in pages)
    rows = [row for p in pages for row in p["rows"]]
    assert [r["sample_id"] for r in rows] == expected and len(expected) > 3
    assert all(r["label_name"] == "plain" and r["cluster"] == 1 and low <= r["score"] <= high for r in rows)

    skipped = ok(client, "/api/sources/hostile/samples?status=skipped")
    assert [r["sample_id"] for r in skipped["rows"]] == [i for i, s in status.items() if s == "skipped"]
    assert skipped["rows"][0]["error"]
    everything = ok(client, "/api/sources/hostile/samples?limit=500")
    assert [r["sample_id"] for r in everything["rows"]] == sorted(labels)


def test_bad_sample_requests_are_4xx_with_one_message(client):
    base = "/api/sources/hostile/samples"
    refused(client, "/api/sources/nope", 404, "unknown source 'nope'")
    refused(client, "/api/sources/nope/samples", 404, "unknown source 'nope'")
    refused(client, f"{base}?cluster=1", 422, "cluster needs clustering")
    refused(client, f"{base}?min=0.5", 422, "need score_run")
    refused(client, f"{base}?score_run={RANDOM_RUN}&min=0.9&max=0.1", 422, "is above max")
    refused(client, f"{base}?clustering=cluster-nope", 404, "unknown clustering 'cluster-nope'")
    refused(
        client, f"{base}?clustering={RANDOM_RUN}", 404, "unknown clustering"
    )  # a score run, not a clustering
    refused(client, f"{base}?score_run=..%2F..%2Fetc", 400, "invalid run id")
    refused(client, "/api/sources/digits/samples?clustering=" + CLUSTERING, 404, "not 'digits'")
    refused(client, f"{base}?limit=0", 422, "limit must lie in 1..500")
    refused(client, f"{base}?limit=100000", 422, "limit must lie in 1..500")
    refused(client, f"{base}?offset=-1", 422, "offset must be at least 0")
    refused(client, f"{base}?label=three", 422, "label")


# -- thumbnails ------------------------------------------------------------------------------------------


def test_a_thumbnail_is_the_decoded_row_enlarged_with_square_pixels(client, curated):
    ws = curated.ws
    ids = ok_sample_ids(ws, "hostile")
    rows = load_images(ws, "hostile", ids[:3])
    for sample_id, row in zip(ids[:3], rows, strict=True):
        response = client.get(f"/api/thumbnails/hostile/{sample_id}?size=64")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        got = np.asarray(Image.open(io.BytesIO(response.content)))
        expected = np.asarray(Image.fromarray(row[..., 0]).resize((64, 64), Image.NEAREST))
        assert np.array_equal(got, expected)
    small = Image.open(io.BytesIO(client.get(f"/api/thumbnails/hostile/{ids[0]}?size=32").content))
    assert small.size == (32, 32)


def test_thumbnails_carry_a_strong_etag_answer_304_and_are_decoded_once(client, curated):
    sample_id = int(ok_sample_ids(curated.ws, "hostile")[5])
    url = f"/api/thumbnails/hostile/{sample_id}?size=128"
    cache = thumbnails_of(service_state(client.app))
    first = client.get(url)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag) and "max-age" in first.headers["cache-control"]
    decoded = cache.decoded
    again = client.get(url)
    assert again.content == first.content and again.headers["etag"] == etag and cache.decoded == decoded
    not_modified = client.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert (
        not_modified.status_code == 304
        and not_modified.content == b""
        and not_modified.headers["etag"] == etag
    )
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # the disk cache outlives the process's memory: a fresh cache decodes nothing
    fresh = Thumbnails(curated.ws, curated.ws.root / ".serve" / "thumbnails")
    assert fresh.get("hostile", sample_id, 128).data == first.content and fresh.decoded == 0
    assert client.get(f"/api/thumbnails/hostile/{sample_id}?size=64").headers["etag"] != etag


def test_bad_thumbnail_requests_are_4xx_with_one_message(client, curated):
    skipped = catalog(
        curated.ws, "SELECT sample_id FROM samples WHERE source = 'hostile' AND status = 'skipped'"
    )
    refused(client, "/api/thumbnails/hostile/99999", 404, "has no sample 99999")
    refused(client, f"/api/thumbnails/hostile/{skipped[0][0]}", 404, "has no image")
    refused(client, "/api/thumbnails/nope/1", 404, "unknown source 'nope'")
    refused(client, "/api/thumbnails/hostile/1?size=1000", 422, "size must be one of 32, 64, 128, 256")
    refused(client, "/api/thumbnails/hostile/one", 422, "sample_id")


def test_rows_come_from_a_complete_native_pixel_store_and_from_the_source_without_one(curated, tmp_path):
    ws = curated.ws
    ids = ok_sample_ids(ws, "hostile")
    pixel_rows(ws, "hostile", ids)  # the native-size store (no-op when training built it)
    expected = load_images(ws, "hostile", ids)[..., 0]
    stored = RowPixels(ws, "hostile")
    assert stored.from_store
    assert all(np.array_equal(stored.pixels(int(i)), row) for i, row in zip(ids, expected, strict=True))
    copy = Workspace(tmp_path / "copy")
    shutil.copytree(ws.root, copy.root)
    for marker in copy.root.glob("cache/stores/hostile/*/_SUCCESS.*"):
        marker.unlink()  # an incomplete store is never read
    decoded = RowPixels(copy, "hostile")
    assert not decoded.from_store
    assert all(np.array_equal(decoded.pixels(int(i)), row) for i, row in zip(ids, expected, strict=True))


# -- clusterings and score runs --------------------------------------------------------------------------


def test_clusterings_have_the_sizes_and_purity_of_the_query_views_and_strips_nearest_first(client, curated):
    assert [c["id"] for c in ok(client, "/api/clusterings")] == [CLUSTERING]
    run = ok(client, f"/api/clusterings/{CLUSTERING}?strip=4")
    view = {r[0]: r for r in catalog(curated.ws, f"SELECT cluster, size, purity FROM clusters WHERE clustering = '{CLUSTERING}'")}  # fmt: skip
    assert run["total"] == len(view) == 2 and run["n"] == 40
    table = pq.read_table(next(curated.ws.scores_dir(CLUSTERING).glob("*.parquet"))).to_pandas()
    for cluster in run["clusters"]:
        assert (cluster["size"], cluster["purity"]) == pytest.approx(view[cluster["cluster"]][1:])
        members = table[table.cluster == cluster["cluster"]].sort_values(["distance", "sample_id"])
        assert cluster["strip"] == members.sample_id.tolist()[:4]
        assert cluster["majority_name"] == run_names(client)[cluster["majority_label"]]
    assert [c["size"] for c in run["clusters"]] == sorted((c["size"] for c in run["clusters"]), reverse=True)
    assert len(ok(client, f"/api/clusterings/{CLUSTERING}?offset=1&limit=1")["clusters"]) == 1
    refused(client, "/api/clusterings/cluster-nope", 404, "unknown clustering")
    refused(client, f"/api/clusterings/{RANDOM_RUN}", 404, "unknown clustering")
    refused(client, f"/api/clusterings/{CLUSTERING}?strip=1000", 422, "strip must lie in 0..32")


def run_names(client) -> list[str]:
    return ok(client, "/api/sources/hostile")["label_names"]


def test_a_score_runs_histogram_is_numpys_over_its_scores(client, curated):
    assert {r["id"] for r in ok(client, "/api/score_runs")} == {CLUSTERING, RANDOM_RUN, "random-digits-seed0"}
    run = ok(client, f"/api/score_runs/{RANDOM_RUN}?bins=10")
    scores = (
        pq.read_table(next(curated.ws.scores_dir(RANDOM_RUN).glob("*.parquet"))).column("score").to_numpy()
    )
    counts, edges = np.histogram(scores, bins=10)
    assert run["counts"] == counts.tolist() and run["edges"] == pytest.approx(edges.tolist())
    assert (run["n"], run["n_missing"], run["method"]) == (len(scores), 0, "random")
    refused(client, f"/api/score_runs/{RANDOM_RUN}?bins=7", 422, "bins must be one of")
    refused(client, "/api/score_runs/nope", 404, "unknown score run 'nope'")
    refused(client, f"/api/score_runs/{curated.run}", 404, "unknown score run")  # a training run


# -- subsets, cards, galleries, diff ---------------------------------------------------------------------


def test_versions_list_their_stats_and_kept_samples(client, curated):
    listed = {s["name"]: [v["version"] for v in s["versions"]] for s in ok(client, "/api/subsets")}
    assert listed == {"eq": [1], "rnd": [1], "dig": [1]}
    version = ok(client, "/api/subsets/eq/versions/v1")
    folder = curated.ws.subset_dir("eq", 1)
    assert version["stats"] == json.loads((folder / "stats.json").read_text())
    assert ok(client, "/api/subsets/eq/versions/latest")["version"] == 1
    kept = pq.read_table(folder / "ids.parquet").to_pydict()
    pages = [ok(client, f"/api/subsets/eq/versions/1/samples?offset={o}&limit=7") for o in range(0, 42, 7)]
    assert [r["sample_id"] for p in pages for r in p["rows"]] == sorted(kept["sample_id"])
    of_label = ok(client, "/api/subsets/eq/versions/1/samples?label=0&limit=500")
    assert of_label["total"] == kept["label"].count(0) and all(r["label"] == 0 for r in of_label["rows"])


def test_the_card_escapes_every_data_string_and_links_only_into_the_version(client):
    card = ok(client, "/api/subsets/eq/versions/1/card")
    # the class table names the hostile class, escaped in the Markdown itself (cards/markdown.py) ...
    assert "&lt;img src=x onerror=alert(1)&gt;" in card["markdown"] and HOSTILE not in card["markdown"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in card["html"] and "<img src=x" not in card["html"]
    sources = re.findall(r'<img src="([^"]*)"', card["html"])
    assert sources and all(s.startswith("/api/subsets/eq/versions/1/files/gallery/") for s in sources)
    for source in sources:
        picture = client.get(source)
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    gallery = ok(client, "/api/subsets/eq/versions/1/gallery")
    assert gallery["error"] is None and [i["url"] for i in gallery["images"]] == sources
    page = client.get(gallery["page"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert HOSTILE not in page.text
    assert "<style" not in page.text and '<link rel="stylesheet" href="/static/gallery.css">' in page.text


def test_gallery_files_are_served_only_from_inside_the_version_folder(client, curated):
    ok(client, "/api/subsets/eq/versions/1/gallery")
    base = "/api/subsets/eq/versions/1/files/"
    for path in ["..%2F..%2F..%2Fcatalog.duckdb", "%2Fetc%2Fpasswd", "gallery.json", "gallery/../../v1",
                 "..%2Fv1-x%2Fgallery.json", "nothing.png"]:  # fmt: skip
        response = client.get(base + path)
        assert response.status_code == 404, (path, response.status_code)


def test_a_diff_counts_both_sides_and_lists_the_samples_only_one_keeps(client, curated):
    a = pq.read_table(curated.ws.subset_dir("eq", 1) / "ids.parquet").to_pandas()
    b = pq.read_table(curated.ws.subset_dir("rnd", 1) / "ids.parquet").to_pandas()
    diff = ok(client, "/api/diff?a=eq@v1&b=rnd&limit=500")
    assert diff["both"] == len(set(a.sample_id) & set(b.sample_id))
    assert [r["sample_id"] for r in diff["only_a"]["rows"]] == sorted(set(a.sample_id) - set(b.sample_id))
    assert [r["sample_id"] for r in diff["only_b"]["rows"]] == sorted(set(b.sample_id) - set(a.sample_id))
    by_class = {r["key"]: (r["a"], r["b"]) for r in diff["classes"]}
    for label in set(a.label) | set(b.label):
        assert by_class[label] == ((a.label == label).sum(), (b.label == label).sum())
    assert diff["label_names"] == run_names(client) and diff["same_clustering"]
    page = ok(client, "/api/diff?a=eq@v1&b=rnd@v1&offset=2&limit=2")
    assert [r["sample_id"] for r in page["only_a"]["rows"]] == [
        r["sample_id"] for r in diff["only_a"]["rows"][2:4]
    ]


def test_bad_subset_references_are_4xx_with_one_message(client):
    refused(client, "/api/subsets/nope/versions/1", 404, "unknown subset 'nope'")
    refused(client, "/api/subsets/eq/versions/7", 404, "has no version v7; it has v1")
    refused(client, "/api/subsets/eq/versions/seven", 422, "invalid version")
    refused(client, "/api/subsets/..hidden/versions/1", 422, "invalid subset name '..hidden'")
    refused(client, "/api/diff?a=eq@v1&b=nope@v1", 404, "unknown subset 'nope'")
    refused(client, "/api/diff?a=eq@v1&b=a/b", 422, "invalid subset name 'a/b'")
    refused(client, "/api/diff?a=eq@v1&b=dig@v1", 422, "a diff compares versions of one source")
    refused(client, "/api/diff?a=eq@v1", 422, "b")


# -- training runs and sweeps ----------------------------------------------------------------------------


def test_a_training_run_shows_its_loss_curve_samples_and_evaluation_metrics(client, curated):
    assert [r["id"] for r in ok(client, "/api/runs")] == [curated.run]
    run = ok(client, f"/api/runs/{curated.run}")
    folder = curated.ws.run_dir(curated.run)
    logged = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert (
        run["loss"] == [{"step": r["step"], "loss": pytest.approx(r["loss"])} for r in logged]
        and len(logged) == 4
    )
    samples = client.get(run["samples"])
    assert samples.status_code == 200 and samples.content == (folder / "samples.png").read_bytes()
    (evaluation,) = run["evaluations"]
    recorded = catalog(curated.ws, f"SELECT metrics FROM evaluations WHERE id = '{curated.evaluation}'")[0][0]
    assert evaluation["id"] == curated.evaluation
    assert evaluation["metrics"]["fid"] == pytest.approx(json.loads(recorded)["fid"])
    assert client.get(evaluation["grid"]).status_code == 200
    refused(client, "/api/runs/nope", 404, "unknown run 'nope'")
    refused(client, f"/api/runs/{CLUSTERING}", 404, "not a model run")
    refused(client, "/api/runs?kind=cluster", 422, "kind must be one of")
    for path in ["config.yaml", "..%2F..%2Fcatalog.duckdb", "evaluations%2F..%2F..%2F..%2Fx.png"]:
        refused(client, f"/api/runs/{curated.run}/files/{path}", 404, "has no picture")


def test_a_long_loss_log_is_thinned_keeping_its_last_point(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text(
        "".join(json.dumps({"step": s, "loss": 1 / s}) + "\n" for s in range(1, 2502)) + '{"step": 25'
    )
    curve = loss_curve(log)
    assert len(curve) <= MAX_CURVE_POINTS + 1 and curve[0]["step"] == 1 and curve[-1]["step"] == 2501


def test_a_sweep_shows_its_cells_and_its_report_escaped(client, curated):
    assert ok(client, "/api/sweeps") == [{"name": "grid", "cells": 2, "done": 1, "report": True}]
    sweep = ok(client, "/api/sweeps/grid")
    (cell,) = sweep["cells"]
    assert cell["description"]["method"] == HOSTILE and cell["metrics"]["fid"] is not None
    html = sweep["report_html"]
    assert (
        "&lt;img src=x onerror=alert(1)&gt;" in html
        and "<img src=x" not in html
        and 'href="javascript' not in html
    )
    assert '<img src="/api/sweeps/grid/report/metrics.png"' in html
    assert client.get("/api/sweeps/grid/report/metrics.png").status_code == 200
    page = client.get(sweep["report_page"])
    assert page.status_code == 200 and page.text.startswith("<html>") and "<style" not in page.text
    assert '<link rel="stylesheet" href="/static/report.css">' in page.text
    refused(client, "/api/sweeps/nope", 404, "unknown sweep 'nope'")
    refused(client, "/api/sweeps/grid/report/..%2F..%2Fcatalog.duckdb", 404, "has no report file")
    refused(client, "/api/sweeps/grid/report/report.md", 404, "has no report file")


def test_markdown_is_rendered_with_raw_html_escaped_and_unsafe_links_dropped():
    html = markdown_to_html(
        f"# {HOSTILE}\n\n<script>alert(1)</script>\n\n![x](a.png) [y](javascript:alert(1)) [z](https://e.org)\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n",
        "/api/base/",
    )
    assert "<script" not in html and "<img src=x" not in html and 'href="javascript' not in html
    assert '<img src="/api/base/a.png"' in html and '<a href="https://e.org">' in html
    assert 'class="right"' in html and "style=" not in html  # the CSP forbids inline style


# -- the whole API -----------------------------------------------------------------------------------------


def test_reads_and_refusals_write_nothing_in_the_workspace(client, curated):
    before = files_of(curated.ws.root)
    for url in ["/api/sources", "/api/sources/hostile/samples?label=0", "/api/clusterings/" + CLUSTERING,
                "/api/score_runs/" + RANDOM_RUN, "/api/subsets/rnd/versions/1/card", "/api/diff?a=eq&b=rnd",
                "/api/runs/" + curated.run, "/api/sweeps/grid", "/api/thumbnails/hostile/3?size=256",
                "/api/subsets/nope/versions/1", "/api/diff?a=eq&b=x/y", "/api/thumbnails/hostile/99999"]:  # fmt: skip
        assert client.get(url).status_code < 500, url
    assert files_of(curated.ws.root) == before


def test_every_read_route_is_in_the_api_page(client):
    paths = set(ok(client, "/openapi.json")["paths"])
    assert {
        "/api/sources", "/api/sources/{source}", "/api/sources/{source}/samples",
        "/api/thumbnails/{source}/{sample_id}", "/api/clusterings", "/api/clusterings/{run_id}",
        "/api/score_runs", "/api/score_runs/{run_id}", "/api/subsets", "/api/subsets/{name}/versions/{version}",
        "/api/subsets/{name}/versions/{version}/samples", "/api/subsets/{name}/versions/{version}/card",
        "/api/subsets/{name}/versions/{version}/gallery", "/api/subsets/{name}/versions/{version}/files/{path}",
        "/api/diff", "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/files/{path}", "/api/sweeps",
        "/api/sweeps/{name}", "/api/sweeps/{name}/report/{path}",
    } <= paths  # fmt: skip


def test_an_empty_workspace_lists_nothing_and_names_nothing(service):
    for url in [
        "/api/sources",
        "/api/clusterings",
        "/api/score_runs",
        "/api/subsets",
        "/api/runs",
        "/api/sweeps",
    ]:
        assert ok(service, url) == [], url
    refused(service, "/api/sources/x/samples", 404, "unknown source 'x'; known: none")
    refused(service, "/api/subsets/x/versions/1", 404, "unknown subset 'x'")
    refused(service, "/api/thumbnails/x/1", 404, "unknown source 'x'")
