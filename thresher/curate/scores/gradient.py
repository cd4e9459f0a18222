"""``el2n``, ``grand``, ``monotonicity``, ``moso``: the gradient-based scores, from a ``thresher pretrain`` run.

Definitions in docs/architecture.md ('Gradient scores'); computed by
:mod:`thresher.curate.gradient_scoring` (resumable parts, one score run per config hash, shared with
``thresher score``). Every method keeps ``high`` by default, as the research does (the highest loss,
gradient norm, forgetting rate or MoSo score); ``--inverse`` keeps the other end.
"""

from __future__ import annotations

from thresher.catalog.workspace import Workspace
from thresher.curate.scores.registry import ScoreContext, ScoreMethod


def _scorer(method: str):
    def scores(ws: Workspace, context: ScoreContext) -> str:
        from thresher.curate.config import ScoreRunConfig
        from thresher.curate.gradient_scoring import run_score

        config = ScoreRunConfig(
            method=method,
            source=context.source,
            pretrain=context.options.get("pretrain"),
            params=context.options.get("params", "all"),
        )
        return run_score(ws, config).run_id

    return scores


_SUMMARIES = {
    "el2n": ("probe-averaged flow loss at the last pretraining checkpoint", "Paul et al. 2021"),
    "grand": ("norm of the per-sample gradient of that loss (torch.func)", "Paul et al. 2021"),
    "monotonicity": ("fraction of pretraining epochs in which the sample's loss rose", "Toneva et al. 2019"),
    "moso": ("first-order moving-one-sample-out score over the pretraining checkpoints", "Tan et al. 2023"),
}

METHODS = [
    ScoreMethod(
        name=name,
        summary=summary,
        scores=_scorer(name),
        needs=frozenset({"pretrain"}),
        default_keep="high",
        options={"pretrain": None, "params": "all"},
        citation=citation,
    )
    for name, (summary, citation) in _SUMMARIES.items()
]
