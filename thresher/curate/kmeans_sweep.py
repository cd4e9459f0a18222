"""Choosing k: fit k-means for several k on one shared sample, tabulate inertia, draw the elbow.

All fits use the SAME training sample (drawn once, sized for the largest k), so the inertias are
comparable across k; ``inertia_per_point`` divides by the sample size so the figure does not depend
on it. The elbow is where the curve bends most: the k farthest below the straight line between the
first and last point of the (min-max scaled) curve (the "Kneedle" rule, Satopää et al. 2011).
docs/architecture.md ("Granularity matters for balance") notes k should sit near the number of groups to balance, so the plot is a guide only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from thresher.curate.cluster import ClusterConfig, fit_kmeans, sample_for_training
from thresher.errors import ThresherError


def sweep_k(vectors: np.ndarray, ks: Sequence[int], config: ClusterConfig) -> list[dict]:
    """Fit one k-means per k (ascending, duplicates removed) on a shared sample of ``vectors``.

    ``config`` gives everything but k; its ``max_train`` (default: sized for the largest k) sets the
    sample. Returns rows ``{k, inertia, inertia_per_point, n_train, seconds}``.
    """
    ks = sorted({int(k) for k in ks})
    if not ks:
        raise ThresherError("give at least one k to sweep")
    if ks[0] < 1 or ks[-1] > len(vectors):
        raise ThresherError(f"every k must lie in 1..{len(vectors)} (the number of rows), got {ks}")
    max_train = replace(config, k=ks[-1]).resolved_max_train
    sample = vectors if len(vectors) <= max_train else sample_for_training(vectors, max_train, config.seed)
    rows = []
    for k in tqdm(ks, desc="k sweep", unit="k", disable=not config.progress or None):
        model = fit_kmeans(sample, replace(config, k=k, max_train=len(sample)))
        rows.append(
            {
                "k": k,
                "inertia": model.inertia,
                "inertia_per_point": model.inertia / model.n_train,
                "n_train": model.n_train,
                "seconds": model.seconds,
            }
        )
    return rows


def elbow_k(rows: Sequence[dict]) -> int:
    """The k where the inertia curve bends most (largest gap below the chord of the scaled curve)."""
    if len(rows) < 3:
        raise ThresherError("an elbow needs at least three k values")
    k = np.array([row["k"] for row in rows], dtype=np.float64)
    inertia = np.array([row["inertia"] for row in rows], dtype=np.float64)
    span_k, span_inertia = np.ptp(k), np.ptp(inertia)
    if span_inertia == 0:
        return int(k[0])
    x = (k - k.min()) / span_k
    y = (inertia - inertia.min()) / span_inertia
    # the chord runs from (0, y[0]) to (1, y[-1]); a convex decreasing curve lies below it
    chord = y[0] + (y[-1] - y[0]) * x
    return int(k[np.argmax(chord - y)])


def plot_elbow(rows: Sequence[dict], path: str | Path, title: str = "k-means inertia by k") -> Path:
    """Write the inertia-per-point curve with the elbow marked as a PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = [row["k"] for row in rows]
    per_point = [row["inertia_per_point"] for row in rows]
    # a bare Figure (no pyplot): no global figure registry, no GUI backend, nothing to close
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    ax.plot(k, per_point, marker="o")
    if len(rows) >= 3:
        best = elbow_k(rows)
        ax.axvline(best, color="tab:red", linestyle="--", label=f"elbow: k={best}")
        ax.legend()
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel(f"inertia per point (sample of {rows[0]['n_train']})" if rows else "inertia per point")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
