"""`thresher layout`: a 2-D layout of one source's embeddings, the positions the embedding map draws.

Two methods (docs/architecture.md, 'The embedding map'):

- **umap** keeps neighbourhoods, so groups of similar images show as islands. It is :mod:`thresher.curate.reduce`
  asked for two dimensions with visualisation settings (``n_neighbors`` 15, ``min_dist`` 0.1, umap-learn's
  defaults, rather than the packed clusters reduce uses for k-means): fitted on a seeded sample of at most
  ``fit_sample`` rows, every other row placed with ``transform`` part by part.
- **pca** is the two main axes of the embeddings: exact, seconds for 10^6 rows, streamed part by part in
  float64 (a mean pass, then a centered scatter pass, then ``eigh`` of the d×d covariance). scikit-learn's
  PCA needs the whole matrix in memory and IncrementalPCA's batched SVD is slower for no gain here. Each
  axis's sign is fixed (its largest loading positive), so the same embeddings always give the same picture.

The result is one Parquet file of (sample_id, x, y) under ``layouts/``, recorded as a ``layout`` run keyed
by what determines it: a rerun with the same settings over the same embeddings returns that layout.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thresher.catalog.embeddings import EmbeddingStore, embeddings_path, ids_fingerprint
from thresher.catalog.layouts import LAYOUT_FILE, layout_folder, layout_writer, write_layout_table
from thresher.catalog.names import config_hash
from thresher.catalog.runs import run_exists
from thresher.catalog.workspace import Workspace
from thresher.curate.config import LayoutConfig
from thresher.errors import ThresherError
from thresher.progress import track

MIN_ROWS = 4  # UMAP to two dimensions needs n - 1 > 2


@dataclass
class LayoutResult:
    layout: str
    source: str
    embedder: str
    method: str
    n: int
    path: Path
    reused: bool
    seconds: float

    def lines(self) -> list[str]:
        how = "reused (the same layout exists)" if self.reused else f"{self.seconds:.1f}s"
        return [
            f"{self.layout}: {self.method} layout of {self.n} {self.embedder} embeddings of {self.source}, "
            f"{how} → {self.path / LAYOUT_FILE}"
        ]


def run_layout(ws: Workspace, config: LayoutConfig) -> LayoutResult:
    source = ws.resolve_source(config.source)
    embedder, path = embeddings_path(ws, source, config.embedder)
    store = EmbeddingStore(path)
    ids = store.ids()  # refuses an incomplete or damaged store with one line
    if len(ids) < MIN_ROWS:
        raise ThresherError(f"a layout needs at least {MIN_ROWS} embedded rows; {source!r} has {len(ids)}")
    identity = layout_identity(config, source, embedder, ids)
    name = f"{config.method}-{config_hash(identity)[:12]}"
    run_id = f"layout-{source[:60]}-{name}"
    folder = layout_folder(ws, source, embedder, name)
    recorded = {**identity, "n": len(ids)}
    if run_exists(ws, run_id) and (folder / LAYOUT_FILE).is_file():
        return LayoutResult(run_id, source, embedder, config.method, len(ids), folder, True, 0.0)
    started = time.perf_counter()
    with layout_writer(ws, run_id, folder, source, recorded, identity) as staging:
        if config.method == "pca":
            out_ids, xy = pca_layout(store)
        else:
            out_ids, xy = _umap_layout(store, staging / "umap", config)
        write_layout_table(staging, out_ids, xy, {"layout": run_id, **recorded})
    return LayoutResult(
        run_id, source, embedder, config.method, len(ids), folder, False, time.perf_counter() - started
    )


def layout_identity(config: LayoutConfig, source: str, embedder: str, ids: np.ndarray) -> dict[str, Any]:
    """What determines a layout: the embeddings (source, embedder, their rows) and the method's own
    settings (a fit sample larger than the rows is all of them, so it is recorded as the row count)."""
    identity: dict[str, Any] = {
        "source": source,
        "embedder": embedder,
        "ids_sha1": ids_fingerprint(ids),
        "method": config.method,
    }
    if config.method == "umap":
        identity.update(
            seed=config.seed,
            n_neighbors=config.n_neighbors,
            min_dist=config.min_dist,
            fit_sample=min(config.fit_sample, len(ids)),
        )
    return identity


def pca_layout(store: EmbeddingStore) -> tuple[np.ndarray, np.ndarray]:
    """(sample ids, float32 n×2): the embeddings projected on their two main axes."""
    n, dim = store.n, store.dim
    total = np.zeros(dim)
    for _, vectors in _parts(store, "pca: mean"):
        total += vectors.sum(axis=0, dtype=np.float64)
    mean = total / n
    scatter = np.zeros((dim, dim))
    for _, vectors in _parts(store, "pca: covariance"):
        centered = vectors.astype(np.float64) - mean
        scatter += centered.T @ centered
    _, vectors_of = np.linalg.eigh(scatter / max(n - 1, 1))
    axes = vectors_of[:, ::-1][:, :2]  # eigh sorts ascending: the two largest
    if axes.shape[1] < 2:  # one-dimensional embeddings: the second axis is flat
        axes = np.hstack([axes, np.zeros((dim, 2 - axes.shape[1]))])
    largest = np.abs(axes).argmax(axis=0)
    axes = axes * np.where(axes[largest, [0, 1]] < 0, -1.0, 1.0)
    ids_out, xy_out = [], []
    for ids, vectors in _parts(store, "pca: project"):
        ids_out.append(ids)
        xy_out.append(((vectors.astype(np.float64) - mean) @ axes).astype(np.float32))
    return np.concatenate(ids_out), np.concatenate(xy_out)


def _parts(store: EmbeddingStore, stage: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each part's (ids, float32 vectors), reported as progress."""
    for index in track(range(store.num_parts), stage, unit="part"):
        ids, vectors = store.part(index)
        yield ids, np.asarray(vectors, dtype=np.float32)


def _umap_layout(store: EmbeddingStore, scratch: Path, config: LayoutConfig) -> tuple[np.ndarray, np.ndarray]:
    from thresher.curate.reduce import reduce_embeddings  # umap (numba) loads only here

    reduce_embeddings(
        store,
        scratch,
        "umap:2",
        seed=config.seed,
        n_neighbors=config.n_neighbors,
        min_dist=config.min_dist,
        fit_sample=config.fit_sample,
    )
    ids, xy = EmbeddingStore(scratch).load()
    shutil.rmtree(scratch)  # only the Parquet stays
    return ids, xy
