"""Precision, recall and F-score (Kynkäänniemi et al. 2019); density and coverage (Naeem et al. 2020).

Each set is approximated by a manifold: the union of balls around its samples, each ball's radius
the distance to the sample's k-th nearest neighbour within its own set (k = 3 by default).

- precision: fraction of GENERATED samples inside the REAL manifold (are samples realistic?)
- recall:    fraction of REAL samples inside the GENERATED manifold (is the real data covered?)
- F-score:   harmonic mean of precision and recall
- density:   mean over generated samples of (number of real balls containing it) / k
- coverage:  fraction of real samples whose ball contains at least one generated sample

Membership is strict (distance < radius), as in the ``prdc`` reference package. k-NN radii and the
nearest-generated search use faiss (exact L2); ball membership needs all pairwise distances, which we
stream in blocks so memory stays at ``block x n`` instead of ``n x n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from thresher.progress import track


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    f_score: float
    density: float
    coverage: float


def _as_faiss(features: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(features, dtype=np.float32)


def knn_search(queries: np.ndarray, database: np.ndarray, k: int) -> np.ndarray:
    """Exact L2 distances (not squared) from each query to its ``k`` nearest database points, (Nq, k)."""
    db = _as_faiss(database)
    index = faiss.IndexFlatL2(db.shape[1])
    index.add(db)
    squared, _ = index.search(_as_faiss(queries), k)
    return np.sqrt(np.clip(squared, 0.0, None))


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded)."""
    if features.shape[0] <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} samples, got {features.shape[0]}")
    # The first hit is the sample itself at distance 0, so the k-th neighbour is column k.
    return knn_search(features, features, k + 1)[:, k]


def _count_balls_containing(
    points: np.ndarray, centers: np.ndarray, radii: np.ndarray, block: int
) -> np.ndarray:
    """For each point, how many balls (center, radius) contain it, streamed over blocks of points."""
    centers64 = centers.astype(np.float64)
    center_sq = (centers64**2).sum(axis=1)
    radii_sq = radii.astype(np.float64) ** 2
    counts = np.empty(points.shape[0], dtype=np.int64)
    for start in track(range(0, points.shape[0], block), "manifold balls", unit="block", transient=True):
        chunk = points[start : start + block].astype(np.float64)
        dist_sq = (chunk**2).sum(axis=1)[:, None] + center_sq[None, :] - 2.0 * chunk @ centers64.T
        counts[start : start + block] = (dist_sq < radii_sq[None, :]).sum(axis=1)
    return counts


def compute_prdc(real: np.ndarray, generated: np.ndarray, *, k: int = 3, block: int = 2048) -> PRDC:
    """Precision, recall, F-score, density and coverage of ``generated`` against ``real`` features."""
    real = np.asarray(real)
    generated = np.asarray(generated)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(f"feature shapes do not match: real {real.shape}, generated {generated.shape}")
    real_radii = knn_radii(real, k)
    gen_radii = knn_radii(generated, k)

    real_balls_per_gen = _count_balls_containing(generated, real, real_radii, block)
    gen_balls_per_real = _count_balls_containing(real, generated, gen_radii, block)
    precision = float((real_balls_per_gen > 0).mean())
    recall = float((gen_balls_per_real > 0).mean())
    density = float(real_balls_per_gen.mean() / k)
    nearest_gen = knn_search(real, generated, 1)[:, 0]
    coverage = float((nearest_gen < real_radii).mean())
    f_score = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return PRDC(precision=precision, recall=recall, f_score=f_score, density=density, coverage=coverage)
