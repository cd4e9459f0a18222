"""A ``thresher reweight`` run's files and how a training reads them (:mod:`thresher.train.reweight` writes
them; ``thresher train --weights RUN`` reads them through :func:`reweight_weights`).

``runs/<run>/group_weights.parquet``: ``label`` or ``cluster``, ``weight`` (mean α), ``final`` (last α),
``n`` (rows of the subset), ``present``; ``runs/<run>/sample_weights.parquet``: ``sample_id``, ``weight``
(G·mean α of the row's group, G the number of groups present in the subset).
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.runs import run_row
from thresher.catalog.samples import labels_of
from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import ResolvedDataset
from thresher.errors import ThresherError
from thresher.train.conditioning import cluster_labels

REWEIGHT_KIND = "reweight"
GROUP_WEIGHTS_FILE = "group_weights.parquet"
SAMPLE_WEIGHTS_FILE = "sample_weights.parquet"


def reweight_weights(ws: Workspace, run_id: str, resolved: ResolvedDataset) -> np.ndarray:
    """Per-row weights of ``resolved`` from reweight run ``run_id``: the run's per-sample weights when they
    cover every row (training on the reweighted subset itself), else its group weights (G·α of each row's
    class or cluster, e.g. for another subset of the same source)."""
    row = run_row(ws, run_id)
    cfg, folder = row["config"], ws.from_stored(row["output"])
    if cfg.get("source") != resolved.source:
        raise ThresherError(
            f"reweight run {run_id} weighs source {cfg.get('source')!r}, but {resolved.spec} is of {resolved.source!r}"
        )
    per_sample = pq.read_table(folder / SAMPLE_WEIGHTS_FILE).to_pandas().set_index("sample_id")["weight"]
    ids = np.asarray(resolved.sample_ids, dtype=np.int64)
    if np.isin(ids, per_sample.index.to_numpy()).all():
        return per_sample.reindex(ids).to_numpy(np.float32)
    table = pq.read_table(folder / GROUP_WEIGHTS_FILE).to_pandas()
    if cfg["groups"] == "class":
        keys = labels_of(ws, resolved.source, ids)
        column = "label"
    else:
        keys = cluster_labels(ws, cfg["clustering"], resolved.source, ids)[0].numpy()
        column = "cluster"
    alpha = table.set_index(column)["weight"]
    support = int(table["present"].sum())
    known = np.isin(keys, alpha.index.to_numpy())
    if not known.all():
        raise ThresherError(
            f"reweight run {run_id} has no weight for {int((~known).sum())} of the {len(ids)} rows of {resolved.spec}"
        )
    return (alpha.reindex(keys).to_numpy(np.float64) * support).astype(np.float32)
