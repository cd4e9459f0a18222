"""``el2n``, ``grand``, ``monotonicity``, ``moso``: the gradient-based scores, from a ``thresher pretrain`` run.

Definitions in docs/architecture.md ('Gradient scores'). Each method declares its signal as data (what it
measures, whether it differentiates over ``--params``, whether ``--checkpoint`` picks its checkpoint);
its options and what its score run is keyed by follow from the signal, and
:mod:`thresher.curate.gradient_scoring` computes it (resumable parts, one score run per config hash,
shared with ``thresher score``). Every method keeps ``high`` by default, as the research does (the highest
loss, gradient norm, forgetting rate or MoSo score); ``--inverse`` keeps the other end.
"""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.curate.scores.method_options import subset_options
from thresher.curate.scores.registry import (
    GRADIENT_NORM,
    LOSS,
    LOSS_LOG,
    MOSO,
    PARAMETER_SUBSETS,
    GradientSignal,
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
        scores="thresher.curate.gradient_runs:gradient_scores",
        needs=frozenset({"pretrain"}),
        default_keep="high",
        options=_options(name, signal),
        citation=citation,
        signal=signal,
    )
    for name, (signal, summary, citation) in _DECLARED.items()
]
