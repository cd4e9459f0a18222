"""Flow matching and ODE samplers, checked against the exact velocity field of a Gaussian mixture."""

from __future__ import annotations

import math

import pytest
import torch

from thresher.errors import ThresherError
from thresher.train.flow import (
    NULL_LABEL,
    flow_loss,
    guided_velocity,
    integrate,
    interpolate,
    sample_t,
)


class GaussianMixture:
    """Data ~ Σ π_k N(μ_k, σ_k² I). On the path x_t = t·x + (1−t)·ε, given component k,
    x_t ~ N(tμ_k, s_k² I) with s_k² = t²σ_k² + (1−t)², and E[x − ε | x_t, k] =
    μ_k + (tσ_k² − (1−t))/s_k² · (x_t − tμ_k); the marginal velocity weights these by p(k | x_t)."""

    def __init__(self) -> None:
        self.weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
        self.means = torch.tensor([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
        self.stds = torch.tensor([0.4, 0.7, 0.5], dtype=torch.float64)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        t = t.to(x.dtype)[:, None]  # (B, 1)
        var = t**2 * self.stds**2 + (1 - t) ** 2  # (B, K)
        diff = x[:, None, :] - t[:, :, None] * self.means  # (B, K, D)
        log_post = self.weights.log() - 0.5 * x.shape[1] * var.log() - (diff**2).sum(-1) / (2 * var)
        posterior = log_post.softmax(dim=1)
        if labels is not None:  # a class label picks its component; the null label keeps the mixture
            one_hot = torch.nn.functional.one_hot(labels.clamp(min=0), 3).to(x.dtype)
            posterior = torch.where((labels == NULL_LABEL)[:, None], posterior, one_hot)
        per_component = self.means + ((t * self.stds**2 - (1 - t)) / var)[..., None] * diff
        return (posterior[..., None] * per_component).sum(dim=1)

    def component_stats(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Share, mean and per-axis std of the samples nearest each component mean."""
        nearest = torch.cdist(samples, self.means).argmin(dim=1)
        shares = torch.bincount(nearest, minlength=3).double() / len(samples)
        means = torch.stack([samples[nearest == k].mean(0) for k in range(3)])
        stds = torch.stack([samples[nearest == k].std(0) for k in range(3)])
        return shares, means, stds


@pytest.fixture(scope="module")
def mixture() -> GaussianMixture:
    return GaussianMixture()


@pytest.fixture(scope="module")
def noise() -> torch.Tensor:
    return torch.randn(4000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_samplers_transport_noise_to_the_mixture(mixture, noise, sampler):
    steps = 50 if sampler == "euler" else 12
    samples = integrate(mixture.velocity, noise, steps, sampler)
    shares, means, stds = mixture.component_stats(samples)
    assert torch.allclose(shares, mixture.weights, atol=0.03), shares
    assert torch.allclose(means, mixture.means, atol=0.1), means
    assert torch.allclose(stds, mixture.stds[:, None].expand(3, 2), rtol=0.12), stds


def test_heun_is_more_accurate_than_euler_at_equal_steps(mixture, noise):
    exact = integrate(mixture.velocity, noise[:500], 400, "heun")
    errors = {}
    for sampler in ("euler", "heun"):
        for steps in (8, 16):
            endpoint = integrate(mixture.velocity, noise[:500], steps, sampler)
            errors[sampler, steps] = (endpoint - exact).norm(dim=1).mean().item()
    assert errors["heun", 8] < errors["euler", 8] / 3
    assert errors["heun", 16] < errors["euler", 16] / 3
    # Convergence orders: halving the step roughly halves Euler's error and quarters Heun's.
    assert 1.5 < errors["euler", 8] / errors["euler", 16] < 2.6
    assert errors["heun", 8] / errors["heun", 16] > 3.0


def test_conditional_sampling_reaches_the_requested_component(mixture, noise):
    labels = torch.full((len(noise),), 2)
    samples = integrate(mixture.velocity, noise, 12, "heun", labels=labels, cfg_scale=1.0)
    assert torch.allclose(samples.mean(0), mixture.means[2], atol=0.05)
    assert torch.allclose(samples.std(0), mixture.stds[2].expand(2), rtol=0.1)


def test_guidance_is_one_batched_call_combining_both_halves():
    calls = []

    def velocity(x, t, labels):
        calls.append(labels.clone())
        # conditional velocity 1 + label, unconditional 10
        return torch.where((labels == NULL_LABEL)[:, None], 10.0, 1.0 + labels[:, None].float()).expand_as(x)

    x, t, labels = torch.zeros(3, 2), torch.full((3,), 0.5), torch.tensor([0, 1, 2])
    guided = guided_velocity(velocity, x, t, labels, cfg_scale=4.0)
    assert len(calls) == 1 and calls[0].tolist() == [0, 1, 2, NULL_LABEL, NULL_LABEL, NULL_LABEL]
    expected = 10.0 + 4.0 * (torch.tensor([1.0, 2.0, 3.0]) - 10.0)
    assert torch.allclose(guided, expected[:, None].expand(3, 2))
    assert torch.equal(
        guided_velocity(velocity, x, t, labels, cfg_scale=1.0), (1.0 + labels[:, None].float()).expand(3, 2)
    )


def test_guidance_applies_only_within_its_interval():
    guided_times = []

    def velocity(x, t, labels):
        if (labels == NULL_LABEL).any():
            guided_times.append(round(float(t[0]), 2))
        return torch.zeros_like(x)

    noise, labels = torch.zeros(2, 1), torch.tensor([0, 1])
    integrate(velocity, noise, 4, "heun", labels=labels, cfg_scale=2.0, cfg_interval=(0.25, 0.5))
    # Heun evaluates at t = 0, .25, .25, .5, .5, .75, .75, 1: only those within [0.25, 0.5] are guided.
    assert guided_times == [0.25, 0.25, 0.5, 0.5]
    guided_times.clear()
    integrate(velocity, noise, 4, "euler", labels=labels, cfg_scale=2.0)
    assert guided_times == [0.0, 0.25, 0.5, 0.75]  # the default interval guides every step
    with pytest.raises(ThresherError, match="interval"):
        integrate(velocity, noise, 4, "euler", labels=labels, cfg_scale=2.0, cfg_interval=(0.8, 0.2))


def test_flow_loss_is_per_sample_and_zero_for_the_path_velocity():
    x, noise = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    t = torch.rand(5)
    assert torch.allclose(interpolate(x, noise, torch.ones(5)), x)
    assert torch.allclose(interpolate(x, noise, torch.zeros(5)), noise)
    perfect = flow_loss(lambda xt, tt, y: x - noise, x, t, noise)
    assert perfect.shape == (5,) and torch.all(perfect == 0)
    zero_model = flow_loss(lambda xt, tt, y: torch.zeros_like(xt), x, t, noise)
    assert torch.allclose(zero_model, ((x - noise) ** 2).flatten(1).mean(1))


def test_t_sampling_modes():
    generator = torch.Generator().manual_seed(0)
    uniform = sample_t(20000, "uniform", generator=generator)
    logit_normal = sample_t(20000, "logit_normal", generator=generator)
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean().item() - 0.5) < 0.01
    assert abs(uniform.var().item() - 1 / 12) < 0.003
    # logit-normal(0, 1) is symmetric about 1/2 and concentrated in the middle
    assert abs(logit_normal.median().item() - 0.5) < 0.01
    assert ((logit_normal - 0.5).abs() < 0.25).float().mean() > 0.5 + 0.1
    logits = torch.logit(logit_normal.double())
    assert abs(logits.std().item() - 1.0) < 0.03 and not math.isnan(logits.mean().item())
    with pytest.raises(ThresherError):
        sample_t(3, "cosine")


def test_integrate_rejects_bad_arguments(mixture, noise):
    with pytest.raises(ThresherError):
        integrate(mixture.velocity, noise[:4], 4, "rk4")
    with pytest.raises(ThresherError):
        integrate(mixture.velocity, noise[:4], 0, "euler")
