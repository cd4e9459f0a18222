"""The Slurm executor: units as batch jobs on a cluster, and many units as job arrays.

Two ways in (docs/architecture.md, 'Executors'):

- :class:`SlurmExecutor` implements :class:`thresher.executors.base.Executor` for single units (the
  service's jobs): each unit is one ``sbatch`` job whose small wrapper runs the unit's command line and,
  when it ends, writes the exit code into a file beside the log (``<log>.exit``). ``poll`` reads that
  file, so the outcome is known after the job has left squeue, and ``adopt`` follows any job that Slurm
  or that file still knows, so a restarted server keeps following its cluster jobs.
- :func:`submit_steps` submits what a command splits into independent units (sweep cells, the parts of
  embed / store / score) as a chain of jobs, each an array of tasks or a single job, each depending on
  the previous one (``--dependency=afterok``). The scripts go to ``WS/slurm/`` and are printed; a record
  of the submission beside them lets ``thresher status`` show the jobs' states and lets a rerun of the
  same command leave out what a live task already holds.

Completion is never this module's business: every unit records its own (cell rows, part markers), so a
unit that ran twice or died half-way is handled by the command's resume logic.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from thresher.errors import ThresherError
from thresher.executors.base import Unit, UnitState
from thresher.executors.config import ExecutorConfig, SlurmResources
from thresher.executors.sbatch import (
    LIVE_STATES,
    JobScript,
    accounting_states,
    array_spec,
    check_cluster,
    queue_states,
    sbatch,
    sbatch_command,
    scancel,
    warn_if_node_local,
)
from thresher.executors.submissions import (
    SubmissionRecord,
    SubmittedJob,
    new_stem,
    slurm_dir,
    write_record,
)

EXIT_SUFFIX = ".exit"
# After squeue reports a job finished, how long its exit file may take to appear here (a shared
# filesystem's attribute cache can hide a new file from other nodes for a while).
EXIT_FILE_GRACE_SECONDS = 30.0
# The service polls its jobs five times a second; squeue is asked at most this often per job (a busy
# controller is every user's), the exit file (a stat) on every poll.
QUEUE_POLL_SECONDS = 5.0
_STATE_CODES = {"COMPLETED": 0, "CANCELLED": -15, "TIMEOUT": -15, "DEADLINE": -15, "PREEMPTED": -15,
                "OUT_OF_MEMORY": -9}  # fmt: skip
SHOWN_TASKS = 12  # task lines printed of a long table (the script file has them all)


class SlurmExecutor:
    """Units as sbatch jobs with the given resources (``thresher serve --executor slurm``)."""

    name = "slurm"

    def __init__(self, resources: SlurmResources | None = None, workspace: Path | None = None) -> None:
        self.resources = resources or SlurmResources()
        check_cluster(self.resources, dry_run=False)
        if workspace is not None:
            warn_if_node_local(Path(workspace))
        self._finished_at: dict[str, float] = {}
        self._asked: dict[str, tuple[float, UnitState]] = {}  # handle → (when squeue was asked, its answer)

    def submit(self, unit: Unit) -> str:
        unit.log.parent.mkdir(parents=True, exist_ok=True)
        exit_file = unit.log.with_name(unit.log.name + EXIT_SUFFIX)
        exit_file.unlink(missing_ok=True)
        script = unit.log.with_name("slurm.sbatch")
        script.write_text(
            JobScript(
                name=f"thresher-{unit.name}",
                body=_unit_body(unit, exit_file),
                output=unit.log,
                workdir=unit.workdir,
                resources=self.resources,
                options=("--open-mode=append",),
                comment=(f"thresher: unit {unit.name}; the exit code goes to {exit_file.name} when it ends",),
            ).text()
        )
        return f"{sbatch(script)}:{exit_file}"

    def poll(self, handle: str) -> UnitState:
        job_id, exit_file = _parse(handle)
        code = _exit_code(exit_file)
        if code is not None:
            self._asked.pop(handle, None)
            return UnitState("exited", code)
        asked = self._asked.get(handle)
        if asked is not None and time.monotonic() - asked[0] < QUEUE_POLL_SECONDS:
            return asked[1]
        state = self._queue_state(handle, job_id)
        self._asked[handle] = (time.monotonic(), state)
        return state

    def _queue_state(self, handle: str, job_id: str) -> UnitState:
        states = queue_states([job_id]) or accounting_states([job_id])
        if not states:
            return UnitState("gone")
        state = states[0].state
        if state in ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD"):
            return UnitState("pending")
        if state in LIVE_STATES:
            return UnitState("running")
        # Finished in Slurm's eyes: give the exit file time to reach this node, then trust the state.
        first = self._finished_at.setdefault(handle, time.monotonic())
        if time.monotonic() - first < EXIT_FILE_GRACE_SECONDS:
            return UnitState("running")
        self._finished_at.pop(handle, None)
        return UnitState("exited", _STATE_CODES.get(state, 1))

    def cancel(self, handle: str) -> None:
        scancel([_parse(handle)[0]])  # SIGTERM to every process of the job; the wrapper records the code

    def adopt(self, handle: str) -> bool:
        job_id, exit_file = _parse(handle)
        return exit_file.is_file() or bool(queue_states([job_id]) or accounting_states([job_id]))


def _parse(handle: str) -> tuple[str, Path]:
    job_id, sep, path = handle.partition(":")
    if not sep or not job_id.isdigit():
        raise ThresherError(f"not a Slurm unit handle: {handle!r}")
    return job_id, Path(path)


def _exit_code(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.lstrip("-").isdigit():
        return None
    code = int(text)
    return -(code - 128) if code > 128 else code  # bash's 128+N for a signal, as Popen's -N


def _unit_body(unit: Unit, exit_file: Path) -> list[str]:
    """Run the unit's command, forward a cancel's SIGTERM to it, and record its exit code atomically."""
    exports = [f"export {k}={shlex.quote(v)}" for k, v in unit.env.items()]
    return [
        "set -uo pipefail",
        *exports,
        f"{shlex.join(unit.argv)} &",
        "child=$!",
        "trap 'kill -TERM \"$child\" 2>/dev/null' TERM INT",
        'wait "$child"; code=$?',
        'while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done',
        f"exit_file={shlex.quote(str(exit_file))}",
        'echo "$code" > "$exit_file.$(hostname).$$" && mv -f "$exit_file.$(hostname).$$" "$exit_file"',
        'exit "$code"',
    ]


# -- arrays ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One job of a submission. With ``tasks`` it is an array: task index → (the value of
    ``task_option`` that task runs with, the units it covers); without, a single job."""

    label: str
    arguments: tuple[str, ...]  # the thresher command's words: ("embed", "--source", "mnist-lt", …)
    tasks: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    task_option: str | None = None
    gpus: bool = True  # asks for --gpus-per-task and runs under accelerate with that many processes
    processes: bool = True  # whether the command may run as several accelerate processes


@dataclass
class Submission:
    """What ``--executor slurm`` did: the scripts written (and, unless a dry run, submitted)."""

    name: str
    scripts: list[str]
    texts: list[str]
    commands: list[str]  # the sbatch calls, in order
    job_ids: list[str]
    units: int  # units submitted
    done: int  # units already done (not submitted)
    held: int  # units a live task of an earlier submission holds (not submitted)
    dry_run: bool

    def lines(self) -> list[str]:
        out = []
        for path, text in zip(self.scripts, self.texts, strict=True):
            out += [f"--- {path}", *_shortened(text.splitlines())]
        what = f"{self.units} units to run, {self.done} already done"
        if self.held:
            what += f", {self.held} held by live tasks of an earlier submission"
        if self.dry_run:
            out += [f"{self.name}: {what}; dry run, nothing submitted. To submit:", *self.commands]
        elif self.job_ids:
            out.append(f"{self.name}: {what}; submitted job(s) {', '.join(self.job_ids)}")
            out.append(
                "follow them with `thresher status`; rerun this command to resubmit what did not finish"
            )
        else:
            out.append(f"{self.name}: {what}; nothing to submit")
        return out


def _shortened(lines: list[str]) -> list[str]:
    """A script's lines with a long task table cut to its first and last lines (the file has them all)."""
    table = [i for i, line in enumerate(lines) if line.startswith("  [")]
    if len(table) <= SHOWN_TASKS:
        return lines
    keep_head, keep_tail = table[SHOWN_TASKS // 2], table[-SHOWN_TASKS // 2]
    cut = keep_tail - keep_head
    return [*lines[:keep_head], f"  # … {cut} more tasks (in the file) …", *lines[keep_tail:]]


def submit_steps(
    root: Path,
    name: str,
    key: str,
    command: str,
    steps: list[Step],
    config: ExecutorConfig,
    *,
    done: int = 0,
    held: int = 0,
) -> Submission:
    """Write one script per step into ``WS/slurm/``, print them, and unless ``config.dry_run`` submit
    them in order, each after the previous one succeeded. A refusal by sbatch cancels what this call
    already submitted, so a submission is whole or nothing."""
    root = Path(root).absolute()
    indices = [i for step in steps for i in step.tasks]
    check_cluster(config.slurm, dry_run=config.dry_run, max_index=max(indices) if indices else None)
    warn_if_node_local(root)
    stem = new_stem(name)
    folder = slurm_dir(root)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    scripts, texts = [], []
    for position, step in enumerate(steps):
        script = JobScript(
            name=f"thresher-{name}-{step.label}",
            body=_array_body(root, step, config.slurm) if step.tasks else _job_body(root, step, config.slurm),
            output=folder
            / "logs"
            / (f"{stem}-{step.label}-%A_%a.log" if step.tasks else f"{stem}-{step.label}-%j.log"),
            workdir=Path.cwd(),
            resources=config.slurm,
            array=array_spec(step.tasks, config.max_parallel) if step.tasks else None,
            gpus=step.gpus,
            comment=_comment(command, step),
            # A job after one that failed or was cancelled can never start: Slurm drops it, rather than
            # leaving it pending for ever (rerunning the command submits a new one).
            options=("--kill-on-invalid-dep=yes",) if position else (),
        )
        path = folder / f"{stem}-{step.label}.sbatch"
        path.write_text(script.text())
        scripts.append(path)
        texts.append(script.text())
    first_array = next((step for step in steps if step.tasks), None)
    units = sum(len(u) for _, u in first_array.tasks.values()) if first_array else 0
    commands = [
        f"job{i}=$({sbatch_command(p)})"
        if i == 0
        else f"job{i}=$({sbatch_command(p, f'afterok:$job{i - 1}')})"
        for i, p in enumerate(scripts)
    ]
    submission = Submission(
        name, [str(p) for p in scripts], texts, commands, [], units, done, held, config.dry_run
    )
    if config.dry_run or not steps:
        return submission
    jobs: list[SubmittedJob] = []
    try:
        for step, path in zip(steps, scripts, strict=True):
            dependency = f"afterok:{jobs[-1].job_id}" if jobs else None
            job_id = sbatch(path, dependency)
            tasks = {str(i): list(units) for i, (_, units) in step.tasks.items()}
            jobs.append(SubmittedJob(step.label, str(path.relative_to(root)), job_id, tasks, dependency))
    except BaseException:
        scancel(j.job_id for j in jobs if j.job_id)
        raise
    write_record(root, stem, SubmissionRecord(name, key, command, time.time(), False, jobs))
    submission.job_ids = [j.job_id for j in jobs if j.job_id]
    return submission


def _comment(command: str, step: Step) -> list[str]:
    what = f"array of {len(step.tasks)} tasks" if step.tasks else "one job"
    return [
        f"thresher: {step.label} ({what}), generated for: {command}",
        "Rerunning that command resubmits only the units that are not done (and not held by a live task).",
    ]


def _launcher(resources: SlurmResources, step: Step) -> list[str]:
    python = sys.executable
    gpus = resources.gpus_per_task if step.gpus else 0
    if gpus > 1 and step.processes:
        return [
            python,
            "-m",
            "accelerate.commands.launch",
            "--num_processes",
            str(gpus),
            "-m",
            "thresher.cli",
        ]
    return [python, "-m", "thresher.cli"]


def _job_body(root: Path, step: Step, resources: SlurmResources) -> list[str]:
    argv = [*_launcher(resources, step), "--workspace", str(root), *step.arguments]
    return ["set -euo pipefail", "export PYTHONUNBUFFERED=1", f"exec {shlex.join(argv)}"]


def _array_body(root: Path, step: Step, resources: SlurmResources) -> list[str]:
    argv = [*_launcher(resources, step), "--workspace", str(root), *step.arguments]
    table = [
        f"  [{i}]={shlex.quote(value)}  # {', '.join(units)}"
        for i, (value, units) in sorted(step.tasks.items())
    ]
    return [
        "set -euo pipefail",
        "export PYTHONUNBUFFERED=1",
        f"# {step.task_option} of each array task, by task index (and the units it covers)",
        "VALUES=(",
        *table,
        ")",
        f'exec {shlex.join(argv)} {step.task_option} "${{VALUES[$SLURM_ARRAY_TASK_ID]}}"',
    ]
