"""Semantic de-duplication within clusters (SemDeDup, Abbas et al. 2023, arXiv:2303.09540).

Inside every k-means cluster the samples are visited in a fixed order (by default furthest from
the centroid first, as in the paper, so the least prototypical member of a duplicate group is
the one kept) and a sample is dropped when its cosine similarity to a sample already KEPT in the
same cluster exceeds ``1 - eps``. This is the exact greedy rule; the paper's code compares against
all earlier samples, dropped ones included, which also drops the far end of a chain A~B~C where
only B resembles C.

The work is blocked so memory stays O(block² + cluster size · d): every block of ``block_size``
samples is compared with the kept samples of earlier blocks through a faiss inner-product index
(max similarity = 1-nearest-neighbour search) and with itself by one matmul; only samples that
have a near-duplicate earlier in their own block need the sequential greedy check.

As a score run, the score of a sample is its max cosine similarity to an already kept sample of its
cluster; the run is keyed by (clustering, ε) because the greedy keep order makes the scores depend on ε.
Selection keeps ``score <= 1 − ε``.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.embeddings import EmbeddingStore, embeddings_path
from thresher.catalog.runs import run_config, run_exists
from thresher.catalog.scores import score_files, score_run, score_table, write_matches, write_score_part
from thresher.catalog.workspace import Workspace
from thresher.curate.config import DedupConfig
from thresher.curate.scores.methods.dedup import SIMILARITY_TOLERANCE
from thresher.curate.scores.registry import ScoreContext
from thresher.errors import ThresherError
from thresher.progress import track

NO_KEPT_NEIGHBOUR = -1.0  # score of a sample with no earlier kept sample in its cluster: the lowest cosine


@dataclass
class DedupResult:
    """Per input row: ``kept`` and ``max_similarity``, the largest cosine similarity to a kept sample
    visited earlier in the same cluster (the score; -1 when there is none), and ``match``, the row of that
    kept sample (−1 when there is none): which kept image a dropped one duplicates. Dropped rows have a
    score above ``1 - eps - SIMILARITY_TOLERANCE``, kept rows one at or below it."""

    kept: np.ndarray  # bool (n,)
    max_similarity: np.ndarray  # float32 (n,)
    match: np.ndarray  # int64 (n,)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.finfo(np.float32).tiny)


def _cluster_members(cluster: np.ndarray) -> list[np.ndarray]:
    """Row indices of every cluster, ascending within each."""
    order = np.argsort(cluster, kind="stable")
    boundaries = np.flatnonzero(np.diff(cluster[order])) + 1
    return np.split(order, boundaries)


def _dedup_ordered(
    x: np.ndarray, threshold: float, block_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy rule on unit rows ``x`` in visiting order: (kept, max similarity to an earlier kept row, the
    position of that row in ``x``, −1 where there is none)."""
    m = len(x)
    kept = np.zeros(m, dtype=bool)
    score = np.full(m, NO_KEPT_NEIGHBOUR, dtype=np.float32)
    match = np.full(m, -1, dtype=np.int64)
    kept_index = faiss.IndexFlatIP(x.shape[1])
    kept_positions = np.empty(0, dtype=np.int64)  # position in x of each vector of kept_index, in order
    for start in range(0, m, block_size):
        block = x[start : start + block_size]
        b = len(block)
        previous = np.full(b, NO_KEPT_NEIGHBOUR, dtype=np.float32)
        previous_match = np.full(b, -1, dtype=np.int64)
        if kept_index.ntotal:
            similarity, found = kept_index.search(block, 1)
            previous, previous_match = similarity[:, 0], kept_positions[found[:, 0]]
        block_kept = previous <= threshold
        within = block @ block.T
        earlier = np.tri(b, k=-1, dtype=bool)  # earlier[i, j]: j is visited before i
        conflict = (within > threshold) & earlier
        # Only rows with an earlier near-duplicate in this block depend on the greedy order; visiting
        # them ascending means every earlier row's flag is already final when it is read.
        for i in np.flatnonzero(conflict.any(axis=1) & block_kept):
            if (conflict[i] & block_kept).any():
                block_kept[i] = False
        masked = np.where(earlier & block_kept[None, :], within, NO_KEPT_NEIGHBOUR)
        within_kept, within_match = masked.max(axis=1), masked.argmax(axis=1) + start
        closer_within = within_kept > previous  # the nearest kept row is in this block
        kept[start : start + b] = block_kept
        score[start : start + b] = np.maximum(previous, within_kept)
        match[start : start + b] = np.where(closer_within, within_match, previous_match)
        kept_index.add(np.ascontiguousarray(block[block_kept]))
        kept_positions = np.concatenate([kept_positions, start + np.flatnonzero(block_kept)])
    return kept, score, match


def semdedup(
    vectors: np.ndarray,
    cluster: np.ndarray,
    config: DedupConfig,
    distance: np.ndarray | None = None,
) -> DedupResult:
    """SemDeDup over all clusters. ``vectors`` (n, d) any float dtype (memory-mapped is fine; one
    cluster is read at a time), ``cluster`` (n,) ids, ``distance`` (n,) to the own centroid for the
    visiting order; without it rows are visited in input order."""
    n = len(vectors)
    cluster = np.asarray(cluster)
    if len(cluster) != n or (distance is not None and len(distance) != n):
        raise ThresherError("vectors, cluster and distance must have the same number of rows")
    if np.ndim(vectors) != 2:
        raise ThresherError(f"expected a 2-D array of vectors, got shape {np.shape(vectors)}")
    threshold = 1.0 - config.eps - SIMILARITY_TOLERANCE
    kept = np.zeros(n, dtype=bool)
    score = np.full(n, NO_KEPT_NEIGHBOUR, dtype=np.float32)
    match = np.full(n, -1, dtype=np.int64)
    groups = _cluster_members(cluster) if n else []
    for members in track(groups, "semdedup", unit="cluster", enabled=config.progress):
        if distance is not None:
            key = np.asarray(distance)[members]
            members = members[np.argsort(-key if config.keep == "furthest" else key, kind="stable")]
        # read in ascending row order (memory-map friendly), then put into visiting order
        rows = np.sort(members)
        x = _unit_rows(vectors[rows])[np.searchsorted(rows, members)]
        kept[members], score[members], local = _dedup_ordered(x, threshold, config.block_size)
        match[members] = np.where(local >= 0, members[np.maximum(local, 0)], -1)
    return DedupResult(kept=kept, max_similarity=score, match=match)


def dedup_scores_run(ws: Workspace, source: str, cluster_run: str, epsilon: float) -> str:
    """The SemDeDup score run of a clustering at ``epsilon`` (computed once, then reused)."""
    run_id = f"dedup-{cluster_run}-eps{epsilon:g}"
    if run_exists(ws, run_id):
        return run_id
    embedder = run_config(ws, cluster_run).get("embedder")
    _, path = embeddings_path(ws, source, embedder)
    ids, vectors = EmbeddingStore(path).load()
    clusters = pq.read_table(
        score_files(ws, cluster_run), columns=["sample_id", "cluster", "distance"]
    ).to_pandas()
    clusters = clusters.set_index("sample_id").reindex(ids)
    if clusters["cluster"].isna().any():
        raise ThresherError(f"clustering {cluster_run} does not cover every embedded row of {source!r}")
    result = semdedup(
        vectors,
        clusters["cluster"].to_numpy(np.int64),
        DedupConfig(eps=epsilon),
        distance=clusters["distance"].to_numpy(np.float64),
    )
    config = {"clustering": cluster_run, "epsilon": epsilon, "embedder": embedder}
    with score_run(ws, run_id, "dedup", source, config) as folder:
        write_score_part(
            folder,
            score_table(
                ids, "dedup", score=result.max_similarity, cluster=clusters["cluster"].to_numpy(np.int64)
            ),
        )
        dropped = np.flatnonzero(~result.kept)
        write_matches(folder, ids[dropped], ids[result.match[dropped]], result.max_similarity[dropped])
    return run_id


def dedup_scores(ws: Workspace, context: ScoreContext) -> str:
    assert context.clustering is not None  # guaranteed by needs={"clusters"}
    return dedup_scores_run(ws, context.source, context.clustering, context.options.epsilon)
