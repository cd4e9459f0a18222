"""`thresher` experiment commands: the research sweep and the end-to-end demo."""

from __future__ import annotations

from dataclasses import replace

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options
from thresher.experiments.demo_config import DemoConfig
from thresher.experiments.sweep_config import SweepRunConfig


@click.command("sweep")
@click.argument("spec")
@config_options(SweepRunConfig, skip=("spec",))
@click.pass_obj
def sweep_cmd(ws: Workspace, spec: str, **values) -> None:
    """Run the grid of SPEC (a YAML file or a preset: paper-mini, quick): methods × ratios × seeds, resumably."""
    from thresher.experiments.sweep import run_sweep

    for line in run_sweep(ws, SweepRunConfig(spec=spec, **values)).lines():
        click.echo(line)


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
