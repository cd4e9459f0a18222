"""Choosing k: fit k-means for several k, tabulate inertia (and purity, with labels), draw the elbow.

Every k is fitted exactly as a single-k ``thresher cluster`` run with the same seed would be: on its
own training sample (``max_train``, default 256 points per centroid, drawn from the rows with the
run's seed) and with the same settings, so the sweep's row for k reports the same model as that run.
The training samples of different k differ in size, so the comparable figure is ``inertia_per_point``
(the training inertia divided by the number of training points); the elbow is found on it. With
labels, ``mean_purity`` is the size-weighted mean cluster purity over all rows (each row assigned to
its nearest centroid): the share of rows that belong to their cluster's majority label.
The elbow is where the curve bends most: the k farthest below the straight line between the
first and last point of the (min-max scaled) curve (the "Kneedle" rule, Satopää et al. 2011).
docs/architecture.md ("Granularity matters for balance") notes k should sit near the number of groups to
balance, so the plot is a guide only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from thresher.curate.cluster import Chunk, ClusterConfig, assign, fit_kmeans, sample_for_training
from thresher.errors import ThresherError
from thresher.progress import track


def sweep_k(
    vectors: np.ndarray | Callable[[], Iterable[Chunk]],
    ks: Sequence[int],
    config: ClusterConfig,
    labels: np.ndarray | None = None,
    n_rows: int | None = None,
) -> list[dict]:
    """Fit one k-means per k (ascending, duplicates removed), each on the sample a single-k run would use.

    ``vectors``: an array, or a function returning a fresh iterator of ``(ids, vectors)`` chunks (an
    embedding store's ``iter_chunks``), read once per distinct sample size and, with labels, once per k
    to assign. ``config`` gives everything but k; its ``max_train`` (default: 256 points per centroid)
    sets each k's sample. ``labels``: one per row in stream order, for ``mean_purity``. ``n_rows``: the
    number of rows the chunks hold (counted with a pass over them when not given). Returns rows
    ``{k, inertia, inertia_per_point, n_train, seconds}`` plus ``mean_purity`` with labels.
    """
    ks = sorted({int(k) for k in ks})
    if not ks:
        raise ThresherError("give at least one k to sweep")
    if isinstance(vectors, np.ndarray):
        array = vectors
        chunks: Callable[[], Iterable[Chunk]] = lambda: iter([(np.arange(len(array)), array)])  # noqa: E731
    else:
        chunks = vectors
    if n_rows is None:
        n_rows = sum(len(ids) for ids, _ in chunks())
    if ks[0] < 1 or ks[-1] > n_rows:
        raise ThresherError(f"every k must lie in 1..{n_rows} (the number of rows), got {ks}")
    if labels is not None and len(labels) != n_rows:
        raise ThresherError(f"{len(labels)} labels for {n_rows} rows")
    samples: dict[int, np.ndarray] = {}  # by sample size: every k whose sample holds all rows shares one
    rows = []
    for k in track(ks, "k sweep", unit="k", enabled=config.progress):
        k_config = replace(config, k=k)
        size = min(k_config.resolved_max_train, n_rows)
        if size not in samples:
            samples[size] = sample_for_training(chunks(), size, config.seed)
        model = fit_kmeans(samples[size], k_config)
        row = {
            "k": k,
            "inertia": model.inertia,
            "inertia_per_point": model.inertia / model.n_train,
            "n_train": model.n_train,
            "seconds": model.seconds,
        }
        if labels is not None:
            _, cluster, _ = assign(model, chunks())
            row["mean_purity"] = mean_purity(cluster, labels)
        rows.append(row)
    return rows


def mean_purity(cluster: np.ndarray, labels: np.ndarray) -> float:
    """Size-weighted mean purity of a clustering: the share of rows carrying their cluster's majority label."""
    cluster, labels = np.asarray(cluster), np.asarray(labels)
    if len(cluster) != len(labels):
        raise ThresherError(f"{len(labels)} labels for {len(cluster)} rows")
    if not len(cluster):
        return float("nan")
    _, c = np.unique(cluster, return_inverse=True)
    classes, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(c * len(classes) + y, minlength=(c.max() + 1) * len(classes))
    return float(counts.reshape(-1, len(classes)).max(axis=1).sum() / len(cluster))


def elbow_k(rows: Sequence[dict]) -> int:
    """The k where the inertia curve bends most (largest gap below the chord of the scaled curve)."""
    if len(rows) < 3:
        raise ThresherError("an elbow needs at least three k values")
    k = np.array([row["k"] for row in rows], dtype=np.float64)
    # per point when known: the training samples of different k may differ in size
    key = "inertia_per_point" if all("inertia_per_point" in row for row in rows) else "inertia"
    inertia = np.array([row[key] for row in rows], dtype=np.float64)
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
    sizes = {row["n_train"] for row in rows}
    ax.set_ylabel(
        f"inertia per point (sample of {sizes.pop()})" if len(sizes) == 1 else "inertia per training point"
    )
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
