"""Embedding throughput on JPEG photos at 224 px: thresher's embed end to end vs the bare forward pass.

    uv run python benchmarks/embed_jpeg.py [--images 256] [--batch-size 64] [--workers 2] [--device auto]
        [--models vit_base_patch32_224 tf_efficientnet_lite0] [--json out.json]

Images: crops (300-450 px) of scikit-image's colour photos, JPEG-encoded like a scraped dataset. Models are
timm networks with random weights (``dino:<name>?random``: the speed of trained ones): a ViT-B/32 and
EfficientNet-Lite0 (the ``efficientnet-lite0`` embedder's network, without its weights package).

* ``e2e``: :func:`thresher.curate.embed.embed_dataset`: JPEG decode + resize in DataLoader workers (PIL), the
  forward pass, normalization and the store's parts written;
* ``forward``: ``embedder.forward`` on the same preprocessed batches, already on the device (the bound);
* on CUDA also ``gpu-decode``: a prototype of the GPU input path thresher's embed does not have yet:
  ``torchvision.io.decode_jpeg(device="cuda")``, resize and crop on the GPU, channels-last, then the same
  forward under bf16 autocast; and ``forward-cl``, the forward on channels-last batches.

efficiency = images/s over the forward's images/s (1.0: the input path keeps the model busy).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time

import datasets
import numpy as np
import torch
from PIL import Image
from skimage import data

from thresher.curate.embed import EmbedConfig, embed_dataset
from thresher.device import pick_device
from thresher.embedders import build_embedder


def jpeg_photos(n: int, seed: int = 0) -> list[bytes]:
    sources = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        photo = sources[i % len(sources)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1.0)), int(w * rng.uniform(0.7, 1.0))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        buffer = io.BytesIO()
        Image.fromarray(photo[top : top + ch, left : left + cw]).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(n: int, fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return n / (time.perf_counter() - start)


def gpu_decode_batches(jpegs: list[bytes], batch_size: int, size: int, mean, std, device: torch.device):
    """The prototype GPU input path: nvJPEG decode, resize (shorter side) + centre crop, normalize, channels-last."""
    from torchvision.io import decode_jpeg
    from torchvision.transforms.v2 import functional as TF

    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    for start in range(0, len(jpegs), batch_size):
        encoded = [torch.frombuffer(b, dtype=torch.uint8) for b in jpegs[start : start + batch_size]]
        decoded = decode_jpeg(encoded, device=device)
        crops = [TF.center_crop(TF.resize(img, size, antialias=True), [size, size]) for img in decoded]
        batch = (torch.stack(crops).float() / 255 - mean_t) / std_t
        yield batch.contiguous(memory_format=torch.channels_last)


def measure(model: str, jpegs: list[bytes], args, device: torch.device) -> dict:
    name = f"dino:{model}?random"  # both networks take 224 px by default
    embedder = build_embedder(name, device=device)
    dataset = datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": None} for b in jpegs]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    n, bs = len(jpegs), args.batch_size
    config = EmbedConfig(embedder, batch_size=bs, num_workers=args.workers, device=str(device), part_size=n)
    with tempfile.TemporaryDirectory() as out:  # warm-up pass (cudnn autotune, worker start-up), then timed
        embed_dataset(dataset.select(range(min(bs, n))), np.arange(min(bs, n)), f"{out}/warm", config)
        e2e = _rate(n, lambda: embed_dataset(dataset, np.arange(n), f"{out}/store", config), device)
    pils = [Image.open(io.BytesIO(b)) for b in jpegs]
    batches = [
        torch.stack([embedder.preprocess(p) for p in pils[s : s + bs]]).to(device) for s in range(0, n, bs)
    ]
    embedder.forward(batches[0])

    def forward_all(batch_list):
        for batch in batch_list:
            embedder.forward(batch)

    row = {"model": model, "embedder": name, "images": n, "batch": bs, "workers": args.workers,
           "precision": embedder.precision, "e2e_img_s": e2e, "forward_img_s": _rate(n, lambda: forward_all(batches), device)}  # fmt: skip
    row["e2e_efficiency"] = row["e2e_img_s"] / row["forward_img_s"]
    if device.type == "cuda":
        channels_last = [b.contiguous(memory_format=torch.channels_last) for b in batches]
        embedder.network().to(memory_format=torch.channels_last)
        row["forward_cl_img_s"] = _rate(n, lambda: forward_all(channels_last), device)
        config_data = embedder.network().pretrained_cfg
        mean, std = config_data.get("mean", (0.5,) * 3), config_data.get("std", (0.5,) * 3)
        decode = lambda: forward_all(gpu_decode_batches(jpegs, bs, 224, mean, std, device))  # noqa: E731
        decode()  # warm-up
        row["gpu_decode_img_s"] = _rate(n, decode, device)
        row["gpu_decode_efficiency"] = row["gpu_decode_img_s"] / row["forward_img_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--models", nargs="+", default=["vit_base_patch32_224", "tf_efficientnet_lite0"])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    jpegs = jpeg_photos(args.images)
    rows = [measure(model, jpegs, args, device) for model in args.models]
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    load = os.getloadavg()[0]
    print(f"device={where} torch={torch.__version__} load average {load:.2f}")
    for r in rows:
        line = (f"  {r['model']:<24} e2e {r['e2e_img_s']:8.1f} img/s  forward {r['forward_img_s']:8.1f} img/s  "
                f"efficiency {r['e2e_efficiency']:.2f}  ({r['precision']}, batch {r['batch']}, {r['workers']} workers)")  # fmt: skip
        if "gpu_decode_img_s" in r:
            line += (f"\n  {'':<24} gpu-decode {r['gpu_decode_img_s']:8.1f} img/s (efficiency "
                     f"{r['gpu_decode_efficiency']:.2f})  forward channels-last {r['forward_cl_img_s']:8.1f} img/s")  # fmt: skip
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "embed_jpeg", "device": where, "torch": torch.__version__,
                       "load_average": load, "rows": rows}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
