"""``random``: a seeded uniform score per ok sample, so a random subset is reproducible and queryable.

The run id is derived from (source, seed), so every selection with the same seed reuses one draw; with
``--balance`` the same draw is cut per cluster. Every process and every rerun draws the same subset (the
published research code drew a different one on each data-parallel rank).
"""

from __future__ import annotations

import numpy as np

from thresher.catalog.runs import run_exists
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.catalog.workspace import Workspace
from thresher.curate.scores.registry import ScoreContext
from thresher.errors import ThresherError


def random_scores_run(ws: Workspace, source: str, seed: int) -> str:
    run_id = f"random-{source}-seed{seed}"
    if run_exists(ws, run_id):
        return run_id
    ids = ok_sample_ids(ws, source)
    if len(ids) == 0:
        raise ThresherError(f"source {source!r} has no decodable rows to select from")
    scores = np.random.default_rng(seed).random(len(ids))
    with score_run(ws, run_id, "random", source, {"seed": seed, "source": source}) as folder:
        write_score_part(folder, score_table(ids, "random", score=scores))
    return run_id


def random_scores(ws: Workspace, context: ScoreContext) -> str:
    return random_scores_run(ws, context.source, context.seed)
