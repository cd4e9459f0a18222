"""Executor options: bad values refused in one line before anything runs; the dealing of parts to array
tasks and their processes."""

from __future__ import annotations

import pytest

from thresher.errors import ThresherError
from thresher.executors.config import ExecutorConfig, SlurmResources, StageExecutorConfig, task_parts


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: ExecutorConfig(kind="slurm", max_parallel=0), "--max-parallel must be at least 1"),
        (lambda: ExecutorConfig(kind="slurm", tasks=0), "--array-tasks must be at least 1"),
        (lambda: ExecutorConfig(dry_run=True), "--dry-run prints a Slurm script"),
        (lambda: ExecutorConfig(kind="pbs"), "unknown --executor 'pbs'"),
        (lambda: StageExecutorConfig(task="3/2"), "--task '3/2' must be i/n"),
        (lambda: StageExecutorConfig(task="0/2"), "--task '0/2' must be i/n"),
        (lambda: StageExecutorConfig(kind="slurm", task="1/2"), "does not go with --executor slurm"),
        (lambda: SlurmResources(gpus_per_task=-1), "--gpus-per-task must be at least 0"),
        (lambda: SlurmResources(partition="a b"), "--partition 'a b' must be one word"),
        (lambda: SlurmResources(sbatch_arg=("--account=x\nrm -rf /",)), "must be one sbatch option"),
        (lambda: SlurmResources(sbatch_arg=("echo hi",)), "must be one sbatch option"),
    ],
)
def test_bad_executor_options_are_one_line_errors(make, words):
    with pytest.raises(ThresherError) as caught:
        make()
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_without_a_task_the_dealing_is_the_one_ranks_always_used():
    parts = list(range(11))
    for world in (1, 2, 3):
        for rank in range(world):
            assert task_parts(parts, None, rank, world) == [p for p in parts if p % world == rank]


def test_tasks_and_their_processes_take_every_part_exactly_once():
    parts = list(range(23))
    for count in (1, 2, 5):
        for world in (1, 3):
            taken = [
                p for t in range(count) for r in range(world) for p in task_parts(parts, (t, count), r, world)
            ]
            assert sorted(taken) == parts
            for t in range(count):  # a task's parts are p mod count = t, whatever its process count
                mine = [p for r in range(world) for p in task_parts(parts, (t, count), r, world)]
                assert sorted(mine) == [p for p in parts if p % count == t]


def test_task_share_is_zero_based():
    assert StageExecutorConfig(task="2/4").task_share == (1, 4)
    assert StageExecutorConfig(task="2/4").my_parts(range(10)) == [1, 5, 9]
