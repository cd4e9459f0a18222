"""What was submitted to Slurm from a workspace: one small JSON file per submission in ``WS/slurm/``.

A record names the thresher command, its scripts, and per job the units (sweep cells, parts) each array
task covers. It is bookkeeping for people and for one decision only: a rerun of the same command leaves
out the units a still-live task holds (pending or running in Slurm), so it never submits the same work
twice at once. Whether a unit is *done* is never read from here: the command's own records in the
workspace say that (cell rows, part markers), so a task that died half-way is simply pending again.

Records are written whole under a temporary name of the writer and renamed (docs/architecture.md,
'Executors'): several login nodes may submit into one workspace at once.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thresher.executors.sbatch import LIVE_STATES, TaskState, accounting_states, queue_states

SLURM_DIR = "slurm"


@dataclass
class SubmittedJob:
    label: str  # what the job does: "prepare", "cells", "parts", "commit", …
    script: str  # relative to the workspace
    job_id: str | None  # None in a dry run
    tasks: dict[str, list[str]] = field(default_factory=dict)  # array task index → units; {} for one job
    dependency: str | None = None


@dataclass
class SubmissionRecord:
    name: str  # e.g. sweep-quick, embed-mnist-lt-hog
    key: str  # what the units are: the same key means the same units (the command without its executor)
    command: str  # the thresher command that submitted, for people
    submitted: float
    dry_run: bool
    jobs: list[SubmittedJob]
    file: str = ""  # where the record lives (filled in when read)

    def job_ids(self) -> list[str]:
        return [j.job_id for j in self.jobs if j.job_id]


def slurm_dir(root: Path) -> Path:
    return Path(root) / SLURM_DIR


def new_stem(name: str) -> str:
    """A file stem no other submission has: time, the name, and a random suffix."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{secrets.token_hex(3)}"


def write_record(root: Path, stem: str, record: SubmissionRecord) -> Path:
    folder = slurm_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.json"
    data = asdict(record)
    data.pop("file")
    tmp = folder / f".{path.name}~{socket.gethostname()}~{os.getpid()}~{secrets.token_hex(4)}.tmp"
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read_records(root: Path) -> list[SubmissionRecord]:
    """Every submission of the workspace, oldest first (a file that is not a record is skipped)."""
    out = []
    folder = slurm_dir(root)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
            jobs = [SubmittedJob(**j) for j in data.pop("jobs")]
            out.append(SubmissionRecord(**data, jobs=jobs, file=str(path)))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    out.sort(key=lambda r: r.submitted)
    return out


def held_units(root: Path, key: str) -> dict[str, str]:
    """Units that a live task of an earlier submission of the same units holds: unit → its job and task."""
    records = [r for r in read_records(root) if r.key == key and not r.dry_run]
    states = {(s.job_id, s.task): s.state for s in queue_states(i for r in records for i in r.job_ids())}
    held: dict[str, str] = {}
    for record in records:
        for job in record.jobs:
            for task, units in job.tasks.items():
                if states.get((job.job_id, int(task))) in LIVE_STATES:
                    held.update({u: f"{job.job_id}_{task}" for u in units})
    return held


def submission_status(root: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The latest ``limit`` submissions with the Slurm state of each job: counts of its tasks' states from
    squeue, else from sacct, else "left the queue" (what it did is in the workspace)."""
    records = [r for r in read_records(root) if not r.dry_run][-limit:]
    ids = [i for r in records for i in r.job_ids()]
    states: list[TaskState] = queue_states(ids)
    known = {s.job_id for s in states}
    states += accounting_states(i for i in ids if i not in known)
    by_job: dict[str, Counter] = {}
    for s in states:
        by_job.setdefault(s.job_id, Counter())[s.state] += 1
    out = []
    for record in records:
        jobs = []
        for job in record.jobs:
            counts = by_job.get(job.job_id or "")
            summary = (
                ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
                if counts
                else ("left the queue")
            )
            jobs.append({"label": job.label, "job_id": job.job_id, "tasks": len(job.tasks), "state": summary})
        out.append(
            {
                "name": record.name,
                "submitted": time.strftime("%Y-%m-%d %H:%M", time.localtime(record.submitted)),
                "command": record.command,
                "jobs": jobs,
            }
        )
    return out
