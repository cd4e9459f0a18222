"""How thresher's stages grow with the number of rows (issue 15): wall time and peak RSS of each stage, each
run as its own `thresher` process on a synthetic Parquet source of small seeded images.

    uv run python benchmarks/scale.py --rows 10000,100000 [--out benchmarks/results/scale]

    uv run python benchmarks/scale.py --rows 1000000 --images jpeg64 --curation-only   (hardening item 27)

Stages: ingest (1 and 2 processes), embed (pixels), cluster (k=100), select (cluster-equal, half), publish
(index only), a grouped `thresher query` over the score table, the image stores of the half subset
(`thresher store`: pixels, and latents of a small random AutoencoderKL the script saves), 200 training steps
(reading the pixel store) and a 5000-sample evaluation. Prints a table and the issue-15 targets, merges
into scale.json (so sizes can be run one at a time) and draws a log-log plot (scale.png) of time and
memory vs rows. Peak RSS is the process's own maximum resident set (os.wait4), so stages do not mask each
other; pages of memory-mapped store parts a process touched count in it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

SIDE = 32


@dataclass(frozen=True)
class ImageKind:
    """What the synthetic source holds: ``side``-px images in ``fmt``, ``classes`` groups whose shares fall
    by ``skew`` from one to the next (1.0: uniform)."""

    side: int
    fmt: str
    classes: int
    skew: float


# png32: the issue-15 table. jpeg64: the hardening issue's case (item 27), 64-px JPEGs in 20 skewed groups.
IMAGE_KINDS = {
    "png32": ImageKind(SIDE, "PNG", 10, 1.0),
    "jpeg64": ImageKind(64, "JPEG", 20, 0.8),
}


def synthetic_source(path: Path, rows: int, seed: int = 0, kind: ImageKind = IMAGE_KINDS["png32"]) -> Path:
    """``rows`` images of a few seeded shapes (class = shape × colour), written in chunks of 10⁴."""
    rng = np.random.default_rng(seed)
    shares = kind.skew ** np.arange(kind.classes)
    shares /= shares.sum()
    scale = kind.side / SIDE
    writer = None
    for start in range(0, rows, 10_000):
        images, labels = [], []
        for _ in range(min(10_000, rows - start)):
            label = int(rng.choice(kind.classes, p=shares))
            img = Image.new("RGB", (kind.side, kind.side), tuple(int(v) for v in rng.integers(0, 60, 3)))
            draw = ImageDraw.Draw(img)
            x, y, r = (int(v * scale) for v in rng.integers([6, 6, 4], [26, 26, 10]))
            colour = ((label * 70) % 256, (label * 150) % 256, (255 - label * 20) % 256)
            (draw.ellipse if label % 2 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
            buffer = io.BytesIO()
            img.save(buffer, format=kind.fmt)
            images.append({"bytes": buffer.getvalue(), "path": None})
            labels.append(label)
        table = pa.table({"image": images, "label": pa.array(labels, pa.int64())})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return path


def measure(ws: Path, *args: str) -> dict[str, float]:
    """Run one `thresher` command; its wall seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "thresher.cli", "-w", str(ws), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=False,
        # bytecode caching on (a sandbox may set PYTHONDONTWRITEBYTECODE): otherwise every stage spends
        # seconds recompiling torch and the rest, which no installed tool does
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
             "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )  # fmt: skip
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"thresher {' '.join(args)} failed:\n{output.decode()[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def run_size(
    rows: int,
    scratch: Path,
    evaluate_n: int,
    latents: bool = True,
    kind: str = "png32",
    curation_only: bool = False,
) -> dict[str, dict[str, float]]:
    scratch.mkdir(parents=True, exist_ok=True)
    for old in [*scratch.glob("ws-*"), *scratch.glob("pub-*")]:  # a rerun starts over; the source is kept
        shutil.rmtree(old)
    source = scratch / f"shapes-{kind}-{rows}.parquet"
    if not source.is_file():
        synthetic_source(source, rows, kind=IMAGE_KINDS[kind])
    results: dict[str, dict[str, float]] = {}
    for procs in (1,) if curation_only else (1, 2):
        ws = scratch / f"ws-{rows}-ingest{procs}"
        results[f"ingest ({procs} proc)"] = measure(ws, "ingest", str(source), "--name", "shapes",
                                                    "--num-proc", str(procs))  # fmt: skip
    ws = scratch / f"ws-{rows}-ingest1"
    results["embed pixels"] = measure(ws, "embed", "--embedder", "pixels:16:32", "--num-workers", "2")
    results["cluster k=100"] = measure(ws, "cluster", "--k", "100")
    results["select"] = measure(ws, "select", "--name", "half", "--method", "cluster", "--balance", "equal",
                                "--ratio", "0.5")  # fmt: skip
    results["publish (index)"] = measure(ws, "publish", "half", "--to", str(scratch / f"pub-{rows}"),
                                         "--gallery-clusters", "0")  # fmt: skip
    results["query (grouped)"] = measure(
        ws, "query", "SELECT cluster, count(*), avg(distance) FROM scores GROUP BY 1"
    )
    if curation_only:
        return results
    vae = tiny_vae(scratch / "tiny-vae")
    results["store pixels (half)"] = measure(ws, "store", "-d", "half", "--num-workers", "2")
    if latents:  # a convolutional autoencoder on 2 CPU cores: ~1250 rows/s, the slowest stage per row
        results["store latents (half)"] = measure(ws, "store", "-d", "half", "--vae", str(vae), "--num-workers", "2",
                                                  "--device", "cpu")  # fmt: skip
    results["train 200 steps"] = measure(ws, "train", "-d", "half", "--steps", "200", "--batch-size", "64",
                                         "--model", "DiT-T/4", "--width", "64", "--depth", "2", "--heads", "2",
                                         "--unconditional", "--run", "bench", "--grid-steps", "2")  # fmt: skip
    results[f"evaluate {evaluate_n}"] = measure(ws, "evaluate", "--run", "bench", "--n", str(evaluate_n),
                                                "--steps", "2", "--against", "shapes")  # fmt: skip
    return results


def tiny_vae(path: Path) -> Path:
    """A small random 3-channel AutoencoderKL (factor 2, 4 latent channels), saved like a Hub VAE."""
    if (path / "config.json").is_file():
        return path
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8, sample_size=SIDE,
    ).save_pretrained(path)  # fmt: skip
    return path


def targets(table: dict[int, dict[str, dict[str, float]]]) -> list[str]:
    """The issue's targets, checked on the measured figures."""
    sizes = sorted(table)
    small, large = table[sizes[0]], table[sizes[-1]]
    lines = []
    for stage in [k for k in large if k == "train 200 steps" or k.startswith("evaluate")]:
        a, b = small[stage]["peak_rss_mib"], large[stage]["peak_rss_mib"]
        lines.append(f"{stage}: peak RSS {a:.0f} MiB at {sizes[0]} rows, {b:.0f} MiB at {sizes[-1]} "
                     f"(x{b / a:.2f}; target within 1.2 and under 4096 MiB)")  # fmt: skip
    select_publish = large["select"]["seconds"] + large["publish (index)"]["seconds"]
    lines.append(f"select + index-only publish at {sizes[-1]} rows: {select_publish:.1f} s (target < 10 s)")
    lines.append(f"grouped query at {sizes[-1]} rows: {large['query (grouped)']['seconds']:.2f} s (target < 1 s; "
                 "process start included)")  # fmt: skip
    for n in [n for n in sizes if "ingest (2 proc)" in table[n]]:
        one, two = table[n]["ingest (1 proc)"]["seconds"], table[n]["ingest (2 proc)"]["seconds"]
        lines.append(
            f"ingest at {n} rows: 1 process {one:.1f} s, 2 processes {two:.1f} s (ratio {one / two:.2f})"
        )
    return lines


def plot(table: dict[int, dict[str, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(table)
    stages = list(dict.fromkeys(stage for n in sizes for stage in table[n]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for stage in stages:
        measured = [n for n in sizes if stage in table[n]]  # a stage skipped at a size has no point there
        for ax, key in zip(axes, ("seconds", "peak_rss_mib"), strict=True):
            ax.plot(measured, [table[n][stage][key] for n in measured], marker="o", label=stage)
    for ax, label in zip(axes, ("wall time (s)", "peak RSS (MiB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", default="10000,100000", help="comma-separated source sizes (10^6 takes hours here)"
    )
    parser.add_argument("--evaluate-n", type=int, default=5000)
    parser.add_argument("--no-latents", action="store_true", help="skip the latent store stage")
    parser.add_argument(
        "--images",
        choices=sorted(IMAGE_KINDS),
        default="png32",
        help="png32: 32-px PNGs, 10 even classes; jpeg64: 64-px JPEGs, 20 skewed classes",
    )
    parser.add_argument(
        "--curation-only",
        action="store_true",
        help="only ingest (1 process), embed, cluster, select, publish and query",
    )
    parser.add_argument("--out", default=None, help="default: benchmarks/results/scale[-jpeg64]")
    parser.add_argument(
        "--scratch", default=None, help="folder for sources and workspaces (default: a temp dir)"
    )
    args = parser.parse_args()
    out = Path(
        args.out or ("benchmarks/results/scale" + ("" if args.images == "png32" else f"-{args.images}"))
    )
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "scale.json"
    table = {int(k): v for k, v in json.loads(saved.read_text()).items()} if saved.is_file() else {}
    with tempfile.TemporaryDirectory() as temp:
        scratch = Path(args.scratch or temp)
        scratch.mkdir(parents=True, exist_ok=True)
        for rows in (int(r) for r in args.rows.split(",")):
            table[rows] = run_size(rows, scratch / str(rows), args.evaluate_n, latents=not args.no_latents,
                                   kind=args.images, curation_only=args.curation_only)  # fmt: skip
            saved.write_text(json.dumps({str(k): v for k, v in sorted(table.items())}, indent=1))
    for rows in sorted(table):
        print(f"\n{rows} rows")
        for stage, m in table[rows].items():
            print(f"  {stage:<22} {m['seconds']:>8.1f} s  {m['peak_rss_mib']:>8.0f} MiB")
    print()
    for line in targets(table):
        print(line)
    plot(table, out / "scale.png")
    print(f"\n→ {saved}, {out / 'scale.png'}")


if __name__ == "__main__":
    main()
