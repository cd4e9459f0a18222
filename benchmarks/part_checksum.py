"""What checking a store part's checksum costs: xxh3-128 over its files against reading and building it.

    .venv/bin/python benchmarks/part_checksum.py [--repeats 5] [--pixel-rows 4096] [--embedding-rows 50000]

Two parts of typical size, written with ``part_files.write_part`` (which hashes both files): an image
store part of 4096 rows of 64×64×3 uint8 pixels and an embeddings part of 50,000×512 float32. For each:

- ``xxh3 in memory``: the hash alone over the array's bytes already in memory;
- ``verify (xxh3 of files)``: ``part_problem`` with contents checked, minus the same call checking sizes
  only: what every open of a part adds (both files read and hashed);
- ``read the array``: ``np.load`` of the array file whole, what a reader of every row pays anyway;
- ``write_part``: writing the part, checksums included (``of which hashing`` is the verify cost again);
- pixels only, ``decode the rows``: decoding the 4096 PNG rows with ``decode_row``, what a rebuild costs.

Times are medians of ``--repeats`` runs, with the files in the page cache (just written): from a cold disk
the hash reads at the disk's speed, like any other read of the part. MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xxhash
from PIL import Image

from thresher.catalog.part_files import part_files, part_problem, write_part
from thresher.catalog.samples import decode_row


def median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def pixel_part(rows: int) -> np.ndarray:
    """Smooth 64×64 colour images (gradients plus noise), so their PNGs are of realistic size."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    base = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.int16)
    shifts = rng.integers(0, 64, size=(rows, 1, 1, 3))
    noise = rng.integers(-8, 8, size=(rows, 64, 64, 3))
    return np.clip(base[None] + shifts + noise, 0, 255).astype(np.uint8)


def measure(name: str, folder: Path, array: np.ndarray, repeats: int, **columns: np.ndarray) -> dict:
    ids = np.arange(len(array), dtype=np.int64)
    write_ms = median_ms(lambda: write_part(folder, 0, ids, array, **columns), repeats)
    array_file, ids_file = part_files(folder, 0)
    size = array_file.stat().st_size + ids_file.stat().st_size
    sizes_ms = median_ms(lambda: part_problem(folder, 0, check_contents=False), repeats)
    full_ms = median_ms(lambda: part_problem(folder, 0), repeats)
    assert part_problem(folder, 0) is None
    raw = array.tobytes()
    return {
        "part": name,
        "MB": size / 1e6,
        "xxh3 in memory ms": median_ms(lambda: xxhash.xxh3_128(raw).hexdigest(), repeats),
        "verify ms": full_ms - sizes_ms,
        "read array ms": median_ms(lambda: np.load(array_file), repeats),
        "write_part ms": write_ms,
    }


def decode_ms(pixels: np.ndarray, repeats: int) -> float:
    encoded = []
    for image in pixels:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return median_ms(
        lambda: [decode_row(Image.open(io.BytesIO(b)), None) for b in encoded], max(1, repeats // 2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pixel-rows", type=int, default=4096)
    parser.add_argument("--embedding-rows", type=int, default=50_000)
    args = parser.parse_args()

    pixels = pixel_part(args.pixel_rows)
    vectors = np.random.default_rng(1).standard_normal((args.embedding_rows, 512)).astype(np.float32)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pixels").mkdir()
        (Path(tmp) / "embeddings").mkdir()
        results.append(
            measure(
                f"pixels {args.pixel_rows}x64x64x3 uint8",
                Path(tmp) / "pixels",
                pixels,
                args.repeats,
                grey=np.zeros(len(pixels), bool),
            )  # fmt: skip
        )
        results.append(
            measure(
                f"embeddings {args.embedding_rows}x512 float32",
                Path(tmp) / "embeddings",
                vectors,
                args.repeats,
            )  # fmt: skip
        )
    decode = decode_ms(pixels, args.repeats)

    print(
        f"{'part':<34} {'MB':>7} {'xxh3 mem':>17} {'verify (files)':>20} {'read array':>11} {'write_part':>11}"
    )
    for r in results:
        print(
            f"{r['part']:<34} {r['MB']:7.1f} "
            f"{r['xxh3 in memory ms']:6.1f} ms {r['MB'] / r['xxh3 in memory ms'] * 1000:5.0f} MB/s "
            f"{r['verify ms']:7.1f} ms {r['MB'] / r['verify ms'] * 1000:6.0f} MB/s "
            f"{r['read array ms']:8.1f} ms {r['write_part ms']:8.1f} ms"
        )
    pixel = results[0]
    print(
        f"decode the {args.pixel_rows} PNG rows of the pixel part (what a rebuild costs): {decode:.0f} ms; "
        f"verifying it costs {pixel['verify ms'] / decode:.1%} of that"
    )
    for r in results:
        print(
            f"{r['part']}: verify = {r['verify ms'] / r['read array ms']:.2f}x reading the array, "
            f"{r['verify ms'] / r['write_part ms']:.0%} of write_part"
        )


if __name__ == "__main__":
    main()
