"""The curator's reads over HTTP, sources to scores: sources and their samples, thumbnails, clusterings and
score runs, each against an independent computation from the workspace's files, every bad request a 4xx
with one message (the shared workspace: tests/service/curated_reads.py)."""

from __future__ import annotations

import io
import re
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.service.curated_reads import CLUSTERING, RANDOM_RUN, catalog, ok, refused, run_names
from tests.service.hostile_data import HOSTILE
from thresher.catalog.image_store_build import pixel_rows
from thresher.catalog.row_pixels import RowPixels
from thresher.catalog.samples import load_images, ok_sample_ids
from thresher.catalog.workspace import Workspace
from thresher.service.app import service_state
from thresher.service.routes_sources import thumbnails_of
from thresher.service.thumbnails import Thumbnails

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
