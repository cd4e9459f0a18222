"""Embedding on CUDA (timm networks: EfficientNet-Lite0 and a ViT-B/32) against the CPU, end to end.

Random-weight networks make every image's vector alike, so closeness is measured against how far apart
two different images are: each image's CUDA vector lies within 2% (fp32) or 10% (bf16 autocast, the GPU's
default) of the median distance from its CPU vector to the other images' CPU vectors.
"""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from skimage import data

from thresher.catalog.embeddings import EmbeddingStore
from thresher.curate.embed import EmbedConfig, embed_dataset

pytestmark = pytest.mark.cuda

NETWORKS = ("dino:tf_efficientnet_lite0?random", "dino:vit_base_patch32_224?random")


@pytest.fixture(scope="module")
def photos() -> datasets.Dataset:
    """12 crops of scikit-image's colour photos, 300-450 px a side, so preprocessing really resizes."""
    from PIL import Image

    sources = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    rng = np.random.default_rng(0)
    images = []
    for i in range(12):
        photo = sources[i % len(sources)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        images.append(Image.fromarray(photo[top : top + ch, left : left + cw]))
    return datasets.Dataset.from_dict(
        {"image": images}, features=datasets.Features({"image": datasets.Image()})
    )


def _embed(photos, name: str, device: str, precision: str, out) -> np.ndarray:
    config = EmbedConfig(
        name, batch_size=8, num_workers=0, device=device, precision=precision, dtype="float32"
    )
    embed_dataset(photos, np.arange(len(photos)), out, config)
    ids, vectors = EmbeddingStore(out).part(0)
    assert ids.tolist() == list(range(len(photos)))
    return vectors.astype(np.float64)


@pytest.mark.parametrize("name", NETWORKS)
def test_cuda_embeddings_equal_the_cpu_embeddings(photos, tmp_path, device, name) -> None:
    cpu = _embed(photos, name, "cpu", "fp32", tmp_path / "cpu")
    between = np.linalg.norm(cpu[:, None] - cpu[None], axis=-1)
    spread = np.median(between[~np.eye(len(cpu), dtype=bool)].reshape(len(cpu), -1), axis=1)
    for precision, share in (("fp32", 0.02), ("bf16", 0.10)):
        if device == "cpu" and precision == "bf16":
            continue  # the CPU always embeds in fp32; a dry run has no bf16 path to check
        gpu = _embed(photos, name, device, precision, tmp_path / f"gpu-{precision}")
        off = np.linalg.norm(gpu - cpu, axis=1)
        assert (off <= share * spread).all(), (precision, (off / spread).max())
