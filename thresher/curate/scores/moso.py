"""MoSo, the moving-one-sample-out score (Tan et al. 2023), first-order, for flow-matching models.

See docs/architecture.md, 'Gradient scores'. MoSo measures how much the empirical risk changes when a
sample z is removed from the training set; its first-order approximation over C checkpoints θ_c of a
training run, trained with learning rates lr_c, is

    score(z) = (1/C) Σ_c lr_c · (ḡ_c − g_{z,c}/N) · g_{z,c},     ḡ_c = (1/N) Σ_i g_{i,c},

where g_{z,c} = ∇_θ l̄(z) at θ_c is the gradient of the probe-averaged flow loss of
:mod:`thresher.curate.scores.gradient_signals`. Since ḡ_c − g_z/N = (1/N) Σ_{i≠z} g_i, the bracket is the
alignment of z's gradient with the gradient of all the *other* samples, without self-influence. High
scores mark samples whose gradient agrees with the rest of the data (removing them would raise the risk
the most); a sample whose gradient opposes the others (a mislabelled or corrupted one) scores negative.
Prune the lowest scores.

Every checkpoint is loaded once and contributes exactly once: a first streaming pass sums the per-sample
gradients into ḡ_c exactly, a second pass takes the dot products, so no N×D matrix is ever held. Every
sample is scored with its own label in both passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from thresher.curate.scores.gradient_signals import (
    SampleLoss,
    gradient_chunks,
    probe_flow_loss,
    select_parameters,
)
from thresher.errors import ThresherError
from thresher.progress import track

# A checkpoint: the model itself, or a zero-argument loader returning it (called once, when its turn
# comes, so only one checkpoint is in memory at a time), paired with the learning rate it was trained at.
Checkpoint = tuple["nn.Module | Callable[[], nn.Module]", float]


def _materialise(model_or_loader: nn.Module | Callable[[], nn.Module]) -> nn.Module:
    model = model_or_loader if isinstance(model_or_loader, nn.Module) else model_or_loader()
    if not isinstance(model, nn.Module):
        raise ThresherError(f"a MoSo checkpoint loader returned {type(model).__name__}, not a model")
    return model


def moso_scores(
    checkpoints: Sequence[Checkpoint],
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    params: str = "all",
    *,
    chunk_size: int | None = None,
    loss: SampleLoss = probe_flow_loss,
    progress: bool = False,
) -> torch.Tensor:
    """The first-order MoSo score of every sample, shape (N,), float64 on CPU (see the module docstring).

    ``checkpoints`` is a sequence of (model or loader, learning rate); ``params`` names the parameter subset
    (:func:`~thresher.curate.scores.gradient_signals.select_parameters`) chosen in every checkpoint; the
    probes (t, noise) are the same at every checkpoint. Costs two per-sample gradient passes per checkpoint.
    """
    if not checkpoints:
        raise ThresherError("MoSo needs at least one checkpoint")
    n = x.shape[0]
    scores = torch.zeros(n, dtype=torch.float64)
    if n == 0:
        return scores
    passes = dict(chunk_size=chunk_size, loss=loss)
    for index, (model_or_loader, lr) in enumerate(
        track(checkpoints, "MoSo checkpoints", enabled=progress and len(checkpoints) >= 2)
    ):
        model = _materialise(model_or_loader)
        chosen = select_parameters(model, params)
        # Pass 1: ḡ_c, the exact mean of the per-sample gradients (float64 sums).
        mean = {name: torch.zeros_like(p, dtype=torch.float64) for name, p in chosen.items()}
        for _, grads in gradient_chunks(
            model,
            x,
            labels,
            t,
            noise,
            chosen,
            **passes,
            progress=progress,
            desc=f"MoSo mean gradient {index}",
        ):
            for name, g in grads.items():
                mean[name] += g.double().sum(dim=0)
        for value in mean.values():
            value /= n
        # Pass 2: lr_c · (ḡ_c · g_z − ||g_z||² / N).
        for rows, grads in gradient_chunks(
            model, x, labels, t, noise, chosen, **passes, progress=progress, desc=f"MoSo scores {index}"
        ):
            dot = sum(g.double().flatten(1) @ mean[name].flatten() for name, g in grads.items())
            squared = sum(g.double().flatten(1).pow(2).sum(dim=1) for g in grads.values())
            scores[rows] += float(lr) * (dot - squared / n).cpu()
        del model, chosen, mean
    return scores / len(checkpoints)
