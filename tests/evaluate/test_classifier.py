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
    # With the reject output the class probabilities sum to 1 - p(reject): close to 1 on real digits.
    assert (probs.sum(axis=1) <= 1.0 + 1e-6).all() and probs.sum(axis=1).mean() > 0.95
    np.testing.assert_allclose(classifier.reject_probability(images[:50]), 1.0 - probs.sum(axis=1), atol=1e-6)
    assert classifier.class_ids == list(range(10))
    assert classifier.mean_confidence(images[:50]) == pytest.approx(probs.max(axis=1).mean(), rel=1e-6)
    # Ambiguous digits (two different digits overlaid, as a poor generator draws them) get lower confidence.
    labels = mnist_split["heldout"][1]
    first = images[:200][labels[:200] != labels[200:400]]
    second = images[200:400][labels[:200] != labels[200:400]]
    blend = ((first.astype(np.uint16) + second) // 2).astype(np.uint8)
    assert classifier.mean_confidence(blend) < classifier.mean_confidence(first) - 0.1


def test_rejects_images_that_are_no_digit(classifier, mnist_split) -> None:
    """Without a reject class the CNN gave noise 1.00 and a blank image 0.96 mean confidence."""
    images, _ = mnist_split["heldout"]
    rng = np.random.default_rng(1)
    noise = rng.normal(128, 60, (200, 28, 28, 1)).clip(0, 255).astype(np.uint8)
    blank = np.zeros((20, 28, 28, 1), dtype=np.uint8)
    shuffled = np.stack([rng.permutation(im.ravel()).reshape(28, 28, 1) for im in images[:200]])
    real = classifier.mean_confidence(images)
    assert real > 0.9
    for name, fake in {"noise": noise, "blank": blank, "shuffled": shuffled}.items():
        assert classifier.mean_confidence(fake) < 0.3, name
        assert classifier.reject_probability(fake).mean() > 0.7, name


def test_without_reject_class_probabilities_sum_to_one(mnist_split) -> None:
    images, labels = mnist_split["extra"][0][:300], mnist_split["extra"][1][:300]
    plain = train_classifier(images, labels, ClassifierConfig(epochs=1, reject_class=False))
    probs = plain.class_probs(images[:20])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert probs.shape == (20, 10)


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
