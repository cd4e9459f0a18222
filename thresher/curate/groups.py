"""The groups a selection scores within and balances over: classes, k-means clusters, or none.

``--groups`` (``SelectConfig.groups``) names them: ``class`` (the catalog's labels), ``cluster`` (a
``thresher cluster`` run), ``none`` (one group) or ``auto``. For the per-group surrogate scores (gaussian,
moderate) ``auto`` is class when every ok row of the source is labelled, else cluster when there is a
clustering, else none; for ``--balance`` of the other methods it stays cluster, as before groups existed.
A request the data cannot meet (``class`` without labels, ``cluster`` without a clustering) is a one-line
:class:`~thresher.errors.ThresherError`, raised before anything is written.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.samples import labels_of, ok_sample_ids
from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

KINDS = ("class", "cluster", "none")


def has_labels(ws: Workspace, source: str) -> bool:
    """Whether every ok row of ``source`` has a class label."""
    ids = ok_sample_ids(ws, source)
    return len(ids) > 0 and bool((labels_of(ws, source, ids) >= 0).all())


def resolve_groups(ws: Workspace, source: str, requested: str, clustering: str | None) -> str:
    """``class``, ``cluster`` or ``none``: what ``requested`` (auto|class|cluster|none) means for ``source``."""
    if requested == "class":
        if not has_labels(ws, source):
            raise ThresherError(
                f"--groups class: source {source!r} has no class labels for every row; "
                "use --groups cluster (after `thresher cluster`) or none"
            )
        return "class"
    if requested == "cluster":
        if clustering is None:
            raise ThresherError(
                f"--groups cluster: no clustering for source {source!r} yet: run `thresher cluster --k K` first"
            )
        return "cluster"
    if requested == "none":
        return "none"
    if requested != "auto":
        raise ThresherError(f"unknown --groups {requested!r}; choose one of: auto, class, cluster, none")
    if has_labels(ws, source):
        return "class"
    return "cluster" if clustering is not None else "none"


def group_ids(
    ws: Workspace, source: str, sample_ids: np.ndarray, kind: str, clustering: str | None
) -> np.ndarray:
    """int64 group id of every sample: its label, its cluster in ``clustering``, or 0 for ``none``."""
    sample_ids = np.asarray(sample_ids, dtype=np.int64)
    if kind == "none":
        return np.zeros(len(sample_ids), dtype=np.int64)
    if kind == "class":
        labels = labels_of(ws, source, sample_ids)
        if (labels < 0).any():
            raise ThresherError(f"{int((labels < 0).sum())} rows of {source!r} have no class label")
        return labels
    if kind != "cluster" or clustering is None:
        raise ThresherError(f"cannot group by {kind!r} (clustering: {clustering})")
    table = pq.read_table(score_files(ws, clustering), columns=["sample_id", "cluster"]).to_pandas()
    clusters = table.set_index("sample_id")["cluster"].reindex(sample_ids)
    if clusters.isna().any():
        raise ThresherError(
            f"clustering {clustering} assigns no cluster to {int(clusters.isna().sum())} rows of {source!r}"
        )
    return clusters.to_numpy(np.int64)
