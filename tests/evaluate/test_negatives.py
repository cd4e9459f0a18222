"""Synthetic outliers for the classifier's reject class: right shape and range, seeded, every kind drawn."""

from __future__ import annotations

import torch

from thresher.evaluate.negatives import KINDS, make_negatives


def _real_batch(n: int = 16, channels: int = 1, side: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, channels, side, side, generator=g) * 2 - 1, torch.arange(n) % 4


def test_shape_range_and_seeding() -> None:
    real, targets = _real_batch(channels=3, side=8)  # small RGB images (sklearn-digit size) work too
    a = make_negatives(real, targets, 50, torch.Generator().manual_seed(3))
    b = make_negatives(real, targets, 50, torch.Generator().manual_seed(3))
    assert a.shape == (50, 3, 8, 8)
    assert a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)


def test_blends_average_two_images_of_different_classes(monkeypatch) -> None:
    import thresher.evaluate.negatives as negatives

    monkeypatch.setattr(negatives, "KINDS", ("blend",))
    real, targets = _real_batch()
    out = make_negatives(real, targets, 20, torch.Generator().manual_seed(0))
    pair_means = {
        (i, j): (real[i] + real[j]) / 2 for i in range(16) for j in range(16) if targets[i] != targets[j]
    }
    for image in out:
        assert any(torch.allclose(image, mean) for mean in pair_means.values())


def test_every_kind_differs_from_real_data() -> None:
    real, targets = _real_batch()
    out = make_negatives(real, targets, 200, torch.Generator().manual_seed(0))
    assert len(KINDS) == 5
    # no outlier is (close to) a copy of a real image
    distances = torch.cdist(out.flatten(1), real.flatten(1)).min(dim=1).values
    assert (distances > 1.0).all()
