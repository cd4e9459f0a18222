"""``gaussian`` and ``moderate``: pruning scores in a surrogate embedding space, per group (Li et al. 2024,
arXiv 2409.19128; docs/architecture.md, 'Surrogate-feature scores'), computed by
:mod:`thresher.curate.scores.surrogate`. Both score within groups (``--groups``), so a selection keeps a
share of every group."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.curate.scores.registry import ScoreMethod
from thresher.errors import ThresherError


def parse_shrinkage(text: str | float) -> str | float:
    """``--shrinkage``: ``ledoit-wolf`` or a fixed coefficient in [0, 1] (as a float)."""
    if text == "ledoit-wolf":
        return text
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ThresherError(f"--shrinkage must be ledoit-wolf or a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ThresherError(f"--shrinkage must lie in [0, 1], got {value}")
    return value


@dataclass
class SurrogateOptions:
    """The embedding space of a surrogate score."""

    embedder: str | None = setting(
        None,
        "which embeddings (default: the clustering's embedder, else the source's latest).",
        aliases=("-e",),
    )


@dataclass
class GaussianOptions(SurrogateOptions):
    """And the shrinkage of the group covariances."""

    shrinkage: str = setting(
        "ledoit-wolf", "covariance shrinkage, ledoit-wolf or a fixed coefficient in [0, 1]."
    )

    def __post_init__(self) -> None:
        parse_shrinkage(self.shrinkage)


METHODS = [
    ScoreMethod(
        name="gaussian",
        summary="log-likelihood under the group's Gaussian in an embedding space (keep the densest)",
        scores="thresher.curate.scores.surrogate:surrogate_scores",
        needs=frozenset({"embeddings"}),
        default_keep="high",
        options=GaussianOptions,
        grouped=True,
        citation="DeVries et al. 2020 (arXiv 2007.15255), as used by Li et al. 2024 (arXiv 2409.19128)",
    ),
    ScoreMethod(
        name="moderate",
        summary="distance to the group's median embedding (keep the closest)",
        scores="thresher.curate.scores.surrogate:surrogate_scores",
        needs=frozenset({"embeddings"}),
        default_keep="low",
        options=SurrogateOptions,
        grouped=True,
        citation="Xia et al. 2023 (Moderate-DS), as used by Li et al. 2024 (arXiv 2409.19128)",
    ),
]
