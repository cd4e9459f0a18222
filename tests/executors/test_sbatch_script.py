"""The sbatch scripts thresher writes: options, the array and its throttle, the task table, and the
checks before anything is submitted."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from thresher.errors import ThresherError
from thresher.executors.config import SlurmResources
from thresher.executors.sbatch import JobScript, array_spec, check_cluster, warn_if_node_local
from thresher.executors.slurm import Step, _array_body


def test_array_spec_writes_runs_as_ranges_and_the_throttle():
    assert array_spec([0, 1, 2, 3, 4, 5], 2) == "0-5%2"
    assert array_spec([7, 0, 2, 1, 9, 10], None) == "0-2,7,9-10"
    assert array_spec([3], 1) == "3%1"


def test_job_script_carries_every_resource_and_extra_option(tmp_path: Path):
    resources = SlurmResources(partition="gpu", gpus_per_task=4, time="2:00:00", mem="64G",
                               sbatch_arg=("--account=proj", "--qos=high"))  # fmt: skip
    script = JobScript(
        "thresher-x", ["echo hi"], tmp_path / "log-%A_%a.txt", tmp_path, resources, array="0-3%2"
    )
    lines = script.text().splitlines()
    assert lines[0] == "#!/bin/bash"
    options = [line.removeprefix("#SBATCH ") for line in lines if line.startswith("#SBATCH ")]
    assert options == [
        "--job-name=thresher-x", f"--output={tmp_path}/log-%A_%a.txt", f"--chdir={tmp_path}", "--ntasks=1",
        "--partition=gpu", "--gpus-per-task=4", "--time=2:00:00", "--mem=64G", "--account=proj", "--qos=high",
        "--array=0-3%2",
    ]  # fmt: skip
    assert lines[-1] == "echo hi"
    commit = JobScript("c", ["true"], tmp_path / "c.log", tmp_path, resources, gpus=False).text()
    assert "--gpus-per-task" not in commit and "--array" not in commit


def test_array_body_gives_each_task_its_value(tmp_path: Path):
    """The script's table, run by bash for every task index, hands each its own --cells value."""
    step = Step("cells", ("sweep", "my spec.yaml"), {0: ("0,2", ("cell 0", "cell 2")), 3: ("5", ("cell 5",))},
                task_option="--cells", processes=False)  # fmt: skip
    body = _array_body(tmp_path / "ws", step, SlurmResources())
    for index, expected in ((0, "0,2"), (3, "5")):
        # Replace the final exec by a print of the words it would run.
        script = "\n".join(body[:-1] + ['printf "%s\\n" ' + body[-1].removeprefix("exec ")])
        out = subprocess.run(["bash", "-c", script], env={"SLURM_ARRAY_TASK_ID": str(index)},
                             capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
        assert out[-2:] == ["--cells", expected]
        assert out[out.index("sweep") + 1] == "my spec.yaml"


def test_sbatch_missing_is_one_line_unless_only_a_dry_run(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ThresherError, match="sbatch is not on PATH"):
        check_cluster(SlurmResources(), dry_run=False)
    check_cluster(SlurmResources(partition="anything"), dry_run=True)  # no Slurm to ask: nothing to check


def test_a_workspace_under_tmp_gets_a_warning(tmp_path: Path):
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # the thresher logger may not propagate (the CLI installs its own handler)
    logger = logging.getLogger("thresher.executors.sbatch")
    logger.addHandler(handler)
    try:
        warn_if_node_local(Path("/tmp/some-ws"))
        warn_if_node_local(Path("/home/someone/ws"))
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert len(messages) == 1 and "/tmp/some-ws" in messages[0] and "every node" in messages[0]
