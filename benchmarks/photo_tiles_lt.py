"""A long-tailed colour image set built from the photographs that ship with scikit-image, offline.

16 categories, each one photograph of ``skimage.data``: the 10 colour photographs as they are, and 6
grey ones tinted with a colour map of their own (so every category is colour and no two share a palette).
A category's images are random tiles of its photograph: a square crop of 30-70% of the shorter side at a
random place, flipped and turned by a multiple of 90 degrees at random, its brightness and saturation
jittered by up to 15%, resized to 64x64 RGB. The counts are long-tailed: 9 common categories of 400 down
to 70 tiles and 7 rare ones of 34 down to 11 (143 of 1798 tiles, 8.0%); which photograph is rare is
fixed (the list below), not drawn. Everything is drawn from one seeded generator, so a seed gives the
same files byte for byte.

This is a stand-in for a real long-tailed photo collection, and an easy one in one respect (a category
is one scene) and a hard one in another (a tile of the astronaut's suit and one of his face share only
the photograph). It is what ships offline; conformal-clip-data is not installed here.

    uv run python benchmarks/photo_tiles_lt.py OUT_FOLDER [--seed 0]

writes ``OUT_FOLDER/<category>/<nnnn>.png``: an image folder that ``thresher ingest`` labels by folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

TILE = 64
# (category, count); the last seven are the rare ones.
COUNTS = (
    ("astronaut", 400), ("coffee", 300), ("rocket", 240), ("chelsea", 190), ("brick", 150),
    ("hubble", 120), ("grass", 100), ("motorcycle", 85), ("coins", 70),
    ("retina", 34), ("colorwheel", 28), ("gravel", 22), ("immunohistochemistry", 19), ("moon", 16),
    ("logo", 13), ("camera", 11),
)  # fmt: skip
RARE = tuple(name for name, _ in COUNTS[-7:])
# Grey photographs and the colour map that tints each.
TINTS = {"brick": "copper", "grass": "summer", "coins": "autumn", "gravel": "cool", "moon": "pink",
         "camera": "viridis"}  # fmt: skip


def photograph(name: str) -> np.ndarray:
    """The category's photograph as uint8 RGB."""
    import matplotlib
    import skimage.data

    loader = {"hubble": "hubble_deep_field", "motorcycle": "stereo_motorcycle"}.get(name, name)
    image = getattr(skimage.data, loader)()
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    if name in TINTS:
        grey = image.astype(np.float64) / 255.0
        image = (matplotlib.colormaps[TINTS[name]](grey)[..., :3] * 255).round().astype(np.uint8)
    if image.shape[-1] == 4:  # the logo: composite its transparency onto white
        alpha = image[..., 3:4].astype(np.float64) / 255.0
        image = (image[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def tile(image: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One random tile of ``image`` (see the module docstring)."""
    height, width = image.shape[:2]
    side = int(rng.uniform(0.3, 0.7) * min(height, width))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = image[top : top + side, left : left + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = np.rot90(crop, int(rng.integers(0, 4)))
    out = Image.fromarray(np.ascontiguousarray(crop)).resize((TILE, TILE), Image.Resampling.BILINEAR)
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.85, 1.15)))
    return ImageEnhance.Color(out).enhance(float(rng.uniform(0.85, 1.15)))


def build(out: Path, seed: int = 0) -> dict[str, int]:
    """Write the set into ``out`` (an image folder); returns the count per category."""
    rng = np.random.default_rng(seed)
    for name, count in COUNTS:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        image = photograph(name)
        for i in range(count):
            tile(image, rng).save(folder / f"{i:04d}.png")
    return dict(COUNTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = build(args.out, args.seed)
    total = sum(counts.values())
    rare = sum(counts[name] for name in RARE)
    print(
        f"{args.out}: {total} tiles in {len(counts)} categories; rare {', '.join(RARE)}: {rare} ({rare / total:.1%})"
    )


if __name__ == "__main__":
    main()
