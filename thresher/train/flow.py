"""Flow matching on the SiT linear path and its ODE samplers (docs/architecture.md, "Scores", for the notation).

x_t = t·x + (1−t)·ε with ε ~ N(0, I), so t=0 is noise and t=1 is data; the regression target is the
path's velocity x − ε, and the loss l(x; θ, t, ε) = ||v_θ(x_t, t) − (x − ε)||² is returned per sample
(mean over dimensions) so that per-sample weights and pruning scores can use it directly. Sampling
integrates dx/dt = v(x, t) from t=0 to t=1 with Euler or Heun steps and optional classifier-free
guidance v = v_u + s·(v_c − v_u).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from thresher.errors import ThresherError
from thresher.progress import track
from thresher.train.config import SAMPLERS, T_SAMPLINGS

# v(x, t, labels) -> velocity, with t of shape (B,) and labels None meaning "no condition".
VelocityFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]

# The label that means "no class": the unconditional half of a guided batch, and unlabeled data.
NULL_LABEL = -1


def sample_t(
    n: int,
    mode: str = "uniform",
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    mean: float = 0.0,
    std: float = 1.0,
) -> torch.Tensor:
    """Training times in (0, 1): uniform, or logit-normal (SD3; concentrates on mid-path times)."""
    if mode == "uniform":
        return torch.rand(n, generator=generator, device=device)
    if mode == "logit_normal":
        return torch.sigmoid(mean + std * torch.randn(n, generator=generator, device=device))
    raise ThresherError(f"unknown t sampling {mode!r}; choose one of {', '.join(T_SAMPLINGS)}")


def _per_sample(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def interpolate(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The point x_t = t·x + (1−t)·ε on the linear path."""
    t = _per_sample(t, x)
    return t * x + (1 - t) * noise


def flow_loss(
    velocity_fn: VelocityFn,
    x: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample loss ||v(x_t, t) − (x − ε)||², averaged over all non-batch dimensions (shape (B,))."""
    prediction = velocity_fn(interpolate(x, noise, t), t, labels)
    error = (prediction.float() - (x - noise).float()) ** 2
    return error.flatten(1).mean(dim=1)


def guided_velocity(
    velocity_fn: VelocityFn,
    x: torch.Tensor,
    t: torch.Tensor,
    labels: torch.Tensor | None,
    cfg_scale: float,
) -> torch.Tensor:
    """v_u + s·(v_c − v_u), with the conditional and unconditional halves in one batched call."""
    if labels is None or cfg_scale == 1.0:
        return velocity_fn(x, t, labels)
    both = velocity_fn(
        torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, torch.full_like(labels, NULL_LABEL)])
    )
    conditional, unconditional = both.chunk(2)
    return unconditional + cfg_scale * (conditional - unconditional)


def integrate(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    steps: int,
    sampler: str = "heun",
    *,
    labels: torch.Tensor | None = None,
    cfg_scale: float = 1.0,
    cfg_interval: tuple[float, float] = (0.0, 1.0),
    progress: bool = False,
) -> torch.Tensor:
    """Carry ``noise`` (t=0) to data (t=1) along dx/dt = v in ``steps`` uniform steps.

    The unconditional half of a guided batch carries :data:`NULL_LABEL`. Guidance applies only at times
    within ``cfg_interval``: Kynkäänniemi et al. (2024) found guidance at high noise (small t here) mostly
    narrows what gets drawn, and at low noise mostly costs evaluations. Heun costs two evaluations per
    step and is second order.
    """
    if sampler not in SAMPLERS:
        raise ThresherError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if steps < 1:
        raise ThresherError(f"sampling needs at least one step, got {steps}")
    low, high = cfg_interval
    if not 0.0 <= low <= high <= 1.0:
        raise ThresherError(f"the guidance interval must satisfy 0 <= low <= high <= 1, got {cfg_interval}")
    times = torch.linspace(0.0, 1.0, steps + 1)
    scales = [cfg_scale if low <= float(t) <= high else 1.0 for t in times]
    times = times.to(noise.device)
    x = noise
    batch = noise.shape[0]
    for i in track(range(steps), f"{sampler} sampling", unit="step", transient=True, enabled=progress):
        t, t_next = times[i].expand(batch), times[i + 1].expand(batch)
        h = times[i + 1] - times[i]
        slope = guided_velocity(velocity_fn, x, t, labels, scales[i])
        if sampler == "euler":
            x = x + h * slope
        else:
            predicted = x + h * slope
            slope_next = guided_velocity(velocity_fn, predicted, t_next, labels, scales[i + 1])
            x = x + h * 0.5 * (slope + slope_next)
    return x
