"""Batches of images for evaluation: one uint8 N×H×W×C array (C = 1 or 3) from arrays, PIL images or files,
one mode per batch, and the float tensor a network takes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thresher.images import WHITE, uniform_batch


def check_images(
    images: np.ndarray | Sequence[Image.Image | np.ndarray], background: tuple[int, int, int] = WHITE
) -> np.ndarray:
    """Validate a uint8 N x H x W x C batch (C = 1 or 3); N x H x W is taken as grayscale.

    A list or tuple of images (PIL images of any mode, or uint8 H x W (x C) arrays, as read from a folder
    of PNGs) is made one batch first by ``thresher.images.uniform_batch``: transparency is composited
    onto ``background``, and a mix of greyscale and colour becomes RGB. ThresherError if their sizes differ.
    """
    if isinstance(images, (list, tuple)):
        return uniform_batch(images, background)
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be uint8 N x H x W x C with C in (1, 3), got {images.dtype} {images.shape}"
        )
    return images


def load_image_files(files: Sequence[str | Path], background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """Image files (any PNG/JPEG/WebP mode) as one uint8 N x H x W x C batch, see ``check_images``."""
    opened = []
    for f in files:
        with Image.open(f) as img:
            img.load()
            opened.append(img)
    return check_images(opened, background)


def images_to_tensor(images: np.ndarray, channels: int) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 255] with ``channels`` channels (gray repeated, RGB averaged)."""
    x = torch.from_numpy(np.ascontiguousarray(check_images(images))).permute(0, 3, 1, 2).float()
    if x.shape[1] == channels:
        return x
    return x.expand(-1, 3, -1, -1) if channels == 3 else x.mean(dim=1, keepdim=True)
