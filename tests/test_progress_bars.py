"""The command line's rendering of progress: plain lines in a log, tqdm bars on a terminal."""

from __future__ import annotations

import io

from thresher.progress import note, reporting, task, track
from thresher.progress_bars import TqdmSink


def test_a_log_gets_plain_lines_without_cursor_movements():
    stream = io.StringIO()
    with reporting(TqdmSink(stream, tty=False, interval=0.0)):
        list(track(range(4), "embedding", unit="img"))
        list(track(range(2), "inner", transient=True))
        note("published x")
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text  # no escape sequences, no carriage returns
    lines = text.splitlines()
    assert lines[0].startswith("embedding: 0/4 img") and lines[0].endswith("started")
    assert lines[-3].startswith("embedding: 4/4 img (100%)") and lines[-3].endswith("done")
    # a transient inner loop prints only its end
    assert [line for line in lines if line.startswith("inner")] == [lines[-2]]
    assert lines[-1] == "published x"


def test_a_log_line_is_printed_at_most_once_per_interval():
    stream = io.StringIO()
    with reporting(TqdmSink(stream, tty=False, interval=3600.0)), task("training", 1000, unit="step") as t:
        for _ in range(1000):
            t.advance()
    assert len(stream.getvalue().splitlines()) == 2  # started and done only


def test_a_terminal_gets_a_bar_that_reaches_the_total():
    stream = io.StringIO()
    with reporting(TqdmSink(stream, tty=True)), task("training", 5, unit="step") as t:
        for _ in range(5):
            t.advance(message="loss=0.1")
    assert "training" in stream.getvalue() and "5/5" in stream.getvalue()
