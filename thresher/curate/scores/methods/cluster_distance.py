"""``cluster`` (Briq et al., arXiv 2411.12523): the distance of each sample to its own k-means centroid.

The clustering run itself is the score run (``thresher cluster`` writes ``distance`` and ``cluster`` for
every row), so selecting needs no extra pass. ``nearest`` keeps the most prototypical samples, the
paper's best setting; ``furthest`` the outliers; ``middle`` drops both ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thresher.curate.scores.registry import ScoreContext, ScoreMethod

if TYPE_CHECKING:
    from thresher.catalog.workspace import Workspace


def _scores(_ws: Workspace, context: ScoreContext) -> str:
    assert context.clustering is not None  # guaranteed by needs={"clusters"}
    return context.clustering


METHODS = [
    ScoreMethod(
        name="cluster",
        summary="distance to the own k-means centroid (keep nearest, middle or furthest)",
        scores=_scores,
        needs=frozenset({"clusters"}),
        order_column="distance",
        default_keep="nearest",
        citation="Briq et al. 2024, arXiv 2411.12523",
    )
]
