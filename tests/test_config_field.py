"""Bounded settings (seeds: 0 ≤ seed < 2³², hardening item 24): refused by the command line, by a
request and by a config built in code, each as one line, before anything runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from thresher.cli import main
from thresher.config_json import config_from_json, config_schema
from thresher.curate.config import SelectConfig
from thresher.errors import ConfigError, ThresherError
from thresher.train.config import TrainConfig, TrainRunConfig


def test_a_seed_of_two_to_the_32_is_refused_by_the_command_line_before_a_run_is_recorded(tmp_path):
    ws = tmp_path / "ws"
    result = CliRunner().invoke(main, ["-w", str(ws), "train", "--dataset", "x", "--seed", str(2**32)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'--seed'" in result.output and "0<=x<=4294967295" in result.output
    assert not (ws / "catalog.duckdb").exists()


def test_the_largest_seed_is_accepted_and_one_more_is_refused_in_code():
    assert TrainConfig(seed=2**32 - 1).seed == 2**32 - 1
    with pytest.raises(ThresherError, match=r"--seed must be in \[0, 4294967295\], got 4294967296"):
        TrainConfig(seed=2**32)
    with pytest.raises(ThresherError, match="--seed must be in"):
        SelectConfig(name="a", method="random", ratio=0.5, seed=-1)


def test_a_request_with_a_seed_out_of_range_names_the_field():
    with pytest.raises(ConfigError) as caught:
        config_from_json(TrainRunConfig, {"dataset": "x", "train": {"seed": 2**40}})
    # a nested config's error is named by its field in the request, with the inner flag in the message
    assert caught.value.field == "train"
    assert str(caught.value) == "train: --seed must be in [0, 4294967295], got 1099511627776"


def test_the_schema_states_a_seed_bounds():
    (seed,) = [f for f in config_schema(TrainConfig) if f["name"] == "seed"]
    assert (seed["minimum"], seed["maximum"]) == (0, 2**32 - 1)
