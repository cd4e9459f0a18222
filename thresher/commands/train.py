"""`thresher` train commands: train and sample. Options, defaults and help come from the config dataclasses."""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options, take
from thresher.train.config import SampleConfig, TrainConfig, TrainRunConfig


@click.command("train")
@config_options(TrainRunConfig)
@config_options(TrainConfig)
@click.pass_obj
def train_cmd(ws: Workspace, **values) -> None:
    """Train a flow-matching DiT on a named (pruned) dataset."""
    from thresher.train.run import run_training

    train_config = TrainConfig(**take(TrainConfig, values))
    outcome = run_training(ws, TrainRunConfig(train=train_config, **values))
    for line in outcome.lines():
        click.echo(line)


@click.command("sample")
@config_options(SampleConfig)
@click.pass_obj
def sample_cmd(ws: Workspace, **values) -> None:
    """Generate N images from a training run's EMA model."""
    from thresher.train.run import run_sampling

    config = SampleConfig(**values)
    dest = run_sampling(ws, config)
    click.echo(f"{config.n} images → {dest}")
