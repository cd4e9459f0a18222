"""Inception Score against its analytic values."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.evaluate.metrics.inception_score import inception_score, renormalize_class_probs


def test_confident_and_balanced_gives_number_of_classes() -> None:
    classes = 10
    probs = np.eye(classes)[np.arange(1000) % classes]
    mean, _ = inception_score(probs, splits=1)
    assert mean == pytest.approx(classes, rel=1e-9)


def test_class_sorted_samples_are_shuffled_before_splitting() -> None:
    # 10 splits of class-sorted one-hot rows would each hold one class (IS 1) without the shuffle.
    probs = np.eye(10)[np.repeat(np.arange(10), 100)]
    mean, std = inception_score(probs, splits=10)
    assert mean > 8.5 and std < 1.0


def test_single_class_or_uninformative_predictions_give_one() -> None:
    assert inception_score(np.tile(np.eye(5)[2], (100, 1)))[0] == pytest.approx(1.0)
    assert inception_score(np.full((100, 5), 0.2))[0] == pytest.approx(1.0)


def test_matches_direct_kl_formula_for_soft_probabilities() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 7)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    marginal = probs.mean(0)
    expected = np.exp((probs * np.log(probs / marginal)).sum(1).mean())
    assert inception_score(probs, splits=1)[0] == pytest.approx(expected, rel=1e-10)


def test_invalid_input_raises() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.ones((20, 3)))
    with pytest.raises(ValueError, match="at least 10"):
        inception_score(np.full((5, 2), 0.5))


def test_rejected_rows_are_renormalized_and_fully_rejected_rows_become_uniform() -> None:
    # Rows of a classifier with a reject output: class mass 0.5, 1.0, and 0 (underflowed in float32).
    probs = np.array([[0.4, 0.1, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    renormalized = renormalize_class_probs(probs)
    assert np.allclose(renormalized, [[0.8, 0.2, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]])
    score, _ = inception_score(np.repeat(renormalized, 10, axis=0), splits=2)
    assert np.isfinite(score) and score > 1.0
