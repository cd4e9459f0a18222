"""What a DiT is conditioned on: the catalog's class labels, nothing, or the clusters of a k-means run.

Conditioning on clusters is unconditional generation in two stages, as in RCG ("Return of Unconditional
Generation", Li, Katabi & He 2024) and self-guided diffusion (Hu et al. 2023): the DiT learns p(x | c) for
the k-means cluster c of each training image (no labels needed), and sampling draws c at the clusters'
frequencies in the training set, so p(x) = Σ_c p(c) p(x | c) is still the training distribution: what the
model generates keeps the mix it was trained on. Knowing which mode it is drawing lets a tiny model commit
to one digit instead of blending several, and enables classifier-free guidance within a cluster.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import torch

from thresher.catalog.runs import latest_run, run_row
from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

CLUSTER_CONDITION = "clusters"
LATEST = "latest"


def cluster_condition(run_id: str) -> str:
    """The condition name recorded with a model: ``clusters:<clustering run>``."""
    return f"{CLUSTER_CONDITION}:{run_id}"


def resolve_clustering(ws: Workspace, clustering: str, source: str, own: str | None = None) -> str:
    """The clustering run id that ``--clusters`` names. ``latest`` is the clustering the subset was selected
    with (``own``) when it has one (a later clustering of the source, e.g. on other features, would
    silently condition on something else), else the source's most recent one."""
    if clustering != LATEST:
        return clustering
    if own is not None:
        return own
    found = latest_run(ws, source, "cluster")
    if found is None:
        raise ThresherError(f"--clusters latest: source {source!r} has no clustering; run `thresher cluster`")
    return found


def cluster_labels(
    ws: Workspace, clustering: str, source: str, sample_ids: np.ndarray
) -> tuple[torch.Tensor, int]:
    """The cluster of every training row in clustering run ``clustering`` and the run's number of clusters.

    The clustering must cover the rows: it has to be a k-means run (``thresher cluster``) over the same
    source, which assigns every row of it.
    """
    try:
        row = run_row(ws, clustering)
    except ThresherError:
        row = None
    if row is None or row["status"] != "done":
        raise ThresherError(f"--clusters {clustering!r}: no finished run of that id in this workspace")
    kind, clustered_source, config = row["kind"], row["source"], row["config"]
    if kind != "cluster" or "k" not in config:
        raise ThresherError(
            f"--clusters {clustering!r} is a {kind} run, not a clustering (`thresher cluster`)"
        )
    if clustered_source != source:
        raise ThresherError(
            f"--clusters {clustering!r} clusters source {clustered_source!r}, but the dataset comes from {source!r}"
        )
    table = pq.read_table(score_files(ws, clustering), columns=["sample_id", "cluster"]).to_pandas()
    lookup = dict(zip(table["sample_id"].astype(np.int64), table["cluster"].astype(np.int64), strict=True))
    missing = [int(i) for i in sample_ids if int(i) not in lookup]
    if missing:
        raise ThresherError(
            f"--clusters {clustering!r} assigns no cluster to {len(missing)} training rows (e.g. sample "
            f"{missing[0]}); re-run `thresher cluster` on the source"
        )
    labels = torch.tensor([lookup[int(i)] for i in sample_ids], dtype=torch.int64)
    return labels, int(config["k"])


def label_counts(labels: torch.Tensor | None, num_classes: int | None) -> list[int] | None:
    """How often each class (or cluster) occurs in the training set: the prior that sampling draws from."""
    if labels is None or num_classes is None:
        return None
    return torch.bincount(labels, minlength=num_classes).tolist()


def prior_labels(counts: list[int], n: int, seed: int) -> torch.Tensor:
    """``n`` labels in proportion to ``counts``: exact quotas by largest remainder, in a seeded random order.

    Quotas rather than independent draws, so that the mix of a generated set does not vary with the seed
    by more than rounding (a cluster of 3.5% gets 35 of 1000 images, not 35 ± 6).
    """
    weights = np.asarray(counts, dtype=np.float64)
    if weights.ndim != 1 or len(weights) == 0 or weights.sum() <= 0 or (weights < 0).any():
        raise ThresherError(f"cannot sample labels from the counts {counts}")
    exact = weights / weights.sum() * n
    quotas = np.floor(exact).astype(np.int64)
    remainder = n - int(quotas.sum())
    quotas[np.argsort(-(exact - quotas), kind="stable")[:remainder]] += 1
    labels = np.repeat(np.arange(len(weights)), quotas)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return torch.from_numpy(labels)[order]
