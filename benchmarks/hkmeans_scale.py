"""hkmeans at scale: wall time and peak memory of the hierarchy against one flat k-means with as many
clusters as its finest level, on synthetic embeddings (faiss on the CPU).

Data: ``--rows`` × ``--dim`` float32 points, a long-tailed mixture (200 centres drawn from N(0, I), centre
i holding a share ∝ 1/(i + 1), each point its centre plus N(0, 0.5² I)), L2-normalized as thresher's
embedders store them, so both k-means are spherical. The hierarchy has the default k's for the rows
(``default_level_ks``, the finest level capped at 1024) unless ``--level-ks`` names them, and the default
resampling (none at level 1, 10 steps above). Each fit runs in a process of its own, so the peak resident
memory it reports (``ru_maxrss``) is its own; the data's own size is printed beside it.

    uv run python benchmarks/hkmeans_scale.py [--rows 1000000] [--dim 256] [--levels 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def make_data(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dim), dtype=np.float32)
    weights = 1.0 / np.arange(1, 201)
    which = rng.choice(200, rows, p=weights / weights.sum())
    x = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 100_000):  # in chunks: the data's own peak stays near its size, so the
        block = x[start : start + 100_000]  # fit's peak RSS shows what the fit adds
        np.take(centres, which[start : start + len(block)], axis=0, out=block)
        block += 0.5 * rng.standard_normal(block.shape, dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return x


def worker(mode: str, rows: int, dim: int, ks: list[int]) -> dict:
    """One fit in this process: its wall time and the process's peak RSS."""
    from thresher.curate.cluster import ClusterConfig, assign, fit_kmeans
    from thresher.curate.hkmeans import HierarchyConfig, fit_hierarchy
    from thresher.curate.scores.methods.hkmeans import resolve_resampling

    x = make_data(rows, dim)
    data_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if mode == "hkmeans":
        config = HierarchyConfig(
            tuple(ks), resolve_resampling(None, len(ks)), spherical=True, device="cpu", progress=False
        )
        hierarchy = fit_hierarchy(x, config)
        per_level = [round(s, 1) for s in hierarchy.seconds]
    else:
        model = fit_kmeans(
            x, ClusterConfig(k=ks[0], spherical=True, normalize=True, device="cpu", progress=False)
        )
        assign(model, x)
        per_level = []
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "seconds": round(seconds, 1), "per_level": per_level,
            "peak_mib": round(peak), "before_fit_mib": round(data_rss)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--level-ks", default=None, help="comma-separated, finest first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from thresher.curate.scores.methods.hkmeans import default_level_ks

    ks = (
        [int(k) for k in args.level_ks.split(",")]
        if args.level_ks
        else list(default_level_ks(args.rows, args.levels))
    )
    if args.worker:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        print(json.dumps(worker(args.worker, args.rows, args.dim, ks)))
        return
    data_mib = args.rows * args.dim * 4 / 2**20
    print(f"{args.rows} x {args.dim} float32 ({data_mib:.0f} MiB), hkmeans k's {ks}, faiss CPU, "
          f"{args.threads} threads")  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for mode in ("hkmeans", "flat"):
        command = [sys.executable, __file__, "--rows", str(args.rows), "--dim", str(args.dim),
                   "--level-ks", ",".join(map(str, ks)), "--threads", str(args.threads), "--worker", mode]  # fmt: skip
        out = json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)
        what = f"hkmeans {ks}" if mode == "hkmeans" else f"flat k-means k={ks[0]}"
        levels = f" (per level {out['per_level']} s)" if out["per_level"] else ""
        print(f"{what:32s} {out['seconds']:8.1f} s{levels}; peak RSS {out['peak_mib']} MiB "
              f"({out['before_fit_mib']} MiB with the data, before the fit)")  # fmt: skip


if __name__ == "__main__":
    main()
