"""Pruning then reweighting on balanced MNIST: per-class FID of a 10% gaussian subset, without and with
DRO class weights (Li et al. 2024, arXiv 2409.19128, Figure 2's comparison; the digits stand in for
CIFAR-10's classes).

Steps (each timed): ingest builtin:mnist (5000 balanced digits) → embed with deskewed HOG (the demo's
offline features) → select 10% by ``gaussian`` per class (prune ratio 0.9, keep the densest) → train a
class-conditional reference on the full source → ``reweight`` the subset against it (groups class) →
train on the subset with and without the class weights (``--weighting loss``), the same steps, for every
seed → evaluate every model with the classifier features against the full source (per-class FID).
The model and sampling are the demo's recipe (thresher/experiments/demo_config.py): DiT-T/1 width 128
depth 4 on thresher-ae latents, batch 16, lr 1e-3, logit-normal t, EMA 0.995, Heun 4 steps, guidance 2
at t in [0.25, 0.75].

    uv run python benchmarks/reweight_mnist.py --workspace /tmp/reweight-ws --out docs/reweight
    uv run python benchmarks/reweight_mnist.py --quick --workspace /tmp/rw-quick --out /tmp/rw-quick/out

Writes ``results.json``, ``table.md`` and ``per_class_fid.png`` to ``--out`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from thresher.catalog.workspace import Workspace
from thresher.experiments.demo_config import DemoRecipe

RECIPE = DemoRecipe()
CFG_SCALE, CFG_INTERVAL = RECIPE.cfg_scale, RECIPE.cfg_interval


def _train_config(steps: int, seed: int):
    from thresher.train.config import TrainConfig

    return TrainConfig(
        model_size=RECIPE.model_size, width=RECIPE.width, depth=RECIPE.depth, heads=RECIPE.heads,
        steps=steps, batch_size=RECIPE.batch_size, lr=RECIPE.lr, warmup_steps=RECIPE.warmup_steps,
        ema_decay=RECIPE.ema_decay, t_sampling=RECIPE.t_sampling, seed=seed, checkpoint_every=steps,
        sample_steps=RECIPE.sample_steps, sample_sampler=RECIPE.sampler, sample_count=20,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", default="reweight-workspace")
    parser.add_argument("--out", default="docs/reweight")
    parser.add_argument("--ratio", type=float, default=0.9, help="fraction pruned")
    parser.add_argument("--reference-steps", type=int, default=2000)
    parser.add_argument("--reweight-steps", type=int, default=600)
    parser.add_argument("--subset-steps", type=int, default=800)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument(
        "--etas", default="1.0,0.01", help="DRO step sizes, one reweight run and one weighted arm each"
    )
    parser.add_argument("--smoothing", type=float, default=1e-3)
    parser.add_argument("--n", type=int, default=1000, help="images generated per evaluation")
    parser.add_argument(
        "--quick", action="store_true", help="smoke-test sizes: every step runs, figures rough"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (more are slower on a shared 2-core box)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.reference_steps, args.reweight_steps, args.subset_steps, args.n = 60, 30, 40, 200
        args.seeds = "0"
    seeds = [int(s) for s in args.seeds.split(",")]
    ws = Workspace(Path(args.workspace))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: list[tuple[str, float]] = []

    @contextmanager
    def step(name: str):
        print(f"\n== {name}", flush=True)
        start = time.perf_counter()
        yield
        timings.append((name, time.perf_counter() - start))
        print(f"   {name}: {timings[-1][1]:.1f}s", flush=True)

    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest
    from thresher.curate.config import EmbedRunConfig, SelectConfig
    from thresher.curate.embed_run import run_embed
    from thresher.curate.select import select
    from thresher.evaluate.config import EvalRunConfig
    from thresher.evaluate.eval_run import evaluate_run
    from thresher.train.autoencoder import AutoencoderConfig
    from thresher.train.config import ReweightConfig, TrainRunConfig
    from thresher.train.reweight import run_reweight
    from thresher.train.train_run import run_training

    started = time.perf_counter()
    with step("ingest builtin:mnist"):
        ingest(ws, IngestConfig(source="builtin:mnist"))
    with step("embed hog?deskew"):
        embedded = run_embed(ws, EmbedRunConfig(embedder="hog?deskew", source="mnist", num_workers=0))
    with step(f"select gaussian, groups class, ratio {args.ratio}"):
        subset = select(
            ws,
            SelectConfig(name="mnist-gaussian", method="gaussian", source="mnist", ratio=args.ratio,
                         groups="class", embedder=embedded.final_embedder),
        )  # fmt: skip
        print("   " + subset.lines()[0])
    autoencoder = AutoencoderConfig(steps=RECIPE.autoencoder_steps, seed=0)

    def train(name: str, dataset: str, steps: int, seed: int, weights: str | None = None) -> str:
        with step(name):
            outcome = run_training(
                ws,
                TrainRunConfig(dataset=dataset, train=_train_config(steps, seed), vae=RECIPE.vae,
                               autoencoder=autoencoder, weights=weights),
            )  # fmt: skip
            print("   " + outcome.lines()[0])
        return outcome.run_id

    reference = train(
        f"train reference on mnist ({args.reference_steps} steps)", "mnist", args.reference_steps, 0
    )
    etas = [float(e) for e in args.etas.split(",")]
    reweighted = {}
    for eta in etas:
        with step(f"reweight {subset.ref} against the reference, eta {eta:g} ({args.reweight_steps} steps)"):
            reweighted[eta] = run_reweight(
                ws,
                ReweightConfig(dataset=subset.ref, reference=reference, groups="class", eta=eta,
                               smoothing=args.smoothing, steps=args.reweight_steps,
                               batch_size=RECIPE.batch_size, lr=RECIPE.lr, warmup_steps=RECIPE.warmup_steps,
                               seed=0),
            )  # fmt: skip
            for line in reweighted[eta].lines():
                print("   " + line)
    runs = {("full", 0): reference}
    for seed in seeds:
        runs[("without", seed)] = train(
            f"train {subset.ref}, no weights, seed {seed} ({args.subset_steps} steps)",
            subset.ref, args.subset_steps, seed,
        )  # fmt: skip
        for eta in etas:
            runs[(f"eta={eta:g}", seed)] = train(
                f"train {subset.ref}, DRO class weights eta {eta:g} (loss), seed {seed} ({args.subset_steps} steps)",
                subset.ref, args.subset_steps, seed, weights=reweighted[eta].run_id,
            )  # fmt: skip

    results = []
    for (arm, seed), run_id in runs.items():
        with step(f"evaluate {arm} seed {seed} ({args.n} images)"):
            evaluation = evaluate_run(
                ws,
                EvalRunConfig(run=run_id, n=args.n, against="mnist", steps=RECIPE.sample_steps,
                              sampler=RECIPE.sampler, cfg_scale=CFG_SCALE, cfg_interval=CFG_INTERVAL,
                              batch_size=RECIPE.eval_batch_size, seed=seed),
            )  # fmt: skip
        m = evaluation.metrics
        results.append(
            {"arm": arm, "seed": seed, "run": run_id, "fid": m.get("fid"), "class_ids": m.get("class_ids"),
             "class_fid": m.get("class_fid"), "class_share_gen": m.get("class_share_gen"),
             "confidence": m.get("classifier_confidence"), "evaluation": str(evaluation.path)}
        )  # fmt: skip
    total = time.perf_counter() - started

    payload = {
        "settings": {**vars(args), "recipe": {k: str(v) for k, v in vars(RECIPE).items()}},
        "subset": {"ref": subset.ref, "n": subset.n, "n_source": subset.n_source, "score_run": subset.score_run},
        "reweight": {f"eta={eta:g}": {"run": r.run_id, "weights": r.weights, "counts": r.counts, "final": r.final,
                                      "seconds": r.seconds} for eta, r in reweighted.items()},
        "results": results,
        "timings": timings,
        "total_seconds": total,
    }  # fmt: skip
    (out / "results.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    table = render_table(payload)
    (out / "table.md").write_text(table)
    plot(payload, out / "per_class_fid.png")
    print("\n" + table)
    print(f"total {total / 60:.1f} min → {out}")


def _arm(results: list[dict], arm: str) -> tuple[np.ndarray, np.ndarray]:
    """(per-class FID seeds × classes, overall FID per seed) of one arm."""
    rows = [r for r in results if r["arm"] == arm]
    per_class = np.array([[np.nan if v is None else v for v in r["class_fid"]] for r in rows], dtype=float)
    return per_class, np.array([r["fid"] for r in rows], dtype=float)


def _arms(payload: dict) -> list[str]:
    seen = []
    for r in payload["results"]:
        if r["arm"] not in seen:
            seen.append(r["arm"])
    return seen


def _label(arm: str) -> str:
    if arm == "full":
        return "full source (reference)"
    if arm == "without":
        return "10% subset, no weights"
    return f"10% subset, DRO weights {arm.replace('eta=', 'η=')}"


def _pm(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=float)
    return f"{np.nanmean(values):.1f}" + (f" ± {np.nanstd(values):.1f}" if len(values) > 1 else "")


def render_table(payload: dict) -> str:
    results = payload["results"]
    classes = [int(c) for c in results[0]["class_ids"]]
    arms = _arms(payload)
    weighted = [a for a in arms if a.startswith("eta=")]
    stats = {a: _arm(results, a) for a in arms}
    header = ["class"] + [f"weight {a.replace('eta=', 'η=')}" for a in weighted] + [_label(a) for a in arms]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for i, c in enumerate(classes):
        cells = [str(c)] + [f"{payload['reweight'][a]['weights'][c]:.3f}" for a in weighted]
        cells += [_pm(stats[a][0][:, i]) for a in arms]
        lines.append("| " + " | ".join(cells) + " |")
    blank = [""] * len(weighted)
    for name, fn in (
        ("mean of per-class FID", np.nanmean),
        ("spread: std over classes", np.nanstd),
        ("spread: max − min", lambda r: np.nanmax(r) - np.nanmin(r)),
        ("worst class", np.nanmax),
    ):
        cells = [_pm(np.array([fn(row) for row in stats[a][0]])) for a in arms]
        lines.append("| " + " | ".join([f"**{name}**", *blank, *cells]) + " |")
    lines.append("| " + " | ".join(["**overall FID**", *blank, *[_pm(stats[a][1]) for a in arms]]) + " |")
    seeds = sorted({r["seed"] for r in results if r["arm"] != "full"})
    note = (
        f"\nMean ± std over training seeds {', '.join(map(str, seeds))} (the full-source reference: one run, "
        "seed 0). FID in the evaluation classifier's feature space against all 5000 digits; per class, the "
        "generated images the classifier assigns to the class against the real images of the class. "
        "Weights: the mean DRO class weight α (sums to 1; uniform is 0.100).\n"
    )
    return "\n".join(lines) + "\n" + note


def plot(payload: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = payload["results"]
    classes = [int(c) for c in results[0]["class_ids"]]
    bars = [a for a in _arms(payload) if a != "full"]
    x = np.arange(len(classes))
    width = 0.8 / len(bars)
    colours = ["#9aa5b1", "#d1495b", "#edae49", "#00798c", "#30638e"]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for j, arm in enumerate(bars):
        per_class, _ = _arm(results, arm)
        err = np.nanstd(per_class, axis=0) if len(per_class) > 1 else None
        ax.bar(x + (j - (len(bars) - 1) / 2) * width, np.nanmean(per_class, axis=0), width, yerr=err, capsize=2,
               color=colours[j % len(colours)], label=_label(arm))  # fmt: skip
    full, _ = _arm(results, "full")
    if len(full):
        ax.scatter(x, full[0], marker="_", s=400, color="black", zorder=3, label=_label("full"))
    ax.set_xticks(x, [str(c) for c in classes])
    ax.set_xlabel("digit")
    ax.set_ylabel("per-class FID (classifier features)")
    ax.set_title("MNIST pruned to 10% by gaussian (per class): per-class FID without vs with DRO reweighting")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()
