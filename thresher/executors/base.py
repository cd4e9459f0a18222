"""The executor seam: submit a unit (a command line to run, its log and its resources), ask its state,
cancel it, and after a restart, adopt the units a previous server submitted.

The service's jobs are units. Many independent units of one command (sweep cells, the parts of embed /
store / score) go to Slurm as job arrays (:func:`thresher.executors.slurm.submit_steps`); with the local
executor they run in the command's own process, as they always did (docs/architecture.md, 'Executors').
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from thresher.errors import ThresherError

EXECUTORS = {
    "local": "thresher.executors.local:LocalExecutor",
    "slurm": "thresher.executors.slurm:SlurmExecutor",
}


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: run ``argv`` in ``workdir``, stdout and stderr appended to ``log``."""

    name: str
    argv: tuple[str, ...]
    workdir: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitState:
    """``pending`` (queued, not started: a Slurm job waiting for a node), ``running``, ``exited`` (with its
    return code when known; a signal N as -N) or ``gone`` (the executor no longer knows it: a local process
    of a previous server)."""

    state: str
    returncode: int | None = None


class Executor(Protocol):
    name: str

    def submit(self, unit: Unit) -> str:
        """Start (or queue) the unit; returns the handle that names it to this executor."""
        ...

    def poll(self, handle: str) -> UnitState: ...

    def cancel(self, handle: str) -> None:
        """Stop the unit (and everything it started); returns at once, ``poll`` tells when it ended."""
        ...

    def adopt(self, handle: str) -> bool:
        """Whether a unit submitted by an earlier process can still be followed (and so is not lost)."""
        ...


def get_executor(name: str, **options: object) -> Executor:
    """The executor ``name`` with its options (slurm: ``resources``, a ``SlurmResources``, and the
    ``workspace``; local takes none). Slurm's checks (sbatch on PATH, the partition known) run here."""
    if name not in EXECUTORS:
        raise ThresherError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
    module, _, cls = EXECUTORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(**options)
