"""Memorization: how close generated samples sit to the training set.

For every generated sample we find its nearest training sample (faiss, exact L2) and report the
mean and median distance. On its own that number has no scale, so the same is measured for held-out
real samples (never trained on): a model that generalizes produces samples about as far from the
training set as fresh real data (ratio ~1); one that copies produces samples much closer (ratio << 1,
and 0 for exact copies).
"""

from __future__ import annotations

import numpy as np

from thresher.evaluate.metrics.prdc import knn_search


def nearest_train_distances(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """L2 distance from each query row to its nearest row of ``train``."""
    queries = np.asarray(queries)
    train = np.asarray(train)
    if queries.ndim != 2 or train.ndim != 2 or queries.shape[1] != train.shape[1]:
        raise ValueError(f"feature shapes do not match: queries {queries.shape}, train {train.shape}")
    return knn_search(queries, train, 1)[:, 0]


def memorization_stats(
    generated: np.ndarray, train: np.ndarray, heldout: np.ndarray | None = None
) -> dict[str, float]:
    """Mean/median nearest-training distance of generated (``mean``, ``median``) and held-out
    (``heldout_mean``, ``heldout_median``) rows; ``ratio`` = mean / heldout_mean when held-out rows are given.
    """
    gen = nearest_train_distances(generated, train)
    stats = {"mean": float(gen.mean()), "median": float(np.median(gen))}
    if heldout is not None:
        held = nearest_train_distances(heldout, train)
        stats["heldout_mean"] = float(held.mean())
        stats["heldout_median"] = float(np.median(held))
        stats["ratio"] = float(stats["mean"] / stats["heldout_mean"]) if held.mean() > 0 else float("nan")
    return stats
