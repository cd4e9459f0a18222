"""How well thresher-ae keeps colour: per-channel reconstruction error, hue error and training time.

Trains the autoencoder exactly as `thresher train --vae thresher-ae` does (`train_autoencoder`, default
`AutoencoderConfig` unless --steps) on 32×32 colour images that ship offline, and measures its round trip
(scaled latents → uint8 pixels, the trainer's path) on the training images and on held-out ones:

* ``photos``: tiles of the colour photographs bundled with scikit-image (`skimage.data`: astronaut,
  chelsea, coffee, rocket, colorwheel, immunohistochemistry, hubble_deep_field, retina), each resized so
  its shorter side is 256 px and cut into 32×32 tiles; a seeded fifth of the tiles is held out.
* ``shapes``: synthetic discs and squares of a saturated random hue on flat backgrounds of another random
  hue (random saturation and value); 512 to train, 256 held out (another seed).

Figures: MSE per channel on [-1, 1]; the mean hue error in degrees over pixels with saturation > 0.3 and
value > 0.2 (hue means nothing on grey pixels); the ratio of mean saturation after/before on those pixels
(a sepia cast pulls it down); colour kept, the share of the chroma's variance (each pixel minus the mean of
its channels) the round trip keeps, 1 − Σ error² / Σ (chroma − its mean)² (a sepia cast takes it to ~0); pure red, green and blue flat images after the round trip; training seconds,
wall and CPU (the CPU seconds are the steadier figure on a shared machine).

    uv run python benchmarks/autoencoder_colour.py                 # both sets, 300 steps (the default)
    uv run python benchmarks/autoencoder_colour.py --set shapes --steps 150
    uv run python benchmarks/autoencoder_colour.py --step-cost     # the colour path's cost per step
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skimage import data
from skimage.color import hsv2rgb, rgb2hsv
from skimage.transform import resize

from thresher.train.autoencoder import (
    AutoencoderConfig,
    TinyAutoencoder,
    build_autoencoder,
    train_autoencoder,
)
from thresher.train.latents import decode_latents, encode_images, load_vae

SIDE = 32
PHOTOS = (
    "astronaut", "chelsea", "coffee", "rocket", "colorwheel", "immunohistochemistry", "hubble_deep_field",
    "retina",
)  # fmt: skip


def photo_tiles(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    tiles = []
    for name in PHOTOS:
        image = getattr(data, name)()[..., :3]
        scale = 256 / min(image.shape[:2])
        height, width = round(image.shape[0] * scale), round(image.shape[1] * scale)
        small = (resize(image, (height, width), anti_aliasing=True) * 255).round().astype(np.uint8)
        rows, cols = height // SIDE, width // SIDE
        grid = small[: rows * SIDE, : cols * SIDE].reshape(rows, SIDE, cols, SIDE, 3)
        tiles.append(grid.transpose(0, 2, 1, 3, 4).reshape(-1, SIDE, SIDE, 3))
    every = np.concatenate(tiles)
    np.random.default_rng(seed).shuffle(every)
    pixels = torch.from_numpy(every).permute(0, 3, 1, 2).contiguous()
    cut = len(pixels) * 4 // 5
    return pixels[:cut], pixels[cut:]


def coloured_shapes(n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    images = np.empty((n, SIDE, SIDE, 3))
    for i in range(n):
        images[i] = hsv2rgb([rng.random(), rng.uniform(0.3, 1), rng.uniform(0.3, 1)])
        shape = hsv2rgb([rng.random(), 1.0, 1.0])
        cy, cx = rng.uniform(8, SIDE - 8, 2)
        r = rng.uniform(4, 10)
        if rng.random() < 0.5:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        else:
            mask = (abs(yy - cy) < r) & (abs(xx - cx) < r)
        images[i][mask] = shape
    return torch.from_numpy((images * 255).round().astype(np.uint8)).permute(0, 3, 1, 2).contiguous()


def round_trip(images: torch.Tensor, vae) -> torch.Tensor:
    return decode_latents(encode_images(images, vae, progress=False), vae)


def figures(original: torch.Tensor, recon: torch.Tensor) -> str:
    mse = ((recon.double() - original.double()) / 127.5).pow(2).mean(dim=(0, 2, 3)).tolist()
    chroma_in, chroma_out = (x.double() - x.double().mean(dim=1, keepdim=True) for x in (original, recon))
    error = (chroma_out - chroma_in).pow(2).sum()
    colour = 1 - error / (chroma_in - chroma_in.mean(dim=(0, 2, 3), keepdim=True)).pow(2).sum()
    hsv_in = rgb2hsv(original.permute(0, 2, 3, 1).numpy())
    hsv_out = rgb2hsv(recon.permute(0, 2, 3, 1).numpy())
    coloured = (hsv_in[..., 1] > 0.3) & (hsv_in[..., 2] > 0.2)
    turns = np.abs(hsv_in[..., 0] - hsv_out[..., 0])
    hue = 360 * np.minimum(turns, 1 - turns)[coloured].mean()
    saturation = hsv_out[..., 1][coloured].mean() / hsv_in[..., 1][coloured].mean()
    return (
        f"MSE R {mse[0]:.4f} G {mse[1]:.4f} B {mse[2]:.4f} (mean {np.mean(mse):.4f}); "
        f"colour kept {colour:.2f}; hue error {hue:.1f}°; saturation kept {saturation:.2f} "
        f"({coloured.mean():.0%} of pixels coloured)"
    )


def pure_colours(vae) -> str:
    out = []
    for channel, name in enumerate(("red", "green", "blue")):
        flat = torch.zeros(1, 3, SIDE, SIDE, dtype=torch.uint8)
        flat[:, channel] = 255
        means = round_trip(flat, vae).float().mean(dim=(0, 2, 3)).tolist()
        out.append(f"{name} → {tuple(round(v) for v in means)}")
    return ", ".join(out)


def step_cost(images: torch.Tensor, config: AutoencoderConfig, rounds: int = 30) -> str:
    """Seconds per training step without and with the colour path, timed alternately (so a busy machine
    slows both alike), median of ``rounds``."""
    colour = build_autoencoder(3, config)
    plain = TinyAutoencoder(**{k: colour.config[k] for k in ("in_channels", "latent_channels", "width")})
    models = [plain, colour]
    optimizers = [torch.optim.AdamW(m.parameters(), lr=config.lr) for m in models]
    seconds: list[list[float]] = [[], []]
    batch = images[: config.batch_size].float() / 127.5 - 1
    for round_ in range(rounds + 3):  # 3 to warm up
        for i, (model, optimizer) in enumerate(zip(models, optimizers, strict=True)):
            start = time.perf_counter()
            mean = model.encode(batch).latent_dist.mean
            logits = model.decode_logits(mean + config.latent_noise * torch.randn_like(mean))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, (batch + 1) / 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if round_ >= 3:
                seconds[i].append(time.perf_counter() - start)
    plain_s, colour_s = (float(np.median(s)) for s in seconds)
    return (
        f"{plain_s * 1000:.1f} ms per step plain, {colour_s * 1000:.1f} ms with the colour path "
        f"(×{colour_s / plain_s:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("photos", "shapes", "both"), default="both")
    parser.add_argument("--steps", type=int, default=AutoencoderConfig().steps)
    parser.add_argument(
        "--step-cost", action="store_true", help="only time a training step without and with the colour path"
    )
    args = parser.parse_args()
    config = AutoencoderConfig(steps=args.steps)
    if args.step_cost:
        print(f"batch {config.batch_size} of 3×{SIDE}×{SIDE}, {torch.get_num_threads()} threads: ", end="")
        print(step_cost(coloured_shapes(config.batch_size, seed=0), config))
        return
    sets = {
        "photos": photo_tiles,
        "shapes": lambda: (coloured_shapes(512, seed=0), coloured_shapes(256, seed=1)),
    }
    names = list(sets) if args.set == "both" else [args.set]
    print(f"thresher-ae, {config.steps} steps, batch {config.batch_size}, {torch.get_num_threads()} threads")
    for name in names:
        train, held_out = sets[name]()
        with tempfile.TemporaryDirectory() as tmp:
            start, cpu_start = time.perf_counter(), time.process_time()
            folder = train_autoencoder(train, config, Path(tmp) / "ae")
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            vae = load_vae(str(folder))
            stored = json.loads((folder / "thresher.json").read_text()).get("reconstruction")
            print(f"\n{name}: {len(train)} train / {len(held_out)} held out")
            print(f"  trained in {seconds:.1f} s wall, {cpu:.1f} CPU-s")
            print(f"  train:    {figures(train, round_trip(train, vae))}")
            print(f"  held out: {figures(held_out, round_trip(held_out, vae))}")
            print(f"  flat:     {pure_colours(vae)}")
            if stored:
                print(f"  stored:   {json.dumps(stored)}")


if __name__ == "__main__":
    main()
