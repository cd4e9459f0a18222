"""`thresher` evaluate commands: evaluate, report and the end-to-end demo."""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.curate import int_list
from thresher.commands.train import cfg_interval_option


# -- evaluate --------------------------------------------------------------------------------------
@click.command("evaluate")
@click.option("--run", "run", help="Training run to sample from and evaluate.")
@click.option("--images", help="Evaluate these generated images instead (folder of PNGs or .parquet).")
@click.option("--n", "n", type=int, default=1000, show_default=True, help="Images to generate.")
@click.option(
    "--against", help="Reference: a subset, source or published dataset (default: the run's source)."
)
@click.option(
    "--features",
    default="classifier",
    show_default=True,
    help="inception, clip:<arch>/<pretrained>, dino:<name> or classifier.",
)
@click.option("--weights", help="Local Inception-v3 FID weights (for --features inception offline).")
@click.option("--steps", type=int, default=50, show_default=True, help="ODE steps when sampling.")
@click.option("--sampler", type=click.Choice(["euler", "heun"]), default="heun", show_default=True)
@click.option(
    "--cfg-scale", type=float, default=1.0, show_default=True, help="Classifier-free guidance when sampling."
)
@cfg_interval_option
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--device")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def evaluate_cmd(
    ws: Workspace,
    run,
    images,
    n,
    against,
    features,
    weights,
    steps,
    sampler,
    cfg_scale,
    cfg_interval,
    batch_size,
    device,
    seed,
) -> None:
    """FID, KID, IS, precision/recall, density/coverage, Vendi, memorization and balance of generated images."""
    from thresher.evaluate.run_eval import EvalRunConfig, evaluate_run

    outcome = evaluate_run(
        ws,
        EvalRunConfig(
            run=run,
            images=images,
            n=n,
            against=against,
            features=features,
            weights=weights,
            steps=steps,
            cfg_scale=cfg_scale,
            cfg_interval=cfg_interval,
            sampler=sampler,
            seed=seed,
            batch_size=batch_size,
            device=device,
        ),
    )
    for line in outcome.lines():
        click.echo(line)


@click.command("report")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the page and figures.")
@click.option("--run", "runs", multiple=True, help="Only these runs (repeatable; default: every evaluation).")
@click.pass_obj
def report_cmd(ws: Workspace, out, runs) -> None:
    """Plots (metrics vs pruning ratio per method, class shares, sample grids) and a page from the evaluations."""
    from pathlib import Path

    from thresher.evaluate.report_run import run_report

    files = run_report(ws, Path(out) if out else None, list(runs) or None)
    click.echo(f"report: {files.html} ({len(files.figures)} figures)")


# -- demo ------------------------------------------------------------------------------------------
@click.command("demo")
@click.option(
    "--quick", is_flag=True, help="Smoke-test size (a few minutes): every stage runs, figures are rough."
)
@click.option("--seeds", help="Training seeds for the balancing comparison [default: 0,1; with --quick: 0].")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for data, clustering and sampling."
)
@click.option(
    "--unconditional",
    is_flag=True,
    help="Train the plain unconditional DiT instead of conditioning it on the demo's clusters "
    "(less recognizable digits; for comparison).",
)
@click.pass_obj
def demo_cmd(ws: Workspace, quick, seeds, seed, unconditional) -> None:
    """The whole loop on real long-tailed MNIST, offline: curate, publish, train, evaluate, report."""
    from thresher.experiments.demo import DemoConfig, DemoRecipe, run_demo

    config = DemoConfig(
        quick=quick,
        seed=seed,
        train_seeds=tuple(int_list(seeds)) if seeds else None,
        recipe=DemoRecipe(cluster_conditioning=not unconditional),
    )
    result = run_demo(ws, config)
    click.echo(f"\ndemo finished in {result.seconds / 60:.1f} min; report: {result.report}")
