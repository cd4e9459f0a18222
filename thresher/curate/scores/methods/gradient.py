"""``el2n``, ``grand``, ``monotonicity``, ``moso``: the gradient-based scores, from a ``thresher pretrain`` run.

Definitions in docs/architecture.md ('Gradient scores'). Each method declares its signal as data (what it
measures, whether it differentiates over ``--params``, whether ``--checkpoint`` picks its checkpoint);
its options and what its score run is keyed by follow from the signal, and
:mod:`thresher.curate.gradient_scoring` computes it (resumable parts, one score run per config hash,
shared with ``thresher score``). Every method keeps ``high`` by default, as the research does (the highest
loss, gradient norm, forgetting rate or MoSo score); ``--inverse`` keeps the other end.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from thresher.catalog.workspace import Workspace
from thresher.config_field import setting
from thresher.curate.scores.method_options import subset_options
from thresher.curate.scores.registry import (
    GRADIENT_NORM,
    LOSS,
    LOSS_LOG,
    MOSO,
    PARAMETER_SUBSETS,
    GradientSignal,
    ScoreContext,
    ScoreMethod,
)


@dataclass
class GradientOptions:
    """Every option a gradient method may take; a method takes those its signal uses (:func:`_options`)."""

    pretrain: str | None = setting(
        None, "the `thresher pretrain` run to score with (default: the source's latest)."
    )
    params: str = setting(
        "all", "the parameters differentiated: all, last-block or final-layer.", choices=PARAMETER_SUBSETS
    )
    checkpoint: int = setting(-1, "which saved checkpoint scores (0 = first, -1 = last).")


def _options(name: str, signal: GradientSignal) -> type:
    uses = {"pretrain": True, "params": signal.params, "checkpoint": signal.checkpoint}
    taken = {option for option, used in uses.items() if used}
    return subset_options(GradientOptions, taken, f"{name.capitalize()}Options")


_DECLARED = {
    "el2n": (
        GradientSignal(LOSS, checkpoint=True),
        "probe-averaged flow loss at the last pretraining checkpoint",
        "Paul et al. 2021",
    ),
    "grand": (
        GradientSignal(GRADIENT_NORM, params=True, checkpoint=True),
        "norm of the per-sample gradient of that loss (torch.func)",
        "Paul et al. 2021",
    ),
    "monotonicity": (
        GradientSignal(LOSS_LOG),
        "fraction of pretraining epochs in which the sample's loss rose",
        "Toneva et al. 2019",
    ),
    "moso": (
        GradientSignal(MOSO, params=True),
        "first-order moving-one-sample-out score over the pretraining checkpoints",
        "Tan et al. 2023",
    ),
}

METHODS = [
    ScoreMethod(
        name=name,
        summary=summary,
        scores="thresher.curate.scores.methods.gradient:gradient_scores",
        needs=frozenset({"pretrain"}),
        default_keep="high",
        options=_options(name, signal),
        citation=citation,
        signal=signal,
    )
    for name, (signal, summary, citation) in _DECLARED.items()
]


def gradient_scores(ws: Workspace, context: ScoreContext) -> str:
    """A gradient method's score run for a selection: the run ``thresher score`` makes with the same
    options, found in the catalog (no torch loaded) and computed only when it does not exist yet."""
    # curate.config builds its choices from this registry: imported here, when a selection runs
    from thresher.curate.config import ScoreRunConfig
    from thresher.curate.gradient_runs import existing_score_run

    options = dataclasses.asdict(context.options)
    config = ScoreRunConfig(method=context.method, source=context.source, **options)
    found, _, _ = existing_score_run(ws, config, context.source)
    if found is not None:
        return found
    from thresher.curate.gradient_scoring import run_score  # the training stack, only to compute

    return run_score(ws, config).run_id
