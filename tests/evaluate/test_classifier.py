"""The reference classifier: accuracy on real held-out digits, caching, determinism, other image shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thresher.evaluate import classifier as classifier_module
from thresher.evaluate.classifier import ClassifierConfig, load_or_train_classifier, train_classifier


def test_classifies_unseen_real_digits(classifier, mnist_split) -> None:
    images, labels = mnist_split["heldout"]
    assert classifier.holdout_accuracy is not None and classifier.holdout_accuracy > 0.9
    assert classifier.accuracy(images, labels) > 0.9
    # Shifted digits (as generators draw them) are still recognized: the training augmentation's job.
    shifted = np.roll(images, shift=(2, -2), axis=(1, 2))
    assert classifier.accuracy(shifted, labels) > 0.8


def test_features_probabilities_and_confidence(classifier, mnist_split) -> None:
    images, _ = mnist_split["heldout"]
    feats, probs = classifier.features_and_probs(images[:50])
    assert feats.shape == (50, 128) and feats.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.class_ids == list(range(10))
    assert classifier.mean_confidence(images[:50]) == pytest.approx(probs.max(axis=1).mean(), rel=1e-6)
    # Ambiguous digits (two different digits overlaid, as a poor generator draws them) get lower confidence.
    labels = mnist_split["heldout"][1]
    first = images[:200][labels[:200] != labels[200:400]]
    second = images[200:400][labels[:200] != labels[200:400]]
    blend = ((first.astype(np.uint16) + second) // 2).astype(np.uint8)
    assert classifier.mean_confidence(blend) < classifier.mean_confidence(first) - 0.1


def test_accepts_rgb_images_of_another_size(classifier, mnist_split) -> None:
    images, labels = mnist_split["heldout"]
    rgb = np.repeat(images[:200], 3, axis=-1)
    bigger = torch.nn.functional.interpolate(
        torch.from_numpy(rgb).permute(0, 3, 1, 2).float(), size=(32, 32), mode="bilinear"
    )
    bigger = bigger.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    assert classifier.accuracy(bigger, labels[:200]) > 0.85


def test_cache_reuses_the_trained_model(tmp_path, mnist_split, monkeypatch) -> None:
    images, labels = mnist_split["extra"][0][:300], mnist_split["extra"][1][:300]
    config = ClassifierConfig(epochs=1)
    first = load_or_train_classifier(images, labels, cache_dir=tmp_path, config=config)
    assert len(list(tmp_path.glob("classifier-*.pt"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("should have loaded from the cache")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    second = load_or_train_classifier(images, labels, cache_dir=tmp_path, config=config)
    np.testing.assert_array_equal(first.extract(images[:20]), second.extract(images[:20]))
    assert second.holdout_accuracy == first.holdout_accuracy
    # Other labels are other reference data: a new fingerprint, so no stale model is reused.
    with pytest.raises(AssertionError, match="cache"):
        load_or_train_classifier(images, np.roll(labels, 1), cache_dir=tmp_path, config=config)


def test_training_is_seeded(mnist_split) -> None:
    images, labels = mnist_split["extra"][0][:200], mnist_split["extra"][1][:200]
    config = ClassifierConfig(epochs=1, holdout_fraction=0.0)
    a, b = train_classifier(images, labels, config), train_classifier(images, labels, config)
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    with pytest.raises(ValueError, match="one label per image"):
        train_classifier(images, labels[:10], config)


@pytest.mark.slow
def test_default_recipe_reaches_mnist_accuracy(mnist) -> None:
    """The shipped recipe on 4000 real digits, tested on the other 1000 (benchmarks/evaluate_cost.py prints it)."""
    images, labels = mnist
    model = train_classifier(images[:4000], labels[:4000], ClassifierConfig(holdout_fraction=0.0))
    assert model.accuracy(images[4000:], labels[4000:]) > 0.96
