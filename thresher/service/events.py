"""How a job's progress travels: the job's process appends events to a file, the service tails the file
and hands each event to the browsers listening (Server-Sent Events).

A file rather than a pipe because it survives the server: a restarted service (or one on another node,
for a job that ran on a cluster) still reads what a job reported, and the file is the job's persisted
structured progress.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from thresher.progress import ADVANCE, ProgressEvent

# A job reports each task at most this often (plus every start, end and note): a training loop's every step
# would otherwise be a line.
EVENT_INTERVAL = 0.5


class JsonLinesSink:
    """A progress sink that appends events, as JSON lines, to a job's ``events.jsonl``."""

    def __init__(self, stream: IO[str], *, interval: float = EVENT_INTERVAL) -> None:
        self.stream = stream
        self.interval = interval
        self._last: dict[int, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.kind == ADVANCE and now - self._last.get(event.task, 0.0) < self.interval:
            return
        self._last[event.task] = now
        self.stream.write(json.dumps({"time": time.time(), **event.as_dict()}) + "\n")
        self.stream.flush()


class EventTail:
    """Reads the lines appended to a file since the last call (a line is only taken once complete)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        out = []
        for line in data[: end + 1].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a killed writer
        return out


class Progress:
    """A job's progress as the dashboard shows it: the latest event of each open task, and recent notes."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        self.notes: list[str] = []

    def update(self, event: dict[str, Any]) -> None:
        if event.get("kind") == "note":
            self.notes = (self.notes + [str(event.get("message", ""))])[-20:]
        elif event.get("kind") == "end":
            self.tasks.pop(int(event["task"]), None)
        else:
            self.tasks[int(event["task"])] = event

    def summary(self) -> dict[str, Any]:
        """The outermost open task (the oldest) as the job's bar, the others as its inner loops."""
        ordered = [self.tasks[k] for k in sorted(self.tasks)]
        return {"main": ordered[0] if ordered else None, "inner": ordered[1:], "notes": self.notes[-5:]}


class EventHub:
    """Fan-out of service events to the browsers listening; fed from the scheduler's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue, Callable[[dict], bool]]] = []

    def subscribe(self, accept: Callable[[dict], bool] = lambda _e: True) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue, accept))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s[1] is not queue]

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue, accept in subscribers:
            if accept(event):
                loop.call_soon_threadsafe(_put, queue, event)


def _put(queue: asyncio.Queue, event: dict[str, Any]) -> None:
    if not queue.full():  # a browser that stopped reading loses events, never the server its memory
        queue.put_nowait(event)
