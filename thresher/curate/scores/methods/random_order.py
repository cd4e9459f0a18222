"""``random``: a seeded uniform score per ok sample (:mod:`thresher.curate.scores.random_order`), so a random
subset is reproducible and queryable; with ``--balance`` the same draw is cut per cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from thresher.curate.scores.registry import ScoreContext, ScoreMethod

if TYPE_CHECKING:
    from thresher.catalog.workspace import Workspace


def _scores(ws: Workspace, context: ScoreContext) -> str:
    from thresher.curate.scores.random_order import random_scores_run

    return random_scores_run(ws, context.source, context.seed)


METHODS = [
    ScoreMethod(
        name="random",
        summary="seeded uniform subset (per cluster with --balance)",
        scores=_scores,
        default_keep="nearest",  # the order is random: either end is a uniform draw
        seeded=True,
    )
]
