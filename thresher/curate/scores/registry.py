"""The score-method registry: what every selection method needs, how it orders samples, what it keeps.

A method family is one module in :mod:`thresher.curate.scores` that defines ``METHODS``, a list of
:class:`ScoreMethod`. The registry finds those modules itself, so adding a method is adding one module;
:mod:`thresher.curate.select` reads only this registry and never switches on a method's name.

Every method reduces to a score run in the long Parquet format (docs/architecture.md, "Scores") whose
``order_column`` ranks the samples ascending; ``keep`` then takes the ``low`` end, the ``high`` end or the
``middle`` of every group (``nearest``/``furthest`` are the clustering method's names for low/high).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

# What a method can need before it can score: a clustering of the source (``clusters``), a pretraining
# run (``pretrain``), an embedding (``embeddings``) or class labels (``labels``).
NEEDS = ("clusters", "pretrain", "embeddings", "labels")
KEEP_RULES = ("low", "middle", "high")
KEEP_ALIASES = {"nearest": "low", "furthest": "high", "low": "low", "middle": "middle", "high": "high"}


@dataclass(frozen=True)
class ScoreContext:
    """What a method's scorer gets: the source, the clustering (when there is one) and the method's options."""

    source: str
    seed: int
    clustering: str | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreMethod:
    """One selection method.

    ``scores(ws, context)`` returns the id of a finished score run for the context (computing it or reusing
    the run that has the same config). ``order_column`` is the score Parquet column that ranks samples,
    smallest first. ``default_keep`` is the end kept without ``--keep``. A method with ``threshold`` keeps
    every sample whose order key is at or below ``threshold(options)`` instead of a count (SemDeDup).
    ``options`` names the method's own parameters (with their defaults), which become part of its config.
    ``seeded`` says whether ``context.seed`` changes what it keeps.
    """

    name: str
    summary: str
    scores: Callable[[Workspace, ScoreContext], str]
    needs: frozenset[str] = frozenset()
    order_column: str = "score"
    default_keep: str = "high"
    threshold: Callable[[dict[str, Any]], float] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    citation: str = ""
    # Whether the selection depends on the seed (random draws). A sweep repeats a seeded method's selection
    # per seed and shares one selection of a deterministic method across its training seeds.
    seeded: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"method {self.name}: unknown needs {sorted(unknown)}")
        if self.default_keep not in KEEP_ALIASES:
            raise ValueError(f"method {self.name}: default_keep must be one of {sorted(KEEP_ALIASES)}")

    @property
    def takes_count(self) -> bool:
        """Whether the method keeps a count (ratio / keep-count), rather than what a threshold decides."""
        return self.threshold is None


_REGISTRY: dict[str, ScoreMethod] | None = None


FAMILIES = ("random_order", "cluster_distance", "dedup", "gradient", "surrogate")
"""The modules of :mod:`thresher.curate.scores` that define ``METHODS``. Named rather than discovered: the
package's other modules (the gradient and surrogate-feature computations) import torch and scikit-learn,
which a `select` of a cluster or random method should not pay for."""


def registry() -> dict[str, ScoreMethod]:
    """Every method, by name, from the :data:`FAMILIES` modules."""
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, ScoreMethod] = {}
        for family in FAMILIES:
            module = importlib.import_module(f"thresher.curate.scores.{family}")
            for method in module.METHODS:
                if method.name in found:
                    raise ValueError(f"score method {method.name!r} is defined twice")
                found[method.name] = method
        _REGISTRY = found
    return _REGISTRY


def method_names() -> list[str]:
    return sorted(registry())


def get_method(name: str) -> ScoreMethod:
    methods = registry()
    if name not in methods:
        raise ThresherError(f"unknown method {name!r}; choose one of: {', '.join(sorted(methods))}")
    return methods[name]


def keep_rule(method: ScoreMethod, keep: str | None) -> str:
    """The keep rule (low | middle | high) that ``--keep`` asks for, or the method's default."""
    keep = method.default_keep if keep is None else keep
    if keep not in KEEP_ALIASES:
        raise ThresherError(
            f"unknown --keep {keep!r}; choose one of: nearest, middle, furthest (or low, high)"
        )
    return KEEP_ALIASES[keep]
