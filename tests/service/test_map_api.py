"""The embedding map's API: the binary columns decoded and compared with the layout's Parquet and the
catalog, a lasso's points against an independent point-in-polygon test, previews that write nothing, a
lasso of no point refused, and a save that becomes a subset of exactly those ids with its polygon in its
stats and card."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import fake_clustering, synthetic_embeddings
from tests.service.conftest import HEADERS, make_client, wait_for
from tests.service.polygons import inside_polygon
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.layouts import LAYOUT_FILE
from thresher.catalog.samples import labels_of, ok_sample_ids
from thresher.catalog.workspace import Workspace
from thresher.curate.config import LayoutConfig, SelectConfig
from thresher.curate.layout import run_layout
from thresher.curate.select import select
from thresher.service.map_points import MapPoints, decode_columns

CLUSTERING = "cluster-test"
RANDOM_RUN = "random-digits-seed0"


@dataclass
class Mapped:
    ws: Workspace
    layout: str
    folder: Path
    ids: np.ndarray
    xy: np.ndarray


@pytest.fixture(scope="module")
def mapped(tmp_path_factory) -> Mapped:
    """digits with synthetic embeddings, a PCA layout of them, a clustering (clusters = labels) and a random
    half (whose score run colours by score)."""
    ws = Workspace(tmp_path_factory.mktemp("map") / "ws")
    ingest(ws, IngestConfig(source="builtin:digits"))
    ids = ok_sample_ids(ws, "digits")
    rng = np.random.default_rng(0)
    vectors = (
        rng.normal(0, 3, (10, 6))[labels_of(ws, "digits", ids)] + rng.normal(0, 1, (len(ids), 6))
    ).astype(np.float32)
    synthetic_embeddings(ws, "digits", vectors, part_size=700)
    layout = run_layout(ws, LayoutConfig(method="pca"))
    fake_clustering(ws, "digits", CLUSTERING)
    select(ws, SelectConfig(name="rnd", method="random", ratio=0.5))
    table = pq.read_table(layout.path / LAYOUT_FILE)
    xy = np.stack([table.column("x").to_numpy(), table.column("y").to_numpy()], axis=1)
    return Mapped(ws, layout.layout, layout.path, table.column("sample_id").to_numpy(), xy)


@pytest.fixture
def client(mapped):
    with make_client(mapped.ws.root, workers=1) as c:
        yield c


def _points(client, mapped, columns: str, **params) -> dict[str, np.ndarray]:
    response = client.get(f"/api/layouts/{mapped.layout}/points", params={"columns": columns, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    n, decoded = decode_columns(response.content)
    assert n == len(mapped.ids)
    return decoded


def _star(centre: np.ndarray, radius: float) -> list[list[float]]:
    """A non-convex polygon: ten vertices alternating between two radii."""
    angles = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    radii = np.where(np.arange(10) % 2 == 0, radius, radius / 2.5)
    return [
        [float(centre[0] + r * np.cos(a)), float(centre[1] + r * np.sin(a))]
        for a, r in zip(angles, radii, strict=True)
    ]


def _rounded(polygon: list[list[float]]) -> list[list[float]]:
    """As the server rounds a region before it tests and records it."""
    return [[float(f"{x:.7g}"), float(f"{y:.7g}")] for x, y in polygon]


def _written(client, mapped) -> tuple[list[Path], int]:
    """Every file of the workspace (the service's own caches aside) and how many jobs there are."""
    files = sorted(
        p.relative_to(mapped.ws.root) for p in mapped.ws.root.rglob("*") if ".serve" not in p.parts
    )
    return files, len(client.get("/api/jobs").json())


def test_the_columns_decode_to_the_parquet_layout_and_the_catalog(client, mapped):
    body = client.get(
        f"/api/layouts/{mapped.layout}/points",
        params={"columns": "xy,id,label,cluster,kept,score", "clustering": CLUSTERING, "subset": "rnd@v1",
                "score_run": RANDOM_RUN},
    ).content  # fmt: skip
    n, columns = decode_columns(body)
    header = json.loads(body[8 : 8 + int.from_bytes(body[4:8], "little")])
    assert body[:4] == b"TMP1" and all(c["offset"] % 8 == 0 for c in header["columns"])
    assert {k: v.dtype.str for k, v in columns.items()} == {
        "xy": "<f4", "id": "<u4", "label": "|u1", "cluster": "|u1", "kept": "|u1", "score": "<f4"
    }  # fmt: skip
    assert np.array_equal(columns["xy"].reshape(-1, 2), mapped.xy)
    assert np.array_equal(columns["id"], mapped.ids)
    assert np.array_equal(columns["label"], labels_of(mapped.ws, "digits", mapped.ids))
    clusters = pq.read_table(mapped.ws.scores_dir(CLUSTERING)).to_pandas().set_index("sample_id")["cluster"]
    assert np.array_equal(columns["cluster"], clusters.loc[mapped.ids].to_numpy())
    kept = pq.read_table(mapped.ws.subset_dir("rnd", 1) / "ids.parquet").column("sample_id").to_numpy()
    assert (
        np.array_equal(columns["kept"], np.isin(mapped.ids, kept).astype(np.uint8))
        and columns["kept"].sum() == 899
    )
    scores = pq.read_table(mapped.ws.scores_dir(RANDOM_RUN)).to_pandas().set_index("sample_id")["score"]
    assert np.array_equal(columns["score"], scores.loc[mapped.ids].to_numpy().astype(np.float32))
    # The first paint's bytes: x, y and one colour, 9 per point plus a header under 256 bytes.
    first = client.get(f"/api/layouts/{mapped.layout}/points", params={"columns": "xy,label"}).content
    assert 9 * n < len(first) <= 9 * n + 256


def test_points_are_named_by_an_etag_that_follows_what_they_show(client, mapped):
    url = f"/api/layouts/{mapped.layout}/points"
    first = client.get(url, params={"columns": "xy,kept", "subset": "rnd@v1"})
    etag = first.headers["etag"]
    again = client.get(
        url, params={"columns": "xy,kept", "subset": "rnd@v1"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    select(mapped.ws, SelectConfig(name="rnd", method="random", ratio=0.3))  # rnd@v2: other points kept
    other = client.get(
        url, params={"columns": "xy,kept", "subset": "rnd@v2"}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200 and other.headers["etag"] != etag
    assert client.get(url, params={"columns": "xy,label"}).headers["etag"] != etag


def test_the_legend_counts_every_code(client, mapped):
    labels = labels_of(mapped.ws, "digits", mapped.ids)
    legend = client.get(f"/api/layouts/{mapped.layout}/legend", params={"column": "label"}).json()
    assert [(e["code"], e["n"]) for e in legend["entries"]] == list(enumerate(np.bincount(labels).tolist()))
    assert legend["missing"] == 255 and legend["n_missing"] == 0
    kept = client.get(
        f"/api/layouts/{mapped.layout}/legend", params={"column": "kept", "subset": "rnd@v1"}
    ).json()
    assert [(e["text"], e["n"]) for e in kept["entries"]] == [("removed", 898), ("kept", 899)]
    score = client.get(
        f"/api/layouts/{mapped.layout}/legend", params={"column": "score", "score_run": RANDOM_RUN}
    ).json()
    scores = pq.read_table(mapped.ws.scores_dir(RANDOM_RUN)).column("score").to_numpy()
    assert (score["min"], score["max"], score["n_missing"]) == (scores.min(), scores.max(), 0)


def test_a_lasso_or_box_selects_what_an_independent_point_in_polygon_test_finds(client, mapped):
    rng = np.random.default_rng(3)
    for _ in range(5):
        centre = mapped.xy[rng.integers(len(mapped.xy))]
        polygon = _star(centre, float(rng.uniform(0.5, 3.0)))
        answer = client.post(
            f"/api/layouts/{mapped.layout}/select", json={"polygon": polygon}, headers=HEADERS
        )
        n, columns = decode_columns(answer.content)
        expected = mapped.ids[inside_polygon(mapped.xy, _rounded(polygon))]
        assert n == len(expected) > 0 and np.array_equal(columns["id"], expected)
    x0, y0 = np.percentile(mapped.xy, 30, axis=0).tolist()
    x1, y1 = np.percentile(mapped.xy, 60, axis=0).tolist()
    answer = client.post(
        f"/api/layouts/{mapped.layout}/select", json={"box": [x0, y0, x1, y1]}, headers=HEADERS
    )
    (x0, y0), (x1, y1) = _rounded([[x0, y0], [x1, y1]])
    x, y = mapped.xy[:, 0].astype(np.float64), mapped.xy[:, 1].astype(np.float64)
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    assert np.array_equal(decode_columns(answer.content)[1]["id"], mapped.ids[inside])


def test_a_preview_counts_the_selection_per_class_and_cluster_and_writes_nothing(client, mapped):
    polygon = _star(np.median(mapped.xy, axis=0), 2.0)
    before = _written(client, mapped)
    preview = client.post(
        f"/api/layouts/{mapped.layout}/preview",
        json={"polygon": polygon, "clustering": CLUSTERING},
        headers=HEADERS,
    ).json()
    chosen = inside_polygon(mapped.xy, _rounded(polygon))
    labels = labels_of(mapped.ws, "digits", mapped.ids)
    assert preview["n"] == chosen.sum() and preview["n_layout"] == 1797
    assert [(c["label"], c["n"], c["of"]) for c in preview["classes"]] == [
        (k, int((labels[chosen] == k).sum()), int((labels == k).sum())) for k in range(10)
    ]
    assert [(c["cluster"], c["n"]) for c in preview["clusters"]] == [
        (c["label"], c["n"]) for c in preview["classes"]
    ]
    assert set(preview["gallery"]) <= set(mapped.ids[chosen].tolist()) and len(preview["gallery"]) == min(
        24, chosen.sum()
    )
    assert _written(client, mapped) == before


def test_a_lasso_of_no_point_cannot_be_saved_and_writes_nothing(client, mapped):
    far = float(np.abs(mapped.xy).max()) * 10
    polygon = [[far, far], [far + 1, far], [far, far + 1]]
    before = _written(client, mapped)
    answer = client.post(
        f"/api/layouts/{mapped.layout}/save", json={"polygon": polygon, "name": "none"}, headers=HEADERS
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "the selection holds no points: there is nothing to save",
        "field": "polygon",
    }
    assert _written(client, mapped) == before
    preview = client.post(
        f"/api/layouts/{mapped.layout}/preview", json={"polygon": polygon}, headers=HEADERS
    ).json()
    assert preview["n"] == 0 and preview["gallery"] == []


def test_saving_a_lasso_makes_a_subset_of_exactly_its_ids_with_the_polygon_in_stats_and_card(client, mapped):
    polygon = _star(np.median(mapped.xy, axis=0), 2.5)
    answer = client.post(
        f"/api/layouts/{mapped.layout}/save", json={"polygon": polygon, "name": "lasso"}, headers=HEADERS
    )
    assert answer.status_code == 201, answer.text
    saved = answer.json()
    job = wait_for(client, saved["job"]["id"], ("succeeded", "failed"))
    assert job["state"] == "succeeded", job["log_tail"]
    expected = mapped.ids[inside_polygon(mapped.xy, _rounded(polygon))]
    kept = pq.read_table(mapped.ws.subset_dir("lasso", 1) / "ids.parquet").column("sample_id").to_numpy()
    assert saved["n"] == len(expected) and np.array_equal(kept, expected)
    stored = pq.read_table(mapped.ws.root / saved["ids_file"]).column("sample_id").to_numpy()
    assert saved["ids_file"].startswith("selections/") and np.array_equal(stored, expected)
    version = client.get("/api/subsets/lasso/versions/1").json()
    assert version["method"] == "ids" and version["params"]["layout"] == mapped.layout
    assert version["params"]["polygon"] == _rounded(polygon)
    assert version["stats"]["score_config"]["n_ids"] == len(expected)
    card = client.get("/api/subsets/lasso/versions/1/card").json()["markdown"]
    assert f"n_ids={len(expected)}" in card and f"layout={mapped.layout}" in card
    assert f"polygon={_rounded(polygon)}" in card
    # The map colours by the new subset at once.
    kept_column = _points(client, mapped, "kept", subset="lasso@v1")["kept"]
    assert np.array_equal(np.flatnonzero(kept_column), np.flatnonzero(np.isin(mapped.ids, expected)))


def test_layouts_are_listed_and_are_not_score_runs(client, mapped):
    listed = client.get("/api/layouts").json()
    assert [(row["id"], row["n"], row["method"]) for row in listed] == [(mapped.layout, 1797, "pca")]
    info = client.get(f"/api/layouts/{mapped.layout}").json()
    assert info["clusterings"] == [CLUSTERING] and RANDOM_RUN in info["score_runs"]
    assert "rnd@v1" in info["subsets"] and "folder" not in info
    assert mapped.layout not in [r["id"] for r in client.get("/api/score_runs").json()]
    assert mapped.layout not in client.get("/api/sources/digits").json()["score_runs"]
    assert client.get(f"/api/score_runs/{mapped.layout}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status", "words"),
    [
        ("get", "/api/layouts/nope/points", {}, None, 404, "unknown layout 'nope'"),
        ("get", "/api/layouts/{id}/points", {"columns": "xy,colour"}, None, 422, "unknown column 'colour'"),
        ("get", "/api/layouts/{id}/points", {"columns": "cluster"}, None, 422, "column cluster needs ?clustering="),
        ("get", "/api/layouts/{id}/points", {"columns": "kept", "subset": "nope@v1"}, None, 404, "unknown subset"),
        ("get", "/api/layouts/{id}/points", {"columns": "score", "score_run": "nope"}, None, 404, "unknown score run"),
        ("get", "/api/layouts/{id}/legend", {"column": "cluster", "clustering": RANDOM_RUN}, None, 404, "unknown clustering"),
        ("post", "/api/layouts/{id}/select", {}, {"polygon": [[0, 0], [1, 1]]}, 422, "3 to 10000 vertices, got 2"),
        ("post", "/api/layouts/{id}/select", {}, {"polygon": [[0, 0], [1, "a"], [1, 0]]}, 422, "pairs of finite numbers"),
        ("post", "/api/layouts/{id}/select", {}, {"box": [0, 0, 1]}, 422, '"box" is [x0, y0, x1, y1]'),
        ("post", "/api/layouts/{id}/select", {}, {"box": [0, 0, 1, 1], "polygon": [[0, 0], [1, 0], [0, 1]]}, 422, 'give "polygon"'),
        ("post", "/api/layouts/{id}/preview", {}, {"box": [0, 0, 1, 1], "ids": [1, 2]}, 422, "unknown key 'ids'"),
        ("post", "/api/layouts/{id}/save", {}, {"box": [-9, -9, 9, 9], "name": "../x"}, 422, "invalid subset name"),
        ("post", "/api/layouts/{id}/save", {}, {"box": [-9, -9, 9, 9]}, 422, 'give the subset a "name"'),
    ],
)  # fmt: skip
def test_a_bad_request_is_one_message_and_writes_nothing(
    client, mapped, method, path, params, body, status, words
):
    url = path.replace("{id}", mapped.layout)
    before = _written(client, mapped)
    response = (
        client.get(url, params=params) if method == "get" else client.post(url, json=body, headers=HEADERS)
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"] and "\n" not in response.json()["detail"]
    assert _written(client, mapped) == before


def test_a_request_body_over_a_mebibyte_is_refused(client, mapped):
    polygon = [
        [float(i), float(i % 7)] for i in range(80_000)
    ]  # ids do not travel in requests: a polygon does
    response = client.post(f"/api/layouts/{mapped.layout}/select", json={"polygon": polygon}, headers=HEADERS)
    assert response.status_code == 413


def test_a_select_job_may_not_read_an_ids_file_outside_the_workspace(client, mapped, tmp_path):
    outside = tmp_path / "ids.txt"
    outside.write_text("1\n2\n")
    response = client.post(
        "/api/jobs",
        json={"command": "select", "config": {"name": "x", "method": "ids", "ids_file": str(outside)}},
        headers=HEADERS,
    )
    assert response.status_code == 422 and response.json()["field"] == "ids_file", response.text
    assert "outside the workspace" in response.json()["detail"]


def test_a_column_asked_for_at_once_by_several_requests_is_computed_once(mapped, monkeypatch):
    points = MapPoints(mapped.ws)
    layout = points.layout(mapped.layout)
    colouring = points.colouring(layout, CLUSTERING, None, None)
    made = []
    make = MapPoints._make

    def slow_make(self, *args):
        made.append(args[1])
        time.sleep(0.2)  # long enough that every thread asks while the first computes
        return make(self, *args)

    monkeypatch.setattr(MapPoints, "_make", slow_make)
    with ThreadPoolExecutor(4) as pool:
        columns = list(pool.map(lambda _: points.column(layout, "cluster", colouring), range(4)))
    assert made == ["cluster"]
    assert all(column is columns[0] for column in columns)
    assert np.array_equal(columns[0].values, labels_of(mapped.ws, "digits", mapped.ids))  # clusters = labels
