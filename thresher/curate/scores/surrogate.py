"""``gaussian`` and ``moderate``: pruning scores in a surrogate embedding space, per group (Li et al. 2024,
"Pruning then Reweighting", arXiv:2409.19128; docs/architecture.md, 'Surrogate-feature scores').

Any embedding thresher has (``thresher embed``) serves as the surrogate's features: ``--embedder`` names
it, by default the clustering's embedder, else the source's latest. Groups (``--groups``, resolved by
:mod:`thresher.curate.groups`): class when the source is labelled, else the k-means clusters, else none.

- ``gaussian``: log-likelihood under the group's full-covariance Gaussian (Ledoit-Wolf shrinkage by
  default, ``--shrinkage``; :func:`~thresher.curate.scores.surrogate_features.gaussian_log_likelihood`).
  Keep ``high`` (the densest); ``--inverse`` keeps the sparsest.
- ``moderate``: Euclidean distance to the group's coordinate-wise median embedding
  (:func:`~thresher.curate.scores.surrogate_features.moderate_distance`). Keep ``low`` (the closest).

The scores compare only within a group, so the selection keeps the same ratio of every group
(proportional quotas) unless ``--balance`` says otherwise (``equal``: the same count per group). The score
run is keyed by (method, source, embedder, its store's meta, groups, clustering when grouping by it,
shrinkage or centre) and reused whenever the same options come again; its config records all of them,
and the subset's card renders it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from thresher.catalog.embeddings import EmbeddingStore, embeddings_path
from thresher.catalog.names import config_hash
from thresher.catalog.runs import run_config, run_exists
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.catalog.workspace import Workspace
from thresher.curate.groups import group_ids, resolve_groups
from thresher.curate.scores.methods.surrogate import GaussianOptions, parse_shrinkage
from thresher.curate.scores.registry import ScoreContext
from thresher.errors import ThresherError

MODERATE_CENTER = "median"


def surrogate_embedder(ws: Workspace, source: str, embedder: str | None, clustering: str | None) -> str:
    """The embedder whose vectors are scored: the named one, else the clustering's, else the latest."""
    if embedder is None and clustering is not None:
        embedder = run_config(ws, clustering).get("embedder")
    name, _ = embeddings_path(ws, source, embedder)  # a one-line error when there are none
    return name


def surrogate_scores_run(
    ws: Workspace,
    method: str,
    source: str,
    *,
    groups: str = "auto",
    embedder: str | None = None,
    clustering: str | None = None,
    shrinkage: str | float = GaussianOptions.shrinkage,
) -> str:
    """The score run of ``method`` (gaussian | moderate) for these options: reused when it exists."""
    kind = resolve_groups(ws, source, groups, clustering)
    name, path = embeddings_path(ws, source, surrogate_embedder(ws, source, embedder, clustering))
    store_meta = (path / "meta.json").read_bytes() if (path / "meta.json").is_file() else b""
    config: dict[str, Any] = {
        "method": method,
        "source": source,
        "embedder": name,
        "embeddings": hashlib.sha1(store_meta).hexdigest()[:16],
        "groups": kind,
        "clustering": clustering if kind == "cluster" else None,
    }
    if method == "gaussian":
        config["shrinkage"] = parse_shrinkage(shrinkage)
    else:
        config["center"] = MODERATE_CENTER
    run_id = f"{method}-{config_hash(config)}"
    if run_exists(ws, run_id):
        return run_id

    # scipy and scikit-learn load only when a surrogate score is computed, not on every registry lookup
    from thresher.curate.scores.surrogate_features import gaussian_log_likelihood, moderate_distance

    ids, vectors = EmbeddingStore(path).load()
    if len(ids) == 0:
        raise ThresherError(f"embeddings {name!r} of {source!r} are empty: run `thresher embed` again")
    grouping = group_ids(ws, source, ids, kind, clustering)
    if method == "gaussian":
        scores = gaussian_log_likelihood(vectors, grouping, shrinkage=config["shrinkage"])
    else:
        scores = moderate_distance(vectors, grouping, center=MODERATE_CENTER)
    with score_run(ws, run_id, method, source, config) as folder:
        write_score_part(
            folder,
            score_table(ids, method, score=scores, cluster=grouping if kind == "cluster" else None),
        )
    return run_id


def surrogate_scores(ws: Workspace, context: ScoreContext) -> str:
    """The score run of ``context.method`` (gaussian | moderate) with its options."""
    return surrogate_scores_run(
        ws,
        context.method,
        context.source,
        groups=context.groups,
        clustering=context.clustering,
        **dataclasses.asdict(context.options),
    )
