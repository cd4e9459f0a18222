"""``--dry-run`` of every command that takes ``--executor slurm`` (sweep, embed, store, score): the scripts
are written into WS/slurm/ and printed, they run the command's own units, only pending units are listed,
and nothing is submitted. No Slurm needed."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from thresher.catalog.sweeps import record_cell
from thresher.catalog.workspace import Workspace
from thresher.curate.config import EmbedRunConfig
from thresher.curate.embed_run import run_embed
from thresher.executors.config import StageExecutorConfig
from thresher.experiments.sweep import _Prerequisites
from thresher.experiments.sweep_cells import expand
from thresher.experiments.sweep_context import planned_context
from thresher.experiments.sweep_spec import load_spec

SPEC = """\
name: six
source: mnist-lt
reference: mnist-lt
embedder: hog
k: 4
kmeans_restarts: 1
methods:
  - random
  - {method: cluster, balance: proportional, label: cluster-proportional}
ratios: [0.5]
seeds: [0, 1]
budget: steps
steps: 3
train: {model_size: DiT-T/1, width: 32, depth: 1, heads: 2, batch_size: 8, warmup_steps: 1}
autoencoder_steps: 3
evaluate: {n: 16, steps: 1, batch_size: 16}
noise_grid: 2
"""


def _dry_run(ws: Workspace, *args: str) -> tuple[str, dict[str, str]]:
    """The command's output and the scripts it wrote (by their step label)."""
    before = set((ws.root / "slurm").glob("*.sbatch")) if (ws.root / "slurm").is_dir() else set()
    result = CliRunner().invoke(__import__("thresher.cli").cli.main, ["-w", str(ws.root), *args, "--dry-run"])
    assert result.exit_code == 0, result.output
    written = set((ws.root / "slurm").glob("*.sbatch")) - before
    assert not list((ws.root / "slurm").glob("*.json"))  # no submission record: nothing was submitted
    scripts = {re.sub(r".*-", "", p.stem): p.read_text() for p in written}
    for text in scripts.values():  # every script is printed whole (short tables are not cut)
        assert text.strip() in result.output
    return result.output, scripts


def _table(script: str) -> dict[int, str]:
    return {int(i): v for i, v in re.findall(r"^  \[(\d+)\]=(\S+)", script, flags=re.M)}


def _array(script: str) -> str:
    return re.search(r"^#SBATCH --array=(\S+)$", script, flags=re.M).group(1)


def test_sweep_dry_run_lists_the_pending_cells_after_a_prepare_job(mnist_lt, tmp_path):
    spec_file = tmp_path / "six.yaml"
    spec_file.write_text(SPEC)
    spec = load_spec(str(spec_file))
    # The keys a submission computes without running anything are the keys the prerequisites give.
    assert planned_context(mnist_lt, spec) == _Prerequisites.prepare(mnist_lt, spec).context
    cells = expand(spec, planned_context(mnist_lt, spec))
    record_cell(mnist_lt, cells[2].key, {}, None, "run", "evaluation", {})  # cell 2 is done
    output, scripts = _dry_run(mnist_lt, "sweep", str(spec_file), "--executor", "slurm", "--max-parallel", "2",
                               "--partition", "debug", "--time", "0:30:00", "--sbatch-arg=--qos=low")  # fmt: skip
    assert set(scripts) == {"prepare", "cells"}
    assert f"sweep {spec_file} --prerequisites-only" in scripts["prepare"]
    assert _table(scripts["cells"]) == {0: "0", 1: "1", 2: "3", 3: "4", 4: "5"}
    assert _array(scripts["cells"]) == "0-4%2"
    assert f'sweep {spec_file} --cells "${{VALUES[$SLURM_ARRAY_TASK_ID]}}"' in scripts["cells"]
    for text in scripts.values():
        assert "#SBATCH --partition=debug" in text and "#SBATCH --time=0:30:00" in text
        assert "#SBATCH --qos=low" in text
    assert "5 units to run, 1 already done; dry run, nothing submitted" in output
    assert "job1=$(sbatch --parsable --dependency=afterok:$job0 " in output

    _, grouped = _dry_run(mnist_lt, "sweep", str(spec_file), "--executor", "slurm", "--array-tasks", "2")
    assert _table(grouped["cells"]) == {0: "0,3,5", 1: "1,4"} and _array(grouped["cells"]) == "0-1"


def test_sweep_jobs_check_the_grid_against_the_raised_limit(mnist_lt, tmp_path):
    spec_file = tmp_path / "big.yaml"
    spec_file.write_text(SPEC.replace("seeds: [0, 1]", "seeds: " + str(list(range(400)))))  # 1200 cells
    args = ("sweep", str(spec_file), "--executor", "slurm", "--array-tasks", "1", "--dry-run")
    refused = CliRunner().invoke(__import__("thresher.cli").cli.main, ["-w", str(mnist_lt.root), *args])
    assert refused.exit_code == 2 and "pass --max-cells 1200" in refused.output
    # raised, the prepare job and the array tasks, which check the grid again, are given the same limit
    _, raised = _dry_run(mnist_lt, *args[:-1], "--max-cells", "1200")
    assert f"sweep {spec_file} --prerequisites-only --max-cells 1200" in raised["prepare"]
    assert f"sweep {spec_file} --max-cells 1200 --cells" in raised["cells"]


def test_embed_dry_run_submits_the_tasks_with_pending_parts_and_a_commit(mnist_lt):
    args = ("embed", "--embedder", "hog", "--part-size", "400", "--num-workers", "0", "--executor", "slurm",
            "--array-tasks", "2", "--max-parallel", "1")  # fmt: skip
    _, scripts = _dry_run(mnist_lt, *args)
    assert _table(scripts["parts"]) == {0: "1/2", 1: "2/2"} and _array(scripts["parts"]) == "0-1%1"
    command = "embed --embedder hog --source mnist-lt --num-workers 0 --part-size 400"
    assert f'{command} --task "${{VALUES[$SLURM_ARRAY_TASK_ID]}}"' in scripts["parts"]
    assert scripts["commit"].rstrip().endswith(command) and "#SBATCH --array" not in scripts["commit"]
    assert (
        "# thresher: commit (one job), generated for: thresher "
        + command
        + " --executor slurm --array-tasks 2"
        in (scripts["commit"])
    )  # the whole command that submitted it, to run again
    assert "# part 0, part 2, part 4" in scripts["parts"]

    run_embed(mnist_lt, EmbedRunConfig(embedder="hog", part_size=400, num_workers=0,
                                       executor=StageExecutorConfig(task="1/2")))  # fmt: skip
    output, again = _dry_run(mnist_lt, *args)
    assert _table(again["parts"]) == {1: "2/2"} and _array(again["parts"]) == "1%1"
    assert "2 units to run, 3 already done" in output


def test_store_dry_run(mnist_lt):
    output, scripts = _dry_run(
        mnist_lt, "store", "-d", "mnist-lt", "--executor", "slurm", "--gpus-per-task", "2"
    )
    assert _table(scripts["parts"]) == {0: "1/1"}  # 1703 rows: one part of 4096
    assert "-m accelerate.commands.launch --num_processes 2 -m thresher.cli" in scripts["parts"]
    assert "#SBATCH --gpus-per-task=2" in scripts["parts"]
    assert "-m accelerate" not in scripts["commit"] and "#SBATCH --gpus-per-task" not in scripts["commit"]
    assert "store --dataset mnist-lt" in scripts["commit"] and "1 units to run, 0 already done" in output


def test_score_dry_run_and_moso_two_arrays(pretrained):
    _, scripts = _dry_run(pretrained, "score", "--method", "el2n", "--source", "digits", "--part-size", "500",
                          "--executor", "slurm")  # fmt: skip
    assert set(scripts) == {"parts", "commit"}
    assert _table(scripts["parts"]) == {i: f"{i + 1}/4" for i in range(4)}  # 1797 rows in parts of 500
    _, moso = _dry_run(pretrained, "score", "--method", "moso", "--source", "digits", "--part-size", "500",
                       "--executor", "slurm", "--array-tasks", "2")  # fmt: skip
    assert set(moso) == {"pass1", "pass2", "commit"}
    assert _table(moso["pass1"]) == _table(moso["pass2"]) == {0: "1/2", 1: "2/2"}


def test_dry_run_needs_no_sbatch(mnist_lt, monkeypatch):
    monkeypatch.setenv("PATH", str(Path("/nonexistent")))
    _, scripts = _dry_run(mnist_lt, "store", "-d", "mnist-lt", "--executor", "slurm", "--partition", "gpu")
    assert "#SBATCH --partition=gpu" in scripts["parts"]
