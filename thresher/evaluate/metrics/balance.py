"""Balance: how generated samples spread over classes or clusters, and how quality varies across them.

Given a group label per sample (a classifier's prediction, or the nearest cluster centroid), we
report the share of each group, the entropy of those shares relative to uniform (1 = perfectly even,
0 = a single group), their total-variation distance to a reference share (the real data or the
training subset), and FID computed separately per group with its spread: a pruning method can lower
overall FID while neglecting rare groups, which only the per-group view shows.
"""

from __future__ import annotations

import faiss
import numpy as np

from thresher.evaluate.metrics.frechet import fid_from_features


def group_shares(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Fraction of ``labels`` equal to each entry of ``groups`` (labels outside ``groups`` count in the total)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("cannot compute shares of an empty label set")
    return np.array([(labels == g).mean() for g in np.asarray(groups)], dtype=np.float64)


def normalized_entropy(shares: np.ndarray) -> float:
    """Shannon entropy of ``shares`` divided by log(number of groups): 1 for uniform, 0 for one group."""
    p = np.asarray(shares, dtype=np.float64)
    if p.size < 2:
        return 1.0
    p = p / p.sum()
    nonzero = p[p > 0]
    # Summed as p·log(1/p) so that a single group gives +0.0, not -0.0.
    return float((nonzero * -np.log(nonzero)).sum() / np.log(p.size))


def total_variation(shares: np.ndarray, reference: np.ndarray) -> float:
    """Total-variation distance 0.5 * sum |p - q| between two share vectors (0 = identical, 1 = disjoint)."""
    return float(0.5 * np.abs(np.asarray(shares) - np.asarray(reference)).sum())


def min_share_ratio(shares: np.ndarray, reference: np.ndarray) -> float:
    """Smallest share / reference share over groups present in the reference: the worst under-representation."""
    shares, reference = np.asarray(shares), np.asarray(reference)
    present = reference > 0
    return float((shares[present] / reference[present]).min()) if present.any() else float("nan")


def per_group_fid(
    gen_features: np.ndarray,
    gen_groups: np.ndarray,
    ref_features: np.ndarray,
    ref_groups: np.ndarray,
    groups: np.ndarray,
    *,
    min_samples: int = 10,
) -> np.ndarray:
    """FID between the generated and reference samples of each group; NaN where either side has fewer
    than ``min_samples`` samples (a covariance from a handful of points says nothing)."""
    min_samples = max(min_samples, 2)
    values = np.full(len(groups), np.nan)
    for i, group in enumerate(groups):
        gen = gen_features[np.asarray(gen_groups) == group]
        ref = ref_features[np.asarray(ref_groups) == group]
        if len(gen) >= min_samples and len(ref) >= min_samples:
            values[i] = fid_from_features(gen, ref)
    return values


def spread(values: np.ndarray) -> dict[str, float]:
    """Mean, std, min, max and max/min of the finite entries (NaN everywhere if there are none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return {k: float("nan") for k in ("mean", "std", "min", "max", "max_over_min")}
    low, high = float(finite.min()), float(finite.max())
    return {
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": low,
        "max": high,
        "max_over_min": high / low if low > 0 else float("inf"),
    }


def nearest_centroid(features: np.ndarray, centroids: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Index of the nearest centroid (exact L2, faiss) for each row.

    ``normalize`` L2-normalizes the rows first, matching k-means run on normalized embeddings
    (with spherical centroids this is the same as the highest cosine similarity).
    """
    feats = np.ascontiguousarray(features, dtype=np.float32)
    cents = np.ascontiguousarray(centroids, dtype=np.float32)
    if feats.ndim != 2 or cents.ndim != 2 or feats.shape[1] != cents.shape[1]:
        raise ValueError(f"features {feats.shape} and centroids {cents.shape} have different dimensions")
    if normalize:
        feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    index = faiss.IndexFlatL2(cents.shape[1])
    index.add(cents)
    _, nearest = index.search(feats, 1)
    return nearest[:, 0].astype(np.int64)
