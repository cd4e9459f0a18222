"""Command-line options come from the config dataclasses: one default, one help text, one validation."""

from __future__ import annotations

import dataclasses

import click
import pytest
from click.testing import CliRunner

from thresher.cli import main
from thresher.commands.options import config_options
from thresher.config_field import setting
from thresher.curate.config import ClusterRunConfig, EmbedRunConfig, SelectConfig
from thresher.evaluate.config import EvalRunConfig
from thresher.train.config import SampleConfig, TrainConfig, TrainRunConfig


@dataclasses.dataclass
class Example:
    name: str = setting(help="required name")
    count: int = setting(3, "a count")
    ratio: float | None = setting(None, "a ratio")
    flag: bool = setting(False, "off by default")
    normalize: bool = setting(True, "on by default")
    pair: tuple[float, float] = setting((0.0, 1.0), "two numbers")
    ks: list[int] = setting(default_factory=lambda: [5], help="integers")
    mode: str = setting("a", "a choice", choices=("a", "b"))
    hidden: int = setting(7, cli=False)
    old: str = setting("x", "renamed", flag="--new-name", aliases=("--old-name",))


def _parse(args: list[str]) -> dict:
    @click.command()
    @config_options(Example)
    def command(**values):
        click.echo(repr(Example(**values)))

    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_defaults_types_flags_and_aliases_come_from_the_fields():
    assert _parse(["--name", "n"]).strip() == repr(Example(name="n"))
    out = _parse(
        [
            "--name",
            "n",
            "--count",
            "4",
            "--ratio",
            "0.5",
            "--flag",
            "--no-normalize",
            "--pair",
            "0.2,0.8",
            "--ks",
            "1,2",
            "--mode",
            "b",
            "--old-name",
            "y",
        ]
    )
    assert out.strip() == repr(Example("n", 4, 0.5, True, False, (0.2, 0.8), [1, 2], "b", 7, "y"))


def test_hidden_fields_get_no_option_and_bad_choices_are_refused():
    @click.command()
    @config_options(Example)
    def command(**values):
        pass

    names = {p.name for p in command.params}
    assert "hidden" not in names and "old" in names
    result = CliRunner().invoke(command, ["--name", "n", "--mode", "c"])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "command, config",
    [
        (["train"], TrainConfig),
        (["train"], TrainRunConfig),
        (["sample"], SampleConfig),
        (["select"], SelectConfig),
        (["cluster"], ClusterRunConfig),
        (["embed"], EmbedRunConfig),
        (["evaluate"], EvalRunConfig),
    ],
)
def test_every_cli_default_is_the_config_default(command, config):
    """No second copy of a default: each option's default is its field's (formatted for tuples/lists)."""
    cmd = main.get_command(click.Context(main), command[0])
    ctx = click.Context(cmd)
    params = {p.name: p for p in cmd.params}
    for field in dataclasses.fields(config):
        if field.metadata.get("cli") is False or field.name not in params:
            continue
        default = field.default if field.default is not dataclasses.MISSING else None
        option_default = params[field.name].get_default(ctx, call=False)
        if type(option_default).__name__ == "Sentinel":  # click 8.3's "no default"
            option_default = None
        if isinstance(default, tuple):
            assert option_default == ",".join(f"{x:g}" for x in default), field.name
        elif isinstance(default, bool) or default is None:
            assert bool(option_default) == bool(default), field.name
        else:
            assert option_default == default, field.name


def test_python_defaults_equal_what_the_command_line_trains_with():
    """`TrainConfig()` and `thresher train` agree (they used to differ: DiT-S/2 vs DiT-T/4, 10 000 vs 1000)."""
    config = TrainConfig()
    assert (config.model_size, config.steps, config.lr, config.ema_decay) == ("DiT-T/4", 1000, 1e-3, 0.999)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "-d", "x", "--steps", "0"], "steps must be >= 1"),
        (["train", "-d", "x", "--image-size", "0"], "--image-size must be at least 1"),
        (["train", "-d", "x", "--weighting", "loss"], "--weighting needs --weights"),
        (["embed", "--num-workers", "-1"], "--num-workers must be at least 0"),
        (
            ["sample", "--run", "r", "--n", "2", "--out", "o", "--batch-size", "0"],
            "--batch-size must be at least 1",
        ),
        (["evaluate", "--run", "r", "--batch-size", "0"], "--batch-size must be at least 1"),
        (["cluster", "--k", "0"], "--k must be at least 1"),
        (["publish", "x", "--to", ""], "--to is empty"),
    ],
)
def test_bad_values_are_one_line_before_anything_runs(tmp_path, args, message):
    result = CliRunner().invoke(main, ["--workspace", str(tmp_path / "ws"), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "ws").exists()  # nothing was written


def test_workspace_option_works_after_the_subcommand(tmp_path):
    result = CliRunner().invoke(main, ["status", "--workspace", str(tmp_path / "w2")])
    assert result.exit_code == 0 and str(tmp_path / "w2") in result.output
