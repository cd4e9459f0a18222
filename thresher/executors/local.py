"""The local executor: each unit is a process of this machine, in a process group of its own.

The group is what ``cancel`` signals, so DataLoader workers and other children end with the unit. On
Linux the unit's process also asks the kernel to kill it when the process that started it dies
(``PR_SET_PDEATHSIG``): a server killed with SIGKILL takes its running jobs with it, so after a restart
they are reported as interrupted rather than left running unwatched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

from thresher.executors.base import Unit, UnitState

_PR_SET_PDEATHSIG = 1
CANCEL_GRACE_SECONDS = 10.0  # SIGTERM first; SIGKILL if the group has not ended by then


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self._processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def submit(self, unit: Unit) -> str:
        unit.log.parent.mkdir(parents=True, exist_ok=True)
        with unit.log.open("ab") as log:
            process = subprocess.Popen(
                list(unit.argv),
                cwd=unit.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **unit.env},
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, safe before exec
            )
        handle = str(process.pid)
        with self._lock:
            self._processes[handle] = process
        return handle

    def poll(self, handle: str) -> UnitState:
        with self._lock:
            process = self._processes.get(handle)
        if process is None:
            return UnitState("gone")
        code = process.poll()
        if code is None:
            return UnitState("running")
        with self._lock:
            self._processes.pop(handle, None)
        return UnitState("exited", code)

    def cancel(self, handle: str) -> None:
        with self._lock:
            process = self._processes.get(handle)
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        threading.Thread(target=self._kill_later, args=(process,), daemon=True).start()

    def _kill_later(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + CANCEL_GRACE_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            time.sleep(0.1)
        _signal_group(process.pid, signal.SIGKILL)  # also ends children that outlived their parent

    def adopt(self, handle: str) -> bool:
        return False  # a process of an earlier server is not this one's child: its end cannot be awaited


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
