"""``hkmeans``'s runs: the hierarchy (a clustering) and the balanced sampling order (the score).

Two runs, each computed once and reused whenever the same options come again:

- **The hierarchy** (:func:`hierarchy_run`), a clustering run (kind ``cluster``, id ``hkmeans-…``) keyed
  by the source, the embeddings (embedder and its store's meta), the k's, the resampling steps and the
  seed. Its score Parquet holds the finest level in the usual clustering columns (``cluster``,
  ``distance`` to the leaf centroid, ``rank`` within the leaf), so everything that reads a clustering
  reads it (``--clustering hkmeans-…`` for ``--balance``, the gallery, conditioning); its folder
  ``clusterings/<run>/`` holds each level's centroids (``centroids-level<l>.npy``), ``levels.parquet``
  (``sample_id, level, cluster``: every row's cluster at every level, which ``thresher query`` shows as
  ``cluster_levels``) and ``levels.csv`` (per level and cluster: its parent and size).
- **The order** (:func:`order_run`), a score run (kind ``hkmeans``) of the hierarchy, the order inside a
  leaf (``within``) and the seed: ``score`` is the row's place in the hierarchical balanced sampling
  (:func:`thresher.curate.hkmeans.balanced_order`), ``cluster`` and ``distance`` the leaf's. Its config
  names the hierarchy (``clustering``), which is how ``thresher select`` labels the selection with the
  leaf clusters, and records the levels and k's the card shows.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.catalog.embeddings import EmbeddingStore, embeddings_path
from thresher.catalog.names import config_hash
from thresher.catalog.runs import run_config, run_exists
from thresher.catalog.scores import cluster_levels_path, score_files, score_run, score_table, write_score_part
from thresher.catalog.staging import new_staging, remove_abandoned, seal
from thresher.catalog.workspace import Workspace
from thresher.curate.scores.methods.hkmeans import (
    HKMeansOptions,
    check_level_ks,
    default_level_ks,
    resolve_resampling,
)
from thresher.curate.scores.registry import ScoreContext
from thresher.curate.scores.surrogate import surrogate_embedder
from thresher.errors import ThresherError

if TYPE_CHECKING:
    from thresher.curate.hkmeans import Hierarchy

NITER = 20  # Lloyd's iterations of every k-means (thresher cluster's library default)


def hkmeans_scores(ws: Workspace, context: ScoreContext) -> str:
    """The order run of ``context`` (its hierarchy computed first when it does not exist yet)."""
    options: HKMeansOptions = context.options
    hierarchy = hierarchy_run(
        ws,
        context.source,
        embedder=options.embedder,
        clustering=context.clustering,
        levels=options.resolved_levels,
        level_ks=options.level_ks,
        resampling_steps=options.resampling_steps,
        seed=context.seed,
    )
    return order_run(ws, hierarchy, options.within, context.seed)


def hierarchy_run(
    ws: Workspace,
    source: str,
    *,
    embedder: str | None = None,
    clustering: str | None = None,
    levels: int = 2,
    level_ks: list[int] | None = None,
    resampling_steps: list[int] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> str:
    """The hierarchy's clustering run for these options: reused when it exists."""
    name, path = embeddings_path(ws, source, surrogate_embedder(ws, source, embedder, clustering))
    store = EmbeddingStore(path)
    n = len(store.ids())
    ks = tuple(level_ks) if level_ks else default_level_ks(n, levels)
    check_level_ks(ks, n)
    steps = resolve_resampling(resampling_steps, len(ks))
    identity: dict[str, Any] = {
        "method": "hkmeans",
        "source": source,
        "embedder": name,
        "embeddings": hashlib.sha1((path / "meta.json").read_bytes()).hexdigest()[:16],
        "level_ks": list(ks),
        "resampling_steps": list(steps),
        "spherical": store.normalized,
        "niter": NITER,
        "seed": seed,
    }
    run_id = f"hkmeans-{config_hash(identity)}"
    if run_exists(ws, run_id) and cluster_levels_path(ws, run_id).is_file():
        return run_id  # (a run killed between its commit and its folder's rename is computed again)

    # faiss loads only when a hierarchy is computed
    from thresher.curate.hkmeans import HierarchyConfig, fit_hierarchy, position_within

    ids, vectors = store.load()
    config = HierarchyConfig(ks, steps, spherical=store.normalized, niter=NITER, seed=seed, device=device)
    hierarchy = fit_hierarchy(vectors, config)
    leaf = hierarchy.assignments[:, 0]
    recorded = {
        **identity,
        "levels": len(ks),
        "k": ks[0],  # the finest level: what a reader of a clustering takes as its k
        "resampling_sizes": hierarchy.sample_sizes,
        "seconds": [round(s, 3) for s in hierarchy.seconds],
    }
    final = ws.clustering_dir(run_id)
    remove_abandoned(final.parent, ".*.partial")
    folder = new_staging(final.parent / f".{run_id}.partial")
    try:
        _write_levels(folder, cluster_levels_path(ws, run_id).name, ids, hierarchy)
        with score_run(ws, run_id, "cluster", source, recorded) as staging:
            order = np.lexsort((ids, hierarchy.distance, leaf))  # 1-based rank by distance in the leaf
            rank = np.empty(len(ids), dtype=np.int64)
            rank[order] = position_within(leaf[order]) + 1
            write_score_part(
                staging,
                score_table(
                    ids,
                    "hkmeans",
                    score=hierarchy.distance,
                    cluster=leaf,
                    distance=hierarchy.distance,
                    rank=rank,
                ),
            )
        shutil.rmtree(final, ignore_errors=True)  # a folder left by a run killed after its rename
        seal(folder).rename(final)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return run_id


def order_run(ws: Workspace, hierarchy: str, within: str, seed: int) -> str:
    """The score run of the balanced sampling order over ``hierarchy`` (reused when it exists)."""
    hierarchy_config = run_config(ws, hierarchy)
    identity = {"method": "hkmeans", "clustering": hierarchy, "within": within, "seed": seed}
    run_id = f"hkmeans-order-{config_hash(identity)}"
    if run_exists(ws, run_id):
        return run_id
    from thresher.curate.hkmeans import balanced_order

    ids, assignments, distance = hierarchy_levels(ws, hierarchy)
    if within == "random":
        key = np.random.default_rng(np.random.SeedSequence([seed, len(ids)])).random(len(ids))
    else:
        key = distance if within == "nearest" else -distance
    order = balanced_order(assignments, key, seed, ids)
    shown = ("embedder", "levels", "level_ks", "resampling_steps")
    config = {**identity, **{k: hierarchy_config.get(k) for k in shown}}
    with score_run(ws, run_id, "hkmeans", hierarchy_config["source"], config) as folder:
        write_score_part(
            folder, score_table(ids, "hkmeans", score=order, cluster=assignments[:, 0], distance=distance)
        )
    return run_id


def hierarchy_levels(ws: Workspace, hierarchy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample ids, (n, L) cluster per level finest first, distance to the leaf centroid) of a hierarchy
    run, in sample id order."""
    path = cluster_levels_path(ws, hierarchy)
    if not path.is_file():
        raise ThresherError(f"clustering {hierarchy} has no levels file: it is not a hierarchy")
    table = pq.read_table(path).to_pandas()
    wide = table.pivot(index="sample_id", columns="level", values="cluster").sort_index()
    leaf = pq.read_table(score_files(ws, hierarchy), columns=["sample_id", "distance"]).to_pandas()
    distance = leaf.set_index("sample_id")["distance"].reindex(wide.index).to_numpy(np.float64)
    return wide.index.to_numpy(np.int64), wide.to_numpy(np.int64), distance


def _write_levels(folder: Path, name: str, ids: np.ndarray, hierarchy: Hierarchy) -> None:
    n, levels = hierarchy.assignments.shape
    pq.write_table(
        pa.table(
            {
                "sample_id": pa.array(np.tile(np.asarray(ids, dtype=np.int64), levels)),
                "level": pa.array(np.repeat(np.arange(1, levels + 1, dtype=np.int32), n)),
                "cluster": pa.array(hierarchy.assignments.T.reshape(-1).astype(np.int32)),
            }
        ),
        folder / name,
    )
    with open(folder / "levels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["level", "cluster", "parent", "size"])
        for level, centroids in enumerate(hierarchy.centroids, start=1):
            np.save(folder / f"centroids-level{level}.npy", centroids)
            sizes = np.bincount(hierarchy.assignments[:, level - 1], minlength=len(centroids))
            parents = hierarchy.parents[level - 1] if level < levels else np.full(len(centroids), -1)
            writer.writerows(
                zip([level] * len(centroids), range(len(centroids)), parents, sizes, strict=True)
            )
