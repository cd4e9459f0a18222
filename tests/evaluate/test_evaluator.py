"""End-to-end evaluation on real MNIST digits with the reference classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thresher.errors import ThresherError
from thresher.evaluate.config import EvalConfig
from thresher.evaluate.evaluator import evaluate_images

FAST = EvalConfig(kid_subsets=5, kid_subset_size=300)


@pytest.fixture(scope="module")
def real_vs_real(classifier, mnist_split) -> dict:
    """Generated = real digits the model never saw: the best a generator can do."""
    train, heldout, extra = mnist_split["train"], mnist_split["heldout"], mnist_split["extra"]
    return evaluate_images(
        heldout[0][:500],
        extra[0][:1000],
        train[0],
        heldout[0][500:],
        classifier,
        FAST,
        reference_labels=extra[1][:1000],
        train_labels=train[1],
    )


def test_result_is_flat_json_with_every_metric_and_its_time(real_vs_real) -> None:
    json.dumps(real_vs_real, allow_nan=False)
    for key in (
        "fid",
        "kid",
        "kid_std",
        "inception_score",
        "precision",
        "recall",
        "f_score",
        "density",
        "coverage",
        "vendi",
        "memorization_mean",
        "memorization_heldout_median",
        "memorization_ratio",
        "memorization_pixel_mean",
        "class_entropy",
        "class_fid_std",
        "class_fid_max_over_min",
        "classifier_confidence",
        "classifier_holdout_accuracy",
    ):
        assert isinstance(real_vs_real[key], float), key
    for metric in (
        "extract",
        "fid",
        "kid",
        "inception_score",
        "prdc",
        "vendi",
        "memorization",
        "balance_class",
    ):
        assert real_vs_real[f"seconds_{metric}"] >= 0
    assert all(not isinstance(v, dict) for v in real_vs_real.values())
    assert real_vs_real["n_generated"] == 500 and real_vs_real["n_heldout"] == 500


def test_real_digits_score_like_real_data(real_vs_real) -> None:
    r = real_vs_real
    assert r["precision"] > 0.6 and r["recall"] > 0.6
    assert r["inception_score"] > 6  # ten well-recognized, evenly used classes
    assert 0.8 < r["memorization_ratio"] < 1.25  # unseen digits are as far from training as held-out ones
    assert (
        r["class_entropy"] > 0.97 and r["class_tv_reference"] < 0.15
    )  # sampling noise of 500 vs 1000 digits
    np.testing.assert_allclose(sum(r["class_share_gen"]), 1.0)


def test_training_share_uses_the_true_training_labels(real_vs_real, mnist_split) -> None:
    train_labels = mnist_split["train"][1]
    np.testing.assert_allclose(
        real_vs_real["class_share_train"], np.bincount(train_labels, minlength=10) / 2000
    )


def test_copies_of_training_images_are_flagged_as_memorized(classifier, mnist_split) -> None:
    train, heldout, extra = mnist_split["train"], mnist_split["heldout"], mnist_split["extra"]
    r = evaluate_images(train[0][:300], extra[0][:500], train[0][:1000], heldout[0][:300], classifier, FAST)
    assert r["memorization_mean"] == pytest.approx(0.0, abs=1e-2)
    # copies measure exactly 0 on every CPU: the nearest-neighbour distances are re-ranked exactly
    assert r["memorization_pixel_median"] == 0.0 and r["memorization_pixel_mean"] == 0.0
    assert r["memorization_ratio"] < 0.01


def test_missing_modes_and_noise_are_seen(classifier, mnist_split, real_vs_real) -> None:
    heldout, extra = mnist_split["heldout"], mnist_split["extra"]
    images, labels = heldout
    half = images[labels < 5][:400]
    r = evaluate_images(half, extra[0][:1000], None, None, classifier, FAST, reference_labels=extra[1][:1000])
    assert r["recall"] < real_vs_real["recall"] - 0.2
    assert r["precision"] > 0.6
    assert sum(r["class_share_gen"][5:]) < 0.1
    assert r["class_entropy"] == pytest.approx(np.log(5) / np.log(10), abs=0.08)
    assert r["fid"] > 2 * real_vs_real["fid"]
    assert "memorization_mean" not in r

    noise = np.random.default_rng(0).normal(0, 60, images[:500].shape)
    noisy = np.clip(images[:500] + noise, 0, 255).astype(np.uint8)
    n = evaluate_images(
        noisy, extra[0][:1000], None, None, classifier, FAST, reference_labels=extra[1][:1000]
    )
    assert n["fid"] > real_vs_real["fid"] and n["precision"] < real_vs_real["precision"]


def test_clusters_by_nearest_centroid_and_classes_without_a_class_head(classifier, mnist_split) -> None:
    heldout, extra = mnist_split["heldout"], mnist_split["extra"]

    class FeaturesOnly:  # an extractor like CLIP: features, no class head
        name, dim, num_classes = "features-only", classifier.dim, None

        def extract(self, images):
            return classifier.extract(images)

        def features_and_probs(self, images):
            return self.extract(images), None

    ref_feats = classifier.extract(extra[0][:1000])
    normed = ref_feats / np.linalg.norm(ref_feats, axis=1, keepdims=True)
    centroids = np.stack([normed[extra[1][:1000] == c].mean(0) for c in range(10)])
    r = evaluate_images(
        heldout[0][:400],
        extra[0][:1000],
        None,
        None,
        FeaturesOnly(),
        FAST,
        reference_labels=extra[1][:1000],
        cluster_centroids=centroids,
    )
    assert "inception_score" not in r and "classifier_confidence" not in r
    assert r["cluster_ids"] == list(range(10)) and len(r["cluster_fid"]) == 10
    # With class-mean centroids, clusters are the classes: shares match the true class shares.
    true_shares = np.bincount(heldout[1][:400], minlength=10) / 400
    np.testing.assert_allclose(r["cluster_share_gen"], true_shares, atol=0.05)
    np.testing.assert_allclose(r["class_share_gen"], r["cluster_share_gen"])
    assert r["seconds_balance_cluster"] >= 0


def test_too_few_images_is_a_user_error(classifier, mnist_split) -> None:
    images = mnist_split["heldout"][0]
    with pytest.raises(ThresherError, match="too few"):
        evaluate_images(images[:3], images[3:100], None, None, classifier, FAST)
