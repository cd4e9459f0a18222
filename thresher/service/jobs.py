"""Jobs: one command of the table run on the service's behalf, its state persisted in the workspace.

A job is a folder ``jobs/<id>/`` (docs/architecture.md, 'The service'):

- ``job.json``: the record below, rewritten atomically (temporary file, then rename) at every change of
  state, so a server killed at any moment leaves a readable record;
- ``events.jsonl``: the progress events of the command (``thresher/progress.py``), one JSON object a line;
- ``log.txt``: everything the job's process printed (progress as plain lines, warnings, tracebacks);
- ``result.json`` (the result as data and the lines the command line would print) or ``error.txt`` (the
  one-line error), written by the job's process when it ends.

States: queued → running → succeeded | failed | cancelled, and interrupted for a job whose process died
with the server (or whose server died, so nothing watched it end). Only the service writes ``job.json``;
only the job's process writes the other files. A retry is a new job with the same request
(``retry_of`` names the old one); the command's own resume makes it continue where the old one stopped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thresher.errors import NotFound

QUEUED, RUNNING = "queued", "running"
SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = "succeeded", "failed", "cancelled", "interrupted"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED, INTERRUPTED})
_JOB_ID = re.compile(r"^j-\d{8}-\d{6}-[0-9a-f]{6}$")


@dataclass
class JobRecord:
    id: str
    command: str
    config: dict[str, Any]  # the validated request (``config_json.config_to_json``)
    state: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    executor: str = "local"
    handle: str | None = None  # what the executor calls the job's process: a pid, a Slurm job id
    host: str | None = None  # the host of the server that started it
    returncode: int | None = None
    error: str | None = None  # one line: the command's error, or why the job failed or was interrupted
    retry_of: str | None = None
    cancel_requested: bool = False

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_job_id() -> str:
    return time.strftime("j-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)


class JobStore:
    """The job folders of a workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, job_id: str) -> Path:
        if not _JOB_ID.match(job_id):  # a request's job id never becomes an arbitrary path
            raise NotFound(f"no job {job_id!r}")
        return self.root / job_id

    def create(
        self, command: str, config: dict[str, Any], *, executor: str, retry_of: str | None = None
    ) -> JobRecord:
        record = JobRecord(new_job_id(), command, config, executor=executor, retry_of=retry_of)
        record.host = socket.gethostname()
        self.folder(record.id).mkdir(parents=True)
        self.save(record)
        return record

    def save(self, record: JobRecord) -> None:
        path = self.folder(record.id) / "job.json"
        temporary = path.with_name(f".job.json.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record.as_dict(), indent=1))
        os.replace(temporary, path)

    def get(self, job_id: str) -> JobRecord:
        path = self.folder(job_id) / "job.json"
        if not path.is_file():
            raise NotFound(f"no job {job_id!r}")
        return JobRecord(**json.loads(path.read_text()))

    def all(self) -> list[JobRecord]:
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(self.root.iterdir()):
            if _JOB_ID.match(folder.name) and (folder / "job.json").is_file():
                out.append(self.get(folder.name))
        return out

    def result(self, job_id: str) -> dict[str, Any] | None:
        path = self.folder(job_id) / "result.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def error_line(self, job_id: str) -> str | None:
        path = self.folder(job_id) / "error.txt"
        return path.read_text().strip() or None if path.is_file() else None

    def log_tail(self, job_id: str, max_bytes: int = 64_000) -> str:
        path = self.folder(job_id) / "log.txt"
        if not path.is_file():
            return ""
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            return f.read().decode("utf-8", errors="replace")
