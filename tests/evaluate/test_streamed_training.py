"""`evaluate_images` reads the training rows as a stream: an array, ArrayRows and rows that can only be
streamed give the same figures, and the training set is never held whole (images, features or pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.evaluate.image_rows_doubles import StreamOnlyRows, assert_same_metrics
from thresher.errors import ThresherError
from thresher.evaluate.config import EvalConfig
from thresher.evaluate.evaluator import evaluate_images
from thresher.evaluate.features import extract_rows, rows_batch_size
from thresher.image_rows import ArrayRows

# per-group FID (gen vs reference only, the slowest part here) is left out: nothing of it streams
FAST = EvalConfig(kid_subsets=5, kid_subset_size=200, max_fid_groups=0, batch_size=300)


class CountingExtractor:
    """Wraps an extractor and records how many images each call got."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim, self.num_classes = inner.name, inner.dim, inner.num_classes
        self.calls: list[int] = []

    def __getattr__(self, name: str):  # class_ids, holdout_accuracy, batch_size
        return getattr(self.inner, name)

    def extract(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[0]

    def features_and_probs(self, images: np.ndarray):
        self.calls.append(len(images))
        return self.inner.features_and_probs(images)


class FeaturesOnly:
    """An extractor like CLIP (features, no class head, no batch of its own): classes by nearest mean."""

    num_classes = None

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self.name, self.dim = "features-only", classifier.dim

    def extract(self, images: np.ndarray) -> np.ndarray:
        return self.classifier.extract(images)

    def features_and_probs(self, images: np.ndarray):
        return self.extract(images), None


def parts(mnist_split):
    train, heldout, extra = mnist_split["train"], mnist_split["heldout"], mnist_split["extra"]
    return train[0], heldout[0][:300], extra[0][:500], heldout[0][300:500], extra[1][:500]


def centroids(classifier, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    feats = classifier.extract(images)
    normed = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    return np.stack([normed[labels == c].mean(0) for c in range(10)])


@pytest.mark.parametrize("head", [True, False])
def test_an_array_array_rows_and_stream_only_rows_give_the_same_metrics(classifier, mnist_split, head):
    train, generated, reference, heldout, ref_labels = parts(mnist_split)
    extractor = classifier if head else FeaturesOnly(classifier)
    # training classes are predicted (no train_labels) and clusters assigned in the pass
    kwargs = dict(reference_labels=ref_labels, cluster_centroids=centroids(classifier, reference, ref_labels))
    results = [
        evaluate_images(generated, reference, train_images, heldout, extractor, FAST, **kwargs)
        for train_images in (train, ArrayRows(train), StreamOnlyRows(ArrayRows(train)))
    ]
    for other in results[1:]:
        assert_same_metrics(other, results[0])
    r = results[0]
    assert r["n_train"] == len(train) and len(r["class_share_train"]) == len(r["cluster_share_train"]) == 10
    predicted = np.bincount(classifier.predict(train), minlength=10) / len(train)
    if head:  # the training shares are the classifier's predictions over every training row
        np.testing.assert_allclose(r["class_share_train"], predicted)
    for key in ("memorization_mean", "memorization_ratio", "memorization_pixel_mean", "class_tv_train"):
        assert isinstance(r[key], float), key


def test_evaluation_streams_the_training_rows_once_in_bounded_batches(classifier, mnist_split):
    train, generated, reference, heldout, ref_labels = parts(mnist_split)
    extractor = CountingExtractor(classifier)
    rows = StreamOnlyRows(ArrayRows(train))
    config = EvalConfig(kid_subsets=5, kid_subset_size=200, max_fid_groups=0, batch_size=100)
    r = evaluate_images(generated, reference, rows, heldout, extractor, config, reference_labels=ref_labels)
    bound = rows_batch_size(classifier, config.batch_size)
    assert bound == classifier.batch_size == 512  # the classifier's own batch: features as if extracted whole
    assert rows.passes == 1 and rows.rows_read == len(train) == r["n_train"]
    assert rows.largest_asked == bound < len(train)
    # the extractor never saw the training set whole: every call was a set in memory or one batch
    assert max(extractor.calls) <= max(len(generated), len(reference), len(heldout), bound) < len(train)
    assert r["memorization_pixel_mean"] > 0 and r["seconds_memorization"] >= 0


def test_extract_rows_yields_every_row_in_order_in_the_extractors_batches(classifier, mnist_split):
    train = mnist_split["train"][0][:1100]
    batches = list(extract_rows(classifier, ArrayRows(train), 600))
    assert [len(b.images) for b in batches] == [1024, 76]  # 600 rounded up to the classifier's 512s
    feats, probs = classifier.features_and_probs(train)
    assert np.array_equal(np.concatenate([b.features for b in batches]), feats)
    assert np.array_equal(np.concatenate([b.probs for b in batches]), probs)
    assert rows_batch_size(FeaturesOnly(classifier), 600) == 600


def test_the_reference_as_training_set_is_extracted_once(classifier, mnist_split):
    _, generated, reference, _, ref_labels = parts(mnist_split)
    extractor = CountingExtractor(classifier)
    r = evaluate_images(generated, reference, reference, None, extractor, FAST, reference_labels=ref_labels)
    assert sorted(extractor.calls) == [len(generated), len(reference)]
    predicted = np.bincount(classifier.predict(reference), minlength=10) / len(reference)
    assert r["n_train"] == len(reference)
    np.testing.assert_allclose(r["class_share_train"], predicted)  # no training labels: predicted ones
    assert "memorization_heldout_mean" not in r


def test_an_empty_training_set_is_a_user_error(classifier, mnist_split):
    train, generated, reference, _, _ = parts(mnist_split)
    with pytest.raises(ThresherError, match="training set has no images"):
        evaluate_images(generated, reference, ArrayRows(train[:0]), None, classifier, FAST)
