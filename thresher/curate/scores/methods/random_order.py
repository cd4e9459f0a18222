"""``random``: a seeded uniform score per ok sample (:mod:`thresher.curate.scores.random_order`), so a random
subset is reproducible and queryable; with ``--balance`` the same draw is cut per cluster."""

from __future__ import annotations

from thresher.curate.scores.registry import ScoreMethod

METHODS = [
    ScoreMethod(
        name="random",
        summary="seeded uniform subset (per cluster with --balance)",
        scores="thresher.curate.scores.random_order:random_scores",
        default_keep="nearest",  # the order is random: either end is a uniform draw
        seeded=True,
        keep_matters=False,
    )
]
