"""`thresher demo`: the whole loop on real long-tailed MNIST, offline, ending in a report.

The demo is the ``demo`` preset of `thresher sweep` (``demo-quick`` with ``--quick``): the sweep runs its
cells, resumably, and this module publishes the subsets and writes the demo's own report.

ingest (mnist-lt to train on, balanced mnist as the reference) → embed (deskewed HOG features, the
offline embedder whose clusters separate digits: docs/architecture.md, "Granularity matters for balance",
benchmarks/balance_features.py) → cluster (k=10, best of 3 k-means restarts) → select three subsets of one size
(random, cluster-proportional nearest, cluster-equal nearest) → publish each with its card → train the
tiny DiT without labels on the full set and on each subset → sample → evaluate with the classifier
extractor → report (headline table, balance bar chart, sample grids, one HTML page).

"Without labels": by default the DiT is conditioned on the demo's own k-means clusters and samples them at
their training frequencies (:mod:`thresher.train.conditioning`), an unconditional model of its training
set in two stages; ``DemoRecipe.cluster_conditioning=False`` trains the plain unconditional DiT instead.

The question it answers: does equal-per-cluster selection make a generative model produce more of the
rare classes than proportional selection of the same size? The report shows the figures either way.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.catalog.workspace import Workspace
from thresher.experiments.demo_config import DEMO_DATASETS, RARE_CLASSES, DemoConfig, demo_spec
from thresher.progress import note


@dataclass
class DemoResult:
    report: Path
    rows: list[dict[str, Any]]
    seconds: float

    def lines(self) -> list[str]:
        return ["", f"demo finished in {self.seconds / 60:.1f} min; report: {self.report}"]


def run_demo(ws: Workspace, config: DemoConfig) -> DemoResult:
    """The demo is the sweep preset ``demo`` (:func:`thresher.experiments.demo_config.demo_spec`), then
    publish the three subsets with their cards and write the demo's report. A rerun reuses every finished
    cell, so it only redraws the report."""
    from thresher.catalog.sweeps import sweep_cells
    from thresher.curate.config import PublishConfig
    from thresher.curate.publish import publish
    from thresher.experiments.demo_report import write_demo_report
    from thresher.experiments.sweep import run_spec
    from thresher.experiments.sweep_context import grid_labels, own_series, spec_record

    started = time.perf_counter()
    config = config.resolved()
    spec = demo_spec(config)
    outcome = run_spec(ws, spec)
    _, cells = sweep_cells(ws, spec.name)
    # Each cell under the demo's own label: a cell another sweep shares and ran first carries that sweep's.
    labels = grid_labels(spec_record(spec))
    series = {cell["cell"]: own_series(cell, labels) for cell in cells}

    for cell in cells:
        subset = cell["subset"]
        name = DEMO_DATASETS[series[cell["cell"]]]
        destination = ws.root / "published" / name
        version = subset.partition("@v")[2] if subset else None
        if subset and not (destination / f"v{version}").exists():
            publish(ws, PublishConfig(ref=subset, to=str(destination)))
            note(f"published {subset} as {destination}")
    rows = [
        headline_row(
            ws,
            DEMO_DATASETS[series[cell["cell"]]],
            int(cell["description"]["seed"]),
            cell["run"],
            cell["metrics"],
            ws.run_dir(cell["run"]) / "evaluations" / f"{cell['evaluation']}.json",
        )
        for cell in cells
    ]
    report = write_demo_report(
        ws.reports_dir("demo"), rows, config=config, cluster_table=_cluster_table(ws, outcome.clustering)
    )
    seconds = time.perf_counter() - started
    (ws.reports_dir("demo") / "demo.json").write_text(
        json.dumps({"seconds": seconds, "rows": rows}, indent=1, default=str)
    )
    return DemoResult(report, rows, seconds)


def _cluster_table(ws: Workspace, clustering: str | None) -> list[dict[str, Any]]:
    """The clustering's per-cluster table as the cluster stage wrote it (clusters.csv), typed."""
    path = ws.clustering_dir(clustering) / "clusters.csv" if clustering else None
    if path is None or not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("cluster", "size", "majority_label"):
            row[key] = int(row[key]) if row.get(key) not in (None, "") else None
        row["purity"] = float(row["purity"]) if row.get("purity") not in (None, "") else None
    return rows


def headline_row(
    ws: Workspace, dataset: str, seed: int, run_id: str, metrics: dict[str, Any], eval_path: Path
) -> dict[str, Any]:
    """One line of the headline table: quality metrics plus the rare-class share generated vs trained on."""
    ids = [int(i) for i in metrics.get("class_ids") or []]
    share_gen = dict(zip(ids, metrics.get("class_share_gen") or [], strict=False))
    share_train = dict(zip(ids, metrics.get("class_share_train") or [], strict=False))
    return {
        "dataset": dataset,
        "seed": seed,
        "run": run_id,
        "n_train": metrics.get("n_train"),
        "fid": metrics.get("fid"),
        "precision": metrics.get("precision"),
        "recall": metrics.get("recall"),
        "vendi": metrics.get("vendi"),
        "memorization": metrics.get("memorization_mean"),
        "memorization_heldout": metrics.get("memorization_heldout_mean"),
        "confidence": metrics.get("classifier_confidence"),
        "reject": metrics.get("classifier_reject"),
        "rare_share_generated": sum(share_gen.get(c, 0.0) for c in RARE_CLASSES),
        "rare_share_train": sum(share_train.get(c, 0.0) for c in RARE_CLASSES),
        "rare_share_confident": sum(
            share
            for c, share in zip(ids, metrics.get("class_share_gen_confident") or [], strict=False)
            if c in RARE_CLASSES and share is not None
        ),
        "n_confident": metrics.get("n_generated_confident"),
        "class_share_gen": share_gen,
        "class_share_train": share_train,
        "grid": str(eval_path.with_name(eval_path.stem + "-grid.png")),
        "evaluation": str(eval_path),
    }
