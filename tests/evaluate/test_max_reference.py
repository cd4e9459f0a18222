"""`evaluate --max-reference`: a reference larger than the cap is a seeded sample of that many rows, the
training rows of a run are only ever streamed, and held-out rows are found by hashing that stream."""

from __future__ import annotations

import numpy as np
import pytest

from tests.evaluate.image_rows_doubles import StreamOnlyRows
from thresher.catalog import image_store_build
from thresher.catalog.samples import ok_sample_ids
from thresher.errors import ThresherError
from thresher.evaluate import eval_run
from thresher.evaluate import features as features_module
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.eval_run import REFERENCE_SAMPLE_SEED, _heldout, evaluate_run, reference_sample
from thresher.image_rows import ArrayRows

N_GENERATED = 40


def test_max_reference_defaults_to_10000_and_refuses_negative_values():
    assert EvalRunConfig(images="x").max_reference == 10_000
    assert EvalRunConfig(images="x", max_reference=0).max_reference == 0
    with pytest.raises(ThresherError, match="--max-reference must be at least 0") as error:
        EvalRunConfig(images="x", max_reference=-1)
    assert "\n" not in str(error.value)


def test_the_reference_sample_is_seeded_in_reference_order_and_only_when_over_the_cap():
    ids = np.arange(100, 1100, 2)
    sample = reference_sample(ids, 50, seed=3)
    assert len(sample) == len(np.unique(sample)) == 50 and np.isin(sample, ids).all()
    assert np.all(np.diff(sample) > 0)
    assert np.array_equal(reference_sample(ids, 50, seed=3), sample)
    assert not np.array_equal(reference_sample(ids, 50, seed=4), sample)
    for cap in (0, len(ids), len(ids) + 1):
        assert np.array_equal(reference_sample(ids, cap, seed=3), ids)


def test_held_out_rows_are_the_reference_rows_no_training_batch_holds():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(10, 4, 4, 1), dtype=np.uint8)
    fresh = rng.integers(0, 256, size=(3, 4, 4, 1), dtype=np.uint8)
    reference = np.concatenate([train[[1, 8]], fresh, train[[4]]])
    rows = StreamOnlyRows(ArrayRows(train))
    assert np.array_equal(_heldout(reference, rows, batch_size=3), fresh)
    assert rows.passes == 1 and rows.largest_asked == 3
    assert _heldout(reference[:3], ArrayRows(train), 4) is None  # one fresh row is no baseline
    assert _heldout(reference, None, 4) is None
    # a grey row is the same image as one channel or three equal ones (a set is RGB if any row is colour)
    colour_train = np.concatenate(
        [np.repeat(train, 3, axis=-1), rng.integers(0, 256, (1, 4, 4, 3), np.uint8)]
    )
    assert np.array_equal(_heldout(reference, ArrayRows(colour_train), 4), fresh)


class PixelFeatures:
    """A fast stand-in extractor: 7x7 pixel means as features, no class head."""

    name, dim, num_classes = "pixels", 49, None

    def extract(self, images: np.ndarray) -> np.ndarray:
        x = images[..., 0].astype(np.float32) / 255.0
        return x.reshape(len(x), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(x), 49)

    def features_and_probs(self, images: np.ndarray):
        return self.extract(images), None


@pytest.fixture
def run_evaluation(mnist_lt, tmp_path, monkeypatch):
    """evaluate_run of a stand-in run trained on all of mnist-lt (evaluated against it by default), its
    generated images given; records the rows each pixel_rows call returned and the classifier's reference."""
    ws = mnist_lt
    read: list[tuple[np.ndarray, StreamOnlyRows]] = []
    seen_reference: list[int] = []

    def streamed_pixel_rows(ws, source, sample_ids, **kwargs):
        rows = StreamOnlyRows(image_store_build.pixel_rows(ws, source, sample_ids, **kwargs))
        read.append((np.asarray(sample_ids), rows))
        return rows

    def fake_extractor(name, *, reference=None, **kwargs):
        seen_reference.append(len(reference[0]))
        return PixelFeatures()

    generated = np.random.default_rng(1).integers(0, 256, size=(N_GENERATED, 28, 28, 1), dtype=np.uint8)
    monkeypatch.setattr(eval_run, "pixel_rows", streamed_pixel_rows)
    monkeypatch.setattr(eval_run, "find_run_dir", lambda ws, run: tmp_path / "run")
    monkeypatch.setattr(eval_run, "_run_info", lambda ws, run: {"dataset": "mnist-lt"})
    monkeypatch.setattr(eval_run, "_read_generated", lambda path, background: generated)
    monkeypatch.setattr(features_module, "build_extractor", fake_extractor)

    def evaluate(**settings):
        read.clear()
        seen_reference.clear()
        config = EvalRunConfig(run="r", images="generated", batch_size=64, **settings)
        return evaluate_run(ws, config), list(read), list(seen_reference)

    return ws, evaluate


def test_a_reference_over_the_cap_is_one_fixed_sample_and_the_training_rows_are_streamed(run_evaluation):
    ws, evaluate = run_evaluation
    all_ids = ok_sample_ids(ws, "mnist-lt")
    outcome, read, classifier_reference = evaluate(max_reference=300, seed=5)
    m = outcome.metrics
    assert (m["n_reference"], m["n_reference_total"], m["n_train"]) == (300, len(all_ids), len(all_ids))
    assert classifier_reference == [300]  # the classifier trains on the capped reference
    (train_ids, train_rows), (ref_ids, ref_rows) = read
    assert np.array_equal(train_ids, all_ids)
    assert np.array_equal(ref_ids, reference_sample(all_ids, 300, seed=REFERENCE_SAMPLE_SEED))
    # the training rows: one pass of features and distances, one of hashes, batches of --batch-size
    assert train_rows.passes == 2 and train_rows.largest_asked == 64
    assert train_rows.rows_read == 2 * len(all_ids)
    assert m["n_heldout"] is None  # every reference row is a training row
    assert f"(a sample of {len(all_ids)})" in outcome.lines()[0] and isinstance(
        m["memorization_pixel_mean"], float
    )

    again, read_again, _ = evaluate(max_reference=300, seed=5)
    assert np.array_equal(read_again[1][0], ref_ids)
    assert again.metrics["fid"] == m["fid"] and again.metrics["memorization_mean"] == m["memorization_mean"]
    # another generation seed is measured against the same reference rows
    other, read_other, _ = evaluate(max_reference=300, seed=6)
    assert np.array_equal(read_other[1][0], ref_ids)


def test_an_uncapped_reference_that_is_the_training_set_is_read_once(run_evaluation):
    ws, evaluate = run_evaluation
    n = len(ok_sample_ids(ws, "mnist-lt"))
    outcome, read, classifier_reference = evaluate()  # 1703 rows: under the default cap
    m = outcome.metrics
    assert (m["n_reference"], m["n_reference_total"], m["n_train"]) == (n, n, n)
    assert classifier_reference == [n] and m["n_heldout"] is None
    ((_, rows),) = read
    assert rows.passes == 1 and rows.rows_read == n
    assert "a sample of" not in outcome.lines()[0]
