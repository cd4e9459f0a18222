"""A score method is one module: a file outside thresher, named by THRESHER_SCORE_METHODS, becomes a
`thresher select` method with its own option, without a line changed anywhere else."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from thresher.api import COMMANDS
from thresher.catalog.samples import ok_sample_ids
from thresher.cli import main
from thresher.commands.build import click_command
from thresher.curate.config import select_config
from thresher.curate.scores.registry import registry, reset_registry

PLUGIN = '''
"""score = sample_id mod --modulus: a method declared in one file."""

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.curate.scores.registry import ScoreMethod


@dataclass(frozen=True)
class ModuloOptions:
    modulus: int = setting(2, "score each sample by its id mod this.")


def scores(ws, context):
    from thresher.catalog.runs import run_exists
    from thresher.catalog.samples import ok_sample_ids
    from thresher.catalog.scores import score_run, score_table, write_score_part

    modulus = context.options.modulus
    run_id = f"modulo-{context.source}-{modulus}"
    if not run_exists(ws, run_id):
        ids = ok_sample_ids(ws, context.source)
        with score_run(ws, run_id, "modulo", context.source, {"modulus": modulus}) as folder:
            write_score_part(folder, score_table(ids, "modulo", score=(ids % modulus).astype(float)))
    return run_id


METHODS = [
    ScoreMethod(name="modulo", summary="id mod m", scores=scores, default_keep="high", options=ModuloOptions)
]
'''


@pytest.fixture
def modulo_plugin(tmp_path, monkeypatch):
    """The command line as it is built when THRESHER_SCORE_METHODS names the plugin before thresher loads."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "thresher_modulo_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.setenv("THRESHER_SCORE_METHODS", "thresher_modulo_plugin")
    monkeypatch.delitem(sys.modules, "thresher_modulo_plugin", raising=False)
    reset_registry()
    row = dataclasses.replace(COMMANDS["select"], config=select_config())
    monkeypatch.setitem(main.commands, "select", click_command(row))
    yield
    reset_registry()  # the next test reads the registry again, without the plugin


def _run(ws, *args):
    return CliRunner().invoke(main, ["--workspace", str(ws), *args], catch_exceptions=False)


def test_a_method_from_one_file_selects_through_the_cli(modulo_plugin, mnist_lt):
    ws = mnist_lt
    assert "modulo" in registry()
    help_text = _run(ws.root, "select", "--help").output
    assert "--modulus INTEGER" in help_text and "modulo: score each sample by its id mod this." in help_text
    assert "modulo" in help_text.split("--method")[1].split("--source")[0]  # listed among the methods

    ids = ok_sample_ids(ws, "mnist-lt")
    # Keep the samples whose id mod 7 is 5 or 6: the highest scores, with no tie to break at the cut.
    expected = ids[ids % 7 >= 5]
    ratio = 1 - len(expected) / len(ids)  # the fraction pruned
    args = ["select", "--name", "m", "--method", "modulo", "--modulus", "7", "--ratio", repr(ratio)]
    out = _run(ws.root, *args)
    assert out.exit_code == 0, out.output
    assert f"m@v1: kept {len(expected)} of {len(ids)}" in out.output
    kept = pq.read_table(ws.subset_dir("m", 1) / "ids.parquet").column("sample_id").to_numpy()
    np.testing.assert_array_equal(np.sort(kept), expected)
    stats = json.loads((ws.subset_dir("m", 1) / "stats.json").read_text())
    assert stats["params"]["modulus"] == 7 and "epsilon" not in stats["params"]

    refused = CliRunner().invoke(
        main, ["--workspace", str(ws.root), "select", "--name", "r", "--method", "random", "--ratio", "0.5",
               "--modulus", "3"],
    )  # fmt: skip
    assert refused.exit_code == 2 and refused.output.strip() == "error: --modulus applies to modulo only"
