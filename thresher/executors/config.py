"""Where a command's independent units run, as options (docs/architecture.md, 'Executors').

Light on purpose: the command line reads these fields to build its options. Three dataclasses, nested
into the commands' configs (the command line flattens them into ``--executor``, ``--partition``, …;
a request to the service sends them as objects):

- :class:`SlurmResources`: what each Slurm job asks for (partition, GPUs, time, memory, extra sbatch
  options). ``thresher serve --executor slurm`` takes these alone.
- :class:`ExecutorConfig`: ``--executor local|slurm`` plus the array's shape (tasks, ``--max-parallel``)
  and ``--dry-run``. ``thresher sweep`` takes it.
- :class:`StageExecutorConfig`: the same plus ``--task i/n``, the share of the parts an array task
  runs. ``embed``, ``store`` and ``score`` take it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from thresher.config_field import setting
from thresher.errors import ThresherError

EXECUTOR_KINDS = ("local", "slurm")
_SBATCH_OPTION = re.compile(r"--?[A-Za-z][\w-]*(=.*)?")


@dataclass
class SlurmResources:
    partition: str | None = setting(None, "Slurm partition of the jobs (default: the cluster's default).")
    gpus_per_task: int = setting(
        0,
        "GPUs per Slurm job (array task); with more than 0 a task runs its share under `accelerate launch` "
        "with one process per GPU.",
    )
    time: str | None = setting(None, "Time limit of each Slurm job, as sbatch takes it (e.g. 4:00:00).")
    mem: str | None = setting(None, "Memory of each Slurm job, as sbatch takes it (e.g. 32G).")
    sbatch_arg: tuple[str, ...] = setting(
        (),
        "An extra sbatch option written into the script as is, e.g. --sbatch-arg=--account=proj; repeatable.",
        metavar="OPTION",
    )

    def __post_init__(self) -> None:
        self.sbatch_arg = tuple(self.sbatch_arg)
        if self.gpus_per_task < 0:
            raise ThresherError(f"--gpus-per-task must be at least 0, got {self.gpus_per_task}")
        for name, value in (("--partition", self.partition), ("--time", self.time), ("--mem", self.mem)):
            if value is not None and (not value.strip() or any(c.isspace() for c in value)):
                raise ThresherError(f"{name} {value!r} must be one word, as sbatch takes it")
        for option in self.sbatch_arg:
            # One option per line of the script: a newline would start a shell command of its own.
            if "\n" in option or "\r" in option or not _SBATCH_OPTION.fullmatch(option):
                raise ThresherError(
                    f"--sbatch-arg {option!r} must be one sbatch option, e.g. --account=proj or --qos=high"
                )


@dataclass
class ExecutorConfig:
    kind: str = setting(
        "local",
        "Where the independent units (sweep cells, parts) run: this process, or a Slurm job array "
        "(the sbatch script is written into the workspace's slurm/ folder and printed).",
        flag="--executor",
        choices=EXECUTOR_KINDS,
    )
    slurm: SlurmResources = setting(default_factory=SlurmResources)
    tasks: int | None = setting(
        None,
        "Slurm array tasks to split the units over (default: one per pending cell, or per part).",
        flag="--array-tasks",
    )
    max_parallel: int | None = setting(
        None, "Array tasks that may run at once (sbatch --array=…%N; default: no limit)."
    )
    dry_run: bool = setting(
        False, "With --executor slurm: write and print the sbatch script(s), submit nothing."
    )

    def __post_init__(self) -> None:
        if self.kind not in EXECUTOR_KINDS:
            raise ThresherError(
                f"unknown --executor {self.kind!r}; choose one of: {', '.join(EXECUTOR_KINDS)}"
            )
        if self.max_parallel is not None and self.max_parallel < 1:
            raise ThresherError(f"--max-parallel must be at least 1, got {self.max_parallel}")
        if self.tasks is not None and self.tasks < 1:
            raise ThresherError(f"--array-tasks must be at least 1, got {self.tasks}")
        if self.dry_run and self.kind != "slurm":
            raise ThresherError("--dry-run prints a Slurm script: it needs --executor slurm")

    @property
    def on_slurm(self) -> bool:
        return self.kind == "slurm"


@dataclass
class StageExecutorConfig(ExecutorConfig):
    task: str | None = setting(
        None,
        "Run only array task i of n (i/n, 1 ≤ i ≤ n): the parts p with p mod n = i − 1, without committing "
        "the catalog (what each task of a Slurm array runs; a final job commits).",
        metavar="I/N",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        share = self.task_share  # a malformed --task is refused here, before anything runs
        if share is not None and self.on_slurm:
            raise ThresherError("--task is what one array task runs: it does not go with --executor slurm")

    @property
    def task_share(self) -> tuple[int, int] | None:
        """(task index from 0, task count) of ``--task``, or None."""
        if self.task is None:
            return None
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", self.task)
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise ThresherError(f"--task {self.task!r} must be i/n with 1 ≤ i ≤ n (e.g. 2/4)")
        return int(match.group(1)) - 1, int(match.group(2))

    def my_parts(self, parts: Sequence[int], rank: int = 0, world: int = 1) -> list[int]:
        """The parts this process takes (:func:`task_parts` with this config's ``--task``)."""
        return task_parts(parts, self.task_share, rank, world)


def task_parts(
    parts: Sequence[int], task: tuple[int, int] | None, rank: int = 0, world: int = 1
) -> list[int]:
    """The parts one process takes: those of its array task (p mod n = task index), then dealt to the
    task's processes in turn. Without a task this is ``parts[rank::world]``, the dealing every stage
    used before, so one process and ``accelerate launch`` are unchanged."""
    if task is not None:
        index, count = task
        parts = [p for p in parts if p % count == index]
    return list(parts)[rank::world]
