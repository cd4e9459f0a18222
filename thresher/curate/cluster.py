"""k-means clustering of embeddings: train on a sample, assign every row in a streaming pass.

Method (docs/architecture.md, "Scores", after Briq et al.): k-means on (by default L2-normalized)
embeddings with faiss, optionally spherical. Training uses a uniform sample of the rows
(``max_train``, default 256 points per centroid, the amount faiss itself considers enough);
assignment then streams over all rows with a flat faiss index (docs/architecture.md, "Scores").

Seeding and restart seeds: :mod:`thresher.curate.kmeans_seeding`.

Distance convention (the per-row ``distance`` score, always to the row's own centroid):
  * ``spherical=False``: Euclidean distance ``||x - c||`` (not squared); inertia is the sum of
    squared distances, as in scikit-learn.
  * ``spherical=True``: rows are L2-normalized, centroids are unit vectors and the distance is
    the cosine distance ``1 - cos(x, c)`` in [0, 2]; inertia is the sum of cosine distances.
Assignment is to the centroid with the smallest distance, so the distance is minimal among centroids.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import faiss
import numpy as np

from thresher.curate.kmeans_seeding import (
    MAX_SEED,
    MIN_SEEDING_POINTS,
    SEEDING_POINTS_PER_CENTROID,
    kmeans_plusplus,
    restart_seeds,
)
from thresher.errors import ThresherError
from thresher.progress import track

Chunk = tuple[np.ndarray, np.ndarray]
"""``(ids, vectors)``: ids of shape (n,), vectors of shape (n, d), any float dtype."""

POINTS_PER_CENTROID = 256  # faiss's own max_points_per_centroid: more points barely move the centroids
MAX_TRAIN_CAP = 1 << 20
ARRAY_CHUNK_ROWS = 65536


@dataclass
class ClusterConfig:
    """How to run k-means.

    ``init``: ``"kmeans++"`` (greedy k-means++ seeds, default) or ``"random"`` (faiss's random rows).
    ``init_trials``: D²-sampled candidates per k-means++ step (plus the farthest row); ``None`` means ``2 + ln k``.
    ``restarts``: independent seeding + Lloyd's runs, seeded by ``restart_seeds(seed, restarts)``; the one
    with the lowest training inertia wins.
    ``max_train``: training sample size; ``None`` means ``min(256*k, 2**20)``.
    ``normalize``: L2-normalize rows first (the clustering method clusters normalized embeddings);
    ``spherical`` implies it and also keeps centroids on the unit sphere.
    ``device``: ``"auto"`` (GPU when this faiss build has one), ``"cpu"`` or ``"cuda"``.
    """

    k: int
    seed: int = 0
    spherical: bool = False
    normalize: bool = True
    niter: int = 20
    init: str = "kmeans++"
    init_trials: int | None = None
    restarts: int = 1
    max_train: int | None = None
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ThresherError(f"k must be at least 1, got {self.k}")
        if self.init not in ("kmeans++", "random"):
            raise ThresherError(f"unknown k-means init {self.init!r}; choose kmeans++ or random")
        if self.restarts < 1 or self.niter < 1:
            raise ThresherError("k-means restarts and niter must be at least 1")
        if not 0 <= self.seed <= MAX_SEED:
            raise ThresherError(f"k-means seed must lie in 0..{MAX_SEED}, got {self.seed}")
        if self.max_train is not None and self.max_train < self.k:
            raise ThresherError(f"max_train ({self.max_train}) must be at least k ({self.k})")

    @property
    def resolved_max_train(self) -> int:
        if self.max_train is not None:
            return self.max_train
        return max(self.k, min(POINTS_PER_CENTROID * self.k, MAX_TRAIN_CAP))

    @property
    def unit_norm(self) -> bool:
        """Whether rows are L2-normalized before training and assignment."""
        return self.normalize or self.spherical


@dataclass
class KMeansModel:
    """Trained centroids plus what is needed to assign new rows the same way."""

    centroids: np.ndarray  # (k, d) float32
    inertia: float  # on the training sample, see the module docstring for the convention
    seconds: float  # wall time of fit_kmeans, sampling included
    n_train: int
    spherical: bool
    normalize: bool
    device: str  # "cpu" or "cuda": where faiss ran
    config: ClusterConfig
    restart_seeds: tuple[int, ...] = ()  # the seed of each restart, see restart_seeds()
    restart_inertias: tuple[float, ...] = ()  # training inertia of each restart; the minimum won

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def use_faiss_gpu(device: str) -> bool:
    """Whether faiss should run on GPU for ``device``; never fails on a CPU-only machine for ``auto``/``cpu``."""
    n_gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    if device in ("auto", "", None):
        return n_gpus > 0
    if device == "cpu":
        return False
    if device.startswith("cuda"):
        if n_gpus == 0:
            raise ThresherError(
                f"device {device!r} asked for, but this faiss build has no GPU; install thresher[gpu] (faiss-gpu-cu12)"
            )
        return True
    raise ThresherError(f"unknown device {device!r} for k-means; choose auto, cpu or cuda")


def _as_float32(vectors: np.ndarray, unit_norm: bool) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ThresherError(f"expected a 2-D array of vectors, got shape {x.shape}")
    if unit_norm:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        # zero vectors stay zero instead of becoming NaN
        x = x / np.maximum(norms, np.finfo(np.float32).tiny)
    return x


def _array_chunks(vectors: np.ndarray, rows: int = ARRAY_CHUNK_ROWS) -> Iterator[Chunk]:
    for start in range(0, len(vectors), rows):
        stop = min(start + rows, len(vectors))
        yield np.arange(start, stop), vectors[start:stop]


def sample_for_training(source: np.ndarray | Iterable[Chunk], max_train: int, seed: int = 0) -> np.ndarray:
    """A uniform sample of at most ``max_train`` rows (float32, in stream order) from an array or chunks.

    Bottom-k sampling: every row gets a seeded uniform key and the ``max_train`` smallest keys win,
    so memory stays O(max_train · d), only one pass is made, and the sample depends on the seed and
    the row order but not on how the rows are split into chunks.
    """
    if max_train < 1:
        raise ThresherError(f"max_train must be at least 1, got {max_train}")
    chunks = _array_chunks(source) if isinstance(source, np.ndarray) else source
    rng = np.random.default_rng(seed)
    keys = np.empty(0)
    positions = np.empty(0, dtype=np.int64)
    kept: np.ndarray | None = None
    seen = 0
    for _ids, vectors in chunks:
        m = len(vectors)
        chunk_keys = rng.random(m)
        if kept is None:
            kept = np.empty((0, vectors.shape[1]), dtype=np.float32)
        # until max_train rows are held, every row is taken (the buffer grows by doubling, so a small
        # source never costs a max_train-sized allocation)
        take = min(max_train - len(keys), m)
        if take > 0:
            kept = _grown(kept, len(keys) + take, max_train)
            kept[len(keys) : len(keys) + take] = vectors[:take]
            keys = np.append(keys, chunk_keys[:take])
            positions = np.append(positions, seen + np.arange(take))
        # then a row replaces the held row with the largest key when its own key is smaller
        candidates = take + np.flatnonzero(chunk_keys[take:] < keys.max())
        if candidates.size:
            merged = np.concatenate([keys, chunk_keys[candidates]])
            winners = np.argpartition(merged, max_train - 1)[:max_train]
            incoming = winners[winners >= max_train] - max_train
            evicted = np.setdiff1d(np.arange(max_train), winners[winners < max_train], assume_unique=True)
            rows = candidates[incoming]
            kept[evicted] = vectors[rows]
            keys[evicted] = chunk_keys[rows]
            positions[evicted] = seen + rows
        seen += m
    if kept is None or not len(keys):
        raise ThresherError("no rows to sample from")
    return kept[: len(keys)][np.argsort(positions)]


def _grown(buffer: np.ndarray, needed: int, limit: int) -> np.ndarray:
    if len(buffer) >= needed:
        return buffer
    bigger = np.empty((min(limit, max(needed, 2 * len(buffer))), buffer.shape[1]), dtype=buffer.dtype)
    bigger[: len(buffer)] = buffer
    return bigger


def _flat_index(centroids: np.ndarray, spherical: bool, gpu: bool) -> faiss.Index:
    index = faiss.IndexFlatIP(centroids.shape[1]) if spherical else faiss.IndexFlatL2(centroids.shape[1])
    if gpu:
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    return index


def _nearest(
    index: faiss.Index, centroids: np.ndarray, x: np.ndarray, spherical: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid and the exact distance to it (recomputed directly: faiss's |x|²+|c|²-2x·c loses digits)."""
    _, found = index.search(x, 1)
    cluster = found[:, 0].astype(np.int64)
    own = centroids[cluster]
    if spherical:
        distance = 1.0 - np.einsum("ij,ij->i", x, own)
    else:
        diff = x - own
        distance = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return cluster, distance.astype(np.float32)


def _inertia(distance: np.ndarray, spherical: bool) -> float:
    d = distance.astype(np.float64)
    return float(d.sum() if spherical else (d * d).sum())


def fit_kmeans(train_vectors: np.ndarray, config: ClusterConfig) -> KMeansModel:
    """Train k-means on ``train_vectors`` (subsampled to ``config.resolved_max_train`` rows if larger).

    Runs ``config.restarts`` times (seeds ``restart_seeds(config.seed, config.restarts)``) on the same
    training sample and keeps the lowest training inertia.
    """
    start = time.perf_counter()
    n = len(train_vectors)
    if config.k > n:
        raise ThresherError(f"k={config.k} is larger than the number of rows ({n})")
    max_train = config.resolved_max_train
    if n > max_train:
        x = _as_float32(sample_for_training(train_vectors, max_train, config.seed), config.unit_norm)
    else:
        x = _as_float32(train_vectors, config.unit_norm)
    if not np.isfinite(x).all():
        raise ThresherError("embeddings contain NaN or infinite values; re-run the embedding step")
    gpu = use_faiss_gpu(config.device)
    seeding_rows = min(len(x), max(SEEDING_POINTS_PER_CENTROID * config.k, MIN_SEEDING_POINTS))

    best: tuple[float, np.ndarray] | None = None
    seeds = restart_seeds(config.seed, config.restarts)
    inertias: list[float] = []
    for seed in seeds:
        kmeans = faiss.Kmeans(
            x.shape[1],
            config.k,
            niter=config.niter,
            seed=seed,
            spherical=config.spherical,
            gpu=gpu,
            # we sample ourselves; stop faiss from subsampling again or warning about small samples
            max_points_per_centroid=math.ceil(len(x) / config.k) + 1,
            min_points_per_centroid=1,
        )
        init = None
        if config.init == "kmeans++":
            rng = np.random.default_rng(seed)
            seeding_sample = x[np.sort(rng.choice(len(x), seeding_rows, replace=False))]
            init = kmeans_plusplus(seeding_sample, config.k, seed, config.init_trials, config.progress)
        kmeans.train(x, init_centroids=init)
        centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
        _, distance = _nearest(_flat_index(centroids, config.spherical, gpu), centroids, x, config.spherical)
        inertia = _inertia(distance, config.spherical)
        inertias.append(inertia)
        if best is None or inertia < best[0]:
            best = (inertia, centroids)
    assert best is not None
    return KMeansModel(
        centroids=best[1],
        inertia=best[0],
        seconds=time.perf_counter() - start,
        n_train=len(x),
        spherical=config.spherical,
        normalize=config.unit_norm,
        device="cuda" if gpu else "cpu",
        config=config,
        restart_seeds=tuple(seeds),
        restart_inertias=tuple(inertias),
    )


def assign_chunks(
    model: KMeansModel, chunks: Iterable[Chunk]
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stream ``(ids, cluster, distance)`` per input chunk: constant memory, one pass over the rows."""
    index = _flat_index(model.centroids, model.spherical, model.device == "cuda")
    for ids, vectors in track(chunks, "assign", unit="chunk", enabled=model.config.progress):
        if len(ids) != len(vectors):
            raise ThresherError(f"chunk has {len(ids)} ids but {len(vectors)} vectors")
        x = _as_float32(vectors, model.normalize)
        if x.shape[1] != model.centroids.shape[1]:
            raise ThresherError(f"vectors have dimension {x.shape[1]}, the model {model.centroids.shape[1]}")
        cluster, distance = _nearest(index, model.centroids, x, model.spherical)
        yield np.asarray(ids), cluster, distance


def assign(
    model: KMeansModel, chunks: Iterable[Chunk] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign every row to its nearest centroid: ``(ids, cluster int64, distance float32)``, concatenated.

    An array is streamed in chunks with ids ``0..n-1``.
    """
    source = _array_chunks(chunks) if isinstance(chunks, np.ndarray) else chunks
    parts = list(assign_chunks(model, source))
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    ids, cluster, distance = (np.concatenate(column) for column in zip(*parts, strict=True))
    return ids, cluster, distance


def cluster_table(
    ids: np.ndarray,
    cluster: np.ndarray,
    distance: np.ndarray,
    labels: np.ndarray | None = None,
    k: int | None = None,
) -> list[dict]:
    """Per-cluster report rows, sorted by cluster id.

    Columns: ``cluster``, ``size``, ``share`` (of all rows), ``mean_distance``, ``representative_id``
    (the id nearest its centroid) and, with ``labels``, ``majority_label`` and ``purity`` (the majority
    label's share of the cluster). With ``k``, empty clusters appear with size 0 so imbalance is visible.
    """
    ids, cluster, distance = np.asarray(ids), np.asarray(cluster), np.asarray(distance)
    if not len(ids) == len(cluster) == len(distance) or (labels is not None and len(labels) != len(ids)):
        raise ThresherError("ids, cluster, distance and labels must have the same length")
    present = np.unique(cluster)
    if k is not None and len(present) and (present[0] < 0 or present[-1] >= k):
        raise ThresherError(f"cluster ids must lie in 0..{k - 1}")
    names = range(k) if k is not None else present.tolist()
    total = max(len(cluster), 1)
    order = np.argsort(cluster, kind="stable")
    starts = np.searchsorted(cluster[order], present)
    stops = np.append(starts[1:], len(order))
    members = {int(c): order[a:b] for c, a, b in zip(present, starts, stops, strict=True)}
    rows = []
    for c in names:
        member_rows = members.get(int(c), np.empty(0, dtype=np.int64))
        row: dict = {"cluster": int(c), "size": int(len(member_rows)), "share": len(member_rows) / total}
        row["mean_distance"] = float(distance[member_rows].mean()) if len(member_rows) else None
        row["representative_id"] = (
            ids[member_rows[np.argmin(distance[member_rows])]].item() if len(member_rows) else None
        )
        if labels is not None:
            counts = Counter(np.asarray(labels)[member_rows].tolist())
            label, count = counts.most_common(1)[0] if counts else (None, 0)
            row["majority_label"] = label
            row["purity"] = count / len(member_rows) if len(member_rows) else None
        rows.append(row)
    return rows
