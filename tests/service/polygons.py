"""Which points lie inside a polygon, by ray casting (even-odd): the tests' own answer, independent of the
matplotlib test the service uses (``service/map_selection.py``)."""

from __future__ import annotations

import numpy as np


def inside_polygon(xy: np.ndarray, polygon: list[list[float]]) -> np.ndarray:
    """A boolean per row of ``xy`` (n×2): inside the closed polygon ``[[x, y], ...]``."""
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    inside = np.zeros(len(xy), dtype=bool)
    for (xa, ya), (xb, yb) in zip(polygon, polygon[-1:] + polygon[:-1], strict=True):
        crosses = (ya > y) != (yb > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            inside ^= crosses & (x < (xb - xa) * (y - ya) / (yb - ya) + xa)
    return inside
