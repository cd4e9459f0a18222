"""The curator's reads over HTTP, subsets to sweeps: versions, cards, galleries, diffs, training runs and
sweeps, against the workspace's files; every data string escaped in the HTML the API returns; no read
writes anything; every route on the API page (the shared workspace: tests/service/curated_reads.py)."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from tests.service.curated_reads import CLUSTERING, RANDOM_RUN, catalog, files_of, ok, refused, run_names
from tests.service.hostile_data import HOSTILE
from thresher.service.markdown_html import markdown_to_html
from thresher.service.routes_runs import MAX_CURVE_POINTS, loss_curve

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
