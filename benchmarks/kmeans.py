"""thresher k-means vs scikit-learn MiniBatchKMeans on well-separated synthetic embeddings.

Data: ``--k`` centres drawn from N(0, I_d); every point is a uniformly chosen centre plus
N(0, spread² I_d) noise (default spread 0.5: centres are ~sqrt(2d)=32 apart, points lie
~spread*sqrt(d)=11 from their centre, so the optimum inertia is about n*d*spread²).

Both methods get the same k and k-means++ seeding and are scored the same way: the inertia
(sum of squared Euclidean distances to the nearest centroid) over ALL points. Timing covers
fit plus the labelling of all points (scikit-learn's fit labels everything too). thresher
passes when its inertia is within 1% of the better of the two.

    .venv/bin/python benchmarks/kmeans.py [--n 200000 --dim 512 --k 256 --spread 0.5 --threads 2]

``--torch-device cuda`` adds plain Lloyd's iterations in torch on that device (the GPU path where no
faiss-gpu is installed: its wheel is too large for the GPU kit), started from ``k`` distinct random rows
(seed ``--seed``), thresher's ``niter`` iterations over all points, compared by time and inertia with
thresher's faiss-cpu run (k-means++ seeds, a training sample, then every point assigned). The GPU kit runs
``--n 1000000 --dim 512 --k 1000 --torch-device cuda --skip-sklearn``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import faiss
import numpy as np
from sklearn.cluster import MiniBatchKMeans
from threadpoolctl import threadpool_limits

from thresher.curate.cluster import ClusterConfig, assign, fit_kmeans


def make_blobs(n: int, dim: int, k: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim), dtype=np.float32)
    labels = rng.integers(0, k, n)
    points = centres[labels] + spread * rng.standard_normal((n, dim), dtype=np.float32)
    return points, centres


def inertia_on_all(points: np.ndarray, centroids: np.ndarray) -> float:
    """Sum of squared distances to the nearest centroid, recomputed exactly after the faiss search."""
    centroids = np.ascontiguousarray(centroids, dtype=np.float32)
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(centroids)
    _, nearest = index.search(points, 1)
    diff = points - centroids[nearest[:, 0]]
    return float(np.einsum("ij,ij->i", diff, diff).astype(np.float64).sum())


def torch_lloyd(points: np.ndarray, k: int, niter: int, seed: int, device: str) -> np.ndarray:
    """Lloyd's k-means on ``device`` from k distinct random rows: fp32, distances by one matmul per chunk."""
    import torch

    x = torch.from_numpy(points).to(device)
    rows = np.random.default_rng(seed).choice(len(points), k, replace=False)
    centroids = x[torch.from_numpy(rows).to(device)].clone()
    x_sq = (x * x).sum(1)
    for _ in range(niter):
        nearest = torch.empty(len(x), dtype=torch.long, device=device)
        for start in range(0, len(x), 262_144):
            chunk = slice(start, start + 262_144)
            d = x_sq[chunk, None] - 2 * x[chunk] @ centroids.T + (centroids * centroids).sum(1)[None]
            nearest[chunk] = d.argmin(1)
        sums = torch.zeros_like(centroids).index_add_(0, nearest, x)
        counts = torch.bincount(nearest, minlength=k).float()
        filled = counts > 0  # an empty cluster keeps its centroid
        centroids[filled] = sums[filled] / counts[filled, None]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return centroids.cpu().numpy()


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--spread", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-sklearn", action="store_true", help="only time thresher")
    parser.add_argument("--torch-device", help="also run torch Lloyd's on this device (cuda, cpu)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict = {"benchmark": "kmeans", "n": args.n, "dim": args.dim, "k": args.k, "threads": args.threads,
                     "load_average": os.getloadavg()[0]}  # fmt: skip
    sys.stdout.reconfigure(line_buffering=True)  # figures appear as they are measured, also when piped

    faiss.omp_set_num_threads(args.threads)
    points, centres = make_blobs(args.n, args.dim, args.k, args.spread, args.seed)
    print(
        f"data: {args.n}x{args.dim} float32 around {args.k} centres ~ N(0, I), spread {args.spread}, seed {args.seed}"
    )
    print(f"threads: {args.threads} (os.cpu_count()={os.cpu_count()}); load average {os.getloadavg()[0]:.2f}")
    print(f"inertia of the true centres on all points: {inertia_on_all(points, centres):.4e}")

    config = ClusterConfig(k=args.k, seed=args.seed, normalize=False, progress=False)
    with threadpool_limits(args.threads):

        def thresher_run():
            model = fit_kmeans(points, config)
            assign(model, points)
            return model

        model, t_wall, t_cpu = timed(thresher_run)
    t_inertia = inertia_on_all(points, model.centroids)
    print(
        f"thresher  (faiss Lloyd's, greedy k-means++ seeds, niter<={config.niter}, max_train={model.n_train}): "
        f"{t_wall:7.2f} s wall, {t_cpu:7.2f} s CPU, fit {model.seconds:.2f} s, inertia {t_inertia:.4e}"
    )
    figures["thresher_faiss_cpu"] = {"seconds": t_wall, "inertia": t_inertia, "fit_seconds": model.seconds}
    if args.torch_device:
        import torch

        if args.torch_device.startswith("cuda"):  # CUDA start-up and the first kernels are not k-means
            torch.ones(1, device=args.torch_device) @ torch.ones(1, 1, device=args.torch_device)
        lloyd, g_wall, _ = timed(
            lambda: torch_lloyd(points, args.k, config.niter, args.seed, args.torch_device)
        )
        g_inertia = inertia_on_all(points, lloyd)
        name = torch.cuda.get_device_name() if args.torch_device.startswith("cuda") else "cpu"
        print(
            f"torch     (Lloyd's on {name}, random rows, niter={config.niter}, all points): {g_wall:7.2f} s wall, "
            f"inertia {g_inertia:.4e}; speed-up over thresher {t_wall / g_wall:.1f}x, inertia ratio {g_inertia / t_inertia:.4f}"
        )
        figures["torch_lloyd"] = {"device": name, "seconds": g_wall, "inertia": g_inertia,
                                  "speedup_over_thresher": t_wall / g_wall, "inertia_over_thresher": g_inertia / t_inertia}  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    if args.skip_sklearn:
        return

    with threadpool_limits(args.threads):
        mbk, s_wall, s_cpu = timed(
            lambda: MiniBatchKMeans(args.k, init="k-means++", random_state=args.seed).fit(points)
        )
    s_inertia = inertia_on_all(points, mbk.cluster_centers_)
    print(
        f"sklearn   (MiniBatchKMeans, k-means++, defaults): "
        f"{s_wall:7.2f} s wall, {s_cpu:7.2f} s CPU, inertia {s_inertia:.4e}"
    )
    best = min(t_inertia, s_inertia)
    ratio = t_inertia / best
    verdict = "PASS" if ratio <= 1.01 else "FAIL"
    print(
        f"{verdict}: thresher inertia / best = {ratio:.4f} (limit 1.01); speed-up {s_wall / t_wall:.1f}x wall"
    )


if __name__ == "__main__":
    main()
