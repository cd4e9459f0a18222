"""`thresher layout`: PCA and UMAP layouts of a source's embeddings, written once as Parquet, found again by
their config, built atomically."""

from __future__ import annotations

import json
import os
import shutil
import socket

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sklearn.decomposition import PCA

from tests.conftest import synthetic_embeddings
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.layouts import LAYOUT_FILE, list_layouts, read_layout, require_layout
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.staging import OWNER_FILE
from thresher.cli import main
from thresher.curate.config import LayoutConfig
from thresher.curate.layout import run_layout
from thresher.errors import ThresherError


@pytest.fixture
def embedded(workspace):
    """digits with synthetic 12-d embeddings in parts of 500 rows (four parts), offset by class."""
    ingest(workspace, IngestConfig(source="builtin:digits"))
    ids = ok_sample_ids(workspace, "digits")
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (10, 12))
    labels = ids % 10  # any fixed assignment; the layout does not read labels
    vectors = (centres[labels] + rng.normal(0, 1, (len(ids), 12)) + 50.0).astype(np.float32)  # far from 0
    synthetic_embeddings(workspace, "digits", vectors, part_size=500)
    return workspace, ids, vectors


def test_pca_layout_is_the_two_main_axes_of_the_embeddings(embedded):
    ws, ids, vectors = embedded
    result = run_layout(ws, LayoutConfig(method="pca"))
    table = pq.read_table(result.path / LAYOUT_FILE)
    assert table.schema.names == ["sample_id", "x", "y"]
    assert [str(t) for t in table.schema.types] == ["int64", "float", "float"]
    got_ids, xy = read_layout(result.path)
    assert np.array_equal(got_ids, ids)  # every embedded row, ascending
    expected = PCA(n_components=2, svd_solver="full").fit_transform(vectors.astype(np.float64))
    for axis in range(2):  # the same axes up to sign (each side chooses its own)
        sign = np.sign(np.dot(expected[:, axis], xy[:, axis]))
        np.testing.assert_allclose(sign * xy[:, axis], expected[:, axis], atol=1e-3 * np.abs(expected).max())


def test_a_layout_is_reused_by_its_config_and_another_config_is_another_layout(embedded):
    ws, _, _ = embedded
    first = run_layout(ws, LayoutConfig(method="pca"))
    again = run_layout(ws, LayoutConfig(method="pca", seed=5))  # PCA draws nothing: the seed is no part of it
    assert again.reused and again.layout == first.layout and not first.reused
    listed = list_layouts(ws)
    assert [row["id"] for row in listed] == [first.layout]
    assert listed[0]["n"] == 1797 and listed[0]["method"] == "pca" and listed[0]["embedder"] == "synthetic"
    row = require_layout(ws, first.layout)
    assert row["folder"] == first.path and json.loads((first.path / "meta.json").read_text())["n"] == 1797


def test_the_cli_makes_a_layout_and_refuses_bad_settings_in_one_line(embedded):
    ws, _, _ = embedded
    result = CliRunner().invoke(main, ["-w", str(ws.root), "layout", "--method", "pca"])
    assert result.exit_code == 0, result.output
    assert "pca layout of 1797 synthetic embeddings of digits" in result.output
    for args, words in [
        (["--method", "tsne"], "Invalid value for '--method'"),
        (["--n-neighbors", "1"], "--n-neighbors must be at least 2"),
        (["--min-dist", "2"], "--min-dist 2.0 is outside [0, 1]"),
        (["--embedder", "nope"], "no embeddings 'nope' for source 'digits'"),
    ]:
        refused = CliRunner().invoke(main, ["-w", str(ws.root), "layout", *args])
        assert refused.exit_code == 2 and words in refused.output and "Traceback" not in refused.output, args


def test_a_failed_layout_leaves_nothing_visible(embedded, monkeypatch):
    ws, _, _ = embedded
    import thresher.curate.layout as layout_module

    def dies(_store):
        raise KeyboardInterrupt

    monkeypatch.setattr(layout_module, "pca_layout", dies)
    with pytest.raises(KeyboardInterrupt):
        run_layout(ws, LayoutConfig(method="pca"))
    assert list_layouts(ws) == [] and not list((ws.root / "layouts").rglob("*.parquet"))
    assert not [p for p in (ws.root / "layouts").rglob("*") if p.name.endswith(".partial")]


def test_leftovers_of_a_killed_layout_are_removed_when_their_owner_is_gone(embedded):
    ws, _, _ = embedded
    made = run_layout(ws, LayoutConfig(method="pca"))
    with ws.connect() as con:
        con.execute("DELETE FROM runs WHERE id = ?", [made.layout])
    shutil.rmtree(made.path)
    dead = json.dumps({"pid": _dead_pid(), "host": socket.gethostname()})
    staging = made.path.parent / f".{made.path.name}.partial"  # killed while computing
    for folder in (staging, made.path):  # and killed after its rename, before its run row
        folder.mkdir()
        (folder / OWNER_FILE).write_text(dead)
    again = run_layout(ws, LayoutConfig(method="pca"))
    assert not again.reused and not staging.exists()
    assert (again.path / LAYOUT_FILE).is_file() and not (again.path / OWNER_FILE).exists()


def test_a_folder_the_catalog_does_not_know_is_refused_not_deleted(embedded):
    ws, _, _ = embedded
    made = run_layout(ws, LayoutConfig(method="pca"))
    with ws.connect() as con:  # as if the run row had been lost: the folder is someone else's now
        con.execute("DELETE FROM runs WHERE id = ?", [made.layout])
    with pytest.raises(ThresherError, match="exists but the catalog has no layout run"):
        run_layout(ws, LayoutConfig(method="pca"))
    assert (made.path / LAYOUT_FILE).is_file()


def test_a_layout_needs_complete_embeddings(embedded):
    ws, _, _ = embedded
    store = ws.embeddings_dir("digits", "synthetic")
    (store / "_SUCCESS.00001").unlink()
    with pytest.raises(ThresherError, match="incomplete"):
        run_layout(ws, LayoutConfig(method="pca"))


@pytest.mark.slow
def test_umap_layout_keeps_classes_together(workspace):
    """UMAP's numba compile makes the first call take ~30 s of CPU."""
    from sklearn.neighbors import KNeighborsClassifier

    ingest(workspace, IngestConfig(source="builtin:digits"))
    ids = ok_sample_ids(workspace, "digits")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, len(ids))
    vectors = (rng.normal(0, 6, (5, 16))[labels] + rng.normal(0, 1, (len(ids), 16))).astype(np.float32)
    synthetic_embeddings(workspace, "digits", vectors, part_size=700)
    result = run_layout(workspace, LayoutConfig(method="umap", fit_sample=1000))
    got_ids, xy = read_layout(result.path)
    assert np.array_equal(got_ids, ids) and np.isfinite(xy).all()
    knn = KNeighborsClassifier(5).fit(xy[::2], labels[::2])
    assert knn.score(xy[1::2], labels[1::2]) > 0.9  # misaligned ids or a broken transform fall to chance
    assert run_layout(workspace, LayoutConfig(method="umap", fit_sample=1000)).reused


def _dead_pid() -> int:
    """A pid no process has (the highest pids are free on any test machine)."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
