"""`thresher sweep SPEC --executor slurm`: the sweep's pending cells as a Slurm job array.

Two jobs (docs/architecture.md, 'Executors'):

1. **prepare** (one job): ``thresher sweep SPEC --prerequisites-only`` ingests, embeds, clusters and
   pretrains as a local sweep would, then selects every cell's subset and builds the source's
   autoencoder and image store: everything cells share is made once, by one process, so tasks never race
   to make it. It is quick when all of it exists already.
2. **cells** (an array, after the first succeeded): task k runs ``thresher sweep SPEC --cells I,J,…``, its
   group of cells (one cell per task unless ``--array-tasks`` says fewer tasks), ``%N`` throttled by
   ``--max-parallel``.

Pending means: no finished cell row (the cell keys are computed from the settings without running
anything, :func:`thresher.experiments.sweep_context.planned_context`) and not held by a live task of an earlier
submission. So rerunning the same command after a cancel or a failure submits only what did not finish,
and a cell that ran twice is recorded once, by its key.
"""

from __future__ import annotations

from pathlib import Path

from thresher.catalog.names import config_hash
from thresher.catalog.sweeps import finished_cell_keys
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError
from thresher.executors.command_line import config_arguments, shell_line
from thresher.executors.slurm import Step, Submission, submit_steps
from thresher.executors.submissions import held_units
from thresher.experiments.sweep_cells import Cell, SweepContext, chosen_cells, expand, shard_cells
from thresher.experiments.sweep_config import SweepRunConfig
from thresher.experiments.sweep_context import planned_context, preflight, spec_record
from thresher.experiments.sweep_spec import SweepSpec

# Cells are listed before the prerequisites exist: their order and count do not depend on them, only
# their keys do, and a cell can only be done once its source is ingested.
_NOT_YET = SweepContext(source="", revision=None, clustering={}, pretrain=None)


def submit_sweep(ws: Workspace, spec: SweepSpec, config: SweepRunConfig) -> Submission:
    executor = config.executor
    if executor.slurm.gpus_per_task > 1:
        raise ThresherError(
            f"--gpus-per-task {executor.slurm.gpus_per_task}: a sweep cell trains on one GPU (give 1 and more "
            "--max-parallel instead)"
        )
    preflight(ws, spec, config.max_cells)
    context = planned_context(ws, spec)
    cells = expand(spec, context or _NOT_YET)
    indices = {id(c): i for i, c in enumerate(cells)}
    mine = chosen_cells(shard_cells(cells, config.shard_range), config.cell_indices)
    finished = finished_cell_keys(ws, [c.key for c in mine]) if context is not None else set()
    pending = [indices[id(c)] for c in mine if c.key not in finished]
    key = config_hash({"sweep": spec_record(spec)})
    held = held_units(ws.root, key) if not executor.dry_run else {}
    labels = {i: _unit(i, cells[i]) for i in pending}
    todo = [i for i in pending if labels[i] not in held]

    spec_argument = str(Path(config.spec).absolute()) if Path(config.spec).is_file() else config.spec
    # the jobs check the grid's size again: a raised limit goes with them
    limit = () if config.max_cells == SweepRunConfig.max_cells else ("--max-cells", str(config.max_cells))
    steps: list[Step] = []
    if todo:
        groups = _groups(todo, executor.tasks or len(todo))
        steps = [
            Step("prepare", ("sweep", spec_argument, "--prerequisites-only", *limit), processes=False),
            Step(
                "cells",
                ("sweep", spec_argument, *limit),
                tasks={k: (",".join(map(str, g)), tuple(labels[i] for i in g)) for k, g in enumerate(groups)},
                task_option="--cells",
                processes=False,
            ),
        ]
    command = shell_line(
        ["thresher", "sweep", *config_arguments(config, positional=("spec",), skip=("dry_run",))]
    )
    return submit_steps(
        ws.root, f"sweep-{spec.name}", key, command, steps, executor,
        done=len(mine) - len(pending), held=len(pending) - len(todo),
    )  # fmt: skip


def _unit(index: int, cell: Cell) -> str:
    """A cell as the script's comments and the submission record name it (one line, no key: the keys are
    not known before the source is ingested)."""
    label = " ".join(f"cell {index}: {cell.series} r={cell.ratio:g} seed {cell.seed}".split())
    return label.replace("#", "")


def _groups(indices: list[int], tasks: int) -> list[list[int]]:
    """``indices`` dealt to ``tasks`` groups in turn (grid order mixes cheap and costly cells, so dealing
    spreads them); no group is empty."""
    tasks = max(1, min(tasks, len(indices)))
    return [indices[k::tasks] for k in range(tasks)]
