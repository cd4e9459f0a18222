"""The command table: both front ends are built from it, and a JSON request builds the config the
command line would."""

from __future__ import annotations

import dataclasses
import json

import click
import pytest

from thresher.api import COMMANDS, command
from thresher.cli import FRONT_END_COMMANDS, main
from thresher.commands.options import take
from thresher.config_field import nested_config
from thresher.config_json import config_from_json, config_schema, config_to_json, to_json_value
from thresher.errors import ConfigError, ThresherError
from thresher.train.config import TrainConfig, TrainRunConfig


def test_the_command_line_has_exactly_the_table_rows_and_its_front_end_commands():
    assert set(main.commands) == set(COMMANDS) | set(FRONT_END_COMMANDS)


def test_every_row_resolves_to_a_function_and_takes_its_own_config():
    for row in COMMANDS.values():
        assert callable(row.resolve()), row.name
        assert dataclasses.is_dataclass(row.config), row.name
        fields = {f.name for f in dataclasses.fields(row.config)}
        assert set(row.arguments) <= fields, row.name


def _parsed_by_cli(name: str, args: list[str]):
    """The config the command line builds from ``args`` (parsed by the command's own click parser)."""
    cmd = main.commands[name]
    ctx = cmd.make_context(name, list(args), resilient_parsing=False)
    values = {k: v for k, v in ctx.params.items()}
    return COMMANDS[name].config(**take(COMMANDS[name].config, values))


@pytest.mark.parametrize(
    ("name", "args", "body"),
    [
        (
            "select",
            [
                "--name",
                "half",
                "--method",
                "cluster",
                "--balance",
                "equal",
                "--ratio",
                "0.5",
                "--keep",
                "furthest",
            ],
            {"name": "half", "method": "cluster", "balance": "equal", "ratio": 0.5, "keep": "furthest"},
        ),
        ("cluster", ["--k", "4,8", "--euclidean"], {"ks": [4, 8], "spherical": False}),
        ("ingest", ["builtin:digits", "--num-proc", "2"], {"source": "builtin:digits", "num_proc": 2}),
        (
            "train",
            ["--dataset", "half@v1", "--steps", "7", "--lr", "0.01", "--vae", "thresher-ae"],
            {"dataset": "half@v1", "vae": "thresher-ae", "train": {"steps": 7, "lr": 0.01}},
        ),
        ("report", ["--run", "a", "--run", "b"], {"runs": ["a", "b"]}),
        ("query", ["SELECT 1", "--format", "csv"], {"sql": "SELECT 1", "fmt": "csv"}),
    ],
)
def test_a_json_request_builds_the_config_the_command_line_builds(name, args, body):
    from_cli = _parsed_by_cli(name, args)
    from_json = command(name).build(body)
    assert from_json == from_cli


def test_a_config_survives_a_json_round_trip():
    config = command("train").build({"dataset": "x@v2", "train": {"steps": 3, "lr": 0.01}, "run": "r1"})
    assert isinstance(config.train, TrainConfig) and config.train.steps == 3
    again = config_from_json(TrainRunConfig, json.loads(json.dumps(config_to_json(config))))
    assert again == config


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "s", "method": "cluster", "ratio": 1.5}, "ratio", "outside [0, 1)"),
        ({"name": "s", "method": "cluster", "ratio": "half"}, "ratio", "expected a number"),
        ({"name": "s", "method": "nope", "ratio": 0.5}, "method", "unknown method"),
        ({"name": "s", "method": "cluster", "ratio": 0.5, "bogus": 1}, "bogus", "unknown field"),
        ({"method": "cluster", "ratio": 0.5}, "name", "missing required field"),
        ({"name": "s", "method": "cluster", "ratio": 0.5, "keep_count": 3}, "keep_count", "not both"),
        ({"name": "s", "method": "cluster", "ratio": 0.5, "inverse": "yes"}, "inverse", "true or false"),
        ({"name": "../x", "method": "cluster", "ratio": 0.5}, "name", "subset name"),
    ],
)
def test_an_invalid_request_names_the_field_and_the_message_the_cli_prints(body, field, words):
    with pytest.raises(ConfigError) as caught:
        command("select").build(body)
    assert caught.value.field == field
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_internal_fields_cannot_be_set_by_a_request():
    """A Hub token never travels in a request: fields the command line hides are refused."""
    with pytest.raises(ConfigError, match="unknown field 'token'"):
        command("publish").build({"ref": "a@v1", "to": "/tmp/x", "token": "hf_secret"})
    names = [f["name"] for f in config_schema(COMMANDS["publish"].config)]
    assert "token" not in names and {"ref", "to", "materialize"} <= set(names)


def test_the_schema_describes_nested_configs_and_choices():
    schema = {f["name"]: f for f in config_schema(TrainRunConfig)}
    assert schema["train"]["type"] == "object"
    nested = {f["name"]: f for f in schema["train"]["fields"]}
    assert nested["steps"]["type"] == "integer" and nested["steps"]["default"] == TrainConfig().steps
    select = {f["name"]: f for f in config_schema(COMMANDS["select"].config)}
    assert select["balance"]["choices"] == ["proportional", "equal"] and select["balance"]["nullable"]
    json.dumps([config_schema(row.config) for row in COMMANDS.values()])  # all of it is JSON


def test_unknown_command_is_one_line():
    with pytest.raises(ThresherError, match="unknown command 'bogus'; choose one of: ingest"):
        command("bogus")


def test_results_serialize_to_plain_json(tmp_path):
    import numpy as np

    from thresher.curate.select import SelectResult

    result = SelectResult("s", 2, 10, 20, tmp_path / "x", clustering="c", k=np.int64(4))
    data = to_json_value(result)
    assert json.loads(json.dumps(data)) == data
    assert data["path"] == str(tmp_path / "x") and data["k"] == 4


def test_every_command_line_option_is_a_config_field():
    """No front-end-only option: what the CLI takes, a request can take (besides --workspace)."""
    for name, row in COMMANDS.items():
        fields = set()
        stack = [row.config]
        while stack:
            cls = stack.pop()
            for f in dataclasses.fields(cls):
                fields.add(f.name)
                if f.metadata.get("cli") is False:  # hidden: its type may be one only type checkers import
                    continue
                nested = nested_config(cls, f)  # TrainRunConfig.train, the executor options, …
                if nested is not None:
                    stack.append(nested)
        params = {p.name for p in main.commands[name].params if isinstance(p, (click.Option, click.Argument))}
        assert params - {"workspace", None} <= fields, name
