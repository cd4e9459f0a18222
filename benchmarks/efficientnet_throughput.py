"""Throughput of the ``efficientnet-lite0`` embedder: preprocess (PIL) and forward, at 224 px, batch 32.

    uv run python benchmarks/efficientnet_throughput.py [--images 256] [--batch-size 32] [--device cpu]
        [--threads N]

Images are crops of the colour photos that ship with scikit-image (chelsea, coffee, astronaut, rocket),
300-450 px on a side like typical dataset images, so preprocess includes a real downscale. Forward is
``embedder.forward`` on preprocessed batches after one warm-up batch; images/s are over all batches.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from skimage import data

from thresher.device import pick_device
from thresher.embedders import build_embedder


def photos(n: int, seed: int = 0) -> list[Image.Image]:
    sources = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        photo = sources[i % len(sources)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1.0)), int(w * rng.uniform(0.7, 1.0))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        out.append(Image.fromarray(photo[top : top + ch, left : left + cw]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    embedder = build_embedder("efficientnet-lite0", device)
    images = photos(args.images)

    start = time.perf_counter()
    batches = [
        torch.stack([embedder.preprocess(img) for img in images[s : s + args.batch_size]])
        for s in range(0, len(images), args.batch_size)
    ]
    preprocess_s = time.perf_counter() - start
    embedder.forward(batches[0])  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in batches:
        embedder.forward(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    forward_s = time.perf_counter() - start
    n = len(images)
    print(
        f"efficientnet-lite0 on {device} ({torch.get_num_threads()} threads), {n} images, "
        f"batch {args.batch_size}, {tuple(batches[0].shape[1:])}:"
    )
    print(f"  preprocess {n / preprocess_s:8.1f} img/s (one process)")
    print(f"  forward    {n / forward_s:8.1f} img/s")
    print(
        f"  both       {n / (preprocess_s + forward_s):8.1f} img/s (serial; embed overlaps them with workers)"
    )


if __name__ == "__main__":
    main()
