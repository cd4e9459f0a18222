from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from thresher.errors import ThresherError
from thresher.train.group_weights import DROConfig, GroupWeights, dro_step, group_sample_weights


def reference_step(alpha, lam, present, eta, smoothing, num_groups):
    """The documented rule, written out in numpy: DoReMi's step among the present groups, mass kept."""
    alpha = np.asarray(alpha, dtype=np.float64)
    new = alpha.copy()
    if present.all():
        logits = np.log(alpha) + eta * lam
        q = np.exp(logits - logits.max())
        q /= q.sum()
        return (1 - smoothing) * q + smoothing / num_groups
    mass = alpha[present].sum()
    floor = smoothing / num_groups
    logits = np.log(alpha[present]) + eta * lam[present]
    q = np.exp(logits - logits.max())
    q /= q.sum()
    new[present] = floor + (mass - present.sum() * floor) * q
    return new


def numpy_excess(proxy, ref, groups, num_groups):
    lam = np.full(num_groups, np.nan)
    for g in range(num_groups):
        rows = groups == g
        if rows.any():
            lam[g] = np.maximum(proxy[rows] - ref[rows], 0).mean()
    return lam


def batch(rng, num_groups, size=16, groups=None, shift=None):
    groups = rng.integers(0, num_groups, size) if groups is None else np.asarray(groups)
    ref = rng.uniform(0.5, 1.5, len(groups))
    proxy = ref + rng.normal(0.2, 0.5, len(groups)) + (0 if shift is None else np.asarray(shift)[groups])
    return torch.tensor(proxy), torch.tensor(ref), torch.tensor(groups)


def test_weight_moves_toward_the_group_with_higher_excess_loss():
    weights = GroupWeights(2, DROConfig(eta=1.0, smoothing=1e-3))
    groups = torch.tensor([0, 0, 1, 1])
    ref = torch.ones(4, dtype=torch.float64)
    proxy = torch.tensor([1.1, 1.1, 1.5, 1.5], dtype=torch.float64)  # excess 0.1 vs 0.5
    previous = 0.5
    for _ in range(5):
        alpha = weights.update(proxy, ref, groups)
        assert alpha[1] > previous and alpha.sum().item() == pytest.approx(1.0, abs=1e-12)
        previous = alpha[1].item()
    np.testing.assert_allclose(weights.excess_loss(proxy, ref, groups).numpy(), [0.1, 0.5], rtol=1e-12)


def test_weights_stay_a_distribution_above_the_floor_after_many_random_steps():
    rng = np.random.default_rng(0)
    num_groups, smoothing = 5, 0.05
    weights = GroupWeights(num_groups, DROConfig(eta=20.0, smoothing=smoothing))
    for step in range(300):
        size = 3 if step % 3 else 40  # small batches leave groups out
        alpha = weights.update(*batch(rng, num_groups, size=size, shift=[0, 0.5, 1, 0, 3]))
        assert abs(alpha.sum().item() - 1) < 1e-12
        assert alpha.min().item() >= smoothing / num_groups - 1e-15
        assert torch.isfinite(alpha).all()
    assert weights.steps == 300
    assert weights.average.sum().item() == pytest.approx(1.0, abs=1e-12)


def test_equal_losses_keep_weights_uniform():
    weights = GroupWeights(4, DROConfig(eta=3.0, smoothing=0.1))
    losses = torch.rand(32)
    groups = torch.arange(32) % 4
    for _ in range(10):
        alpha = weights.update(losses, losses, groups)
    np.testing.assert_allclose(alpha.numpy(), 0.25, rtol=1e-14)
    np.testing.assert_allclose(weights.average.numpy(), 0.25, rtol=1e-14)
    assert torch.equal(weights.sample_weights(groups), torch.ones(32))


def test_proxy_below_reference_is_clamped_to_zero_and_changes_nothing():
    weights = GroupWeights(3, DROConfig(eta=5.0, smoothing=0.01))
    ref = torch.full((9,), 2.0)
    proxy = ref - torch.rand(9)
    groups = torch.arange(9) % 3
    assert torch.equal(weights.excess_loss(proxy, ref, groups), torch.zeros(3, dtype=torch.float64))
    alpha = weights.update(proxy, ref, groups)
    np.testing.assert_allclose(alpha.numpy(), 1 / 3, rtol=1e-14)
    # from a non-uniform alpha with no smoothing, lambda = 0 is a fixed point too
    skewed = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    out = dro_step(skewed.log(), torch.zeros(3), torch.ones(3, dtype=torch.bool), eta=5.0, smoothing=0.0)
    np.testing.assert_allclose(out.numpy(), skewed.numpy(), rtol=1e-14)


def test_group_absent_from_a_batch_keeps_its_weight_exactly():
    rng = np.random.default_rng(1)
    weights = GroupWeights(3, DROConfig(eta=2.0, smoothing=0.01))
    for _ in range(5):  # make alpha non-uniform first
        weights.update(*batch(rng, 3, size=30, shift=[0, 1, 2]))
    before = weights.current
    proxy, ref, groups = batch(rng, 3, groups=[0, 1, 0, 1, 1], shift=[3, 0, 0])
    assert torch.isnan(weights.excess_loss(proxy, ref, groups)[2])
    after = weights.update(proxy, ref, groups)
    assert after[2].item() == before[2].item()
    assert after[0] > before[0]  # group 0 had the larger excess
    assert after[:2].sum().item() == pytest.approx(before[:2].sum().item(), abs=1e-15)
    assert after.sum().item() == pytest.approx(1.0, abs=1e-12)


def test_group_absent_from_the_subset_is_reported_and_never_nan():
    rng = np.random.default_rng(2)
    weights = GroupWeights(4, DROConfig(smoothing=0.2), present=[0, 2, 3])
    assert weights.absent_groups == [1] and weights.present_groups == [0, 2, 3]
    np.testing.assert_allclose(weights.current.numpy(), [1 / 3, 0, 1 / 3, 1 / 3])
    assert torch.equal(weights.sample_weights(torch.tensor([0, 2, 3])), torch.ones(3))
    for _ in range(20):
        alpha = weights.update(*batch(rng, 4, groups=rng.choice([0, 2, 3], 12), shift=[0, 0, 1, 2]))
        assert alpha[1].item() == 0.0 and torch.isfinite(alpha).all()
        assert alpha.min().item() == 0.0 and alpha[[0, 2, 3]].min().item() >= 0.2 / 3 - 1e-15
    assert torch.isfinite(weights.average).all() and weights.average[1].item() == 0.0
    lam = weights.excess_loss(*batch(rng, 4, groups=[0, 2, 2]))
    assert torch.isnan(lam[1]) and torch.isnan(lam[3]) and torch.isfinite(lam[[0, 2]]).all()
    with pytest.raises(ThresherError, match="declared absent"):
        weights.update(*batch(rng, 4, groups=[0, 1, 2]))


def test_average_and_current_match_a_numpy_hand_run():
    rng = np.random.default_rng(3)
    num_groups, eta, smoothing = 4, 1.5, 0.02
    weights = GroupWeights(num_groups, DROConfig(eta=eta, smoothing=smoothing))
    alpha = np.full(num_groups, 1 / num_groups)
    history = []
    for step in range(40):
        proxy, ref, groups = batch(rng, num_groups, size=24 if step % 4 else 3, shift=[0, 0.3, 0.6, 0.9])
        lam = numpy_excess(proxy.numpy(), ref.numpy(), groups.numpy(), num_groups)
        alpha = reference_step(alpha, lam, ~np.isnan(lam), eta, smoothing, num_groups)
        history.append(alpha)
        weights.update(proxy, ref, groups)
    np.testing.assert_allclose(weights.current.numpy(), alpha, rtol=1e-12)
    np.testing.assert_allclose(weights.average.numpy(), np.mean(history, axis=0), rtol=1e-12)
    groups = torch.tensor([0, 3, 3, 1])
    np.testing.assert_allclose(weights.sample_weights(groups).numpy(), 4 * alpha[[0, 3, 3, 1]], rtol=1e-6)
    np.testing.assert_allclose(
        weights.sample_weights(groups, average=True).numpy(),
        4 * np.mean(history, axis=0)[[0, 3, 3, 1]],
        rtol=1e-6,
    )


def test_dro_step_with_everything_present_is_doremi():
    rng = np.random.default_rng(4)
    alpha = rng.dirichlet(np.ones(6))
    lam = rng.uniform(0, 2, 6)
    out = dro_step(torch.tensor(alpha).log(), torch.tensor(lam), torch.ones(6, dtype=torch.bool), 0.7, 0.1)
    logits = np.log(alpha) + 0.7 * lam
    expected = 0.9 * np.exp(logits) / np.exp(logits).sum() + 0.1 / 6
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    # NaN excess outside the mask is ignored
    mask = torch.tensor([True, True, False, True, False, True])
    lam_nan = torch.tensor(np.where(mask.numpy(), lam, np.nan))
    assert torch.isfinite(dro_step(torch.tensor(alpha).log(), lam_nan, mask, 0.7, 0.1)).all()


def test_sample_weights_scale():
    alpha = torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=torch.float64)
    weights = group_sample_weights(alpha, torch.tensor([0, 1, 2]))
    assert weights.dtype == torch.float32
    np.testing.assert_allclose(weights.numpy(), [1.5, 0.75, 0.75])


@pytest.mark.parametrize(
    "kwargs", [{"eta": 0.0}, {"eta": -1.0}, {"eta": float("nan")}, {"smoothing": 1.0}, {"smoothing": -0.1}]
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ThresherError):
        DROConfig(**kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ThresherError):
        GroupWeights(0)
    with pytest.raises(ThresherError):
        GroupWeights(3, present=[])
    with pytest.raises(ThresherError):
        GroupWeights(3, present=[0, 3])
    weights = GroupWeights(3)
    good = torch.ones(4), torch.ones(4), torch.tensor([0, 1, 2, 0])
    bad_batches = [
        (torch.ones(3), torch.ones(4), good[2]),  # shape mismatch
        (torch.ones(0), torch.ones(0), torch.zeros(0, dtype=torch.long)),  # empty
        (torch.tensor([1.0, float("nan"), 1.0, 1.0]), good[1], good[2]),  # non-finite
        (good[0], good[1], good[2].float()),  # float group ids
        (good[0], good[1], torch.tensor([0, 1, 3, 0])),  # out of range
        (torch.ones(2, 2), torch.ones(2, 2), torch.zeros(2, 2, dtype=torch.long)),  # not per-sample
    ]
    for proxy, ref, groups in bad_batches:
        with pytest.raises(ThresherError):
            weights.update(proxy, ref, groups)
    assert weights.steps == 0


def test_state_dict_round_trip_resumes_identically():
    rng = np.random.default_rng(5)
    batches = [batch(rng, 5, size=6, groups=rng.choice([0, 1, 3, 4], 6)) for _ in range(20)]
    config = DROConfig(eta=2.0, smoothing=0.05)
    straight = GroupWeights(5, config, present=[0, 1, 3, 4])
    first = GroupWeights(5, config, present=[0, 1, 3, 4])
    for b in batches[:10]:
        straight.update(*b)
        first.update(*b)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = GroupWeights(5, config, present=[0, 1, 3, 4])
    resumed.load_state_dict(torch.load(buffer))
    for b in batches[10:]:
        straight.update(*b)
        resumed.update(*b)
    assert resumed.steps == straight.steps == 20
    assert torch.equal(resumed.current, straight.current)
    assert torch.equal(resumed.average, straight.average)
    with pytest.raises(ThresherError, match="eta"):
        GroupWeights(5, DROConfig(eta=1.0, smoothing=0.05), present=[0, 1, 3, 4]).load_state_dict(
            straight.state_dict()
        )
    with pytest.raises(ThresherError, match="present"):
        GroupWeights(5, config).load_state_dict(straight.state_dict())
