"""`thresher embed --background`: embeddings of another background get their own name, folder and row,
and a store is never resumed with another background."""

from __future__ import annotations

import io
import json
import warnings

import datasets
import numpy as np
import pytest
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.embeddings import EmbeddingStore
from thresher.catalog.ingest import ingest
from thresher.curate.config import EmbedRunConfig
from thresher.curate.embed import EmbedConfig, embed_dataset
from thresher.curate.embed_run import run_embed
from thresher.errors import ThresherError

PALETTE_WARNING = "Transparency expressed in bytes"


def png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def transparent_source(workspace, tmp_path) -> tuple[str, list[Image.Image]]:
    """10 8x8 rows: RGBA with a transparent red band, palette PNGs whose red index is transparent (bytes)."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(10):
        if i % 2:
            rgba = rng.integers(0, 256, size=(8, 8, 4), dtype=np.uint8)
            rgba[..., 3] = 255
            rgba[:3] = (255, 0, 0, 0)
            images.append(Image.fromarray(rgba))
        else:
            indices = rng.integers(1, 4, size=(8, 8), dtype=np.uint8)
            indices[:3] = 0
            img = Image.frombytes("P", (8, 8), indices.tobytes())
            img.putpalette([255, 0, 0, *rng.integers(0, 256, size=9).tolist()] + [0] * (252 * 3))
            img.info["transparency"] = b"\x00\xff\xff\xff"
            images.append(img)
    rows = datasets.Dataset.from_dict(
        {"image": [{"bytes": png(img), "path": None} for img in images]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    rows.to_parquet(str(tmp_path / "t.parquet"))
    ingest(workspace, IngestConfig(source=str(tmp_path / "t.parquet"), name="t"))
    return "t", [Image.open(io.BytesIO(png(img))) for img in images]


def test_another_background_is_another_embedding_that_sees_it(workspace, transparent_source):
    source, images = transparent_source
    common = dict(embedder="pixels:8:4", source=source, num_workers=0, normalize=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        white = run_embed(workspace, EmbedRunConfig(**common))
        black = run_embed(workspace, EmbedRunConfig(**common, background="black"))
    assert not [w for w in caught if PALETTE_WARNING in str(w.message)]
    assert white.embedder == "pixels:8:4" and black.embedder == "pixels:8:4?background=black"
    assert white.path != black.path
    with workspace.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT embedder FROM embeddings WHERE source = ? ORDER BY embedder", [source]
        ).fetchall()
    assert rows == [("pixels:8:4",), ("pixels:8:4?background=black",)]
    for result, background, colour in ((white, "white", (255, 255, 255)), (black, "black", (0, 0, 0))):
        store = EmbeddingStore(result.path)
        assert json.loads((result.path / "meta.json").read_text())["background"] == background
        # the PCA input of each row: the image composited in numpy (not PIL's alpha_composite)
        pixels = []
        for img in images:
            rgba = np.asarray(img.convert("RGBA"), np.float64)
            alpha = rgba[..., 3:] / 255.0
            pixels.append((rgba[..., :3] * alpha + np.asarray(colour) * (1 - alpha)).reshape(-1) / 255.0)
        pixels = np.stack(pixels)
        ids, vectors = store.load()
        state = np.load(result.path / "embedder" / "pixels_pca.npz")
        expected = (pixels[ids] - state["mean"]) @ state["components"].T
        np.testing.assert_allclose(vectors, expected, atol=2e-2)  # float16 store


def test_a_store_is_not_resumed_with_another_background(workspace, transparent_source, tmp_path):
    from thresher.catalog.samples import ok_sample_ids, open_source

    source, _ = transparent_source
    dataset, _ = open_source(workspace, source)
    ids = ok_sample_ids(workspace, source)
    out = tmp_path / "store"
    embed_dataset(dataset, ids, out, EmbedConfig("hog:8:4", num_workers=0, device="cpu"))
    with pytest.raises(ThresherError, match="background"):
        embed_dataset(dataset, ids, out, EmbedConfig("hog:8:4?background=black", num_workers=0, device="cpu"))
    # a store written before compositing existed (no background in its meta) is not resumed either
    meta = json.loads((out / "meta.json").read_text())
    del meta["background"]
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ThresherError, match="background"):
        embed_dataset(dataset, ids, out, EmbedConfig("hog:8:4", num_workers=0, device="cpu"))


def test_a_bad_background_is_refused_before_anything_runs():
    with pytest.raises(ThresherError, match="bad background"):
        EmbedRunConfig(background="256,0,0")
