"""FID/KID against closed forms and torchmetrics' independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.stats import ortho_group
from torchmetrics.image.fid import _compute_fid
from torchmetrics.image.kid import poly_mmd

from thresher.evaluate.metrics.frechet import (
    fid_from_features,
    frechet_distance,
    kernel_inception_distance,
    polynomial_mmd2_unbiased,
    trace_sqrt_product,
)


def _random_cov(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(d, rank or 2 * d))
    return a @ a.T / a.shape[1]


def test_diagonal_gaussians_match_closed_form() -> None:
    rng = np.random.default_rng(0)
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    var1, var2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    # For commuting covariances Tr((S1 S2)^1/2) = sum sqrt(var1 * var2).
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-10)


def test_commuting_nondiagonal_covariances_match_closed_form() -> None:
    rng = np.random.default_rng(1)
    d = 12
    q = ortho_group.rvs(d, random_state=3)
    e1, e2 = rng.uniform(0.01, 5, d), rng.uniform(0.01, 5, d)
    s1, s2 = q @ np.diag(e1) @ q.T, q @ np.diag(e2) @ q.T
    mu = rng.normal(size=d)
    expected = (e1 + e2 - 2 * np.sqrt(e1 * e2)).sum()
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("d", [8, 64, 256])
def test_matches_torchmetrics_on_general_covariances(d: int) -> None:
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) * 0.3
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d) * 1.5
    ours = frechet_distance(mu1, s1, mu2, s2)
    theirs = _compute_fid(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))).item()
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_trace_sqrt_matches_scipy_sqrtm() -> None:
    rng = np.random.default_rng(5)
    s1, s2 = _random_cov(rng, 20), _random_cov(rng, 20)
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.trace(scipy.linalg.sqrtm(s1 @ s2)).real, rel=1e-8)


def test_fid_of_set_with_itself_is_zero_and_shift_is_exact() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 64)) @ rng.normal(size=(64, 64))
    assert fid_from_features(x, x) < 1e-8 * np.trace(np.cov(x, rowvar=False))
    shift = rng.normal(size=64)
    # Translating a set moves only the mean term: FID = ||shift||^2.
    assert fid_from_features(x + shift, x) == pytest.approx(shift @ shift, rel=1e-6)


def test_rank_deficient_covariances_stay_finite() -> None:
    rng = np.random.default_rng(3)
    # Fewer samples than dimensions (as for per-class FID on 2048-d features): singular covariances.
    a, b = rng.normal(size=(30, 200)), rng.normal(size=(40, 200))
    value = fid_from_features(a, b)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = _compute_fid(*(torch.from_numpy(m) for m in (mu1, s1, mu2, s2))).item()
    assert np.isfinite(value) and value > 0
    assert value == pytest.approx(reference, rel=1e-3)


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        fid_from_features(np.full((5, 2), np.nan), np.ones((5, 2)))


def test_mmd_matches_torchmetrics_poly_mmd() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 32)), rng.normal(0.2, 1.1, size=(300, 32))
    theirs = poly_mmd(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(theirs, rel=1e-8)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same_mean, same_std = kernel_inception_distance(a, b, num_subsets=20, subset_size=200)
    shifted_mean, _ = kernel_inception_distance(a + 0.5, b, num_subsets=20, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 10 * max(abs(same_mean), same_std)
    # Subsets larger than the sets are capped instead of failing.
    assert np.isfinite(kernel_inception_distance(a[:50], b[:80], num_subsets=3)[0])
