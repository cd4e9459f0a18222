"""Inception Score (Salimans et al. 2016) from class probabilities.

IS = exp(E_x KL(p(y|x) || p(y))), computed on ``splits`` disjoint parts of the sample and reported
as mean and standard deviation over the parts. The samples are shuffled (seeded) before splitting:
class-conditional samplers often emit images grouped by class, and a split holding a single class
would have p(y) = p(y|x) and a score of 1.
"""

from __future__ import annotations

import numpy as np


def renormalize_class_probs(probs: np.ndarray) -> np.ndarray:
    """Class probabilities of a classifier with a reject output (rows summing to 1 − p(reject)) scaled to sum
    to 1. A row whose class mass underflowed to 0 (a confidently rejected image) becomes uniform: it says
    nothing about the classes, which is what the uniform distribution says too."""
    p = np.asarray(probs, dtype=np.float64)
    mass = p.sum(axis=1, keepdims=True)
    uniform = np.full_like(p, 1.0 / p.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mass > 1e-30, p / mass, uniform)


def inception_score(probs: np.ndarray, *, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """Mean and std of the Inception Score over ``splits`` parts of an (N, C) probability matrix."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"class probabilities must be (N, C), got shape {p.shape}")
    if p.shape[0] < splits:
        raise ValueError(f"need at least {splits} samples for {splits} splits, got {p.shape[0]}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("class probabilities must be non-negative and sum to 1 per row")
    p = p[np.random.default_rng(seed).permutation(p.shape[0])]
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # xlogy-style: 0 * log(0 / q) counts as 0, so one-hot rows are fine.
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(terms.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))
