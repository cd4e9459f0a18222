"""What determines a subset, in the flags that chose it: recorded with the version (the catalog's
``subsets.settings``) so `thresher status` shows what tells two versions apart and nothing that played no
part. The catalog cannot ask the method registry what applies, so select decides it here, once."""

from __future__ import annotations

import dataclasses
from typing import Any

from thresher.config_field import flag_of
from thresher.curate.config import SelectConfig
from thresher.curate.scores.registry import ScoreMethod


def determining_settings(
    config: SelectConfig,
    method: ScoreMethod,
    params: dict[str, Any],
    group_kind: str | None,
) -> dict[str, Any]:
    """The settings that decided which rows were kept, keyed by their ``thresher select`` flag, in the
    order a person would type them: the count (for methods that keep a count), the end kept (where the
    order is not a random draw), the method's own options as its score run resolved them, ``--inverse``,
    the seed (seeded methods), the balance and the groups it was computed over, and the clustering where
    the method or the balance used one. ``params`` is the selection's full parameter record."""
    out: dict[str, Any] = {}
    if method.takes_count:
        if config.keep_count is not None:
            out["--keep-count"] = config.keep_count
        elif config.ratio is not None:
            out["--ratio"] = config.ratio
        if method.keep_matters:
            out["--keep"] = params["keep"]
    for option in dataclasses.fields(method.options):
        if params.get(option.name) is not None and option.name not in method.recorded_only:
            out[flag_of(option)] = params[option.name]
    if config.inverse:
        out["--inverse"] = True
    if method.seeded:
        out["--seed"] = config.seed
    if params.get("balance") is not None:
        out["--balance"] = params["balance"]
    if group_kind is not None:
        out["--groups"] = group_kind
    uses_clusters = "clusters" in method.needs or group_kind == "cluster"
    if uses_clusters and params.get("clustering") is not None:
        out["--clustering"] = params["clustering"]
    return out
