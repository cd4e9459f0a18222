"""Gradient-based scores against independent computations: autograd loops, hand formulas, planted data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from thresher.curate.scores.gradient_signals import (
    el2n_scores,
    gradient_sum,
    grand_scores,
    monotonicity_scores,
    moso_terms,
    per_sample_gradients,
    per_sample_losses,
    probe_flow_loss,
    probe_points,
    select_parameters,
)
from thresher.errors import ThresherError
from thresher.train.flow import flow_loss
from thresher.train.model import build_model

SHAPE = (1, 8, 8)
SUBSETS = ("all", "last-block", "final-layer")


def tiny_dit(num_classes: int | None = 3, seed: int = 0, dtype=torch.float64):
    """A 2-block DiT whose weights are all perturbed: at DiT's zero init most gradients would be zero."""
    torch.manual_seed(seed)
    model = build_model("DiT-T/4", SHAPE[0], SHAPE[1], num_classes, width=32, depth=2, heads=2)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return model.to(dtype).eval()


def data(n: int, conditional: bool = True, dtype=torch.float64, k: int = 2, m: int = 2):
    x = torch.randn(n, *SHAPE, generator=torch.Generator().manual_seed(1)).to(dtype)
    labels = torch.arange(n) % 3 if conditional else None
    t, noise = probe_points(np.arange(100, 100 + n), SHAPE, k, m, seed=7)
    return x, labels, t.to(dtype), noise.to(dtype)


def reference_gradients(model, x, labels, t, noise) -> list[dict[str, torch.Tensor]]:
    """Per-sample ∇ of the probe-averaged loss by plain autograd: one sample, one probe per model call."""
    out = []
    for i in range(len(x)):
        model.zero_grad()
        total = 0.0
        for p in range(t.shape[1]):
            ti, ei = t[i, p : p + 1], noise[i, p : p + 1]
            xt = ti.view(1, 1, 1, 1) * x[i : i + 1] + (1 - ti.view(1, 1, 1, 1)) * ei
            label = None if labels is None else labels[i : i + 1]
            velocity = model(xt, ti, label)
            total = total + ((velocity - (x[i : i + 1] - ei)) ** 2).mean() / t.shape[1]
        total.backward()
        out.append({name: param.grad.detach().clone() for name, param in model.named_parameters()})
    model.zero_grad()
    return out


def flat(grads: dict[str, torch.Tensor], names) -> torch.Tensor:
    return torch.cat([grads[name].flatten() for name in names])


@pytest.mark.parametrize("conditional", [True, False])
def test_grand_matches_autograd_loop(conditional):
    model = tiny_dit(3 if conditional else None)
    x, labels, t, noise = data(5, conditional)
    reference = reference_gradients(model, x, labels, t, noise)
    for which in SUBSETS:
        names = list(select_parameters(model, which))
        expected = torch.stack([flat(g, names).norm() for g in reference])
        got = grand_scores(model, x, labels, t, noise, which, chunk_size=2)
        assert expected.min() > 0
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-12)
    # The flattened gradients themselves, chunked with a remainder (5 = 2 + 2 + 1).
    rows = torch.cat(list(per_sample_gradients(model, x, labels, t, noise, "all", chunk_size=2)))
    names = [name for name, _ in model.named_parameters()]
    expected_rows = torch.stack([flat(g, names) for g in reference])
    # flow_loss squares the error in float32, so single entries carry float32 rounding (relative to scale).
    torch.testing.assert_close(rows, expected_rows, rtol=1e-5, atol=1e-6 * float(expected_rows.abs().max()))


def test_select_parameters_subsets_and_errors():
    model = tiny_dit()
    assert set(select_parameters(model, "last-block")) == {
        f"dit.transformer_blocks.1.{name}" for name, _ in model.dit.transformer_blocks[1].named_parameters()
    }
    assert {name.rsplit(".", 1)[0] for name in select_parameters(model, "final-layer")} == {
        "dit.proj_out_1",
        "dit.proj_out_2",
    }
    assert len(select_parameters(model, "all")) == len(list(model.parameters()))
    with pytest.raises(ThresherError, match="unknown parameter subset"):
        select_parameters(model, "first-block")
    with pytest.raises(ThresherError, match="needs a DiT"):
        select_parameters(nn.Linear(2, 1), "last-block")
    model.dit.proj_out_1.requires_grad_(False)
    model.dit.proj_out_2.requires_grad_(False)
    with pytest.raises(ThresherError, match="names no trainable parameter"):
        select_parameters(model, "final-layer")


@pytest.mark.parametrize("conditional", [True, False])
def test_el2n_is_mean_of_flow_loss_per_probe(conditional):
    model = tiny_dit(3 if conditional else None, dtype=torch.float32)
    x, labels, t, noise = data(7, conditional, dtype=torch.float32, k=3, m=2)
    model.train()  # scoring must switch to eval mode and restore the mode afterwards
    losses = per_sample_losses(model, x, labels, t, noise, batch_size=3)
    assert model.training
    model.eval()
    with torch.no_grad():
        expected = torch.stack(
            [flow_loss(model, x, t[:, p], noise[:, p], labels) for p in range(t.shape[1])], dim=1
        )
    torch.testing.assert_close(losses, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(el2n_scores(model, x, labels, t, noise, batch_size=4), expected.mean(1))


def test_probe_points_seeded_per_sample_id():
    ids = np.array([5, 9, 2, 40])
    t, noise = probe_points(ids, (2, 3), 4, 3, seed=11)
    assert t.shape == (4, 12) and noise.shape == (4, 12, 2, 3)
    torch.testing.assert_close(t[0], torch.tensor([0.125] * 3 + [0.375] * 3 + [0.625] * 3 + [0.875] * 3))
    assert torch.equal(t, t[:1].expand_as(t))
    # Same id, other position and batch composition: the same noise.
    _, other = probe_points(np.array([40, 7, 9]), (2, 3), 4, 3, seed=11)
    assert torch.equal(other[0], noise[3]) and torch.equal(other[2], noise[1])
    _, single = probe_points(torch.tensor([2]), (2, 3), 4, 3, seed=11)
    assert torch.equal(single[0], noise[2])
    # Different ids, different probes of one id, and a different seed: different noise.
    assert not torch.allclose(noise[0], noise[1])
    assert not torch.allclose(noise[0, 0], noise[0, 1])
    _, reseeded = probe_points(ids, (2, 3), 4, 3, seed=12)
    assert not torch.allclose(reseeded, noise)
    with pytest.raises(ThresherError):
        probe_points(np.array([-1]), (2,), 1, 1, seed=0)


def hand_moso(checkpoints, x, labels, t, noise, which):
    """score(z) = mean_c lr_c (ḡ_c − g_z/N)·g_z from the full stacked per-sample gradient matrix."""
    total = torch.zeros(len(x), dtype=torch.float64)
    for model, lr in checkpoints:
        names = list(select_parameters(model, which))
        matrix = torch.stack([flat(g, names) for g in reference_gradients(model, x, labels, t, noise)])
        mean = matrix.mean(dim=0)
        total += lr * ((mean - matrix / len(x)) * matrix).sum(dim=1)
    return total / len(checkpoints)


def moso_by_parts(checkpoints, x, labels, t, noise, which, *, part_size, chunk_size, loss=probe_flow_loss):
    """MoSo as a score run composes it (thresher.curate.gradient_scoring): per checkpoint, the gradient sums
    of every part added into ḡ, then each part's terms; the mean over the checkpoints."""
    n = len(x)
    parts = [slice(start, start + part_size) for start in range(0, n, part_size)]
    total = torch.zeros(n, dtype=torch.float64)
    for model, lr in checkpoints:
        inputs = [(x[p], None if labels is None else labels[p], t[p], noise[p]) for p in parts]
        sums = [gradient_sum(model, *part, which, chunk_size=chunk_size, loss=loss) for part in inputs]
        mean = sum(sums) / n
        total += torch.cat(
            [
                moso_terms(model, *part, mean, n, lr, which, chunk_size=chunk_size, loss=loss)
                for part in inputs
            ]
        )
    return total / len(checkpoints)


def test_moso_matches_brute_force_each_checkpoint_once():
    models = [tiny_dit(seed=s) for s in (1, 2, 3)]
    lrs = [0.5, 0.1, 2.0]
    x, labels, t, noise = data(7)  # 7 samples in parts of 4 + 3, chunks of 3: 3 + 1 and 3
    checkpoints = list(zip(models, lrs, strict=True))
    got = moso_by_parts(checkpoints, x, labels, t, noise, "last-block", part_size=4, chunk_size=3)
    expected = hand_moso(checkpoints, x, labels, t, noise, "last-block")
    assert got.shape == (7,) and torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-12)
    # Linear in the checkpoints, each weighted once: the mean of single-checkpoint scores; and the parts
    # do not change the scores.
    singles = [
        moso_by_parts([c], x, labels, t, noise, "last-block", part_size=7, chunk_size=4) for c in checkpoints
    ]
    torch.testing.assert_close(got, sum(singles) / 3, rtol=1e-6, atol=1e-12)


def test_moso_unconditional_all_parameters():
    models = [tiny_dit(None, seed=s) for s in (4, 5)]
    x, _, t, noise = data(5, conditional=False)
    got = moso_by_parts(
        [(models[0], 1.0), (models[1], 0.25)], x, None, t, noise, "all", part_size=3, chunk_size=2
    )
    expected = hand_moso([(models[0], 1.0), (models[1], 0.25)], x, None, t, noise, "all")
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-12)


def squared_error(velocity_fn, x, label, t, noise):
    """A generic per-sample loss for a regression model: (f(x) − y)², the label carrying the target y."""
    return (velocity_fn(x.unsqueeze(0)).squeeze() - label) ** 2


def test_moso_least_squares_outlier_scores_lowest():
    rng = np.random.default_rng(0)
    d, n = 3, 40
    w_star = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x = torch.from_numpy(rng.standard_normal((n, d)))
    y = x @ w_star + 0.01 * torch.from_numpy(rng.standard_normal(n))
    outlier = 17
    x[outlier] = 2 * w_star / w_star.norm()
    y[outlier] = -3 * (x[outlier] @ w_star)  # a corrupted target: its gradient opposes everyone else's
    t, noise = torch.zeros(n, 1, dtype=torch.float64), torch.zeros(n, 1, d, dtype=torch.float64)

    def checkpoint(alpha):  # a point on the path from 0 to the solution
        model = nn.Linear(d, 1, bias=False).double()
        with torch.no_grad():
            model.weight.copy_(alpha * w_star)
        return model

    checkpoints = [(checkpoint(a), lr) for a, lr in ((0.0, 0.1), (0.2, 0.05), (0.4, 0.02))]
    scores = moso_by_parts(checkpoints, x, y, t, noise, "all", part_size=15, chunk_size=8, loss=squared_error)
    # (ḡ − g_z/N)·g_z = (1/N) Σ_{i≠z} g_i·g_z: the outlier's gradient points against all the others, so its
    # score is negative, and the lowest (removing it lowers the risk: it is the first to prune). Clean
    # samples agree with the others on average (a clean one with w*·x ≈ 0 may land slightly below 0).
    assert int(scores.argmin()) == outlier and scores[outlier] < 0
    clean = np.delete(scores.numpy(), outlier)
    assert clean.mean() > 0 and scores[outlier] < 10 * clean.min()
    # The same with the plain formula on the closed-form gradients g_i = 2 (w·x_i − y_i) x_i.
    expected = torch.zeros(n, dtype=torch.float64)
    for alpha, lr in ((0.0, 0.1), (0.2, 0.05), (0.4, 0.02)):
        g = 2 * (x @ (alpha * w_star) - y)[:, None] * x
        expected += lr * ((g.mean(0) - g / n) * g).sum(1) / 3
    torch.testing.assert_close(scores, expected, rtol=1e-10, atol=1e-12)


def test_monotonicity_hand_computed():
    log = np.array(
        [
            [1.0, 1.0, 5.0, 2.0, np.nan],
            [2.0, 1.0, 4.0, np.nan, 1.0],
            [3.0, 1.0, 3.0, 3.0, np.nan],
            [2.0, 1.0, 4.0, 4.0, np.nan],
        ]
    )
    # Rises among the 3 pairs: 2/3; ties are no rise: 0; 1/3; NaN pairs skipped: 1 of 1; no pair seen: NaN.
    np.testing.assert_allclose(monotonicity_scores(log), [2 / 3, 0.0, 1 / 3, 1.0, np.nan])
    with pytest.raises(ThresherError, match="at least 2 epochs"):
        monotonicity_scores(np.ones((1, 4)))
    with pytest.raises(ThresherError, match="2-D"):
        monotonicity_scores(np.ones(4))


def test_scores_deterministic_across_calls():
    model = tiny_dit(dtype=torch.float32)
    x = torch.randn(6, *SHAPE, generator=torch.Generator().manual_seed(3))
    labels = torch.arange(6) % 3

    def run():
        t, noise = probe_points(np.arange(6), SHAPE, 2, 2, seed=5)
        return (
            grand_scores(model, x, labels, t, noise, "final-layer", chunk_size=4),
            el2n_scores(model, x, labels, t, noise),
            moso_by_parts([(model, 1.0)], x, labels, t, noise, "final-layer", part_size=6, chunk_size=4),
        )

    for first, second in zip(run(), run(), strict=True):
        assert torch.equal(first, second)
