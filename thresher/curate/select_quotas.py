"""How many samples each group keeps, and which: the quotas of a selection (none, proportional or equal)
and the SQL that keeps each group's quota from the low, high or middle end of its ranking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def quota_sql(con, balance: str | None, n_keep: int, rule: str) -> str:
    sizes = con.execute("SELECT grp, count(*) FROM pool GROUP BY grp ORDER BY grp").fetchall()
    groups = np.array([g for g, _ in sizes], dtype=np.int64)
    counts = np.array([c for _, c in sizes], dtype=np.int64)
    quotas = group_quotas(counts, n_keep, balance)
    con.execute("DROP TABLE IF EXISTS quotas")
    con.register("quotas_arrow", pa.table({"grp": groups, "quota": quotas}))
    con.execute("CREATE TEMP TABLE quotas AS SELECT * FROM quotas_arrow")
    con.unregister("quotas_arrow")
    # Position 1 is the smallest order_key in its group; ties break on sample_id so reruns agree.
    ranked = (
        "SELECT p.sample_id, q.quota, count(*) OVER (PARTITION BY p.grp) AS size, "
        "row_number() OVER (PARTITION BY p.grp ORDER BY p.order_key, p.sample_id) AS pos "
        "FROM pool p JOIN quotas q USING (grp)"
    )
    condition = {
        "low": "pos <= quota",
        "high": "pos > size - quota",
        "middle": "pos > size - quota - (size - quota) // 2 AND pos <= size - (size - quota) // 2",
    }[rule]
    return f"SELECT sample_id FROM ({ranked}) WHERE {condition}"


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
