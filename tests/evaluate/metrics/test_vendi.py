"""Vendi score: its defining extreme cases and primal/dual agreement."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.evaluate.metrics.vendi import vendi_score


@pytest.mark.parametrize("method", ["primal", "dual", "auto"])
def test_identical_points_score_one(method: str) -> None:
    x = np.tile(np.array([[0.3, -1.0, 2.0]]), (50, 1))
    assert vendi_score(x, method=method) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("method", ["primal", "dual"])
def test_orthogonal_points_score_n(method: str) -> None:
    n = 20
    x = np.eye(n) * np.arange(1, n + 1)[:, None]  # different norms: the kernel is cosine similarity
    assert vendi_score(x, method=method) == pytest.approx(n, rel=1e-9)


@pytest.mark.parametrize("shape", [(200, 16), (16, 200), (64, 64)])
def test_dual_equals_primal(shape: tuple[int, int]) -> None:
    x = np.random.default_rng(0).normal(size=shape)
    assert vendi_score(x, method="dual") == pytest.approx(vendi_score(x, method="primal"), rel=1e-9)


def test_well_separated_modes_count_as_modes() -> None:
    rng = np.random.default_rng(1)
    modes = np.eye(4) * 10
    x = modes[rng.integers(0, 4, 400)] + rng.normal(scale=0.01, size=(400, 4))
    assert vendi_score(x) == pytest.approx(4, rel=0.02)


def test_zero_rows_are_left_out_and_bad_method_raises() -> None:
    x = np.vstack([np.eye(3), np.zeros((2, 3))])
    assert vendi_score(x) == pytest.approx(3, rel=1e-9)
    with pytest.raises(ValueError, match="unknown Vendi method"):
        vendi_score(x, method="fast")
