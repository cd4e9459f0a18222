"""Pruning scores computed in a surrogate model's feature space (Li et al. 2024, "Pruning then
Reweighting", arXiv:2409.19128); see docs/architecture.md, 'Surrogate-feature scores'.

The paper encodes every image with a surrogate network and ranks the samples with a score criterion
borrowed from data selection for GANs and classifiers. Its code was never released, so this module
is the reference and every choice is written down here. Two scores, both per group, where a group is
any integer id (k-means cluster, class label, or all zeros for "no grouping"):

``gaussian_log_likelihood`` (after DeVries et al. 2020, "Instance Selection for GANs", arXiv:2007.15255)
    Per group, a full-covariance Gaussian is fitted to the group's embeddings and each sample is
    scored by its log-likelihood under its own group's Gaussian. Higher = denser = more typical;
    keep the highest.

    * Mean: the sample mean of the group.
    * Covariance: the maximum-likelihood (divide-by-n) covariance S, shrunk toward mu·I with
      mu = trace(S)/d, so that it is invertible even when d > n_group:
      ``shrinkage="ledoit-wolf"`` (default) uses ``sklearn.covariance.LedoitWolf`` (its
      ``covariance_``, data-driven shrinkage); a float s in [0, 1] uses the fixed convex combination
      (1-s)·S + s·mu·I, exactly ``sklearn.covariance.ShrunkCovariance(shrinkage=s)``.
    * Ridge: ``ridge · mu · I`` is then always added (default ridge 1e-6, relative to the group's
      mean variance mu, so the score does not depend on the embedding scale). Shrinkage alone can
      leave a singular matrix (Ledoit-Wolf picks shrinkage 0 for well-sampled groups; a fixed s=0 is
      the raw S), e.g. with duplicated or collinear embeddings; the ridge makes every eigenvalue at
      least ridge·mu > 0. Pass ``ridge=0`` to get sklearn's matrix unchanged.
    * Degenerate groups, whose members are all identical (this includes every group of 1 sample;
      trace(S) = 0, so shrinkage and the relative ridge cannot help): covariance = v·I, an isotropic
      Gaussian at the pooled within-group scale v = sum over the non-degenerate groups of
      ||x - mean_group||² / (d · number of samples in those groups). If there is no such group the
      total variance of all embeddings around their global mean, /d,
      is used; if that is 0 as well (one sample, or all identical), v = 1. A lone sample then scores
      -d/2·log(2·pi·v), comparable with members of ordinary groups rather than arbitrarily dense.
    * Numerics: float64 throughout; log N(x; m, C) = -(d·log 2pi + log det C + ||L⁻¹(x-m)||²)/2
      with C = L·Lᵀ the Cholesky factor (log det C = 2·sum log diag L), rows processed in blocks.
    * Scores compare across groups only as far as their Gaussians do (a tight group's members score
      higher than a diffuse group's); rank within groups when that matters.

``moderate_distance`` (after Moderate-DS, Xia et al. 2023, "Moderate Coreset", ICLR)
    Euclidean distance of each sample to its group's centre; lower = more central. By default the
    centre is the coordinate-wise median of the group's embeddings (``np.median`` per coordinate;
    with an even count, the mean of the two middle values), robust to the very outliers being scored;
    ``center="mean"`` gives the mean, the class centre of the Moderate-DS paper. Note that
    Moderate-DS as published keeps the samples whose distance is closest to the group's median
    *distance*, not the closest ones; that is a selection rule over this score, e.g.
    ``abs(d - median(d within group))``, and belongs to the selection layer.

Embeddings are used as given (not normalized); normalize them first for cosine geometry. Input
problems (shape mismatch, empty input, non-finite embeddings, non-integer groups, bad options) raise
:class:`~thresher.errors.ThresherError`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgError, cholesky, solve_triangular
from sklearn.covariance import LedoitWolf, empirical_covariance, shrunk_covariance

from thresher.errors import ThresherError

DEFAULT_RIDGE = 1e-6  # relative to the group's mean variance trace(C)/d
_ROW_BLOCK = 4096  # rows scored at a time, so memory stays O(block · d) beyond the covariance
_LOG_2PI = math.log(2.0 * math.pi)


class GroupGaussian(NamedTuple):
    """The Gaussian fitted to one group: float64 ``mean`` (d,) and ``covariance`` (d, d), the latter
    already shrunk and ridged (exactly the matrix the log-likelihood uses)."""

    mean: np.ndarray
    covariance: np.ndarray


def _validate(embeddings: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(embeddings)
    g = np.asarray(groups)
    if x.ndim != 2:
        raise ThresherError(f"embeddings must be a 2-D array (samples, dims), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ThresherError(f"embeddings are empty (shape {x.shape}); nothing to score")
    if x.dtype.kind not in "fiu":
        raise ThresherError(f"embeddings must be real numbers, got dtype {x.dtype}")
    if g.ndim != 1 or g.shape[0] != x.shape[0]:
        raise ThresherError(f"groups must have shape ({x.shape[0]},) to match the embeddings, got {g.shape}")
    if g.dtype.kind not in "iu":
        raise ThresherError(f"groups must be integer ids (cluster or class), got dtype {g.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ThresherError("embeddings contain NaN or infinite values; re-embed or drop those samples")
    return x, g


def _group_members(groups: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices of every group (ascending within each), keyed by the group id."""
    order = np.argsort(groups, kind="stable")
    boundaries = np.flatnonzero(np.diff(groups[order])) + 1
    return {int(groups[rows[0]]): rows for rows in np.split(order, boundaries)}


def _parse_shrinkage(shrinkage: str | float) -> str | float:
    if isinstance(shrinkage, str):
        if shrinkage != "ledoit-wolf":
            raise ThresherError(f"unknown shrinkage {shrinkage!r}; use 'ledoit-wolf' or a number in [0, 1]")
        return shrinkage
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float, np.floating, np.integer)):
        raise ThresherError(f"shrinkage must be 'ledoit-wolf' or a number in [0, 1], got {shrinkage!r}")
    value = float(shrinkage)
    if not 0.0 <= value <= 1.0:
        raise ThresherError(f"shrinkage must lie in [0, 1], got {value}")
    return value


def _fallback_variance(x: np.ndarray, members: dict[int, np.ndarray]) -> float:
    """v for degenerate groups: pooled within-group variance, else total variance, else 1 (see module doc)."""
    squares, count = 0.0, 0
    for rows in members.values():
        if len(rows) >= 2:
            xg = x[rows].astype(np.float64)
            spread = float(((xg - xg.mean(axis=0)) ** 2).sum())
            if spread > 0.0:  # the degenerate groups themselves do not dilute the pool
                squares += spread
                count += len(rows)
    d = x.shape[1]
    if count and squares > 0.0:
        return squares / (d * count)
    if len(x) >= 2:
        total = float(x.astype(np.float64).var(axis=0).sum()) / d
        if total > 0.0:
            return total
    return 1.0


def fit_group_gaussians(
    embeddings: np.ndarray,
    groups: np.ndarray,
    shrinkage: str | float = "ledoit-wolf",
    ridge: float = DEFAULT_RIDGE,
) -> dict[int, GroupGaussian]:
    """The regularized Gaussian of every group, keyed by group id (rules in the module docstring)."""
    x, g = _validate(embeddings, groups)
    return _fit(x, _group_members(g), shrinkage, ridge)


def _fit(
    x: np.ndarray, members: dict[int, np.ndarray], shrinkage: str | float, ridge: float
) -> dict[int, GroupGaussian]:
    mode = _parse_shrinkage(shrinkage)
    if not (isinstance(ridge, (int, float, np.floating, np.integer)) and math.isfinite(ridge) and ridge >= 0):
        raise ThresherError(f"ridge must be a finite number >= 0, got {ridge!r}")
    d = x.shape[1]
    fallback: float | None = None
    fits: dict[int, GroupGaussian] = {}
    for group, rows in members.items():
        xg = x[rows].astype(np.float64)
        mean = xg.mean(axis=0)
        spread = float(((xg - mean) ** 2).sum())
        if len(rows) < 2 or spread == 0.0:
            if fallback is None:
                fallback = _fallback_variance(x, members)
            fits[group] = GroupGaussian(mean, fallback * np.eye(d))
            continue
        if mode == "ledoit-wolf":
            cov = LedoitWolf(store_precision=False, assume_centered=False).fit(xg).covariance_
        else:
            cov = shrunk_covariance(empirical_covariance(xg, assume_centered=False), shrinkage=mode)
        cov = np.array(cov, dtype=np.float64)  # own copy, float64
        cov[np.diag_indices(d)] += ridge * np.trace(cov) / d
        fits[group] = GroupGaussian(mean, cov)
    return fits


def _logpdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Gaussian log-density of the rows of float64 ``x``, through the Cholesky factor of ``cov``."""
    try:
        chol = cholesky(cov, lower=True, check_finite=False)
    except LinAlgError as error:  # only reachable with ridge=0 on a singular covariance
        raise ThresherError("a group covariance is not positive definite; use a ridge > 0") from error
    d = len(mean)
    constant = d * _LOG_2PI + 2.0 * float(np.log(np.diag(chol)).sum())
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), _ROW_BLOCK):
        z = solve_triangular(chol, (x[start : start + _ROW_BLOCK] - mean).T, lower=True, check_finite=False)
        out[start : start + _ROW_BLOCK] = -0.5 * (constant + (z * z).sum(axis=0))
    return out


def gaussian_log_likelihood(
    embeddings: np.ndarray,
    groups: np.ndarray,
    shrinkage: str | float = "ledoit-wolf",
    ridge: float = DEFAULT_RIDGE,
) -> np.ndarray:
    """float64 (N,): each sample's log-likelihood under its group's fitted Gaussian; keep the highest.

    ``shrinkage``: ``"ledoit-wolf"`` or a fixed coefficient in [0, 1]; ``ridge``: added as
    ``ridge · trace(C)/d · I``. See the module docstring (and :func:`fit_group_gaussians`)."""
    x, g = _validate(embeddings, groups)
    members = _group_members(g)
    fits = _fit(x, members, shrinkage, ridge)
    scores = np.empty(len(x), dtype=np.float64)
    for group, rows in members.items():
        fit = fits[group]
        scores[rows] = _logpdf(x[rows].astype(np.float64), fit.mean, fit.covariance)
    return scores


def moderate_distance(embeddings: np.ndarray, groups: np.ndarray, center: str = "median") -> np.ndarray:
    """float64 (N,): Euclidean distance of each sample to its group's centre; lower = more central.

    ``center="median"`` (default): the coordinate-wise median of the group's embeddings;
    ``"mean"``: their mean (Moderate-DS's class centre). See the module docstring."""
    x, g = _validate(embeddings, groups)
    if center not in ("median", "mean"):
        raise ThresherError(f"unknown moderate center {center!r}; choose median or mean")
    distances = np.empty(len(x), dtype=np.float64)
    for rows in _group_members(g).values():
        xg = x[rows].astype(np.float64)
        centre = np.median(xg, axis=0) if center == "median" else xg.mean(axis=0)
        distances[rows] = np.linalg.norm(xg - centre, axis=1)
    return distances
