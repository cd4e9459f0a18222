"""A command that meets another process's lock on the catalog waits, then fails with one line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from thresher.catalog.workspace import SCHEMA_VERSION, Workspace
from thresher.errors import ThresherError

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_reader_waits_for_a_writer_that_lets_go(workspace, monkeypatch):
    with workspace.connect():
        pass
    monkeypatch.setenv("THRESHER_LOCK_WAIT", "30")
    proc = _hold(workspace.catalog_path, 1.5)
    started = time.monotonic()
    with workspace.connect(read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
    assert time.monotonic() - started >= 0.5  # it really waited for the holder
    proc.wait()


@pytest.mark.parametrize("read_only", [True, False])
def test_a_lock_held_too_long_is_one_line_naming_the_holder(workspace, monkeypatch, read_only):
    with workspace.connect():
        pass
    monkeypatch.setenv("THRESHER_LOCK_WAIT", "0.3")
    proc = _hold(workspace.catalog_path, 5)
    try:
        with pytest.raises(ThresherError) as info, workspace.connect(read_only=read_only):
            pass
    finally:
        proc.kill()
        proc.wait()
    message = str(info.value)
    assert "\n" not in message and f"process {proc.pid}" in message and "busy" in message


def test_a_garbage_catalog_is_one_line(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    ws.catalog_path.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(ThresherError, match="cannot open the catalog") as info, ws.connect(read_only=True):
        pass
    assert "\n" not in str(info.value)
