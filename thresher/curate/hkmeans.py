"""Hierarchical k-means with resampling, and the hierarchical balanced sampling over its clusters.

After Vo et al. 2024, "Automatic Data Curation for Self-Supervised Learning: A Clustering-Based
Approach" (arXiv 2405.15613; code facebookresearch/ssl-data-curation, read for this module, none of it
copied). k-means puts its centroids where the data are dense, so equal selection per k-means cluster
still follows the density: a rare concept shares a cluster with a common one and loses (measured on a
long-tailed colour set, issue 24; docs/balance.md). The paper's remedy, and this module:

- **Levels.** Level 1 clusters the embeddings into k₁ clusters; level l+1 clusters the k_l centroids of
  level l into k_{l+1} < k_l clusters. A sample's cluster at level l+1 is the cluster of its level-l
  centroid, so every level partitions the samples and each cluster's children are clusters of the level
  below.
- **Resampling.** At every level, after a k-means on the level's points, each of ``resampling_steps``
  steps takes the r points nearest each centroid (r = ⌈n_l / 2k_l⌉, "roughly half the average cluster
  size", the rule of the paper's configurations), runs k-means with the same k on those k·r points only,
  and assigns all the level's points to the new centroids. Each cluster then weighs the same in the next
  fit, whatever its density, so the centroids drift from the dense regions towards a spread over the
  support. A level with r ≤ 1 is not resampled (as in the paper's code).
- **Sampling.** The target is split over the top clusters as evenly as their sizes allow (the largest s
  with Σ min(nᵢ, s) ≤ target, then one more to some of the clusters that still have room); each
  cluster's share is split over its children the same way, down to the leaves; inside a leaf the
  samples are taken at random (the paper's), or nearest / furthest from the leaf's centroid first.

Thresher's own choices, where the paper or its code leaves them open or does otherwise:

- Every k-means is thresher's (:func:`thresher.curate.cluster.fit_kmeans`: faiss, GPU when present,
  greedy k-means++ seeds, trained on at most 256 points per centroid), Euclidean or, for L2-normalized
  embeddings, spherical at every level. The paper's code runs float64 Lloyd's in torch, 50 iterations.
- Seeds: the k-means of level l, resampling step s uses the 31-bit word of ``SeedSequence([seed, l, s])``;
  the code's are unseeded.
- Resampling takes the nearest points (the paper's configurations use ``closest``), by default 10 steps
  at every level but the first, as the paper's 4-level configuration does "for efficiency" (its 2-level
  one resamples level 1 too): level 1 is the one k-means over all rows, where every step costs a full
  assignment (docs/balance.md compares both). ``--resampling-steps`` sets them per level.
- Leftovers: where a budget does not split evenly, the extra samples go to clusters in one seeded random
  order per level (the code draws a new random choice at every split). With a fixed order the samples
  for a target m are always among those for m + 1, so the whole sampling is one priority order
  (:func:`balanced_order`): the first m of it are the balanced sample of size m for every m. That is what
  lets ``thresher select`` treat it as a score (keep the lowest), and ``--inverse`` keep the complement.
- No replication: the code can repeat a small cluster's samples to fill a budget (``multiplier``); a
  subset holds each row at most once, so a cluster smaller than its share gives what it has.
- Empty clusters (a centroid that after resampling is nearest to no point) stay in the level: the next
  level clusters all k_l centroids, as the code does; an empty cluster gets no budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from thresher.curate.cluster import ClusterConfig, assign, fit_kmeans
from thresher.curate.kmeans_seeding import MAX_SEED
from thresher.curate.scores.methods.hkmeans import check_level_ks
from thresher.errors import ThresherError
from thresher.progress import track


@dataclass(frozen=True)
class HierarchyConfig:
    """``ks``: clusters per level, finest first, strictly decreasing. ``resampling_steps``: per level,
    finest first. ``spherical``: cosine k-means on unit vectors (for L2-normalized embeddings), else
    Euclidean."""

    ks: tuple[int, ...]
    resampling_steps: tuple[int, ...] = ()
    spherical: bool = False
    niter: int = 20
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        check_level_ks(self.ks)
        if len(self.resampling_steps) != len(self.ks) or min(self.resampling_steps) < 0:
            raise ThresherError(
                f"resampling steps must be one number ≥ 0 per level, got {list(self.resampling_steps)}"
            )
        if self.niter < 1:
            raise ThresherError(f"k-means iterations must be at least 1, got {self.niter}")


@dataclass
class Hierarchy:
    """Each sample's cluster at every level and what the levels are."""

    assignments: np.ndarray  # (n, L) int64: the cluster of each row at level 1 (finest) … L
    distance: np.ndarray  # (n,) float32: to the row's level-1 centroid (the cluster module's convention)
    centroids: list[np.ndarray]  # per level, (k_l, d) float32
    parents: list[np.ndarray]  # per level l < L: (k_l,) the level-(l+1) cluster of each level-l cluster
    seconds: list[float] = field(default_factory=list)  # wall time per level, resampling included
    sample_sizes: list[int] = field(default_factory=list)  # r per level (0: not resampled)

    @property
    def ks(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.centroids)


def _seed(seed: int, level: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, level, step]).generate_state(1, dtype=np.uint32)[0]) % MAX_SEED


def resampling_size(n_points: int, k: int) -> int:
    """r: the points taken nearest each centroid per resampling step, ⌈n / 2k⌉."""
    return math.ceil(n_points / (2 * k))


def _fit_level(
    x: np.ndarray, k: int, level: int, config: HierarchyConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(centroids, cluster of every point, distance to it, r) of one level, resampled."""

    def kmeans(points: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cluster_config = ClusterConfig(
            k=k, seed=_seed(config.seed, level, step), spherical=config.spherical,
            normalize=config.spherical, niter=config.niter, device=config.device, progress=False,
        )  # fmt: skip
        model = fit_kmeans(points, cluster_config)
        _, cluster, distance = assign(model, x)
        return model.centroids, cluster, distance

    centroids, cluster, distance = kmeans(x, 0)
    r = resampling_size(len(x), k)
    steps = config.resampling_steps[level - 1]
    if r <= 1 or steps == 0:
        return centroids, cluster, distance, 0
    label = f"hkmeans level {level} resampling"
    for step in track(range(1, steps + 1), label, unit="step", enabled=config.progress):
        # the r nearest points of every cluster (ties by row), so each cluster weighs the same in the refit
        order = np.lexsort((np.arange(len(x)), distance, cluster))
        position = position_within(cluster[order])
        sample = np.sort(order[position < r])
        if len(sample) < k:  # fewer points than clusters (many empty clusters): keep what there is
            break
        centroids, cluster, distance = kmeans(x[sample], step)
    return centroids, cluster, distance, r


def fit_hierarchy(vectors: np.ndarray, config: HierarchyConfig) -> Hierarchy:
    """Hierarchical k-means with resampling of ``vectors`` (n, d) (the module docstring)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    check_level_ks(config.ks, len(x))
    if not np.isfinite(x).all():
        raise ThresherError("embeddings contain NaN or infinite values; re-run the embedding step")
    assignments = np.empty((len(x), len(config.ks)), dtype=np.int64)
    centroids: list[np.ndarray] = []
    parents: list[np.ndarray] = []
    seconds: list[float] = []
    sizes: list[int] = []
    distance = np.empty(0, dtype=np.float32)
    points = x
    for level, k in enumerate(config.ks, start=1):
        start = time.perf_counter()
        level_centroids, cluster, level_distance, r = _fit_level(points, k, level, config)
        if level == 1:
            assignments[:, 0] = cluster
            distance = level_distance
        else:
            parents.append(cluster)
            assignments[:, level - 1] = cluster[assignments[:, level - 2]]
        centroids.append(level_centroids)
        seconds.append(time.perf_counter() - start)
        sizes.append(r)
        points = level_centroids
    return Hierarchy(assignments, distance.astype(np.float32), centroids, parents, seconds, sizes)


def position_within(sorted_groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal values (``sorted_groups`` sorted)."""
    n = len(sorted_groups)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    return np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))


def balanced_order(
    assignments: np.ndarray, within_key: np.ndarray, seed: int, ids: np.ndarray | None = None
) -> np.ndarray:
    """Each row's position (0 = first) in the hierarchical balanced sampling order: for every m, the rows
    at positions < m are the balanced sample of size m (the module docstring, 'Leftovers').

    ``assignments`` (n, L): each row's cluster per level, finest first. ``within_key``: the order inside a
    leaf, smallest first (a seeded uniform draw for random, the distance to the centroid for nearest, its
    negation for furthest); ties break on ``ids`` (default: the row number).

    Water-filling a budget over clusters of sizes nᵢ with leftovers in a fixed cluster order is dealing
    one sample at a time round-robin: round j gives the j-th sample to every cluster that has more than j,
    in that order. So a row's position inside its parent is the rank of (its position inside its own
    cluster, its cluster's place in the order), and the levels compose from the leaves up.
    """
    assignments = np.asarray(assignments, dtype=np.int64)
    n, levels = assignments.shape
    ids = np.arange(n) if ids is None else np.asarray(ids)
    if len(within_key) != n or len(ids) != n:
        raise ThresherError("assignments, within_key and ids must have one row per sample")
    leaf = assignments[:, 0]
    order = np.lexsort((ids, np.asarray(within_key), leaf))
    position = np.empty(n, dtype=np.int64)
    position[order] = position_within(leaf[order])
    for level in range(levels):
        child = assignments[:, level]
        # the seeded order in which the level's clusters receive leftovers: a random permutation's ranks
        tie = np.random.default_rng(np.random.SeedSequence([seed, level])).permutation(int(child.max()) + 1)
        parent = assignments[:, level + 1] if level + 1 < levels else np.zeros(n, dtype=np.int64)
        order = np.lexsort((tie[child], position, parent))
        position = np.empty(n, dtype=np.int64)
        position[order] = position_within(parent[order])
    return position
