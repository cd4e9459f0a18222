"""A fitted pixels embedder computes exactly as the same embedder loaded from its saved state."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from thresher.embedders import build_embedder


def test_fitted_and_loaded_components_have_the_same_memory_layout(tmp_path):
    """sklearn's fitted components are Fortran-ordered and the saved ones C-ordered; the matmul's summation
    order follows the layout, so a resumed embed run differed in the last bit unless both are the same."""
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)) for _ in range(80)]
    fitted = build_embedder("pixels:16:8", device=torch.device("cpu"))
    fitted.fit(images)
    fitted.save(tmp_path / "state")
    loaded = build_embedder("pixels:16:8", device=torch.device("cpu"))
    loaded.load(tmp_path / "state")
    assert fitted._components.is_contiguous() and loaded._components.is_contiguous()
    assert fitted._components.stride() == loaded._components.stride()
