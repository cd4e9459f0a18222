"""Synthetic "not a sample" images that teach the evaluation classifier to reject what is no class at all.

Why: a softmax classifier trained only on the reference classes must spread all its probability over
them, so it is confidently wrong off the data: measured on MNIST, the plain small CNN gave mean top-class
confidence 1.00 on Gaussian noise and 0.96 on a blank image, against 0.98 on real digits. "Mean confidence
on generated samples" then cannot tell digits from noise. Training with an extra reject class on
synthetic outliers (outlier exposure, Hendrycks et al. 2019) fixes that without any extra data.

The outliers are cheap, seeded and dataset-agnostic; each kind is something a generator can produce
and a person would not accept as a sample:

* ``noise``: Gaussian or uniform noise at a random level;
* ``flat``: a constant image (an empty canvas at the data's background or ink level, or any grey);
* ``blobs``: sparse noise smoothed into soft blobs (the look of an undertrained generator);
* ``shuffled``: a real image with its pixels permuted (right intensity histogram, no structure);
* ``blend``: the average of two real images of different classes (an ambiguous superposition).

All work on model inputs: float tensors N×C×H×W in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("noise", "flat", "blobs", "shuffled", "blend")


def make_negatives(
    real: torch.Tensor, targets: torch.Tensor, count: int, generator: torch.Generator
) -> torch.Tensor:
    """``count`` outliers shaped like ``real`` (a batch of model inputs with class ``targets``)."""
    n, channels, height, width = real.shape
    kinds = torch.randint(0, len(KINDS), (count,), generator=generator).tolist()
    out = torch.empty(count, channels, height, width)
    for i, kind in enumerate(kinds):
        out[i] = _one(KINDS[kind], real, targets, generator)
    return out.clamp_(-1.0, 1.0)


def _one(kind: str, real: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    shape = real.shape[1:]
    u = lambda: float(torch.rand((), generator=generator))  # noqa: E731 - a scalar draw
    if kind == "noise":
        if u() < 0.5:
            return (u() * 2 - 1) + (0.2 + u()) * torch.randn(shape, generator=generator)
        return torch.rand(shape, generator=generator) * 2 - 1
    if kind == "flat":
        # Half of them at a real image's darkest or brightest level (an empty canvas), half anywhere.
        if u() < 0.5:
            image = real[int(torch.randint(0, len(real), (), generator=generator))]
            return torch.full(shape, float(image.amin() if u() < 0.5 else image.amax()))
        return torch.full(shape, u() * 2 - 1)
    if kind == "blobs":
        sparse = (torch.rand(shape, generator=generator) < 0.02 + 0.1 * u()).float()
        blurred = _blur(sparse[None], sigma=1.0 + 2.0 * u())[0]
        return blurred / blurred.amax().clamp_min(1e-6) * 2 - 1
    i = int(torch.randint(0, len(real), (), generator=generator))
    if kind == "shuffled":
        flat = real[i].reshape(shape[0], -1)
        return flat[:, torch.randperm(flat.shape[1], generator=generator)].reshape(shape)
    # blend: pair with a real image of another class when the batch has one
    others = torch.nonzero(targets != targets[i]).flatten()
    j = int(others[torch.randint(0, len(others), (), generator=generator)]) if len(others) else i
    return (real[i] + real[j]) / 2


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of N×C×H×W, edges padded by replication (not torchvision's reflection)."""
    radius = max(1, int(3 * sigma))
    taps = torch.exp(-(torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2) / (2 * sigma**2))
    taps = taps / taps.sum()
    channels = x.shape[1]
    horizontal = taps.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = taps.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), horizontal, groups=channels)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), vertical, groups=channels)
