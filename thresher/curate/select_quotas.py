"""How many samples each group keeps: the quotas of a selection (none, proportional or equal). Which rows
fill them (the low, high or middle end of each group's ranking) is the pool's SQL,
:mod:`thresher.catalog.selection_pool`."""

from __future__ import annotations

import numpy as np


def group_quotas(counts: np.ndarray, n_keep: int, balance: str | None) -> np.ndarray:
    """How many samples to keep from each group so that the total is ``n_keep`` (−1: equal's default)."""
    counts = np.asarray(counts, dtype=np.int64)
    if balance is None:
        return np.minimum(counts, n_keep)
    if balance == "proportional":
        exact = counts * (n_keep / counts.sum())
        quotas = np.floor(exact).astype(np.int64)
        # Largest remainder, ties to the larger group then the lower group index: deterministic.
        order = np.lexsort((np.arange(len(counts)), -counts, -(exact - quotas)))
        quotas[order[: n_keep - quotas.sum()]] += 1
        return np.minimum(quotas, counts)
    if n_keep < 0:
        return np.full_like(counts, counts.min())
    # equal: the largest s with sum(min(count, s)) <= n_keep, then one more to the roomiest groups.
    lo, hi = 0, int(counts.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if np.minimum(counts, mid).sum() <= n_keep:
            lo = mid
        else:
            hi = mid - 1
    quotas = np.minimum(counts, lo)
    leftover = n_keep - int(quotas.sum())
    room = np.flatnonzero(counts > quotas)
    room = room[np.lexsort((room, -(counts[room] - quotas[room])))]
    quotas[room[:leftover]] += 1
    return quotas
