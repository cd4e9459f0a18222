"""A spec's YAML is read defensively: alias bombs and self-containing aliases are refused (small aliases
are fine), duplicate keys and non-finite numbers are errors, seeds fit numpy's seeding; every problem is
one line naming the file and line, and the command line exits 2 having written nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from thresher.cli import main
from thresher.experiments.spec_yaml import MAX_NODES
from thresher.experiments.sweep_spec import SpecError, load_spec

from .test_sweep_spec import GOOD, _spec


def _refused(tmp_path: Path, text: str) -> str:
    path = _spec(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "\n" not in message, message
    return message.removeprefix(f"{path}:")


def _bomb(levels: int, width: int = 9) -> str:
    """A method label whose aliases repeat aliases: ``width ** levels`` leaves from a few hundred bytes."""
    lines = ["    label:", f"      - &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"      - &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    # 9**6 = 531 441 leaves (each further level is 9x more; the 2.8 GB was a few levels deeper)
    text = GOOD.replace("  - random\n", "  - method: random\n" + _bomb(6))
    assert len(text) < 1000 and MAX_NODES < 9**6
    message = _refused(tmp_path, text)
    assert f"more than {MAX_NODES} YAML nodes" in message
    # 9**40 leaves (10^38) cost no more to refuse: each distinct node is counted once
    deep = GOOD.replace("  - random\n", "  - method: random\n" + _bomb(40))
    assert f"more than {MAX_NODES} YAML nodes" in _refused(tmp_path, deep)


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("  - random\n", "  - {method: random, label: &loop [a, *loop]}\n")
    assert "an alias that contains itself" in _refused(tmp_path, text)


def test_a_small_alias_is_accepted(tmp_path: Path) -> None:
    # aliases stay allowed: naming a list once and reusing it is ordinary YAML and expands to a few nodes
    text = GOOD.replace("  - random\n", "  - {method: random, seeds: &both [0, 1]}\n").replace(
        "seeds: [0, 1]\n", "seeds: *both\n"
    )
    spec = load_spec(_spec(tmp_path, text))
    assert spec.seeds == [0, 1] and spec.methods[0].seeds == [0, 1]


def test_a_label_must_be_text(tmp_path: Path) -> None:
    text = GOOD.replace("  - random\n", "  - {method: random, label: [a, b]}\n")
    assert _refused(tmp_path, text) == "5: a method's label must be text"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("steps: 10\n", "steps: 10\nsteps: 20\n", "11: duplicate key 'steps' (first on line 10)"),
        (
            "steps: 10\n",
            "steps: 10\ntrain:\n  batch_size: 8\n  batch_size: 9\n",
            "13: duplicate key 'batch_size' (first on line 12)",
        ),
        (
            "  - random\n",
            "  - {method: random, label: a, label: b}\n",
            "5: duplicate key 'label' (first on line 5)",
        ),
    ],
)
def test_a_duplicate_key_is_an_error_naming_the_key_and_both_lines(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert _refused(tmp_path, GOOD.replace(old, new)) == expected


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_epochs_that_are_not_finite_are_one_line(tmp_path: Path, value: str) -> None:
    text = GOOD.replace("budget: steps\nsteps: 10\n", f"budget: epochs\nepochs: {value}\n")
    assert _refused(tmp_path, text) == f"10: {value} is not a finite number"


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        (
            "seeds: [0, 1]\n",
            "seeds: [0, 4294967296]\n",
            8,
            "seeds must be a non-empty list of integers in [0, 4294967295]",
        ),
        ("steps: 10\n", "steps: 10\nseed: 4294967296\n", 11, "seed must be an integer in [0, 4294967295]"),
        ("  - random\n", "  - {method: random, seeds: [4294967296]}\n", 5, "a method's seeds must be"),
    ],
)
def test_a_seed_of_2_to_the_32_is_refused(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    message = _refused(tmp_path, GOOD.replace(old, new))
    assert message.startswith(f"{line}: {words}"), message
    # the largest seed numpy takes is fine
    load_spec(_spec(tmp_path, GOOD.replace(old, new.replace("4294967296", "4294967295"))))


def test_the_command_line_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for text in (
        GOOD.replace("budget: steps\nsteps: 10\n", "budget: epochs\nepochs: .inf\n"),
        GOOD.replace("seeds: [0, 1]\n", "seeds: [4294967296]\n"),
        GOOD.replace("steps: 10\n", "steps: 10\nsteps: 20\n"),
        GOOD.replace("  - random\n", "  - method: random\n" + _bomb(8)),
    ):
        result = CliRunner().invoke(main, ["-w", str(ws), "sweep", _spec(tmp_path, text)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
        assert not ws.exists()
