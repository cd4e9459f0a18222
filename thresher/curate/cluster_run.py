"""`thresher cluster`: k-means over a source's embeddings, written as a score run.

One k: train on a sample, assign every row in a streaming pass, and write ``scores/<run>/`` with
``method='cluster'``, ``cluster``, ``distance`` (to the own centroid; also the ``score``) and ``rank``
(position by distance within the cluster, 1 = nearest), plus ``clusterings/<run>/`` with the centroids
and a per-cluster size/purity table — the table that shows whether the clusters separate the groups
one wants to balance (docs/architecture.md, "Granularity matters for balance").

Several k: a sweep that reports, per k, the inertia per training point and (with labels) the mean
purity, as a table and an elbow plot, so the user can choose. Each k is fitted exactly as a single-k run
with the same seed is (``kmeans_sweep.sweep_k``), so both print the same figures for the same k; the sweep
writes no score run.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from thresher.cards.dataset_card import class_label
from thresher.catalog.embeddings import EmbeddingStore, embeddings_normalized, embeddings_path
from thresher.catalog.names import new_run_id
from thresher.catalog.samples import label_names, labels_of
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.catalog.staging import new_staging, remove_abandoned, seal
from thresher.catalog.workspace import Workspace
from thresher.curate.cluster import (
    ClusterConfig,
    assign_chunks,
    cluster_table,
    fit_kmeans,
    sample_for_training,
)
from thresher.curate.config import ClusterRunConfig
from thresher.curate.kmeans_sweep import mean_purity, plot_elbow, sweep_k
from thresher.errors import ThresherError


@dataclass
class ClusterRunResult:
    run_id: str | None
    source: str
    embedder: str
    ks: list[int]
    table: list[dict] = field(default_factory=list)
    plot: Path | None = None
    inertia: float | None = None  # training inertia (single k)
    seconds: float | None = None
    n_train: int | None = None  # training points (single k)
    mean_purity: float | None = None  # size-weighted, over all rows (single k, with labels)
    label_share_max: float | None = None  # the largest class's share of all rows (with labels)
    label_names: list[str] | None = None  # the source's class names (index = label), when it has them

    def lines(self) -> list[str]:
        if len(self.ks) > 1:
            purity = bool(self.table) and "mean_purity" in self.table[0]
            out = [
                f"{self.source} / {self.embedder}: k-means by k (elbow plot: {self.plot}); inertia per "
                "training point, the same as a single-k run's at that k and seed",
                "k       inertia/point  n_train" + ("  mean purity" if purity else ""),
            ]
            out += [
                f"{r['k']:<7} {r['inertia_per_point']:<14.6g} {r['n_train']:<8}"
                + (f" {r['mean_purity']:.3f}" if purity else "")
                for r in self.table
            ]
            return [line.rstrip() for line in out]
        sizes = [r["size"] for r in self.table]
        out = [
            f"{self.run_id}: k={self.ks[0]} on {self.embedder}, inertia {self.inertia:.6g} over "
            f"{self.n_train} training points ({self.inertia / self.n_train:.6g} per point), "
            f"{self.seconds:.1f}s; cluster sizes {min(sizes)}..{max(sizes)}"
        ]
        if self.table and "purity" in self.table[0]:
            out.append(
                f"mean purity {self.mean_purity:.3f} (size-weighted); the largest class is "
                f"{self.label_share_max:.3f} of the rows"
            )
            shown = [r for r in self.table[:50] if r["size"]]
            majority = [class_label(r["majority_label"], self.label_names) for r in shown]
            width = max([len("majority"), *map(len, majority)])
            out.append(f"cluster  size  {'majority':<{width}}  purity")
            out += [
                f"{r['cluster']:<8} {r['size']:<5} {m:<{width}}  {r['purity']:.2f}"
                for r, m in zip(shown, majority, strict=True)
            ]
            if len(self.table) > 50:
                out.append(
                    f"… {len(self.table) - 50} more clusters in clusterings/{self.run_id}/clusters.csv"
                )
            out += self.warnings()
        return out

    def warnings(self) -> list[str]:
        """``warning:`` lines: no cluster purer than the label mix means the clusters ignore the classes."""
        purities = [r["purity"] for r in self.table if r.get("purity") is not None]
        if not purities or self.label_share_max is None or max(purities) > self.label_share_max + 1e-12:
            return []
        return [
            f"warning: no cluster is purer than the data's label mix (best purity {max(purities):.3f}, "
            f"largest class share {self.label_share_max:.3f}): the clusters do not separate the classes, "
            "so equal-per-cluster selection cannot balance them; cluster features that separate them "
            "(docs/architecture.md, 'Granularity matters for balance')"
        ]


def run_cluster(ws: Workspace, config: ClusterRunConfig) -> ClusterRunResult:
    source = ws.resolve_source(config.source)
    embedder, path = embeddings_path(ws, source, config.embedder)
    store = EmbeddingStore(path)
    n = len(store.ids())
    for k in config.ks:
        if k > n:
            raise ThresherError(f"--k {k} is larger than the number of embedded rows ({n})")
    if config.spherical is None:
        config = replace(config, spherical=_geometry(ws, source, embedder))
    if len(config.ks) > 1:
        return _sweep(ws, config, source, embedder, store, n)

    k = config.ks[0]
    cluster_config = _cluster_config(config, k)
    model = fit_kmeans(
        sample_for_training(store.iter_chunks(), cluster_config.resolved_max_train, config.seed),
        cluster_config,
    )
    parts = list(assign_chunks(model, store.iter_chunks()))
    ids, cluster, distance = (np.concatenate(c) for c in zip(*parts, strict=True))
    rank = _rank_within_cluster(cluster, distance, ids)
    labels = _labels(ws, source, ids)
    table = cluster_table(ids, cluster, distance, labels, k=k)
    names = label_names(ws, source) if labels is not None else None
    if names:  # the name beside the id, for people reading clusters.csv
        for row in table:
            label = row["majority_label"]
            row["majority_name"] = names[label] if label is not None and 0 <= label < len(names) else None

    run_id = new_run_id("cluster")
    run_config = {
        "source": source,
        "embedder": embedder,
        "k": k,
        **asdict(cluster_config),
        "inertia_train": model.inertia,
        "n_train": model.n_train,
        "device_used": model.device,
    }
    # The clustering's folder is built aside and renamed in after its scores commit, so a killed run leaves
    # no orphan folder (a later run removes the staging leftover once its process is gone).
    final = ws.clustering_dir(run_id)
    remove_abandoned(final.parent, ".*.partial")
    folder = new_staging(final.parent / f".{run_id}.partial")
    np.save(folder / "centroids.npy", model.centroids)
    _write_csv(folder / "clusters.csv", table)
    with score_run(ws, run_id, "cluster", source, run_config) as staging:
        write_score_part(
            staging,
            score_table(ids, "cluster", score=distance, cluster=cluster, distance=distance, rank=rank),
        )
    seal(folder).rename(final)
    return ClusterRunResult(
        run_id,
        source,
        embedder,
        [k],
        table,
        inertia=model.inertia,
        seconds=model.seconds,
        n_train=model.n_train,
        mean_purity=None if labels is None else mean_purity(cluster, labels),
        label_share_max=None if labels is None else _largest_share(labels),
        label_names=names,
    )


def _geometry(ws: Workspace, source: str, embedder: str) -> bool:
    """Spherical k-means for L2-normalized embeddings (CLIP, DINO, pixels); Euclidean for the rest. A UMAP
    output is a Euclidean layout: projecting it onto the unit sphere would merge groups that differ in
    distance from the origin (measured on mnist-lt: rare digits lost their own clusters)."""
    return embeddings_normalized(ws, source, embedder)


def _cluster_config(config: ClusterRunConfig, k: int) -> ClusterConfig:
    return ClusterConfig(
        k=k,
        seed=config.seed,
        spherical=bool(config.spherical),
        normalize=bool(config.spherical),
        niter=config.niter,
        init=config.init,
        restarts=config.restarts,
        max_train=config.max_train,
        device=config.device or "auto",
    )


def _sweep(
    ws: Workspace, config: ClusterRunConfig, source: str, embedder: str, store: EmbeddingStore, n: int
) -> ClusterRunResult:
    folder = ws.clustering_dir(new_run_id("sweep"))
    folder.mkdir(parents=True, exist_ok=True)
    base = _cluster_config(config, max(config.ks))
    # every k on the sample a single-k run draws (same max_train rule, seed and rows), so both agree
    labels = _labels(ws, source, store.ids())
    table = sweep_k(store.iter_chunks, config.ks, base, labels=labels, n_rows=n)
    plot = plot_elbow(table, folder / "elbow.png", title=f"k-means inertia by k: {source} / {embedder}")
    _write_csv(folder / "inertia.csv", table)
    (folder / "sweep.json").write_text(json.dumps({"source": source, "embedder": embedder, "table": table}))
    return ClusterRunResult(None, source, embedder, list(config.ks), table, plot=plot)


def _rank_within_cluster(cluster: np.ndarray, distance: np.ndarray, ids: np.ndarray) -> np.ndarray:
    order = np.lexsort((ids, distance, cluster))
    rank = np.empty(len(order), dtype=np.int64)
    sorted_clusters = cluster[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_clusters)) + 1]
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = position + 1
    return rank


def _labels(ws: Workspace, source: str, ids: np.ndarray) -> np.ndarray | None:
    labels = labels_of(ws, source, ids)
    return None if (labels < 0).all() else labels


def _largest_share(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    return float(counts.max() / len(labels))


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
