"""`thresher train --background`: transparent images train on the background colour, recorded in the run."""

from __future__ import annotations

import io
import json

import datasets
import numpy as np
import pytest
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.dataset_resolution import resolve_dataset
from thresher.errors import ThresherError
from thresher.images import BLACK, WHITE
from thresher.train.config import TrainConfig, TrainRunConfig
from thresher.train.train_run import run_training
from thresher.train.training_data import load_training_set

TINY = dict(
    model_size="DiT-T/4",
    width=32,
    depth=1,
    heads=2,
    unconditional=True,
    sample_count=0,
    checkpoint_every=1000,
)


@pytest.fixture
def transparent(workspace, tmp_path) -> tuple[str, np.ndarray]:
    """8 RGBA rows 8x8: the top three rows transparent red, the rest opaque random colours."""
    rgba = np.random.default_rng(0).integers(0, 256, size=(8, 8, 8, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:, :3] = (255, 0, 0, 0)

    def png(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()

    rows = datasets.Dataset.from_dict(
        {"image": [{"bytes": png(a), "path": None} for a in rgba]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    rows.to_parquet(str(tmp_path / "t.parquet"))
    ingest(workspace, IngestConfig(source=str(tmp_path / "t.parquet"), name="t"))
    return "t", rgba


@pytest.mark.parametrize("background", [WHITE, BLACK])
def test_the_training_set_holds_the_background_where_pixels_are_transparent(
    workspace, transparent, background
):
    source, rgba = transparent
    data = load_training_set(workspace, resolve_dataset(workspace, source), background=background)
    images = data.images[:].permute(0, 2, 3, 1).numpy()  # N x H x W x 3 uint8
    assert images.shape == (8, 8, 8, 3)
    assert np.all(images[:, :3] == background)
    assert np.array_equal(images[:, 3:], rgba[:, 3:, :, :3])


def test_a_run_records_its_background(workspace, transparent):
    source, _ = transparent
    config = TrainRunConfig(
        dataset=source, train=TrainConfig(steps=1, batch_size=4, **TINY), background="black"
    )
    outcome = run_training(workspace, config)
    with workspace.connect(read_only=True) as con:
        (saved,) = con.execute("SELECT config FROM runs WHERE id = ?", [outcome.run_id]).fetchone()
    assert json.loads(saved)["background"] == "black"


def test_a_bad_background_is_refused_when_the_config_is_built():
    with pytest.raises(ThresherError, match="bad background"):
        TrainRunConfig(dataset="x", background="1,2")
