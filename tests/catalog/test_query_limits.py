"""`thresher query` has a time and a memory limit, runs on a snapshot so it never blocks a writer, takes
PIVOT, and over HTTP reads the catalog's views only (hardening item 22; the service's SQL console)."""

from __future__ import annotations

import threading
import time

import pytest

from thresher.catalog.config import QueryConfig
from thresher.catalog.query import SERVICE_MAX_ROWS, query, run_service_query
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.errors import ConfigError, ThresherError


def test_a_query_that_runs_too_long_is_stopped_with_one_line(mnist_lt):
    started = time.monotonic()
    with pytest.raises(ThresherError, match=r"query stopped after 0.5 s \(--timeout\)"):
        query(mnist_lt, QueryConfig(sql="SELECT count(*) FROM range(1000000000000)", timeout=0.5))
    assert time.monotonic() - started < 20


def test_a_query_over_its_memory_limit_fails_with_one_line(mnist_lt):
    sql = "SELECT string_agg(repeat('x', 1000), '') FROM range(2000000)"  # ~2 GB of string
    with pytest.raises(ThresherError, match="memory"):
        query(mnist_lt, QueryConfig(sql=sql, memory_limit="64MB", timeout=60))


def test_a_running_query_does_not_block_a_writer(mnist_lt):
    """The query holds a snapshot, not the catalog: a select commits while the query still runs."""
    errors: list[BaseException] = []

    def long_query() -> None:
        try:
            query(mnist_lt, QueryConfig(sql="SELECT count(*) FROM range(1000000000000)", timeout=8))
        except ThresherError as exc:
            errors.append(exc)

    thread = threading.Thread(target=long_query)
    thread.start()
    time.sleep(1.5)  # the query is running
    started = time.monotonic()
    result = select(mnist_lt, SelectConfig(name="during", method="random", ratio=0.5))
    waited = time.monotonic() - started
    assert thread.is_alive(), "the query ended before the writer ran: the test proves nothing"
    thread.join()
    assert result.version == 1 and waited < 6
    assert errors and "stopped" in str(errors[0])


def test_pivot_is_a_read(mnist_lt):
    result = query(mnist_lt, QueryConfig(sql="PIVOT samples ON status USING count(*) GROUP BY source"))
    assert result.columns == ["source", "ok"] and result.rows == [("mnist-lt", 1703)]


def test_the_service_console_reads_views_only_and_caps_rows(mnist_lt, tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(ThresherError, match="views only, never a file"):
        run_service_query(mnist_lt, {"sql": f"SELECT * FROM '{tmp_path / 'x.csv'}'"})
    result = run_service_query(mnist_lt, {"sql": "SELECT sample_id FROM samples ORDER BY 1", "max_rows": 10})
    assert result.rows == [(i,) for i in range(10)] and result.truncated
    full = run_service_query(mnist_lt, {"sql": "SELECT count(*) FROM samples"})
    assert full.rows == [(1703,)] and not full.truncated
    for body, field in [
        ({"sql": "SELECT 1", "max_rows": SERVICE_MAX_ROWS + 1}, "max_rows"),
        ({}, "sql"),
        ({"sql": "SELECT 1", "x": 1}, "x"),
    ]:
        with pytest.raises(ConfigError) as caught:
            run_service_query(mnist_lt, body)
        assert caught.value.field == field
