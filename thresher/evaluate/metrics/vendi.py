"""Vendi score (Friedman & Dieng 2023) with q = 1 and a cosine-similarity kernel.

VS = exp(-sum_i l_i log l_i), where l_i are the eigenvalues of K / n and K_ij = cos(x_i, x_j). It is
the effective number of distinct samples: 1 for n identical points, n for n mutually orthogonal ones.
With unit-norm rows X, K = X X^T, and K / n = X X^T / n has the same non-zero eigenvalues as the
d x d "dual" matrix X^T X / n, so for n >> d the score costs O(n d^2) instead of O(n^2 d).
"""

from __future__ import annotations

import numpy as np

VENDI_METHODS = ("auto", "primal", "dual")


def vendi_score(features: np.ndarray, *, method: str = "auto") -> float:
    """Vendi score (q = 1, cosine kernel) of an (N, D) feature matrix.

    ``method``: ``primal`` eigen-decomposes the n x n kernel, ``dual`` the d x d matrix, ``auto`` picks
    the smaller. Rows that are all zero have no direction, so they are left out.
    """
    if method not in VENDI_METHODS:
        raise ValueError(f"unknown Vendi method {method!r}; choose one of {VENDI_METHODS}")
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1)
    x = x[norms > 0] / norms[norms > 0, None]
    n, d = x.shape
    if n == 0:
        raise ValueError("Vendi score needs at least one non-zero feature vector")
    use_dual = method == "dual" or (method == "auto" and n > d)
    gram = (x.T @ x) / n if use_dual else (x @ x.T) / n
    eigvals = np.linalg.eigvalsh(gram)
    eigvals = eigvals[eigvals > 1e-12]
    return float(np.exp(-(eigvals * np.log(eigvals)).sum()))
