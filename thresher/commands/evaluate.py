"""`thresher` evaluate commands: evaluate, report and the end-to-end demo."""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options
from thresher.evaluate.config import EvalRunConfig


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
@click.option("--sweep", help="The report of a sweep (`thresher sweep`): its figures, tables and claims.")
@click.pass_obj
def report_cmd(ws: Workspace, out, runs, sweep) -> None:
    """Plots (metrics vs pruning ratio per method, class shares, sample grids) and a page from the evaluations."""
    from pathlib import Path

    if sweep:
        if runs:
            raise click.UsageError("--sweep reports the sweep's own cells: drop --run")
        from thresher.experiments.sweep_report import write_sweep_report

        files = write_sweep_report(ws, sweep, Path(out) if out else None)
    else:
        from thresher.evaluate.report_run import run_report

        files = run_report(ws, Path(out) if out else None, list(runs) or None)
    click.echo(f"report: {files.html} ({len(files.figures)} figures)")
