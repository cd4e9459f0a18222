"""Exponential moving average of the model weights, used for sampling and for the saved model.

Built on ``torch.optim.swa_utils.AveragedModel``: it keeps a full copy of the network (``ema.module``,
ready to sample from or save) and is itself a module, so ``accelerator.register_for_checkpointing``
saves and restores it with every checkpoint. The decay warms up as min(decay, (1+n)/(10+n)) after n
updates (as diffusers' EMAModel does), so short runs are not dominated by the random initial weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from thresher.errors import ThresherError


def _warmed_up_ema(decay: float):
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        # Stays a tensor (no host sync); num_averaged counts updates before this one.
        effective = torch.clamp((1 + num_averaged.float()) / (10 + num_averaged.float()), max=decay)
        torch._foreach_lerp_(averaged, current, 1 - effective)

    return update


def create_ema(model: nn.Module, decay: float) -> AveragedModel:
    """An EMA of ``model``'s parameters (pass the unwrapped network, not a DDP wrapper).

    Update it with ``ema.update_parameters(model)`` after each optimizer step; ``ema.module`` is the
    averaged network."""
    if not 0.0 <= decay < 1.0:
        raise ThresherError(f"EMA decay must be in [0, 1), got {decay}")
    ema = AveragedModel(model, multi_avg_fn=_warmed_up_ema(decay))
    return ema.requires_grad_(False).eval()
