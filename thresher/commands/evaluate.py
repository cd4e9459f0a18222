"""`thresher` evaluate commands: evaluate, report and the end-to-end demo."""

from __future__ import annotations

from dataclasses import replace

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options
from thresher.evaluate.config import EvalRunConfig
from thresher.experiments.demo_config import DemoConfig


@click.command("evaluate")
@config_options(EvalRunConfig)
@click.pass_obj
def evaluate_cmd(ws: Workspace, **values) -> None:
    """FID, KID, IS, precision/recall, density/coverage, Vendi, memorization and balance of generated images."""
    from thresher.evaluate.run_eval import evaluate_run

    outcome = evaluate_run(ws, EvalRunConfig(**values))
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


@click.command("demo")
@config_options(DemoConfig)
@click.option(
    "--unconditional",
    is_flag=True,
    help="Train the plain unconditional DiT instead of conditioning it on the demo's clusters "
    "(less recognizable digits; for comparison).",
)
@click.pass_obj
def demo_cmd(ws: Workspace, unconditional: bool, **values) -> None:
    """The whole loop on real long-tailed MNIST, offline: curate, publish, train, evaluate, report."""
    from thresher.experiments.demo import run_demo

    config = DemoConfig(**values)
    config = replace(config, recipe=replace(config.recipe, cluster_conditioning=not unconditional))
    result = run_demo(ws, config)
    click.echo(f"\ndemo finished in {result.seconds / 60:.1f} min; report: {result.report}")
