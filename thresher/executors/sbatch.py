"""Talking to Slurm: sbatch scripts as text, the checks before submitting, and the three commands used
(``sbatch --parsable``, ``squeue``, ``scancel``; ``sacct`` only where accounting answers).

Scripts are plain bash with ``#SBATCH`` lines, written into the workspace and printed, so a user can read
and adapt them: nothing in them depends on thresher beyond the command they run.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from thresher.errors import ThresherError
from thresher.executors.config import SlurmResources

log = logging.getLogger(__name__)

# States in which a job (or array task) still holds its units: it may yet run them.
LIVE_STATES = frozenset(
    {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
     "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "STOPPED"}
)  # fmt: skip
# Folders that are local to each machine on any cluster: a workspace there is invisible to other nodes.
NODE_LOCAL = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run"))
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class JobScript:
    """One sbatch script: a job (or an array of tasks, ``array`` as sbatch takes it) running ``body``."""

    name: str
    body: Sequence[str]
    output: Path  # the log, with sbatch's %j / %A_%a patterns
    workdir: Path
    resources: SlurmResources
    array: str | None = None
    gpus: bool = True  # whether this job asks for --gpus-per-task (a commit job needs none)
    comment: Sequence[str] = ()
    options: Sequence[str] = ()  # more sbatch options of this script (e.g. --open-mode=append)

    def text(self) -> str:
        lines = ["#!/bin/bash", *(f"# {c}" if c else "#" for c in self.comment)]
        options = [f"--job-name={self.name}", f"--output={self.output}", f"--chdir={self.workdir}"]
        options.append("--ntasks=1")
        options += self.options
        r = self.resources
        if r.partition:
            options.append(f"--partition={r.partition}")
        if self.gpus and r.gpus_per_task:
            options.append(f"--gpus-per-task={r.gpus_per_task}")
        if r.time:
            options.append(f"--time={r.time}")
        if r.mem:
            options.append(f"--mem={r.mem}")
        options += r.sbatch_arg
        if self.array is not None:
            options.append(f"--array={self.array}")
        lines += [f"#SBATCH {o}" for o in options]
        lines += ["", *self.body]
        return "\n".join(lines) + "\n"


def array_spec(indices: Iterable[int], max_parallel: int | None) -> str:
    """sbatch's ``--array`` value: runs of consecutive indices as ranges (``0-4,7,9-10``), ``%N`` throttle."""
    ordered = sorted(set(indices))
    if not ordered:
        raise ValueError("an array needs at least one task")
    runs: list[str] = []
    start = previous = ordered[0]
    for index in [*ordered[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        runs.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(runs) + (f"%{max_parallel}" if max_parallel else "")


def check_cluster(resources: SlurmResources, *, dry_run: bool, max_index: int | None = None) -> None:
    """What must hold before anything is submitted, each a one-line error: sbatch on PATH (not needed
    for a dry run), the partition known to Slurm, the array within the cluster's MaxArraySize."""
    if not dry_run and shutil.which("sbatch") is None:
        raise ThresherError(
            "--executor slurm: sbatch is not on PATH (run on a Slurm login node, or add --dry-run to only "
            "write the script)"
        )
    if resources.partition is not None and shutil.which("sinfo") is not None:
        known = _run(["sinfo", "-h", "-p", resources.partition, "-o", "%P"]).stdout.split()
        if not known:
            raise ThresherError(
                f"--partition {resources.partition!r}: Slurm has no such partition (see sinfo)"
            )
    if max_index is not None and shutil.which("scontrol") is not None:
        limit = max_array_size()
        if limit is not None and max_index >= limit:
            raise ThresherError(
                f"{max_index + 1} array tasks exceed the cluster's MaxArraySize ({limit}): "
                f"give --array-tasks {limit - 1} or fewer"
            )


def max_array_size() -> int | None:
    for line in _run(["scontrol", "show", "config"], check=False).stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "MaxArraySize" and value.strip().isdigit():
            return int(value.strip())
    return None


def warn_if_node_local(path: Path) -> None:
    """A workspace the nodes cannot see cannot work: under /tmp (and the like) it is most likely local."""
    resolved = path.resolve()
    if any(resolved == p or resolved.is_relative_to(p) for p in NODE_LOCAL):
        log.warning(
            "the workspace %s is in a folder local to this machine: Slurm jobs on other nodes will not "
            "see it (put the workspace on a filesystem every node mounts)",
            resolved,
        )


def sbatch(script: Path, dependency: str | None = None) -> str:
    """Submit ``script``; returns the job id (an array's id names all its tasks)."""
    argv = ["sbatch", "--parsable"] + ([f"--dependency={dependency}"] if dependency else []) + [str(script)]
    done = _run(argv, check=False)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["sbatch failed"])[-1]
        raise ThresherError(f"sbatch refused {script.name}: {message.removeprefix('sbatch: error: ')}")
    return done.stdout.strip().split(";")[0]


def sbatch_command(script: Path, dependency: str | None = None) -> str:
    """The sbatch call :func:`sbatch` makes, as a line a user can run (``dependency`` may name a shell
    variable, e.g. ``afterok:$job0``, so it is not quoted)."""
    return " ".join(
        ["sbatch", "--parsable"]
        + ([f"--dependency={dependency}"] if dependency else [])
        + [shlex.quote(str(script))]
    )


def scancel(job_ids: Iterable[str]) -> None:
    ids = list(job_ids)
    if ids:
        _run(["scancel", *ids], check=False)


@dataclass(frozen=True)
class TaskState:
    job_id: str  # the array's id, or the job's
    task: int | None  # the array task index, None for a job that is not an array
    state: str  # squeue's or sacct's state, e.g. PENDING, RUNNING, COMPLETED, CANCELLED


def queue_states(job_ids: Iterable[str]) -> list[TaskState]:
    """Every task Slurm's controller still knows of these jobs (squeue keeps finished ones for
    MinJobAge, 5 minutes by default); one line per array task."""
    ids = sorted(set(job_ids))
    if not ids or shutil.which("squeue") is None:
        return []
    done = _run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(ids), "-o", "%F|%K|%T"], check=False)
    if done.returncode != 0:  # every id unknown ("Invalid job id"), or the controller did not answer
        return []
    out = []
    for line in done.stdout.splitlines():
        job, task, state = (line.split("|") + ["", ""])[:3]
        out.append(TaskState(job.strip(), int(task) if task.strip().isdigit() else None, state.strip()))
    return out


def accounting_states(job_ids: Iterable[str]) -> list[TaskState]:
    """What accounting remembers of these jobs, when the cluster has accounting (else nothing)."""
    ids = sorted(set(job_ids))
    if not ids or shutil.which("sacct") is None:
        return []
    done = _run(["sacct", "-n", "-X", "-P", "-j", ",".join(ids), "-o", "JobID,State"], check=False)
    if done.returncode != 0:  # "Slurm accounting storage is disabled"
        return []
    out = []
    for line in done.stdout.splitlines():
        job_id, _, state = line.partition("|")
        job, _, task = job_id.partition("_")
        out.append(TaskState(job, int(task) if task.isdigit() else None, state.split()[0] if state else ""))
    return out


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        if check:
            raise ThresherError(f"{argv[0]} did not answer: {exc}") from None
        return subprocess.CompletedProcess(argv, 1, "", str(exc))
    if check and done.returncode != 0:
        raise ThresherError(f"{shlex.join(argv)}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    return done
