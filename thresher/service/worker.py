"""The process of one job: ``python -m thresher.service.worker WORKSPACE JOB_FOLDER``.

It builds the job's config from ``job.json`` exactly as the service validated it, runs the command of
the table with progress going to ``events.jsonl`` (and, as plain lines, to its log), and ends by writing
``result.json`` (exit 0) or ``error.txt`` with the one-line error (exit 2). Anything else is a bug: the
traceback goes to the log and the exit code says so. It runs in its own process so that a crash, an
out-of-memory kill or a cancel of one job never touches the server; the executor (local process or
Slurm) decides where that process runs, and this file is all it runs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from thresher.api import command
from thresher.catalog.workspace import Workspace
from thresher.config_json import to_json_value
from thresher.errors import ThresherError
from thresher.progress import ProgressEvent, reporting
from thresher.service.events import JsonLinesSink


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def run_job(workspace: Path, folder: Path) -> int:
    from thresher.progress_bars import TqdmSink

    record = json.loads((folder / "job.json").read_text())
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s: %(message)s")
    with (folder / "events.jsonl").open("a") as events:
        to_file, to_log = JsonLinesSink(events), TqdmSink(sys.stderr, tty=False)

        def sink(event: ProgressEvent) -> None:
            to_file(event)
            to_log(event)

        try:
            row = command(record["command"])
            config = row.build(record["config"])
            with reporting(sink):
                result = row.run(Workspace(workspace), config)
        except ThresherError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            _write_atomically(folder / "error.txt", str(exc) + "\n")
            return exc.exit_code
    lines = result.lines() if hasattr(result, "lines") else []
    for line in lines:
        print(line, flush=True)
    _write_atomically(folder / "result.json", json.dumps({"result": to_json_value(result), "lines": lines}))
    return 0


def main() -> None:
    if len(sys.argv) != 3:
        print("usage: python -m thresher.service.worker WORKSPACE JOB_FOLDER", file=sys.stderr)
        sys.exit(2)
    sys.exit(run_job(Path(sys.argv[1]), Path(sys.argv[2])))


if __name__ == "__main__":
    main()
