"""``dedup``: SemDeDup (Abbas et al. 2023, arXiv 2303.09540) within the k-means clusters, computed by
:mod:`thresher.curate.scores.dedup`. A sample is dropped when its cosine similarity to a sample already
kept in its cluster exceeds 1 − ε: the selection keeps what ε decides, not a count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from thresher.config_field import setting
from thresher.curate.scores.registry import ScoreContext, ScoreMethod
from thresher.errors import ThresherError

if TYPE_CHECKING:
    from thresher.catalog.workspace import Workspace


@dataclass(frozen=True)
class DedupOptions:
    epsilon: float = setting(0.05, "drop above cosine similarity 1-ε.")

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon < 1.0:
            raise ThresherError(f"--epsilon {self.epsilon} is outside [0, 1)")


def _scores(ws: Workspace, context: ScoreContext) -> str:
    from thresher.curate.scores.dedup import dedup_scores_run

    assert context.clustering is not None  # guaranteed by needs={"clusters"}
    return dedup_scores_run(ws, context.source, context.clustering, context.options.epsilon)


def _threshold(options: DedupOptions) -> float:
    from thresher.curate.scores.dedup import SIMILARITY_TOLERANCE

    return 1.0 - options.epsilon - SIMILARITY_TOLERANCE


METHODS = [
    ScoreMethod(
        name="dedup",
        summary="SemDeDup: drop samples within cosine 1−ε of a kept sample of their cluster",
        scores=_scores,
        needs=frozenset({"clusters", "embeddings"}),
        default_keep="low",
        threshold=_threshold,
        options=DedupOptions,
        citation="Abbas et al. 2023, arXiv 2303.09540",
    )
]
