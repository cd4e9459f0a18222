"""The service's job queue: at most ``workers`` jobs run at once, each in its own process.

One thread owns every job's state (docs/architecture.md, 'The service'): it starts queued jobs in the
order they came while fewer than ``workers`` run, hands each to the executor, follows the running ones
(their exit, their progress events), and records every change in ``job.json`` before telling the
browsers. Requests only add jobs or ask for a cancel; nothing else writes a job's record.

On start it looks at the jobs a previous server left: a job still queued stays queued; a running job the
executor can still follow (a Slurm job) is followed again; any other running job is marked interrupted
(its process died with the old server, see ``executors/local.py``) and can be retried.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from thresher.errors import Conflict, NotFound, ThresherError
from thresher.executors.base import Executor, Unit
from thresher.service.events import EventHub, EventTail, Progress
from thresher.service.jobs import (
    CANCELLED,
    FAILED,
    FINAL_STATES,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    JobRecord,
    JobStore,
)

POLL_SECONDS = 0.2


class Scheduler:
    def __init__(
        self, workspace: Path, store: JobStore, executor: Executor, workers: int, hub: EventHub
    ) -> None:
        if workers < 1:
            raise ThresherError(f"--workers must be at least 1, got {workers}")
        self.workspace = workspace
        self.store = store
        self.executor = executor
        self.workers = workers
        self.hub = hub
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tails: dict[str, EventTail] = {}
        self._progress: dict[str, Progress] = {}
        # Every job's record, loaded once: this thread is the only writer of job.json, so memory and disk
        # agree, and a pass over the queue reads no file.
        self._jobs: dict[str, JobRecord] = {r.id: r for r in store.all()}

    # -- requests ---------------------------------------------------------------------------------------
    def submit(self, command: str, config: dict[str, Any], retry_of: str | None = None) -> JobRecord:
        with self._lock:
            record = self.store.create(command, config, executor=self.executor.name, retry_of=retry_of)
            self._jobs[record.id] = record
        self._announce(record)
        self._wake.set()
        return record

    def cancel(self, job_id: str) -> JobRecord:
        with self._lock:
            record = self.job(job_id)
            if record.final:
                raise Conflict(f"job {job_id} already {record.state}: nothing to cancel")
            if record.state == QUEUED:
                self._finish(record, CANCELLED, error="cancelled before it started")
                return record
            record.cancel_requested = True
            self.store.save(record)
            if record.handle is not None:
                self.executor.cancel(record.handle)
        self._announce(record)
        return record

    def retry(self, job_id: str) -> JobRecord:
        """A new job with the same request. Most commands resume by themselves (finished parts, cells and
        checkpoints are found again); a command that resumes only when asked (``train --resume`` of a
        named run) is asked."""
        record = self.job(job_id)
        if record.state not in (FAILED, CANCELLED, INTERRUPTED):
            raise Conflict(
                f"job {job_id} is {record.state}: only failed, cancelled or interrupted jobs are retried"
            )
        config = dict(record.config)
        if "resume" in config and config.get("run"):
            config["resume"] = True
        return self.submit(record.command, config, retry_of=record.id)

    def job(self, job_id: str) -> JobRecord:
        with self._lock:
            record = self._jobs.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r}")
        return record

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            return list(self._jobs.values())

    def progress(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            progress = self._progress.get(job_id)
        if progress is None:  # a finished job, or one of an earlier server: read its file once
            progress = Progress()
            for event in EventTail(self.store.folder(job_id) / "events.jsonl").read():
                progress.update(event)
        return progress.summary()

    # -- the thread -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="thresher-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - the queue must outlive a bug in one job's bookkeeping
                print(f"scheduler: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def step(self) -> None:
        """One pass: follow the running jobs, then start queued ones while there is room."""
        with self._lock:
            jobs = list(self._jobs.values())
            running = [j for j in jobs if j.state == RUNNING]
            for record in running:
                self._follow(record)
            room = self.workers - sum(1 for j in running if j.state == RUNNING)
            for record in (j for j in jobs if j.state == QUEUED):
                if room <= 0:
                    break
                self._start(record)
                room -= 1

    def _recover(self) -> None:
        with self._lock:
            for record in list(self._jobs.values()):
                if record.state != RUNNING:
                    continue
                if (
                    record.handle is not None
                    and self.executor.name == record.executor
                    and self.executor.adopt(record.handle)
                ):
                    continue
                self._finish(record, INTERRUPTED, error="the server stopped while it ran: retry to resume it")

    def _start(self, record: JobRecord) -> None:
        folder = self.store.folder(record.id)
        unit = Unit(
            name=record.id,
            argv=(sys.executable, "-m", "thresher.service.worker", str(self.workspace), str(folder)),
            workdir=self.workspace,
            log=folder / "log.txt",
            env={"PYTHONUNBUFFERED": "1"},
        )
        record.state, record.started = RUNNING, time.time()
        record.handle = self.executor.submit(unit)
        self.store.save(record)
        self._tails[record.id] = EventTail(folder / "events.jsonl")
        self._progress[record.id] = Progress()
        self._announce(record)

    def _follow(self, record: JobRecord) -> None:
        tail = self._tails.setdefault(record.id, EventTail(self.store.folder(record.id) / "events.jsonl"))
        progress = self._progress.setdefault(record.id, Progress())
        for event in tail.read():
            progress.update(event)
            self.hub.publish({"type": "progress", "job": record.id, "event": event})
        state = self.executor.poll(record.handle) if record.handle is not None else None
        if state is None or state.state == "gone":
            self._finish(record, INTERRUPTED, error="its process is gone: retry to resume it")
        elif state.state == "exited":
            self._ended(record, state.returncode)

    def _ended(self, record: JobRecord, code: int | None) -> None:
        record.returncode = code
        result = self.store.result(record.id)
        if code == 0 and result is not None:
            self._finish(record, SUCCEEDED)
        elif record.cancel_requested:
            self._finish(record, CANCELLED, error="cancelled: retry to resume it")
        else:
            error = self.store.error_line(record.id)
            if error is None:
                error = _crash_line(code)
            self._finish(record, FAILED, error=error)

    def _finish(self, record: JobRecord, state: str, error: str | None = None) -> None:
        assert state in FINAL_STATES
        record.state, record.finished, record.error = state, time.time(), error
        self.store.save(record)
        self._tails.pop(record.id, None)
        self._progress.pop(record.id, None)
        self._announce(record)

    def _announce(self, record: JobRecord) -> None:
        self.hub.publish({"type": "job", "job": record.id, "record": record.as_dict()})


def _crash_line(code: int | None) -> str:
    if code is not None and code < 0:
        signal_name = {9: "SIGKILL (out of memory?)", 15: "SIGTERM", 11: "SIGSEGV", 6: "SIGABRT"}.get(
            -code, str(-code)
        )
        return f"the job's process was killed by {signal_name}; its log has the details"
    return f"the job's process exited with code {code} without a result; its log has the details"
