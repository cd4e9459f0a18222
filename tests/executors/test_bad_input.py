"""Bad input to --executor slurm: one line, exit 2, nothing submitted (and nothing written); a workspace
that other nodes cannot see is a warning."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from thresher.catalog.workspace import Workspace
from thresher.cli import main


def _cli(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-w", str(ws.root), *args])
    return result.exit_code, result.output.strip()


def _one_line_error(ws: Workspace, *args: str) -> str:
    code, output = _cli(ws, *args)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


def test_sbatch_missing_submits_nothing(mnist_lt, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for args in (("embed", "--embedder", "hog"), ("store", "-d", "mnist-lt"), ("sweep", "quick")):
        assert "sbatch is not on PATH" in _one_line_error(mnist_lt, *args, "--executor", "slurm")
    assert "sbatch is not on PATH" in _one_line_error(
        mnist_lt, "serve", "--executor", "slurm", "--port", "48761"
    )
    assert not (mnist_lt.root / "slurm").exists()  # not even a script


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--max-parallel", "0"), "--max-parallel must be at least 1, got 0"),
        (("--array-tasks", "0"), "--array-tasks must be at least 1, got 0"),
        (("--gpus-per-task", "-1"), "--gpus-per-task must be at least 0"),
        (("--sbatch-arg", "not an option"), "must be one sbatch option"),
    ],
)
def test_bad_options_are_refused_before_anything(mnist_lt, args, words):
    assert words in _one_line_error(mnist_lt, "embed", "--embedder", "hog", "--executor", "slurm", *args)
    assert not (mnist_lt.root / "slurm").exists()


def test_options_that_contradict_each_other(mnist_lt):
    assert "--dry-run prints a Slurm script" in _one_line_error(mnist_lt, "embed", "--dry-run")
    assert "does not go with --executor slurm" in _one_line_error(
        mnist_lt, "embed", "--executor", "slurm", "--task", "1/2"
    )
    assert "--gpus-per-task 2: a sweep cell trains on one GPU" in _one_line_error(
        mnist_lt, "sweep", "quick", "--executor", "slurm", "--gpus-per-task", "2"
    )
    assert "--cells '0,x' must be cell indices" in _one_line_error(
        mnist_lt, "sweep", "quick", "--cells", "0,x"
    )
    assert "--shard and --cells both choose cells" in _one_line_error(
        mnist_lt, "sweep", "quick", "--cells", "1", "--shard", "1/2"
    )
    assert "--cells 99: the sweep has 4 cells" in _one_line_error(
        mnist_lt, "sweep", "quick", "--executor", "slurm", "--cells", "99", "--dry-run"
    )


def test_unknown_partition_submits_nothing(mnist_lt, slurm):
    error = _one_line_error(
        mnist_lt, "embed", "--embedder", "hog", "--executor", "slurm", "--partition", "nosuch"
    )
    assert "--partition 'nosuch': Slurm has no such partition" in error
    assert not (mnist_lt.root / "slurm").exists()


def test_a_workspace_in_tmp_is_a_warning_line(mnist_lt):
    local = Workspace(Path("/tmp") / f"thresher-test-{uuid.uuid4().hex[:8]}")
    shutil.copytree(mnist_lt.root, local.root)
    try:
        code, output = _cli(local, "store", "-d", "mnist-lt", "--executor", "slurm", "--dry-run")
        warnings = [line for line in output.splitlines() if line.startswith("warning:")]
        assert code == 0 and len(warnings) == 1 and "local to this machine" in warnings[0]
    finally:
        shutil.rmtree(local.root, ignore_errors=True)
