"""What a sweep can check is checked before any prerequisite runs and before anything is written: the
grid's size against --max-cells, k against the source's rows, the embedder, the models against the image
size. And a spec's `train:` takes the data settings of `thresher train` (image_size, resize, background),
which the cells and the pretraining use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from thresher.catalog.workspace import Workspace
from thresher.cli import main
from thresher.experiments.sweep_cells import SweepContext, cell_count, expand
from thresher.experiments.sweep_spec import load_spec

from ..catalog.test_load_images import ingest_pngs
from .test_sweep_spec import GOOD, _spec


def _sweep(ws: Path, spec: str, *args: str):
    return CliRunner().invoke(main, ["-w", str(ws), "sweep", spec, *args])


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    return result.output.removeprefix("error: ").strip()


def test_a_grid_over_the_limit_is_refused_with_its_numbers_and_max_cells_raises_it(tmp_path: Path) -> None:
    seeds = ", ".join(str(s) for s in range(600))
    text = GOOD.replace("seeds: [0, 1]\n", f"seeds: [{seeds}]\n")
    spec = _spec(tmp_path, text.replace("source: builtin:mnist-lt", "source: not-ingested"))
    # 600 baselines + random × 2 ratios × 600 + cl, its inverse and middle × 2 ratios × 600
    assert cell_count(load_spec(spec)) == 600 + 2 * 600 + 3 * 2 * 600 == 5400
    assert len(expand(load_spec(spec), SweepContext("x", None, {}, None))) == 5400
    ws = tmp_path / "ws"
    message = _one_line_error(_sweep(ws, spec))
    assert message == (
        f"{spec}:8: the sweep has 5400 cells (from 4 method series, 2 ratios and 600 seeds), more than the "
        "limit of 1000: pass --max-cells 5400 to run them all"
    )
    # raised, the grid is accepted and the next check speaks (the source is not ingested)
    assert "is not ingested" in _one_line_error(_sweep(ws, spec, "--max-cells", "5400"))
    assert "--max-cells" in _one_line_error(_sweep(ws, spec, "--max-cells", "0"))
    assert not ws.exists()


def test_k_beyond_a_builtins_rows_is_refused_before_it_is_ingested(tmp_path: Path) -> None:
    spec = _spec(tmp_path, GOOD.replace("steps: 10\n", "steps: 10\nk: 100000\n"))
    ws = tmp_path / "ws"
    message = _one_line_error(_sweep(ws, spec))
    assert message == f"{spec}:11: k 100000 is more clusters than builtin:mnist-lt has rows (1703)"
    assert not ws.exists()  # nothing ingested, nothing written


def test_a_pretraining_batch_beyond_the_rows_is_refused_before_anything_runs(tmp_path: Path) -> None:
    text = GOOD.replace("  - random\n", "  - random\n  - el2n\n")
    spec = _spec(tmp_path, text.replace("steps: 10\n", "steps: 10\npretrain: {batch_size: 2000}\n"))
    ws = tmp_path / "ws"
    message = _one_line_error(_sweep(ws, spec))
    assert message == f"{spec}:12: the pretraining's batch of 2000 is more than builtin:mnist-lt's 1703 rows"
    assert not ws.exists()


def _nothing_ran(ws: Workspace) -> None:
    with ws.connect(read_only=True) as con:
        for table in ("embeddings", "runs", "subsets", "sweeps"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert not (ws.root / "embeddings").exists() or not any((ws.root / "embeddings").rglob("*.parquet"))


def test_k_beyond_an_ingested_sources_rows_is_refused_before_embedding(mnist_lt: Workspace, tmp_path) -> None:
    text = GOOD.replace("builtin:mnist-lt", "mnist-lt").replace("builtin:mnist", "mnist-lt")
    spec = _spec(tmp_path, text.replace("steps: 10\n", "steps: 10\nk: 5000\n"))
    assert _one_line_error(_sweep(mnist_lt.root, spec)) == (
        f"{spec}:11: k 5000 is more clusters than mnist-lt has rows (1703)"
    )
    _nothing_ran(mnist_lt)


def test_an_unknown_embedder_and_a_model_that_cannot_tile_the_images_are_refused_first(
    mnist_lt: Workspace, tmp_path
) -> None:
    text = GOOD.replace("builtin:mnist-lt", "mnist-lt").replace("builtin:mnist", "mnist-lt")
    embedder = _spec(tmp_path, text.replace("steps: 10\n", "steps: 10\nembedder: nosuch\n"))
    assert _one_line_error(_sweep(mnist_lt.root, embedder)).startswith(
        f"{embedder}:11: unknown embedder 'nosuch'"
    )
    model = _spec(tmp_path, text.replace("steps: 10\n", "steps: 10\nvae: null\ntrain: {image_size: 30}\n"))
    assert _one_line_error(_sweep(mnist_lt.root, model)).startswith(
        f"{model}:12: train: input size 30 is not divisible by the patch size 4"
    )
    _nothing_ran(mnist_lt)


def test_image_size_under_train_is_accepted_and_reaches_cells_and_pretraining(tmp_path: Path) -> None:
    from thresher.experiments.sweep import _Prerequisites, _train_config

    text = GOOD.replace(
        "steps: 10\n", "steps: 10\ntrain: {image_size: 16, resize: crop, model_size: DiT-T/2}\n"
    )
    spec = load_spec(_spec(tmp_path, text))
    assert spec.pretrain_settings == {"image_size": 16, "resize": "crop"}
    pre = _Prerequisites("src", "ref", 10, "cluster-x", None, SweepContext("src", None, {}, None), {})
    cell = expand(spec, pre.context)[0]
    run = _train_config(spec, "src", cell.run_id, pre, cell, 10)
    assert (run.image_size, run.resize, run.train.model_size) == (16, "crop", "DiT-T/2")
    # the size is part of what a cell is: another size is another training key
    other = load_spec(_spec(tmp_path, text.replace("image_size: 16", "image_size: 32")))
    assert expand(other, pre.context)[0].training_key != cell.training_key
    # pretrain: sets its own where it wants another
    own = load_spec(_spec(tmp_path, text.replace("steps: 10\n", "steps: 10\npretrain: {resize: pad}\n", 1)))
    assert own.pretrain_settings == {"image_size": 16, "resize": "pad"}


def test_a_sweep_prepares_a_source_of_mixed_sizes_at_the_specs_image_size(
    workspace: Workspace, tmp_path
) -> None:
    from thresher.catalog.image_store import list_stores

    rng = np.random.default_rng(0)
    sizes = [(17, 51), (40, 20), (12, 12), (30, 9)] * 3
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]
    ingest_pngs(workspace, tmp_path, images, name="mixed")
    spec = _spec(
        tmp_path,
        "name: mixed\nsource: mixed\nreference: mixed\nembedder: hog\nk: 2\nkmeans_restarts: 1\n"
        "methods: [random]\nratios: [0.5]\nseeds: [0]\nbudget: steps\nsteps: 2\nvae: null\n"
        "train: {image_size: 16, resize: crop, model_size: DiT-T/4}\n",
    )
    assert load_spec(spec).vae is None  # null is pixel space, not the default thresher-ae
    result = _sweep(workspace.root, spec, "--prerequisites-only")
    assert result.exit_code == 0, result.output
    stores = list_stores(workspace)
    assert [(s["size"], s["resize"], s["rows"]) for s in stores] == [(16, "crop", 12)]
