"""The text rendering of progress events: tqdm bars on a terminal, plain lines in a log. The command line
uses it for its own output, the service's jobs for their logs.

On a terminal every task is a tqdm bar (inner, transient loops are cleared when they end, as tqdm's
``leave=False`` did before). When stderr is not a terminal (CI logs, ``2> file``, the service's job logs),
cursor movements would leave ``[A`` fragments in the file, so each task prints plain lines instead: one at
its start, one at most every ``interval`` seconds while it runs, and one at its end; transient tasks print
only their end. Notes are printed as lines either way (through ``tqdm.write`` on a terminal, so they do
not break a bar).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm.auto import tqdm

from thresher.progress import ADVANCE, END, NOTE, START, ProgressEvent


class TqdmSink:
    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 10.0, tty: bool | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self._bars: dict[int, tqdm] = {}
        self._last_line: dict[int, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == NOTE:
            if self.tty:
                tqdm.write(event.message or "", file=self.stream)
            else:
                print(event.message or "", file=self.stream, flush=True)
        elif self.tty:
            self._bar(event)
        else:
            self._line(event)

    def _bar(self, event: ProgressEvent) -> None:
        if event.kind == START:
            self._bars[event.task] = tqdm(
                total=event.total,
                initial=event.done,
                desc=event.stage,
                unit=event.unit,
                leave=not event.transient,
                file=self.stream,
            )
            return
        bar = self._bars.get(event.task)
        if bar is None:
            return
        if event.kind == ADVANCE:
            if event.message is not None:
                bar.set_postfix_str(event.message, refresh=False)
            bar.update(event.done - bar.n)
        elif event.kind == END:
            bar.update(event.done - bar.n)
            bar.close()
            del self._bars[event.task]

    def _line(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.kind == START:
            self._last_line[event.task] = now
            if not event.transient:
                self._print(event, "started")
        elif event.kind == ADVANCE and not event.transient:
            if now - self._last_line.get(event.task, now) >= self.interval:
                self._last_line[event.task] = now
                self._print(event, None)
        elif event.kind == END:
            self._last_line.pop(event.task, None)
            self._print(event, "done")

    def _print(self, event: ProgressEvent, state: str | None) -> None:
        done = f"{event.done:g}" + (f"/{event.total:g}" if event.total is not None else "")
        parts = [f"{event.stage}: {done} {event.unit}"]
        if event.total:
            parts.append(f"({100 * event.done / event.total:.0f}%)")
        if event.rate:
            parts.append(f"{event.rate:.3g} {event.unit}/s")
        if state != "done" and event.eta is not None:
            parts.append(f"eta {event.eta:.0f}s")
        if event.message:
            parts.append(f"[{event.message}]")
        if state:
            parts.append(state)
        print(" ".join(parts), file=self.stream, flush=True)
