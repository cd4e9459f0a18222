"""Precision/recall/density/coverage against the `prdc` reference package and known cases."""

from __future__ import annotations

import numpy as np
import prdc as prdc_reference
import pytest

from thresher.evaluate.metrics.prdc import compute_prdc, knn_radii


@pytest.mark.parametrize("k", [3, 5])
def test_matches_prdc_package(k: int) -> None:
    rng = np.random.default_rng(k)
    real = rng.normal(size=(300, 8)).astype(np.float32)
    fake = (rng.normal(size=(250, 8)) * 1.3 + 0.4).astype(np.float32)
    expected = prdc_reference.compute_prdc(real, fake, nearest_k=k)
    ours = compute_prdc(real, fake, k=k, block=64)  # small blocks exercise the streaming
    for name in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, name) == pytest.approx(expected[name], abs=1e-9), name
    p, r = expected["precision"], expected["recall"]
    assert ours.f_score == pytest.approx(2 * p * r / (p + r))


def test_identical_sets_have_full_precision_and_recall() -> None:
    x = np.random.default_rng(0).normal(size=(400, 16)).astype(np.float32)
    result = compute_prdc(x, x.copy())
    assert result.precision == 1.0 and result.recall == 1.0 and result.coverage == 1.0
    assert result.f_score == 1.0


def test_half_the_modes_lowers_recall_not_precision() -> None:
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=20, size=(8, 4))
    real = centers[rng.integers(0, 8, 1600)] + rng.normal(size=(1600, 4))
    fake = centers[rng.integers(0, 4, 800)] + rng.normal(size=(800, 4))  # modes 0-3 only
    result = compute_prdc(real.astype(np.float32), fake.astype(np.float32))
    assert result.precision > 0.9
    assert 0.35 < result.recall < 0.6
    assert 0.35 < result.coverage < 0.6
    # Swapping the roles swaps the meaning: the half-mode set as "real" is fully covered.
    swapped = compute_prdc(fake.astype(np.float32), real.astype(np.float32))
    assert swapped.recall > 0.9 and swapped.precision < 0.6


def test_knn_radius_excludes_the_point_itself() -> None:
    x = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
    np.testing.assert_allclose(knn_radii(x, 1), [1.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(knn_radii(x, 2), [3.0, 2.0, 3.0, 6.0])
    with pytest.raises(ValueError, match="more than 3"):
        knn_radii(x[:3], 3)
