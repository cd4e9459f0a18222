"""The rows of a resolved dataset as a :class:`TrainingSet`: images (or latents) read from the source's
image store, labels or clusters, weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from thresher.catalog.image_store_build import Encoder, open_store
from thresher.catalog.samples import label_names, labels_of
from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import ResolvedDataset
from thresher.errors import ThresherError
from thresher.images import DEFAULT_RESIZE, RGB, WHITE
from thresher.train.conditioning import cluster_condition, cluster_labels, resolve_clustering
from thresher.train.reweight_store import REWEIGHT_KIND, reweight_weights
from thresher.train.training_set import StoredRows, TrainingSet


def load_training_set(
    ws: Workspace,
    resolved: ResolvedDataset,
    *,
    image_size: int | None = None,
    unconditional: bool = False,
    weights: str | None = None,
    clusters: str | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
    encoder: Encoder | None = None,
    num_workers: int = 0,
    device: str | None = None,
) -> TrainingSet:
    """The resolved rows as a :class:`TrainingSet` read from the source's image store: pixels, or with an
    ``encoder`` (:class:`thresher.train.latents.VaeEncoder`) its latents. The store's missing parts are built
    first (``num_workers`` decode; split across processes under ``accelerate launch``).

    Labels are the catalog's classes, or with ``clusters`` (a clustering run id) each row's k-means cluster.
    Transparent pixels take the ``background`` colour and ``image_size`` makes rows square by ``resize``
    (``thresher.catalog.samples.decode_row``).
    """
    labels, num_classes, condition = None, None, "label"
    if clusters is not None:
        if unconditional:
            raise ThresherError("a model conditioned on clusters is not unconditional; drop one of the two")
        clusters = resolve_clustering(ws, clusters, resolved.source, own=resolved.clustering)
        labels, num_classes = cluster_labels(ws, clusters, resolved.source, resolved.sample_ids)
        condition = cluster_condition(clusters)
    elif not unconditional:
        labels, num_classes = _labels(ws, resolved)
    # Read after the labels, so a bad --clusters fails before the slowest step.
    view = open_store(ws, resolved.source, resolved.sample_ids, size=image_size, background=background,
                      resize=resize, encoder=encoder, num_workers=num_workers, device=device)  # fmt: skip
    return TrainingSet(
        images=StoredRows(view),
        space="pixel" if encoder is None else "latent",
        vae=None if encoder is None else encoder.name,
        labels=labels,
        sample_ids=torch.from_numpy(resolved.sample_ids),
        weights=None if weights is None else torch.from_numpy(sample_weights(ws, resolved, weights)),
        num_classes=num_classes,
        name=resolved.spec,
        condition=condition,
    )


def _labels(ws: Workspace, resolved: ResolvedDataset) -> tuple[torch.Tensor | None, int | None]:
    labels = labels_of(ws, resolved.source, resolved.sample_ids)
    if len(labels) == 0 or (labels < 0).any():
        return None, None  # unlabeled rows: the model is trained unconditionally
    names = label_names(ws, resolved.source)
    num_classes = len(names) if names else int(labels.max()) + 1
    return torch.from_numpy(labels), num_classes


def sample_weights(ws: Workspace, resolved: ResolvedDataset, spec: str) -> np.ndarray:
    """Per-row weights from a Parquet file with ``weight`` and one of ``sample_id`` (per sample), ``label``
    (per class) or ``cluster`` (per cluster), a ``thresher reweight`` run id (its DRO group weights:
    :func:`thresher.train.reweight_store.reweight_weights`) or a score run id (its ``score`` column)."""
    path = Path(spec)
    if path.is_file():
        table = pq.read_table(path).to_pandas()
        value = "weight"
    else:
        if _run_kind(ws, spec) == REWEIGHT_KIND:
            return reweight_weights(ws, spec, resolved)
        table = pq.read_table(score_files(ws, spec)).to_pandas()
        value = "score"
    if value not in table:
        raise ThresherError(f"weights {spec!r} have no {value!r} column")
    if "sample_id" in table and table["sample_id"].notna().all():
        keys, by = resolved.sample_ids, "sample_id"
    elif "cluster" in table and resolved.clusters is not None:
        keys, by = resolved.clusters, "cluster"
    elif "label" in table:
        keys, by = labels_of(ws, resolved.source, resolved.sample_ids), "label"
    else:
        raise ThresherError(
            f"weights {spec!r} need a sample_id, cluster (with a clustered subset) or label column"
        )
    mapping = dict(zip(table[by].astype(np.int64), table[value].astype(float), strict=True))
    missing = sum(int(k) not in mapping for k in keys)
    if missing:
        raise ThresherError(f"weights {spec!r} have no weight for {missing} of the {len(keys)} training rows")
    return np.array([mapping[int(k)] for k in keys], dtype=np.float32)


def _run_kind(ws: Workspace, run_id: str) -> str | None:
    """The kind of run ``run_id`` in the catalog, or None when there is no such run."""
    from thresher.catalog.runs import run_row

    try:
        return run_row(ws, run_id)["kind"]
    except ThresherError:
        return None
