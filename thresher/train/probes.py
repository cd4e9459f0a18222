"""Fixed probe points and the per-sample loss at them: what the pretraining logs and the scores measure.

A diffusion loss is an expectation over (t, ε), so a sample is measured at P = K·M fixed probe points
(docs/architecture.md, 'Gradient scores'): K fixed times times M noise draws seeded by the sample id, so a
sample sees the same probes in every batch, shard, checkpoint and run. The pretraining's loss log and the
curation scores (:mod:`thresher.curate.scores.gradient_signals`) both use this module, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from thresher.errors import ThresherError
from thresher.progress import track
from thresher.train.flow import VelocityFn, flow_loss

DEFAULT_LOSS_BATCH = 64  # samples (each with its P probes) per forward pass of per_sample_losses


def probe_times(k_times: int) -> torch.Tensor:
    """The K fixed probe times: midpoints (k + 0.5)/K of K equal bins of (0, 1), float32."""
    if k_times < 1:
        raise ThresherError(f"k_times must be at least 1, got {k_times}")
    return (torch.arange(k_times, dtype=torch.float64) + 0.5).div(k_times).float()


def probe_points(
    sample_ids: np.ndarray | torch.Tensor,
    shape: tuple[int, ...],
    k_times: int,
    m_noises: int,
    seed: int,
    *,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The P = K·M fixed probe points (t, ε) of every sample: t (N, P) and noise (N, P, *shape), float32, CPU.

    Probe p = k·M + m pairs the time (k + 0.5)/K (:func:`probe_times`, the same for every sample) with its own
    standard normal draw ε, so each time gets M noises and no noise is shared between probes. The noise of a
    sample comes from a CPU ``torch.Generator`` seeded by ``numpy.random.SeedSequence([seed, sample_id])``:
    it depends on (seed, sample id) only, never on the batch, shard or order the sample is in, nor on the
    device. Call this per batch of ids: the noise of all N samples is N·P·prod(shape) floats.
    """
    if m_noises < 1:
        raise ThresherError(f"m_noises must be at least 1, got {m_noises}")
    if seed < 0:
        raise ThresherError(f"the probe seed must be a non-negative integer, got {seed}")
    ids = np.asarray(sample_ids.cpu() if isinstance(sample_ids, torch.Tensor) else sample_ids).reshape(-1)
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise ThresherError("sample ids for probe points must be non-negative integers")
    times = probe_times(k_times)
    p = k_times * m_noises
    t = times.repeat_interleave(m_noises).expand(len(ids), p).contiguous()
    noise = torch.empty(len(ids), p, *shape)
    generator = torch.Generator()
    rows = track(enumerate(ids.tolist()), "probe points", total=len(ids), transient=True, enabled=progress)
    for row, sample_id in rows:
        generator.manual_seed(int(np.random.SeedSequence([seed, sample_id]).generate_state(1, np.uint64)[0]))
        noise[row] = torch.randn(p, *shape, generator=generator)
    return t, noise


def probe_flow_loss(
    velocity_fn: VelocityFn, x: torch.Tensor, label: torch.Tensor | None, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """l̄(z): :func:`thresher.train.flow.flow_loss` of one sample at its P probes, averaged (a scalar)."""
    p = t.shape[0]
    xs = x.unsqueeze(0).expand(p, *x.shape)
    labels = None if label is None else label.expand(p)
    return flow_loss(velocity_fn, xs, t, noise, labels).mean()


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Score in eval mode (no dropout), restoring the model's train/eval mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _check_probes(x: torch.Tensor, labels: torch.Tensor | None, t: torch.Tensor, noise: torch.Tensor) -> None:
    n = x.shape[0]
    if t.ndim != 2 or t.shape[0] != n or noise.shape[:2] != t.shape or noise.shape[2:] != x.shape[1:]:
        raise ThresherError(
            f"probe points do not match the data: x {tuple(x.shape)}, t {tuple(t.shape)}, "
            f"noise {tuple(noise.shape)}"
        )
    if labels is not None and labels.shape != (n,):
        raise ThresherError(f"labels must have shape ({n},), got {tuple(labels.shape)}")


def per_sample_losses(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    *,
    batch_size: int = DEFAULT_LOSS_BATCH,
    progress: bool = False,
) -> torch.Tensor:
    """The loss l(z; θ, t_p, ε_p) of every sample at every probe, shape (N, P), float32 on CPU.

    Computed with ``torch.no_grad`` in eval mode, ``batch_size`` samples (times P probes) per forward pass,
    by :func:`thresher.train.flow.flow_loss` itself, so it equals the trainer's loss at the same (t, ε).
    """
    _check_probes(x, labels, t, noise)
    n, p = t.shape
    device, out = _device(model), torch.empty(n, p)
    with eval_mode(model), torch.no_grad():
        for start in track(
            range(0, n, batch_size), "probe losses", unit="batch", transient=True, enabled=progress
        ):
            end = min(start + batch_size, n)
            xs = x[start:end].to(device).repeat_interleave(p, dim=0)
            labs = None if labels is None else labels[start:end].to(device).repeat_interleave(p, dim=0)
            losses = flow_loss(
                model,
                xs,
                t[start:end].to(device).reshape(-1),
                noise[start:end].to(device).flatten(0, 1),
                labs,
            )
            out[start:end] = losses.reshape(end - start, p).float().cpu()
    return out
