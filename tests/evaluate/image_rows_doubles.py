"""Test doubles for :class:`thresher.image_rows.ImageRows`: rows that may only be streamed, and say how."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from thresher.image_rows import ImageRows


class StreamOnlyRows:
    """Rows readable only in order, by batches: anything that would hold them all at once (``take``,
    ``np.asarray``) fails the test. Counts the passes, the largest batch asked for and the rows read."""

    def __init__(self, inner: ImageRows) -> None:
        self.inner = inner
        self.passes = 0
        self.largest_asked = 0
        self.rows_read = 0

    def __len__(self) -> int:
        return len(self.inner)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.inner.shape

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        self.passes += 1
        self.largest_asked = max(self.largest_asked, batch_size)
        for batch in self.inner.batches(batch_size):
            self.rows_read += len(batch)
            yield batch

    def take(self, positions: np.ndarray) -> np.ndarray:
        raise AssertionError(f"take() of {len(positions)} rows: training rows must be streamed")

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise AssertionError("np.asarray(rows) would hold every training row in memory")


def assert_same_metrics(got: dict[str, Any], expected: dict[str, Any], rel: float = 1e-9) -> None:
    """Same keys and, timings aside, the same values (floats to ``rel``: a margin any CPU's rounding keeps)."""
    assert set(got) == set(expected)
    for key, value in expected.items():
        if key.startswith("seconds_"):
            continue
        if isinstance(value, list):
            assert len(got[key]) == len(value), key
            pairs = list(zip(got[key], value, strict=True))
        else:
            pairs = [(got[key], value)]
        for a, b in pairs:
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=rel, abs=1e-12), key
            else:
                assert a == b, key
