"""Progress as events: library loops report what they have done; a front end decides how to show it.

A long loop wraps its iterable in :func:`track` (or opens a :func:`task` and calls ``advance``); a line
meant for the user goes through :func:`note`. Each becomes a :class:`ProgressEvent` handed to the *sink*
installed by :func:`reporting` for the current context. The command line installs a sink that draws tqdm
bars (``thresher/progress_bars.py``), the service one that streams the events to the browser,
and library code called on its own reports to no one. Library code never calls tqdm or print itself, so
the same loop serves every front end (docs/architecture.md, 'Layers').

The sink is held in a :class:`contextvars.ContextVar`, not passed down through every signature: the loops
that report sit many calls below the command that chose the front end, and a context variable follows a
call chain without touching the functions in between. Under ``accelerate launch`` each process has its own
sink; loops pass ``enabled=accelerator.is_main_process`` so only one process reports.
"""

from __future__ import annotations

import contextvars
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

START, ADVANCE, END, NOTE = "start", "advance", "end", "note"


@dataclass(frozen=True)
class ProgressEvent:
    """One thing a loop reports. ``kind`` is start, advance, end (of a task) or note (a line of text).

    ``rate`` (units per second) and ``eta`` (seconds left at that rate) are measured since the task
    started; ``eta`` is None without a total. ``transient`` marks inner loops a renderer may clear when
    they end (tqdm's ``leave=False``).
    """

    kind: str
    task: int
    stage: str
    done: float = 0
    total: float | None = None
    unit: str = "it"
    message: str | None = None
    elapsed: float = 0.0
    rate: float | None = None
    eta: float | None = None
    transient: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "task": self.task,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "unit": self.unit,
            "message": self.message,
            "elapsed": round(self.elapsed, 3),
            "rate": None if self.rate is None else round(self.rate, 4),
            "eta": None if self.eta is None else round(self.eta, 1),
            "transient": self.transient,
        }


Sink = Callable[[ProgressEvent], None]

_SINK: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("thresher_progress_sink", default=None)
_TASK_IDS = itertools.count(1)


@contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    """Send the events of everything run inside the block to ``sink`` (None: to no one)."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def current_sink() -> Sink | None:
    return _SINK.get()


class Task:
    """A loop in progress: ``advance`` after each unit of work, ``close`` (or leave the ``with``) at the end."""

    def __init__(
        self,
        stage: str,
        total: float | None = None,
        *,
        unit: str = "it",
        initial: float = 0,
        transient: bool = False,
        enabled: bool = True,
    ) -> None:
        self.stage = stage
        self.total = total
        self.unit = unit
        self.done = initial
        self.transient = transient
        self.message: str | None = None
        self._initial = initial
        self._sink = _SINK.get() if enabled else None
        self._id = next(_TASK_IDS)
        self._started = time.perf_counter()
        self._closed = False
        self._emit(START)

    def advance(self, n: float = 1, message: str | None = None) -> None:
        self.done += n
        if message is not None:
            self.message = message
        self._emit(ADVANCE)

    def describe(self, message: str) -> None:
        """Change the task's message (what it is working on now, or its latest loss) without advancing."""
        self.message = message
        self._emit(ADVANCE)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._emit(END)

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _emit(self, kind: str) -> None:
        if self._sink is None:
            return
        elapsed = time.perf_counter() - self._started
        worked = self.done - self._initial
        rate = worked / elapsed if elapsed > 0 and worked > 0 else None
        eta = None
        if rate and self.total is not None:
            eta = max(self.total - self.done, 0) / rate
        self._sink(
            ProgressEvent(
                kind=kind,
                task=self._id,
                stage=self.stage,
                done=self.done,
                total=self.total,
                unit=self.unit,
                message=self.message,
                elapsed=elapsed,
                rate=rate,
                eta=eta,
                transient=self.transient,
            )
        )


def task(
    stage: str,
    total: float | None = None,
    *,
    unit: str = "it",
    initial: float = 0,
    transient: bool = False,
    enabled: bool = True,
) -> Task:
    """Open a task (use it as a context manager so it ends even when the loop raises)."""
    return Task(stage, total, unit=unit, initial=initial, transient=transient, enabled=enabled)


def track(
    iterable: Iterable[T],
    stage: str,
    *,
    total: float | None = None,
    unit: str = "it",
    transient: bool = False,
    enabled: bool = True,
) -> Iterator[T]:
    """Yield from ``iterable``, reporting one unit per item (the total from ``len`` when it has one)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with task(stage, total, unit=unit, transient=transient, enabled=enabled) as progress:
        for item in iterable:
            yield item
            progress.advance()


def note(text: str) -> None:
    """A line for the user (what a command is doing, what it found), shown by whatever front end runs."""
    sink = _SINK.get()
    if sink is not None:
        sink(ProgressEvent(kind=NOTE, task=0, stage="", message=text))
