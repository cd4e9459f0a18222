"""Fréchet distance (FID) and kernel distance (KID) between two feature sets.

FID (Heusel et al. 2017) fits a Gaussian to each set and returns
``||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})``. The last trace is the only delicate part:
``scipy.linalg.sqrtm`` of the non-symmetric product ``S1 S2`` loses accuracy on near-singular
covariances (few samples, ReLU features) and returns complex noise, and SciPy 1.18 removed the
``disp=`` argument that older FID code relies on. We use the symmetric form instead:
``S1 S2`` has the same non-zero eigenvalues as ``A S2 A`` with ``A = S1^{1/2}`` (both are products of
the same two factors in the other order), and ``A S2 A`` is symmetric positive semi-definite, so
``Tr((S1 S2)^{1/2}) = sum(sqrt(eigvalsh(A S2 A)))`` with only real, clipped-at-zero eigenvalues. No
offset (``eps * I``) is needed and nothing depends on the SciPy version.

KID (Bińkowski et al. 2018) is the unbiased MMD^2 with the polynomial kernel
``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets as in the reference implementation.
"""

from __future__ import annotations

import numpy as np

from thresher.progress import track


def _check_features(features: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples to estimate a covariance, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (float64) of an (N, D) feature matrix, as FID implementations use."""
    feats = _check_features(features, "features").astype(np.float64, copy=False)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix via its eigen-decomposition.

    Eigenvalues below zero can only be rounding noise for a covariance, so they are clipped to zero.
    """
    sym = (matrix + matrix.T) / 2.0
    eigvals, eigvecs = np.linalg.eigh(sym)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr((sigma1 @ sigma2)^{1/2})`` for two PSD matrices, through the symmetric form ``A sigma2 A``."""
    root1 = psd_sqrt(np.asarray(sigma1, dtype=np.float64))
    middle = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    eigvals = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eigvals, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"mismatched Gaussian statistics: means {mu1.shape} and {mu2.shape}, "
            f"covariances {sigma1.shape} and {sigma2.shape}"
        )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    # The exact value is >= 0; tiny negatives are rounding when the sets coincide.
    return float(max(value, 0.0))


def fid_from_features(generated: np.ndarray, reference: np.ndarray) -> float:
    """FID between two (N, D) feature sets."""
    mu_g, sigma_g = gaussian_stats(generated)
    mu_r, sigma_r = gaussian_stats(reference)
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)


def _polynomial_kernel(a: np.ndarray, b: np.ndarray, degree: int, gamma: float, coef: float) -> np.ndarray:
    # In-place products instead of ``** degree``: the same numbers, ~3x less time on the m x m matrices.
    base = a @ b.T
    base *= gamma
    base += coef
    kernel = base.copy()
    for _ in range(degree - 1):
        kernel *= base
    return kernel


def polynomial_mmd2_unbiased(
    x: np.ndarray, y: np.ndarray, *, degree: int = 3, gamma: float | None = None, coef: float = 1.0
) -> float:
    """Unbiased MMD^2 between two equally sized sets with ``k(a, b) = (gamma a.b + coef)^degree``.

    The within-set sums leave out the diagonal (that is what makes the estimate unbiased); the
    cross term keeps every pair, as in Bińkowski et al.'s reference code.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m = x.shape[0]
    if y.shape[0] != m:
        raise ValueError(f"KID subsets must have equal size, got {m} and {y.shape[0]}")
    if degree < 1:
        raise ValueError(f"polynomial kernel degree must be >= 1, got {degree}")
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = _polynomial_kernel(x, x, degree, gamma, coef)
    k_yy = _polynomial_kernel(y, y, degree, gamma, coef)
    k_xy = _polynomial_kernel(x, y, degree, gamma, coef)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    generated: np.ndarray,
    reference: np.ndarray,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """KID mean and standard deviation over ``num_subsets`` random subsets of both sets.

    The subset size is capped at the smaller set, so small evaluations still give a value.
    """
    gen = _check_features(generated, "generated features")
    ref = _check_features(reference, "reference features")
    if gen.shape[1] != ref.shape[1]:
        raise ValueError(f"feature dimensions differ: {gen.shape[1]} vs {ref.shape[1]}")
    size = min(subset_size, gen.shape[0], ref.shape[0])
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets)
    for i in track(range(num_subsets), "KID subsets", transient=True):
        gen_idx = rng.choice(gen.shape[0], size, replace=False)
        ref_idx = rng.choice(ref.shape[0], size, replace=False)
        values[i] = polynomial_mmd2_unbiased(
            gen[gen_idx], ref[ref_idx], degree=degree, gamma=gamma, coef=coef
        )
    return float(values.mean()), float(values.std())
