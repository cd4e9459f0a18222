"""A config written as command-line words (what a generated sbatch script runs) parses back into the same
config through the real command line."""

from __future__ import annotations

import pytest

from thresher.api import command
from thresher.commands.build import click_command
from thresher.commands.options import take
from thresher.config_json import config_to_json
from thresher.curate.config import EmbedRunConfig, ScoreRunConfig
from thresher.executors.command_line import config_arguments
from thresher.executors.config import ExecutorConfig, SlurmResources, StageExecutorConfig
from thresher.experiments.sweep_config import SweepRunConfig
from thresher.train.config import StoreConfig


def _parsed(name: str, words: list[str]):
    row = command(name)
    context = click_command(row).make_context(name, list(words))
    return row.config(**take(row.config, dict(context.params)))


CONFIGS = [
    ("embed", EmbedRunConfig(embedder="hog?deskew", source="mnist-lt", part_size=400, normalize=False,
                             num_workers=0, executor=StageExecutorConfig(task="2/3"))),
    ("store", StoreConfig(dataset="sub@v2", image_size=32, background="0,0,0", num_workers=0)),
    ("score", ScoreRunConfig(method="grand", source="digits", params="final-layer", checkpoint=0,
                             part_size=100, executor=StageExecutorConfig(task="1/2"))),
    ("sweep", SweepRunConfig(spec="quick", cells="0,4", executor=ExecutorConfig(
        kind="slurm", max_parallel=3, tasks=2, dry_run=True,
        slurm=SlurmResources(partition="gpu", gpus_per_task=1, time="1:00:00", mem="8G",
                             sbatch_arg=("--account=proj", "--qos=high"))))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "config"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_config_arguments_parse_back_into_the_same_config(name, config):
    words = config_arguments(config, positional=command(name).arguments)
    assert _parsed(name, words) == config


def test_defaults_are_left_out_and_skipped_fields_too():
    config = EmbedRunConfig(source="digits", executor=StageExecutorConfig(kind="slurm", max_parallel=2))
    assert config_arguments(config, skip=("executor",)) == ["--source", "digits"]
    assert config_arguments(config) == ["--source", "digits", "--executor", "slurm", "--max-parallel", "2"]


def test_a_flag_that_is_on_by_default_is_turned_off_by_its_no_form():
    words = config_arguments(EmbedRunConfig(normalize=False))
    assert words == ["--no-normalize"]
    assert _parsed("embed", words).normalize is False


@pytest.mark.parametrize(("name", "config"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_executor_options_travel_as_nested_json_objects(name, config):
    """What the service builds from a request: the executor options as an object, Slurm's inside it."""
    data = config_to_json(config)
    assert (
        set(data["executor"]) >= {"kind", "slurm", "max_parallel"}
        and "partition" in data["executor"]["slurm"]
    )
    assert command(name).build(data) == config
