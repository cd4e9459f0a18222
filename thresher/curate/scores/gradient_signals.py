"""Loss- and gradient-based pruning scores of a flow-matching model: EL2N, GraNd and loss monotonicity.

See docs/architecture.md, 'Gradient scores'. Notation of :mod:`thresher.train.flow`: the loss of a sample
x at a time t and a noise ε is l(x; θ, t, ε) = ||v_θ(x_t, t) − (x − ε)||² (mean over the non-batch
dimensions), x_t = t·x + (1−t)·ε, t = 1 is data.

A diffusion loss is an expectation over (t, ε), so every score here is measured at P = K·M fixed *probe
points* per sample (:func:`probe_points`): K fixed times times M noise draws seeded by the sample id, so a
sample sees the same probes in every batch, shard, checkpoint and run. The probe-averaged loss is
l̄(z) = (1/P) Σ_p l(z; θ, t_p, ε_p).

* EL2N (Paul et al. 2021, adapted): l̄(z) at the scoring model (:func:`el2n_scores`).
* GraNd (Paul et al. 2021, adapted): ||∇_θ l̄(z)||₂ over a chosen parameter subset (:func:`grand_scores`).
* Monotonicity: the fraction of consecutive epochs in which a sample's training loss rose
  (:func:`monotonicity_scores`).
* MoSo (Tan et al. 2023, first-order): over C checkpoints θ_c trained at learning rates lr_c,
  score(z) = (1/C) Σ_c lr_c · (ḡ_c − g_{z,c}/N) · g_{z,c} with ḡ_c = (1/N) Σ_i g_{i,c} and g_{z,c} = ∇_θ l̄(z)
  at θ_c. Since ḡ_c − g_z/N = (1/N) Σ_{i≠z} g_i, the bracket is the agreement of z's gradient with all the
  others, without self-influence: a sample whose gradient opposes the rest (mislabelled, corrupted) scores
  negative; prune the lowest. ḡ_c is exact: :func:`gradient_sum` of every part, added, then
  :func:`moso_terms` per part (:mod:`thresher.curate.gradient_scoring` runs the passes over a source).

Per-sample gradients come from ``torch.func`` (``vmap`` over samples of ``grad`` of a functional call; the
P probes of one sample are one batch of the model) and are streamed in chunks, so no N×D matrix is ever
held. The machinery is generic over a :data:`SampleLoss` (default :func:`probe_flow_loss`, the flow loss
of :func:`thresher.train.flow.flow_loss`), so any model with any per-sample loss can be scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from thresher.curate.scores.registry import PARAMETER_SUBSETS
from thresher.errors import ThresherError
from thresher.progress import track
from thresher.train.flow import VelocityFn
from thresher.train.probes import (  # noqa: F401 - the probe API, re-exported with the scores
    DEFAULT_LOSS_BATCH,
    _check_probes,
    _device,
    eval_mode,
    per_sample_losses,
    probe_flow_loss,
    probe_points,
    probe_times,
)

# The per-sample gradient memory that the automatic chunk size aims at, and its caps. On a GPU a chunk of a
# few dozen samples fills the device; on a CPU larger chunks only add memory traffic (chunk·D gradients):
# 4 to 16 samples were equally fastest for the demo's DiT-T/1 (benchmarks/grand_throughput.py).
DEFAULT_MEMORY_BUDGET = 2**30
MAX_CHUNK_SIZE = 64
MAX_CPU_CHUNK_SIZE = 8
# vmap holds about this many copies of the per-sample gradients at once (the grad output, its batched
# intermediates and the flattened copy): the automatic chunk size divides the budget by it.
GRADIENT_COPIES = 3

# loss(velocity_fn, x, label, t, noise) -> scalar: the probe-averaged loss of ONE sample, where x has the
# sample's shape, label is a 0-d tensor or None, t has shape (P,) and noise (P, *x.shape). velocity_fn is
# the model called functionally, with the model's own forward signature.
SampleLoss = Callable[
    [VelocityFn, torch.Tensor, "torch.Tensor | None", torch.Tensor, torch.Tensor], torch.Tensor
]


def el2n_scores(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    *,
    batch_size: int = DEFAULT_LOSS_BATCH,
    progress: bool = False,
) -> torch.Tensor:
    """EL2N adapted to diffusion: the probe-averaged loss l̄(z) = mean_p l(z; θ, t_p, ε_p), shape (N,)."""
    return per_sample_losses(model, x, labels, t, noise, batch_size=batch_size, progress=progress).mean(dim=1)


def select_parameters(model: nn.Module, which: str) -> dict[str, nn.Parameter]:
    """The trainable parameters the gradient scores differentiate, by their names in ``model``.

    ``all``: every trainable parameter. ``last-block``: the last transformer block of a
    :class:`~thresher.train.model.FlowDiT` (``dit.transformer_blocks[-1]``). ``final-layer``: its output
    layers ``dit.proj_out_1`` (the final adaLN modulation) and ``dit.proj_out_2`` (the linear projection).
    """
    if which not in PARAMETER_SUBSETS:
        raise ThresherError(
            f"unknown parameter subset {which!r}; choose one of {', '.join(PARAMETER_SUBSETS)}"
        )
    if which == "all":
        prefixes = ("",)
    else:
        dit = getattr(model, "dit", None)
        if dit is None or not hasattr(dit, "transformer_blocks"):
            raise ThresherError(
                f"parameter subset {which!r} needs a DiT model; use 'all' for {type(model).__name__}"
            )
        last = len(dit.transformer_blocks) - 1
        prefixes = (
            (f"dit.transformer_blocks.{last}.",)
            if which == "last-block"
            else ("dit.proj_out_1.", "dit.proj_out_2.")
        )
    chosen = {
        name: param
        for name, param in model.named_parameters()
        if param.requires_grad and any(name.startswith(prefix) for prefix in prefixes)
    }
    if not chosen:
        raise ThresherError(
            f"parameter subset {which!r} names no trainable parameter of {type(model).__name__}"
        )
    return chosen


def auto_chunk_size(params: dict[str, torch.Tensor], memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Samples per vmapped chunk so the per-sample gradients fit ``memory_budget`` bytes (1-64, 8 on CPU)."""
    per_sample = GRADIENT_COPIES * sum(p.numel() * p.element_size() for p in params.values())
    on_cpu = all(p.device.type == "cpu" for p in params.values())
    return max(1, min(MAX_CPU_CHUNK_SIZE if on_cpu else MAX_CHUNK_SIZE, memory_budget // max(per_sample, 1)))


def _resolve(model: nn.Module, params: str | dict[str, nn.Parameter]) -> dict[str, nn.Parameter]:
    return select_parameters(model, params) if isinstance(params, str) else params


def gradient_chunks(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    params: str | dict[str, nn.Parameter] = "all",
    *,
    chunk_size: int | None = None,
    loss: SampleLoss = probe_flow_loss,
    progress: bool = False,
    desc: str = "per-sample gradients",
) -> Iterator[tuple[slice, dict[str, torch.Tensor]]]:
    """Per-sample gradients ∇_θ l̄(z) chunk by chunk: (rows, {name: (chunk, *param.shape)}), in sample order.

    ``torch.func.grad`` of a ``functional_call`` of ``model`` (in eval mode; the parameters not chosen and
    the buffers are constants) is ``vmap``-ed over the samples of a chunk; inside, the P probes of one
    sample are one batch of the model. Every sample is covered, the last chunk being the remainder. The
    tensors live on the model's device; inputs are moved there chunk by chunk. Attention runs on the math
    SDPA kernel, the one with a vmap batching rule (the fused CPU kernel falls back to a slow loop).
    """
    _check_probes(x, labels, t, noise)
    chosen = _resolve(model, params)
    chunk_size = chunk_size or auto_chunk_size(chosen)
    if chunk_size < 1:
        raise ThresherError(f"chunk_size must be at least 1, got {chunk_size}")
    device = _device(model)
    diff = {name: param.detach() for name, param in chosen.items()}
    frozen = {name: p.detach() for name, p in model.named_parameters() if name not in diff}
    frozen.update({name: b.detach() for name, b in model.named_buffers()})

    def sample_loss(weights, xi, label, ti, noisei):
        def velocity(*args, **kwargs):
            return functional_call(model, (weights, frozen), args, kwargs)

        return loss(velocity, xi, label, ti, noisei)

    if labels is None:
        per_sample = vmap(
            grad(lambda w, xi, ti, ni: sample_loss(w, xi, None, ti, ni)), in_dims=(None, 0, 0, 0)
        )
    else:
        per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0, 0, 0))
    n = x.shape[0]
    for start in track(range(0, n, chunk_size), desc, unit="chunk", transient=True, enabled=progress):
        rows = slice(start, min(start + chunk_size, n))
        inputs = [a[rows].to(device) for a in (x, t, noise)]
        if labels is not None:
            inputs.insert(1, labels[rows].to(device))
        # Entered per chunk, so nothing of it leaks into the caller's code while this generator waits.
        with eval_mode(model), sdpa_kernel(SDPBackend.MATH):
            grads = per_sample(diff, *inputs)
        yield rows, grads


def per_sample_gradients(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    params: str | dict[str, nn.Parameter] = "all",
    *,
    chunk_size: int | None = None,
    loss: SampleLoss = probe_flow_loss,
    progress: bool = False,
) -> Iterator[torch.Tensor]:
    """Yield, per chunk of samples in order, the flattened per-sample gradients (chunk, D) of l̄(z).

    D concatenates the chosen parameters (:func:`select_parameters`) in ``model.named_parameters`` order.
    ``chunk_size`` defaults to :func:`auto_chunk_size`. See :func:`gradient_chunks` for how they are computed.
    """
    for _, grads in gradient_chunks(
        model, x, labels, t, noise, params, chunk_size=chunk_size, loss=loss, progress=progress
    ):
        yield torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def grand_scores(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    params: str | dict[str, nn.Parameter] = "all",
    *,
    chunk_size: int | None = None,
    loss: SampleLoss = probe_flow_loss,
    progress: bool = False,
) -> torch.Tensor:
    """GraNd adapted to flow matching: ||∇_θ l̄(z)||₂ over the chosen parameters, shape (N,), on CPU.

    Paul et al. (2021) use the expected gradient norm of the classification loss at early training; here
    the loss is the probe-averaged flow loss l̄ (one gradient of the mean over the P probes, not the mean
    of P gradient norms), at whichever checkpoint the caller passes (average over checkpoints for the
    paper's expectation over initialisations).
    """
    out = torch.empty(x.shape[0], dtype=torch.float64)
    for rows, grads in gradient_chunks(
        model, x, labels, t, noise, params, chunk_size=chunk_size, loss=loss, progress=progress, desc="GraNd"
    ):
        squared = sum(g.flatten(1).double().pow(2).sum(dim=1) for g in grads.values())
        out[rows] = squared.sqrt().cpu()
    return out


def gradient_sum(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    params: str | dict[str, nn.Parameter] = "all",
    *,
    chunk_size: int | None = None,
    loss: SampleLoss = probe_flow_loss,
) -> torch.Tensor:
    """Σ_z ∇_θ l̄(z) over the rows, flattened (D,), float64 on CPU: one part's share of MoSo's N·ḡ_c."""
    total = None
    for rows in per_sample_gradients(model, x, labels, t, noise, params, chunk_size=chunk_size, loss=loss):
        chunk = rows.double().sum(dim=0).cpu()
        total = chunk if total is None else total + chunk
    if total is None:
        raise ThresherError("a MoSo gradient sum over no rows")
    return total


def moso_terms(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    t: torch.Tensor,
    noise: torch.Tensor,
    mean_gradient: torch.Tensor,
    n: int,
    lr: float,
    params: str | dict[str, nn.Parameter] = "all",
    *,
    chunk_size: int | None = None,
    loss: SampleLoss = probe_flow_loss,
) -> torch.Tensor:
    """lr_c · (ḡ_c · g_z − ||g_z||² / N) for every row z, float64 on CPU (N,): one checkpoint's MoSo term.
    ``mean_gradient`` is ḡ_c over all N samples (flattened like :func:`gradient_sum`)."""
    out = []
    for rows in per_sample_gradients(model, x, labels, t, noise, params, chunk_size=chunk_size, loss=loss):
        g = rows.double().cpu()
        out.append(lr * (g @ mean_gradient - (g * g).sum(dim=1) / n))
    return torch.cat(out)


def monotonicity_scores(loss_log: np.ndarray) -> np.ndarray:
    """The fraction of consecutive epoch pairs (e, e+1) in which a sample's loss rose strictly, shape (N,).

    ``loss_log`` is (E epochs, N samples). A pair with a NaN on either side (a sample not seen, or not
    logged, that epoch) counts neither as a rise nor in the denominator, so the fraction is over the
    pairs observed; a sample with no observed pair scores NaN.
    """
    log = np.asarray(loss_log, dtype=np.float64)
    if log.ndim != 2:
        raise ThresherError(f"the loss log must be 2-D (epochs, samples), got shape {log.shape}")
    if log.shape[0] < 2:
        raise ThresherError(f"monotonicity needs losses from at least 2 epochs, got {log.shape[0]}")
    before, after = log[:-1], log[1:]
    observed = ~(np.isnan(before) | np.isnan(after))
    rises = (after > before) & observed
    pairs = observed.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, rises.sum(axis=0) / pairs, np.nan)
