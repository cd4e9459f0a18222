"""Sweep specs: every preset loads, and every bad spec is one line naming its file and line (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from thresher.cli import main
from thresher.experiments.sweep_presets import preset_names, spec_for
from thresher.experiments.sweep_spec import SpecError, load_spec

GOOD = """\
name: tiny
source: builtin:mnist-lt
reference: builtin:mnist
methods:
  - random
  - {method: cluster, balance: proportional, inverse: true, middle: true, label: cl}
ratios: [0.5, 0.9]
seeds: [0, 1]
budget: steps
steps: 10
"""


def _spec(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


def test_presets_load() -> None:
    assert {"paper-mini", "quick"} <= set(preset_names())
    paper = load_spec("paper-mini")
    assert paper.ratios == [0.25, 0.5, 0.75, 0.9] and paper.seeds == [0, 1] and paper.budget == "steps"
    assert paper.needs_pretrain
    assert not load_spec("quick").needs_pretrain
    balance = load_spec("balance-mini")
    assert [label for m in balance.methods for label, _ in m.variants()] == [
        "random", "cluster-equal", "hkmeans-2-levels"
    ]  # fmt: skip


def test_variants_and_labels(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, GOOD))
    assert [label for m in spec.methods for label, _ in m.variants()] == [
        "random", "cl", "cl (inverse)", "cl (middle)",
    ]  # fmt: skip
    cl = spec.methods[1].variants()
    assert cl[1][1]["inverse"] is True and cl[2][1]["keep"] == "middle"


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("  - random\n", "  - nosuchmethod\n", 5, "nosuchmethod"),
        ("ratios: [0.5, 0.9]\n", "ratios: [0.5,\n  1.0]\n", 8, "outside [0, 1)"),
        ("ratios: [0.5, 0.9]\n", "ratios: [-0.1]\n", 7, "outside [0, 1)"),
        ("steps: 10\n", "steps: 0\n", 10, "steps ≥ 1"),
        ("budget: steps\n", "budget: flops\n", 9, "budget"),
        ("seeds: [0, 1]\n", "seeds: [a]\n", 8, "seeds"),
        ("  - random\n", "  - {method: random, seed: 3}\n", 5, "set by the sweep"),
        ("  - random\n", "  - {method: random, colour: red}\n", 5, "unknown option 'colour'"),
        ("steps: 10\n", "steps: 10\ntrain: {widht: 3}\n", 11, "widht"),
        ("steps: 10\n", "steps: 10\ntrain: {batch_size: 0}\n", 11, "train"),
        ("steps: 10\n", "steps: 10\nevaluate: {n: 0}\n", 11, "evaluate"),
        ("steps: 10\n", "steps: 10\nratio: 3\n", 11, "unknown setting 'ratio'"),
        ("name: tiny\n", "name: ../x\n", 1, "sweep name"),
        ("  - random\n", "  - random\n  - random\n", 6, "labelled 'random'"),
    ],
)
def test_bad_spec_names_its_line(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    assert old in GOOD
    path = _spec(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message and "\n" not in message


def test_bad_yaml_and_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"spec.yaml:3: not valid YAML"):
        load_spec(_spec(tmp_path, "name: x\nmethods: [random\n"))
    with pytest.raises(SpecError, match="no preset"):
        load_spec("no-such-preset")


def test_cli_refuses_bad_input_before_running(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tmp_path / "ws"
    bad = _spec(tmp_path, GOOD.replace("source: builtin:mnist-lt", "source: not-ingested"))
    result = runner.invoke(main, ["-w", str(ws), "sweep", bad])
    assert result.exit_code == 2
    assert f"{bad}:2: source 'not-ingested' is not ingested" in result.output
    assert not (ws / "catalog.duckdb").exists()  # nothing ran
    for shard in ("3/2", "0/2", "x"):
        result = runner.invoke(main, ["-w", str(ws), "sweep", _spec(tmp_path, GOOD), "--shard", shard])
        assert result.exit_code == 2 and "--shard" in result.output, result.output
    assert not ws.exists()


def test_demo_is_a_preset_with_its_own_seeds() -> None:
    from thresher.experiments.demo_config import DemoConfig, demo_spec

    spec = spec_for("demo")
    assert spec == demo_spec(DemoConfig())
    assert spec.budget == "epochs" and spec.epochs == DemoConfig().recipe.epochs and spec.cluster_conditioning
    seeds = {m.label: m.seeds or spec.seeds for m in spec.methods}
    assert seeds == {"random": [0], "cluster-proportional": [0, 1], "cluster-equal": [0, 1]}
    assert spec_for("demo-quick").epochs < spec.epochs
    assert {"demo", "demo-quick"} <= set(preset_names())
