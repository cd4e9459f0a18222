"""The stages that work in parts (embed, store, score) as Slurm job arrays.

Task t of n runs the command with ``--task t+1/n``: the parts p with p mod n = t, split among the task's
GPUs by ``accelerate launch`` when it has several (:func:`thresher.executors.config.task_parts`). Tasks
write parts and markers only. A final job, after every task succeeded, runs the command as given: it
finds every part done and commits the catalog rows (or does what a failed task left, itself).

Only tasks with a pending part are submitted, and not those whose pending parts a live task of an earlier
submission of the same command holds; a part is pending while its marker is missing (the stage's own
resume record), so rerunning the command after a cancelled or failed task submits just that task again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from thresher.executors.command_line import config_arguments, shell_line
from thresher.executors.slurm import Step, Submission, submit_steps
from thresher.executors.submissions import held_units


def submit_parts(
    root: Path,
    command: str,
    config: Any,
    name: str,
    parts: Iterable[int],
    pending: Iterable[int],
    *,
    positional: Sequence[str] = (),
    passes: int = 1,
) -> Submission:
    """Submit ``command`` (a row of the command table) with ``config`` as an array over ``parts`` and a
    final commit job. ``passes`` > 1 submits the array that many times, each after the previous one
    (a stage whose second pass needs every part's first: MoSo)."""
    executor = config.executor
    parts, pending = sorted(parts), set(pending)
    arguments = (command, *config_arguments(config, positional=positional, skip=("executor",)))
    key = shell_line(arguments)  # the same command is the same units
    held = held_units(root, key) if not executor.dry_run else {}
    count = max(1, min(executor.tasks or len(parts), len(parts)))
    tasks: dict[int, tuple[str, tuple[str, ...]]] = {}
    for index in range(count):
        mine = [p for p in parts if p % count == index]
        todo = [p for p in mine if p in pending]
        if todo and any(_unit(p) not in held for p in todo):
            tasks[index] = (f"{index + 1}/{count}", tuple(_unit(p) for p in todo))
    steps = [
        Step("parts" if passes == 1 else f"parts-pass{n + 1}", arguments, tasks, task_option="--task")
        for n in range(passes if tasks else 0)
    ]
    steps.append(Step("commit", arguments, gpus=False, processes=False))
    submitted = {u for _, units in tasks.values() for u in units}
    return submit_steps(
        root,
        _slug(name),
        key,
        shell_line(
            ["thresher", command, *config_arguments(config, positional=positional, skip=("dry_run",))]
        ),
        steps,
        executor,
        done=len(parts) - len(pending),
        held=sum(1 for p in pending if _unit(p) in held and _unit(p) not in submitted),
    )


def _unit(part: int) -> str:
    return f"part {part}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:60]
