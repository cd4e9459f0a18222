"""Memorization: how close generated samples sit to the training set.

For every generated sample we find its nearest training sample and report the mean and median
distance. On its own that number has no scale, so the same is measured for held-out
real samples (never trained on): a model that generalizes produces samples about as far from the
training set as fresh real data (ratio ~1); one that copies produces samples much closer (ratio << 1,
and 0 for exact copies).

Distances are exact: faiss's flat L2 search computes ``|q|² + |t|² - 2 q·t`` in float32, whose rounding
depends on the CPU's kernels (AVX2 vs AVX-512) and leaves an exact copy at ~1e-3 instead of 0. So faiss
only proposes ``RERANK_CANDIDATES`` neighbours per query; their distances are recomputed as float64
``||q - t||`` of the actual vectors, and a query whose faiss ranking could have missed a closer row (its
last candidate within a float32 error bound of the best exact distance) is searched exhaustively in
float64. Exact copies measure exactly 0 on every machine.

A training set too large for memory is compared block by block (:class:`RunningNearest`,
:func:`nearest_distances_streaming`): the minimum over blocks of each block's exact nearest distance is the
exact nearest distance over the whole set, so streaming changes no figure.
"""

from __future__ import annotations

from collections.abc import Iterable

import faiss
import numpy as np

RERANK_CANDIDATES = 10
"""faiss candidates per query that are re-ranked exactly (at least ``k``)."""

# Slack on faiss's float32 squared distances, per unit of |q|² + max|t|²: the worst case of a d-term
# float32 dot product is d·eps, the usual error ~sqrt(d)·eps; 8·sqrt(d)·eps covers the kernels we meet,
# and a query it flags merely takes the exhaustive float64 path.
_SLACK = 8.0 * float(np.finfo(np.float32).eps)
_BLOCK_VALUES = 1 << 22  # float64 values per block of differences (32 MiB)


def _exact_sq(queries: np.ndarray, train: np.ndarray, found: np.ndarray) -> np.ndarray:
    """float64 ``||q_i - train[found[i, j]]||²``, (n, m), in blocks of queries."""
    out = np.empty(found.shape)
    step = max(1, _BLOCK_VALUES // max(1, found.shape[1] * train.shape[1]))
    for start in range(0, len(queries), step):
        rows = train[found[start : start + step]].astype(np.float64)
        diff = rows - queries[start : start + step, None, :].astype(np.float64)
        out[start : start + step] = np.einsum("nmd,nmd->nm", diff, diff)
    return out


def _exhaustive_sq(query: np.ndarray, train: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` smallest float64 ``||query - t||²`` over all of ``train``, ascending."""
    best = np.empty(0)
    step = max(1, _BLOCK_VALUES // max(1, train.shape[1]))
    for start in range(0, len(train), step):
        diff = train[start : start + step].astype(np.float64) - query[None, :].astype(np.float64)
        best = np.concatenate([best, np.einsum("md,md->m", diff, diff)])
        if len(best) > k:
            best = np.partition(best, k - 1)[:k]
    return np.sort(best)


def exact_knn_distances(
    queries: np.ndarray, train: np.ndarray, k: int = 1, candidates: int = RERANK_CANDIDATES
) -> np.ndarray:
    """Exact L2 distances (float64, not squared) from each query row to its ``k`` nearest rows of ``train``.

    faiss proposes ``max(k, candidates)`` neighbours, which are re-ranked with float64 ``||q - t||``;
    queries where the proposal may be incomplete are searched exhaustively. The result equals a float64
    brute force over all rows, and is 0 for a query that is a copy of a training row.
    """
    queries = np.asarray(queries)
    train = np.asarray(train)
    if queries.ndim != 2 or train.ndim != 2 or queries.shape[1] != train.shape[1]:
        raise ValueError(f"feature shapes do not match: queries {queries.shape}, train {train.shape}")
    if not 1 <= k <= len(train):
        raise ValueError(f"need 1 <= k <= {len(train)} training rows, got k={k}")
    m = min(len(train), max(k, candidates))
    db = np.ascontiguousarray(train, dtype=np.float32)
    index = faiss.IndexFlatL2(db.shape[1])
    index.add(db)
    approx_sq, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), m)
    exact_sq = _exact_sq(queries, train, found)
    exact_sq.sort(axis=1)
    exact_sq = exact_sq[:, :k]
    if m < len(train):
        # a row faiss did not propose has approximate squared distance >= the last candidate's, so its
        # exact one is >= that minus the slack; a query whose k-th exact distance is not below it (and
        # not 0, which nothing beats) is searched exhaustively
        q_norm = np.einsum("ij,ij->i", queries, queries, dtype=np.float64)
        t_norm = float(np.einsum("ij,ij->i", train, train, dtype=np.float64).max())
        slack = _SLACK * np.sqrt(train.shape[1]) * (q_norm + t_norm) + np.finfo(np.float32).tiny
        unsure = (exact_sq[:, -1] > 0) & (exact_sq[:, -1] > approx_sq[:, -1].astype(np.float64) - slack)
        for i in np.flatnonzero(unsure):
            exact_sq[i] = _exhaustive_sq(queries[i], train, k)
    return np.sqrt(exact_sq)


def nearest_train_distances(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Exact L2 distance (float64) from each query row to its nearest row of ``train``."""
    return exact_knn_distances(queries, train, 1)[:, 0]


class RunningNearest:
    """Exact nearest-training distance of fixed query rows, updated one block of training rows at a time."""

    def __init__(self, queries: np.ndarray) -> None:
        self.queries = np.asarray(queries)
        if self.queries.ndim != 2:
            raise ValueError(f"queries must be a 2-d array, got shape {self.queries.shape}")
        self.distances = np.full(len(self.queries), np.inf)
        self.rows_seen = 0

    def add(self, block: np.ndarray) -> None:
        """Take the training rows ``block`` into account (an empty block changes nothing)."""
        block = np.asarray(block)
        if len(block) == 0:
            return
        self.rows_seen += len(block)
        if len(self.queries):
            np.minimum(self.distances, nearest_train_distances(self.queries, block), out=self.distances)

    def result(self) -> np.ndarray:
        """The distances so far; ValueError if no training row was seen (there is no nearest one)."""
        if self.rows_seen == 0:
            raise ValueError("no training rows to measure the nearest distance to")
        return self.distances


def nearest_distances_streaming(queries: np.ndarray, blocks: Iterable[np.ndarray]) -> np.ndarray:
    """:func:`nearest_train_distances` over the concatenation of ``blocks``, holding one block at a time;
    the result is exactly the whole-array one."""
    nearest = RunningNearest(queries)
    for block in blocks:
        nearest.add(block)
    return nearest.result()


def memorization_stats_from_nearest(
    generated: np.ndarray, heldout: np.ndarray | None = None
) -> dict[str, float]:
    """:func:`memorization_stats` from the nearest-training distances of the generated (and held-out) rows."""
    gen = np.asarray(generated, dtype=np.float64)
    stats = {"mean": float(gen.mean()), "median": float(np.median(gen))}
    if heldout is not None:
        held = np.asarray(heldout, dtype=np.float64)
        stats["heldout_mean"] = float(held.mean())
        stats["heldout_median"] = float(np.median(held))
        stats["ratio"] = float(stats["mean"] / stats["heldout_mean"]) if held.mean() > 0 else float("nan")
    return stats


def memorization_stats(
    generated: np.ndarray, train: np.ndarray, heldout: np.ndarray | None = None
) -> dict[str, float]:
    """Mean/median nearest-training distance of generated (``mean``, ``median``) and held-out
    (``heldout_mean``, ``heldout_median``) rows; ``ratio`` = mean / heldout_mean when held-out rows are given.
    """
    gen = nearest_train_distances(generated, train)
    held = None if heldout is None else nearest_train_distances(heldout, train)
    return memorization_stats_from_nearest(gen, held)


def memorization_stats_streaming(
    generated: np.ndarray, blocks: Iterable[np.ndarray], heldout: np.ndarray | None = None
) -> dict[str, float]:
    """:func:`memorization_stats` with the training rows given as blocks (read once, one at a time)."""
    gen = RunningNearest(generated)
    held = None if heldout is None else RunningNearest(heldout)
    for block in blocks:
        gen.add(block)
        if held is not None:
            held.add(block)
    return memorization_stats_from_nearest(gen.result(), None if held is None else held.result())
