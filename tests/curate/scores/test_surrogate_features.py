from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.covariance import LedoitWolf, ShrunkCovariance

from thresher.curate.scores.surrogate_features import (
    DEFAULT_RIDGE,
    fit_group_gaussians,
    gaussian_log_likelihood,
    moderate_distance,
)
from thresher.errors import ThresherError


def grouped(sizes=(40, 25, 60), dim=6, ids=(-3, 7, 100), seed=0):
    """Correlated Gaussian blobs with non-contiguous group ids, rows shuffled."""
    rng = np.random.default_rng(seed)
    xs, gs = [], []
    for size, gid in zip(sizes, ids, strict=True):
        mixing = rng.standard_normal((dim, dim))
        xs.append(rng.standard_normal((size, dim)) @ mixing + 5 * rng.standard_normal(dim))
        gs.append(np.full(size, gid))
    x, g = np.concatenate(xs), np.concatenate(gs)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), g[order]


def ridged(cov, ridge=DEFAULT_RIDGE):
    return cov + ridge * np.trace(cov) / len(cov) * np.eye(len(cov))


def test_log_likelihood_matches_scipy_and_covariance_matches_ledoit_wolf():
    x, g = grouped()
    scores = gaussian_log_likelihood(x, g)
    fits = fit_group_gaussians(x, g)
    assert scores.dtype == np.float64 and set(fits) == {-3, 7, 100}
    for gid, (mean, cov) in fits.items():
        xg = x[g == gid].astype(np.float64)
        np.testing.assert_allclose(mean, xg.mean(axis=0), rtol=1e-12)
        lw = LedoitWolf().fit(xg).covariance_
        np.testing.assert_allclose(cov, ridged(lw), rtol=1e-10, atol=1e-12)
        expected = multivariate_normal(mean, cov).logpdf(xg)
        np.testing.assert_allclose(scores[g == gid], expected, rtol=1e-9)
    # ridge=0 is sklearn's matrix exactly
    for gid, (_, cov) in fit_group_gaussians(x, g, ridge=0.0).items():
        np.testing.assert_allclose(
            cov, LedoitWolf().fit(x[g == gid].astype(np.float64)).covariance_, rtol=1e-12
        )


def test_fixed_shrinkage_matches_sklearn_shrunk_covariance():
    x, g = grouped()
    fits = fit_group_gaussians(x, g, shrinkage=0.3)
    scores = gaussian_log_likelihood(x, g, shrinkage=0.3)
    for gid, (mean, cov) in fits.items():
        xg = x[g == gid].astype(np.float64)
        np.testing.assert_allclose(
            cov, ridged(ShrunkCovariance(shrinkage=0.3).fit(xg).covariance_), rtol=1e-10
        )
        np.testing.assert_allclose(scores[g == gid], multivariate_normal(mean, cov).logpdf(xg), rtol=1e-9)


def test_more_dimensions_than_samples_gives_finite_scores():
    x, g = grouped(sizes=(5, 7), dim=20, ids=(0, 1), seed=1)
    scores = gaussian_log_likelihood(x, g)
    assert np.isfinite(scores).all()
    for gid, (mean, cov) in fit_group_gaussians(x, g).items():
        assert np.linalg.eigvalsh(cov).min() > 0
        np.testing.assert_allclose(
            scores[g == gid], multivariate_normal(mean, cov).logpdf(x[g == gid]), rtol=1e-9
        )
    # fixed shrinkage 0 is the singular raw covariance: the ridge keeps it usable
    assert np.isfinite(gaussian_log_likelihood(x, g, shrinkage=0.0)).all()


def test_planted_outlier_has_lowest_likelihood_in_its_group():
    x, g = grouped(seed=2)
    members = np.flatnonzero(g == 7)
    outlier = members[3]
    x = x.copy()
    x[outlier] = x[members].mean(axis=0) + 25 * x[members].std(axis=0)
    scores = gaussian_log_likelihood(x, g)
    assert scores[members].argmin() == 3
    # the other groups do not move
    others = g != 7
    np.testing.assert_allclose(scores[others], gaussian_log_likelihood(x[others], g[others]), rtol=1e-12)


def test_degenerate_groups_use_the_pooled_isotropic_variance():
    x, g = grouped(sizes=(30, 20), dim=4, ids=(0, 1), seed=3)
    x = x.astype(np.float64)
    lone = np.array([[100.0, -3.0, 2.0, 0.5]])
    copies = np.repeat([[1.0, 2.0, 3.0, 4.0]], 3, axis=0)
    x2 = np.concatenate([x, lone, copies])
    g2 = np.concatenate([g, [5], [6, 6, 6]])
    fits = fit_group_gaussians(x2, g2)
    pooled = sum(((x[g == k] - x[g == k].mean(axis=0)) ** 2).sum() for k in (0, 1)) / (4 * len(x))
    np.testing.assert_allclose(fits[5].covariance, pooled * np.eye(4), rtol=1e-12)
    np.testing.assert_allclose(fits[6].covariance, pooled * np.eye(4), rtol=1e-12)
    np.testing.assert_allclose(fits[5].mean, lone[0])
    scores = gaussian_log_likelihood(x2, g2)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[len(x)], -2 * math.log(2 * math.pi * pooled), rtol=1e-12)
    # a single sample overall: v = 1
    one = gaussian_log_likelihood(np.zeros((1, 3)), np.zeros(1, dtype=int))
    np.testing.assert_allclose(one, [-1.5 * math.log(2 * math.pi)])


def test_moderate_distance_matches_numpy_and_ranks_outlier_furthest():
    x, g = grouped(seed=4)
    members = np.flatnonzero(g == 100)
    x = x.copy()
    x[members[10]] += 50.0
    distance = moderate_distance(x, g)
    assert distance.dtype == np.float64
    for gid in (-3, 7, 100):
        xg = x[g == gid].astype(np.float64)
        expected = np.linalg.norm(xg - np.median(xg, axis=0), axis=1)
        np.testing.assert_allclose(distance[g == gid], expected, rtol=1e-12)
    assert distance[members].argmax() == 10
    mean = moderate_distance(x, g, center="mean")
    xg = x[g == 100].astype(np.float64)
    np.testing.assert_allclose(mean[g == 100], np.linalg.norm(xg - xg.mean(axis=0), axis=1), rtol=1e-12)


def test_all_zero_groups_means_one_group():
    x, _ = grouped(seed=5)
    zeros = np.zeros(len(x), dtype=np.int64)
    ll = gaussian_log_likelihood(x, zeros)
    ((mean, cov),) = fit_group_gaussians(x, zeros).values()
    np.testing.assert_allclose(ll, multivariate_normal(mean, cov).logpdf(x), rtol=1e-9)
    np.testing.assert_allclose(
        moderate_distance(x, zeros), np.linalg.norm(x - np.median(x, axis=0), axis=1), rtol=1e-6
    )


@pytest.mark.parametrize("score", [gaussian_log_likelihood, moderate_distance, fit_group_gaussians])
def test_bad_inputs_raise_thresher_error(score):
    x, g = grouped(sizes=(5, 5), dim=3, ids=(0, 1))
    bad = x.copy()
    bad[2, 1] = np.nan
    cases = [
        (x, g[:-1]),  # length mismatch
        (x[0], g),  # not 2-D
        (np.zeros((0, 3)), np.zeros(0, dtype=int)),  # empty
        (bad, g),  # non-finite
        (x, g.astype(float)),  # non-integer groups
        (x, g[:, None]),  # groups not 1-D
    ]
    for embeddings, groups in cases:
        with pytest.raises(ThresherError):
            score(embeddings, groups)


def test_bad_options_raise_thresher_error():
    x, g = grouped(sizes=(5, 5), dim=3, ids=(0, 1))
    for shrinkage in ("oas", 1.5, -0.1, None):
        with pytest.raises(ThresherError):
            gaussian_log_likelihood(x, g, shrinkage=shrinkage)
    with pytest.raises(ThresherError):
        gaussian_log_likelihood(x, g, ridge=-1.0)
    with pytest.raises(ThresherError):
        moderate_distance(x, g, center="mode")
