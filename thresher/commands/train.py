"""`thresher` train commands: train and sample. Options, defaults and help come from the config dataclasses."""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options, take
from thresher.train.config import (
    PretrainConfig,
    ReweightConfig,
    SampleConfig,
    StoreConfig,
    TrainConfig,
    TrainRunConfig,
)


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


@click.command("pretrain")
@config_options(PretrainConfig)
@click.pass_obj
def pretrain_cmd(ws: Workspace, **values) -> None:
    """A short training run on a whole source that saves checkpoints and a per-epoch loss log for the
    gradient scores (rerun the same command to resume a killed run)."""
    from thresher.train.pretrain import run_pretrain

    for line in run_pretrain(ws, PretrainConfig(**values)).lines():
        click.echo(line)


@click.command("reweight")
@config_options(ReweightConfig)
@click.pass_obj
def reweight_cmd(ws: Workspace, **values) -> None:
    """DRO group weights of a subset (DoReMi-style): train a proxy DiT on it against a reference run, and
    write the mean weights as a run that `thresher train --weights RUN` reads."""
    from thresher.train.reweight import run_reweight

    for line in run_reweight(ws, ReweightConfig(**values)).lines():
        click.echo(line)


@click.command("store")
@config_options(StoreConfig)
@click.pass_obj
def store_cmd(ws: Workspace, **values) -> None:
    """Build a dataset's image store ahead of training: its decoded pixels, or --vae latents (train and
    evaluate build what they need on first use; a rerun builds only what is missing)."""
    from thresher.train.store_run import build_store

    for line in build_store(ws, StoreConfig(**values)).lines():
        click.echo(line)
