"""The tables of a sweep's report (:mod:`thresher.experiments.sweep_report`): metrics, memorization and
balance per (training set, ratio) as mean ± std over seeds, and the wall time of every cell with the
one-time work (autoencoder, embedding, classifier, …) apart from the cell that happened to do it.

A table is ``("table", header, rows)`` of plain strings; the report escapes them where it writes them.
Every ratio column is the pruning ratio, the fraction removed (as ``select --ratio``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from thresher.experiments.sweep_claims import BASELINE, rare_share

RATIO = "ratio (removed)"

# metric key -> (label, lower is better)
PLOTTED = {
    "fid": ("FID", True),
    "f_score": ("F-score (precision/recall)", False),
    "vendi": ("Vendi score", False),
    "inception_score": ("Inception Score (classifier)", False),
    "memorization_mean": ("NN distance gen→train", False),
    "memorization_ratio": ("NN ratio gen / held-out", False),
    "precision": ("precision", False),
    "recall": ("recall", False),
    "classifier_confidence": ("classifier confidence", False),
}


def _mean_std(xs: list[float]) -> str:
    return f"{np.mean(xs):.3g} ± {np.std(xs):.2g}" if len(xs) > 1 else f"{xs[0]:.3g}"


def _grouped(records: list[dict[str, Any]]) -> dict[tuple[str, float], list[dict[str, Any]]]:
    out: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        out[(r["series"], r["ratio"])].append(r)
    return dict(sorted(out.items(), key=lambda kv: (kv[0][0] != BASELINE, kv[0][1])))


def _metric_cell(group: list[dict[str, Any]], key: str) -> str:
    xs = [float(r["metrics"][key]) for r in group if isinstance(r["metrics"].get(key), int | float)]
    return _mean_std(xs) if xs else "–"


def summary_table(records: list[dict[str, Any]]) -> tuple:
    keys = ["fid", "f_score", "precision", "recall", "vendi", "inception_score", "classifier_confidence"]
    header = ["training set", RATIO, "rows", "seeds", *[PLOTTED[k][0] for k in keys]]
    rows = []
    for (series, ratio), group in sorted(_grouped(records).items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rows.append([series, f"{ratio:g}", str(group[0]["n_rows"]), str(len(group)),
                     *[_metric_cell(group, k) for k in keys]])  # fmt: skip
    return ("table", header, rows)


def memorization_table(records: list[dict[str, Any]]) -> tuple:
    header = ["training set", RATIO, "rows", "NN gen→train", "NN held-out→train", "NN ratio gen/held-out"]
    rows = [
        [series, f"{ratio:g}", str(group[0]["n_rows"]), _metric_cell(group, "memorization_mean"),
         _metric_cell(group, "memorization_heldout_mean"), _metric_cell(group, "memorization_ratio")]
        for (series, ratio), group in _grouped(records).items()
    ]  # fmt: skip
    return ("table", header, rows)


def balance_table(records: list[dict[str, Any]], rare: list[int]) -> tuple:
    share = rare_share(records, rare)
    header = ["training set", RATIO, "rare share in training", "rare share generated"]
    rows = []
    # Every series: random is the control a balancing method must beat (issue 24, the balance-mini preset).
    for (series, ratio), _group in _grouped(records).items():
        train, gen = share.get((series, ratio, "train")), share.get((series, ratio, "generated"))
        if train:
            rows.append([series, f"{ratio:g}", _pct(train), _pct(gen) if gen else "–"])
    return ("table", header, rows)


def _pct(xs: list[float]) -> str:
    return f"{100 * np.mean(xs):.1f}% ± {100 * np.std(xs):.1f}" if len(xs) > 1 else f"{100 * xs[0]:.1f}%"


def cell_label(record: dict[str, Any]) -> str:
    return f"{record['series']} r={record['ratio']:g} seed {record['seed']}"


def time_table(records: list[dict[str, Any]]) -> tuple:
    """Each cell's own wall time: one-time work it happened to do first is in :func:`one_time_table`."""
    header = ["training set", RATIO, "seed", "rows", "select", "train", "evaluate", "total"]
    rows = [
        [r["series"], f"{r['ratio']:g}", str(r["seed"]), str(r["n_rows"]),
         *[f"{r['seconds'].get(k, float('nan')):.1f}" for k in ("select", "train", "evaluate", "total")]]
        for r in records
    ]  # fmt: skip
    total = sum(r["seconds"].get("total", 0.0) for r in records)
    rows.append(["all cells", "", "", "", "", "", "", f"{total:.0f}"])
    return ("table", header, rows)


def one_time_table(records: list[dict[str, Any]]) -> tuple | None:
    """Work every cell shares (ingest, embedding, clustering, pretraining, autoencoder and latent store, the
    evaluation classifier), as each process that ran cells recorded it with its first cell; None when no
    cell recorded any (cells run before one-time work was recorded apart)."""
    rows = []
    for r in records:
        for work, seconds in (r["seconds"].get("one_time") or {}).items():
            rows.append([work, f"{float(seconds):.1f}", cell_label(r)])
    if not rows:
        return None
    total = sum(float(s) for r in records for s in (r["seconds"].get("one_time") or {}).values())
    rows.append(["all one-time work", f"{total:.0f}", ""])
    return ("table", ["work", "seconds", "recorded with (not in its time)"], rows)
