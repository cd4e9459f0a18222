"""SemDeDup as a score run: per sample, the max cosine similarity to an already kept sample of its cluster.

The run is keyed by (clustering, ε) because the greedy keep order makes the scores depend on ε; it
reuses the clustering's embeddings and its distances (visiting order: furthest from the centroid first,
as in the paper). Selection then keeps ``score <= 1 - ε`` (see :mod:`thresher.curate.select`).
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from thresher.curate.embed import EmbeddingStore
from thresher.curate.embed_run import embeddings_path
from thresher.curate.score_runs import run_config, run_exists, score_files, score_run, score_table, write_part
from thresher.curate.scores.dedup import DedupConfig, semdedup
from thresher.errors import ThresherError
from thresher.workspace import Workspace


def dedup_scores_run(ws: Workspace, source: str, cluster_run: str, epsilon: float) -> str:
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
    with score_run(
        ws, run_id, "dedup", source, {"clustering": cluster_run, "epsilon": epsilon, "embedder": embedder}
    ) as folder:
        write_part(
            folder,
            score_table(
                ids, "dedup", score=result.max_similarity, cluster=clusters["cluster"].to_numpy(np.int64)
            ),
        )
    return run_id
