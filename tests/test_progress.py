"""Progress events: what library loops report, and that nothing is reported without a sink."""

from __future__ import annotations

import pytest

from thresher.progress import ProgressEvent, note, reporting, task, track


def _collect():
    events: list[ProgressEvent] = []
    return events, events.append


def test_track_reports_a_start_one_advance_per_item_and_an_end_with_the_length_as_total():
    events, sink = _collect()
    with reporting(sink):
        assert list(track(["a", "b", "c"], "letters", unit="letter")) == ["a", "b", "c"]
    assert [e.kind for e in events] == ["start", "advance", "advance", "advance", "end"]
    assert [e.done for e in events] == [0, 1, 2, 3, 3]
    assert {e.total for e in events} == {3} and {e.stage for e in events} == {"letters"}
    assert len({e.task for e in events}) == 1 and events[-1].unit == "letter"


def test_rate_and_eta_follow_the_work_done():
    events, sink = _collect()
    with reporting(sink), task("work", 10, initial=4) as progress:
        progress.advance(2)
    advance = events[1]
    assert advance.done == 6 and advance.rate is not None and advance.rate > 0
    # eta = what is left / rate, the rate counting only this session's work (not the initial 4)
    assert advance.eta == pytest.approx(4 / advance.rate)


def test_nothing_is_reported_without_a_sink_or_when_disabled():
    assert list(track(range(3), "silent")) == [0, 1, 2]  # no sink installed: no error, no output
    events, sink = _collect()
    with reporting(sink):
        list(track(range(3), "other rank", enabled=False))
        note("a line")
    assert [e.kind for e in events] == ["note"] and events[0].message == "a line"


def test_a_task_ends_even_when_its_loop_raises():
    events, sink = _collect()
    with reporting(sink), pytest.raises(RuntimeError), task("failing", 5) as progress:
        progress.advance()
        raise RuntimeError("boom")
    assert events[-1].kind == "end" and events[-1].done == 1


def test_sinks_nest_and_are_restored():
    outer, outer_sink = _collect()
    inner, inner_sink = _collect()
    with reporting(outer_sink):
        with reporting(inner_sink):
            note("inner")
        note("outer")
    assert [e.message for e in inner] == ["inner"] and [e.message for e in outer] == ["outer"]


def test_events_serialize_as_plain_data():
    import json

    events, sink = _collect()
    with reporting(sink), task("x", None, unit="row") as progress:
        progress.advance(5, message="half")
    data = json.loads(json.dumps(events[1].as_dict()))
    assert data["done"] == 5 and data["total"] is None and data["eta"] is None and data["message"] == "half"
