"""How thresher's stages grow with the number of rows (issue 15): wall time and peak RSS of each stage, each
run as its own `thresher` process on a synthetic Parquet source of small seeded images.

    uv run python benchmarks/scale.py --rows 10000,100000 [--out benchmarks/results/scale]

Stages: ingest (1 and 2 processes), embed (pixels), cluster (k=100), select (cluster-equal, half), publish
(index only), a grouped `thresher query` over the score table, 200 training steps and a 5000-sample
evaluation. Prints a table, writes scale.json and a log-log plot (scale.png) of time and memory vs rows.
Peak RSS is the process's own maximum resident set (os.wait4), so stages do not mask each other.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

SIDE = 32


def synthetic_source(path: Path, rows: int, seed: int = 0) -> Path:
    """``rows`` 32×32 PNGs of a few seeded shapes (10 classes: shape × colour), written in chunks."""
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, 10_000):
        images, labels = [], []
        for _ in range(min(10_000, rows - start)):
            label = int(rng.integers(10))
            img = Image.new("RGB", (SIDE, SIDE), tuple(int(v) for v in rng.integers(0, 60, 3)))
            draw = ImageDraw.Draw(img)
            x, y, r = (int(v) for v in rng.integers([6, 6, 4], [26, 26, 10]))
            colour = ((label * 70) % 256, (label * 150) % 256, 255 - label * 20)
            (draw.ellipse if label % 2 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
            buffer = io.BytesIO()
            img.save(buffer, format="PNG")
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
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )  # fmt: skip
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"thresher {' '.join(args)} failed:\n{output.decode()[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def run_size(rows: int, scratch: Path, evaluate_n: int) -> dict[str, dict[str, float]]:
    source = synthetic_source(scratch / f"shapes-{rows}.parquet", rows)
    results: dict[str, dict[str, float]] = {}
    for procs in (1, 2):
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
    results["train 200 steps"] = measure(ws, "train", "-d", "half", "--steps", "200", "--batch-size", "64",
                                         "--model", "DiT-T/4", "--width", "64", "--depth", "2", "--heads", "2",
                                         "--unconditional", "--run", "bench", "--grid-steps", "2")  # fmt: skip
    results[f"evaluate {evaluate_n}"] = measure(ws, "evaluate", "--run", "bench", "--n", str(evaluate_n),
                                                "--steps", "2", "--against", "shapes")  # fmt: skip
    return results


def plot(table: dict[int, dict[str, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(table)
    stages = list(table[sizes[0]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for stage in stages:
        for ax, key in zip(axes, ("seconds", "peak_rss_mib"), strict=True):
            ax.plot(sizes, [table[n][stage][key] for n in sizes], marker="o", label=stage)
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
    parser.add_argument("--out", default="benchmarks/results/scale")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    with tempfile.TemporaryDirectory() as scratch:
        for rows in (int(r) for r in args.rows.split(",")):
            table[rows] = run_size(rows, Path(scratch), args.evaluate_n)
            print(f"\n{rows} rows")
            for stage, m in table[rows].items():
                print(f"  {stage:<22} {m['seconds']:>8.1f} s  {m['peak_rss_mib']:>8.0f} MiB")
    (out / "scale.json").write_text(json.dumps({str(k): v for k, v in table.items()}, indent=1))
    plot(table, out / "scale.png")
    print(f"\n→ {out / 'scale.json'}, {out / 'scale.png'}")


if __name__ == "__main__":
    main()
