"""Pictures of what a selection did: cluster sizes and class counts before and after."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from thresher.cards.dataset_card import class_label  # noqa: E402


def counts_figure(
    before: dict[str, int], after: dict[str, int], what: str, names: Sequence[str] | None = None
) -> Figure:
    """Bars of per-group counts before and after, groups sorted by size before (largest first).

    ``names``: the source's class names (index = label) for class counts; ticks then read ``3 (cat)``.
    """
    keys = sorted(before, key=lambda k: (-before[k], k))
    b = np.array([before[k] for k in keys])
    a = np.array([after.get(k, 0) for k in keys])
    labels = [class_label(k, names) for k in keys]
    fig, ax = plt.subplots(figsize=(max(6.0, min(0.35 * len(keys), 18.0)), 3.6))
    x = np.arange(len(keys))
    if len(keys) <= 40:
        ax.bar(x - 0.2, b, width=0.4, label="before", color="#9aa5b1")
        ax.bar(x + 0.2, a, width=0.4, label="after", color="#2f6db5")
        long = len(keys) > 12 or sum(map(len, labels)) > 60
        ax.set_xticks(x, labels, rotation=90 if long else 0, fontsize=8)
    else:  # many clusters: sizes as lines over the rank of the cluster
        ax.plot(x, b, label="before", color="#9aa5b1")
        ax.plot(x, a, label="after", color="#2f6db5")
        ax.set_xlabel(f"{what} (sorted by size before)")
    ax.set_ylabel("samples")
    ax.set_title(f"{what} sizes before and after selection")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_counts_before_after(
    before: dict[str, int],
    after: dict[str, int],
    what: str,
    path: Path,
    names: Sequence[str] | None = None,
) -> Path:
    """Write :func:`counts_figure` as a PNG; returns the path."""
    fig = counts_figure(before, after, what, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
