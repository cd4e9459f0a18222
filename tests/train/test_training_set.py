"""TrainingSet validation, the torch Dataset view and the stateless epoch sampler."""

from __future__ import annotations

import pytest
import torch

from thresher.errors import ThresherError
from thresher.train.flow import NULL_LABEL
from thresher.train.training_set import EpochSampler, TrainingSet, TrainingSetDataset


def _pixels(n=4):
    return torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": torch.rand(4, 1, 8, 8)}, "uint8"),
        ({"images": _pixels(), "space": "latent"}, "float latents"),
        ({"images": _pixels(), "space": "voxels"}, "unknown data space"),
        ({"sample_ids": torch.arange(3)}, "3 sample ids"),
        ({"labels": torch.tensor([0, 1, 2, 3]), "num_classes": 3}, "labels outside"),
        ({"weights": torch.tensor([1.0, -1.0, 1.0, 1.0])}, "weights"),
        ({"weights": torch.zeros(4)}, "weights"),
    ],
)
def test_invalid_training_sets_are_user_errors(kwargs, message):
    settings = {"images": _pixels(), "labels": None, "sample_ids": torch.arange(4), **kwargs}
    with pytest.raises(ThresherError, match=message):
        TrainingSet(**settings)


def test_dataset_items():
    images = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    images[1] = 255
    images[2] = 128
    data = TrainingSet(
        images, torch.tensor([2, 0, 1]), torch.tensor([7, 8, 9]), torch.tensor([1.0, 2.0, 3.0])
    )
    assert data.num_classes == 3  # inferred from the labels
    dataset = TrainingSetDataset(data)
    x, label, weight, sample_id = dataset[1]
    assert torch.equal(x, torch.ones(1, 2, 2)) and label.item() == 0 and sample_id.item() == 8
    assert torch.equal(dataset[0][0], -torch.ones(1, 2, 2))
    assert abs(dataset[2][0][0, 0, 0].item() - (128 / 127.5 - 1)) < 1e-6
    # weights are rescaled to mean 1
    assert torch.allclose(torch.stack([dataset[i][2] for i in range(3)]), torch.tensor([0.5, 1.0, 1.5]))

    latents = TrainingSet(torch.randn(2, 4, 2, 2) * 3, None, torch.tensor([1, 2]), space="latent")
    x, label, weight, _ = TrainingSetDataset(latents)[0]
    assert torch.equal(x, latents.images[0]) and label.item() == NULL_LABEL and weight.item() == 1.0


def test_epoch_sampler_is_a_function_of_seed_and_epoch():
    sampler = EpochSampler(50, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(50)) and list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == list(range(50)) and second != first
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(EpochSampler(50, seed=4)) != first


def test_weighted_epoch_sampler_draws_in_proportion():
    weights = torch.tensor([0.0, 1.0, 3.0, 6.0])
    sampler = EpochSampler(4, seed=0, weights=weights)
    counts = torch.zeros(4)
    for epoch in range(2000):
        sampler.set_epoch(epoch)
        counts += torch.bincount(torch.tensor(list(sampler)), minlength=4)
    assert counts[0] == 0
    assert torch.allclose(counts / counts.sum(), weights / weights.sum(), atol=0.015)
