"""Executors: where independent units of work run (docs/architecture.md, 'Executors').

One interface (:mod:`thresher.executors.base`), one module per kind: ``local`` (a process on this
machine, the default) and ``slurm`` (a batch job on a cluster). Completion is recorded by the units
themselves in the workspace (catalog rows, part markers, a job's result file), never by an executor's
bookkeeping, so a unit that ran twice or died half-way is handled by the resume logic that already exists.
"""

from thresher.executors.base import Executor, Unit, UnitState, get_executor

__all__ = ["Executor", "Unit", "UnitState", "get_executor"]
