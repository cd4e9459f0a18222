"""`thresher demo`: the whole loop on real long-tailed MNIST, offline, ending in a report.

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

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from thresher.catalog.workspace import Workspace
from thresher.experiments.demo_config import MNIST_LT_ROWS, RARE_CLASSES, DemoConfig


@dataclass
class DemoResult:
    report: Path
    rows: list[dict[str, Any]]
    seconds: float


class _Stages:
    """Stage names with an overall progress bar whose time-left estimate weights stages by expected cost."""

    def __init__(self, plan: list[tuple[str, float]]) -> None:
        self.plan = dict(plan)
        self.bar = tqdm(
            total=sum(self.plan.values()),
            desc="demo",
            unit="work",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| elapsed {elapsed}, left ~{remaining}",
        )
        self.index, self.count = 0, len(plan)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.index += 1
        self.bar.set_description(f"demo [{self.index}/{self.count}] {name}")
        tqdm.write(f"\n== [{self.index}/{self.count}] {name}")
        start = time.perf_counter()
        yield
        tqdm.write(f"   {name}: {time.perf_counter() - start:.1f}s")
        self.bar.update(self.plan[name])

    def close(self) -> None:
        self.bar.close()


def run_demo(ws: Workspace, config: DemoConfig) -> DemoResult:
    from thresher.curate.cluster_run import run_cluster
    from thresher.curate.config import (
        ClusterRunConfig,
        EmbedRunConfig,
        IngestConfig,
        PublishConfig,
        SelectConfig,
    )
    from thresher.curate.embed_run import run_embed
    from thresher.curate.ingest import ingest
    from thresher.curate.publish import publish
    from thresher.curate.select import select
    from thresher.evaluate.config import EvalRunConfig
    from thresher.evaluate.run_eval import evaluate_run
    from thresher.train.autoencoder import AutoencoderConfig
    from thresher.train.config import TrainConfig, TrainRunConfig
    from thresher.train.run import run_training

    config = config.resolved()
    recipe = config.recipe
    started = time.perf_counter()
    datasets = ["mnist-lt", "demo-random", "demo-proportional", "demo-equal"]
    runs = [
        (d, s)
        for d in datasets
        for s in (config.train_seeds if d in ("demo-proportional", "demo-equal") else config.train_seeds[:1])
    ]
    # Stage weights are expected seconds on 2 CPU cores, so the bar's time left is roughly right.
    n_full, n_subset = MNIST_LT_ROWS, round(MNIST_LT_ROWS * (1 - config.prune_ratio))
    plan = [("ingest", 20.0), ("embed", 5.0), ("cluster", 5.0), ("select", 5.0), ("publish", 10.0)]
    plan += [
        (
            f"train {d} (seed {s})",
            recipe.seconds_per_step * recipe.steps_for(n_full if d == "mnist-lt" else n_subset),
        )
        for d, s in runs
    ]
    # Evaluations took 32-41 s per 1000 guided samples in the measured run.
    plan += [(f"evaluate {d} (seed {s})", 0.035 * config.n_generated) for d, s in runs] + [("report", 5.0)]
    stages = _Stages(plan)

    with stages.stage("ingest"):
        ingest(ws, IngestConfig(source="builtin:mnist-lt", seed=config.seed))
        ingest(ws, IngestConfig(source="builtin:mnist"))
    with stages.stage("embed"):
        embedded = run_embed(
            ws,
            EmbedRunConfig(embedder=config.embedder, source="mnist-lt", num_workers=0, seed=config.seed),
        )
    with stages.stage("cluster"):
        clustering = run_cluster(
            ws,
            ClusterRunConfig(
                ks=[config.k],
                source="mnist-lt",
                embedder=embedded.final_embedder,
                seed=config.seed,
                restarts=config.kmeans_restarts,
            ),
        )
        for line in clustering.lines():
            tqdm.write("   " + line)
    subsets = {}
    with stages.stage("select"):
        common = dict(source="mnist-lt", ratio=config.prune_ratio, seed=config.seed)
        subsets["demo-random"] = select(ws, SelectConfig(name="demo-random", method="random", **common))
        subsets["demo-proportional"] = select(
            ws, SelectConfig(name="demo-proportional", method="cluster", balance="proportional", **common)
        )
        subsets["demo-equal"] = select(
            ws, SelectConfig(name="demo-equal", method="cluster", balance="equal", **common)
        )
    with stages.stage("publish"):
        for name, subset in subsets.items():
            publish(ws, PublishConfig(ref=subset.ref, to=str(ws.root / "published" / name)))

    trained: dict[tuple[str, int], str] = {}
    for dataset, seed in runs:
        with stages.stage(f"train {dataset} (seed {seed})"):
            spec = subsets[dataset].ref if dataset in subsets else dataset
            n_rows = subsets[dataset].n if dataset in subsets else subsets["demo-random"].n_source
            steps = recipe.steps_for(n_rows)
            train_config = TrainConfig(
                model_size=recipe.model_size,
                width=recipe.width,
                depth=recipe.depth,
                heads=recipe.heads,
                steps=steps,
                batch_size=recipe.batch_size,
                lr=recipe.lr,
                warmup_steps=recipe.warmup_steps,
                ema_decay=recipe.ema_decay,
                t_sampling=recipe.t_sampling,
                unconditional=not recipe.cluster_conditioning,
                seed=seed,
                checkpoint_every=steps,
                sample_steps=recipe.sample_steps,
                sample_sampler=recipe.sampler,
            )
            outcome = run_training(
                ws,
                TrainRunConfig(
                    dataset=spec,
                    train=train_config,
                    vae=recipe.vae,
                    image_size=recipe.image_size,
                    autoencoder=AutoencoderConfig(steps=recipe.autoencoder_steps, seed=config.seed),
                    clusters=clustering.run_id if recipe.cluster_conditioning else None,
                ),
            )
            trained[(dataset, seed)] = outcome.run_id
            for line in outcome.lines():
                tqdm.write("   " + line)

    rows = []
    for (dataset, seed), run_id in trained.items():
        with stages.stage(f"evaluate {dataset} (seed {seed})"):
            result = evaluate_run(
                ws,
                EvalRunConfig(
                    run=run_id,
                    n=config.n_generated,
                    against="mnist",
                    steps=recipe.sample_steps,
                    sampler=recipe.sampler,
                    cfg_scale=recipe.cfg_scale if recipe.cluster_conditioning else 1.0,
                    cfg_interval=recipe.cfg_interval,
                    batch_size=recipe.eval_batch_size,
                    seed=seed,  # a second seed repeats training and sampling, not the selection
                ),
            )
            rows.append(headline_row(ws, dataset, seed, run_id, result.metrics, result.path))
    with stages.stage("report"):
        from thresher.experiments.demo_report import write_demo_report

        report = write_demo_report(ws.root / "report", rows, config=config, cluster_table=clustering.table)
    stages.close()
    seconds = time.perf_counter() - started
    (ws.root / "report" / "demo.json").write_text(
        json.dumps({"seconds": seconds, "rows": rows}, indent=1, default=str)
    )
    return DemoResult(report, rows, seconds)


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
