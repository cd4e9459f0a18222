"""Catalog snapshots: how a long-running reader (the service) reads without ever waiting on a writer.

DuckDB lets many connections of *one* process read while one writes, but across processes one process
holds the file for writing and no other may even open it read-only (docs/architecture.md,
'Concurrency'). The service answers reads while jobs — other processes — write. So it reads a copy: when
the catalog's files change, it opens the catalog read-only for as long as a file copy takes (which also
guarantees no writer is half-way: a writer holds the file exclusively), copies ``catalog.duckdb`` and its
write-ahead log, and serves every read from that copy through one read-only connection shared by the
request threads (each takes a cursor; DuckDB's MVCC makes that safe). A read is at most one commit stale;
it never blocks a writer for longer than the copy (measured in ``benchmarks/service_latency.py``), and a
writer never blocks a read.

:class:`SnapshotWorkspace` is a :class:`~thresher.catalog.workspace.Workspace` whose read-only connections
come from the newest snapshot, so every read function of the library serves the service unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

# How often the catalog's files are looked at (a stat of two files): a read sees a commit this late at most.
CHECK_INTERVAL = 0.2
KEEP_SNAPSHOTS = 2  # the newest, and the previous one that requests in flight may still read


class _Snapshot:
    def __init__(self, path: Path, stamp: tuple[int, ...]) -> None:
        self.path = path
        self.stamp = stamp
        self.connection = duckdb.connect(str(path), read_only=True)


class CatalogSnapshots:
    """The newest read-only copy of a workspace's catalog, refreshed when the catalog changes."""

    def __init__(self, ws: Workspace, folder: Path | None = None) -> None:
        self.ws = ws
        self.folder = folder or ws.root / ".serve" / "snapshots"
        self._lock = threading.Lock()
        self._snapshots: list[_Snapshot] = []
        self._checked = 0.0
        self._counter = 0
        self.copies = 0  # how many snapshots were taken (for tests and benchmarks)
        self.copy_seconds = 0.0  # the time writers could have waited, summed

    def _stamp(self) -> tuple[int, ...]:
        out: list[int] = []
        for path in (self.ws.catalog_path, self.ws.catalog_path.with_name("catalog.duckdb.wal")):
            try:
                st = path.stat()
                out += [st.st_mtime_ns, st.st_size, st.st_ino]
            except FileNotFoundError:
                out += [0, 0, 0]
        return tuple(out)

    def current(self) -> _Snapshot:
        with self._lock:
            now = time.monotonic()
            if self._snapshots and now - self._checked < CHECK_INTERVAL:
                return self._snapshots[-1]
            self._checked = now
            stamp = self._stamp()
            if not self._snapshots or self._snapshots[-1].stamp != stamp:
                self._take(stamp)
            return self._snapshots[-1]

    def _take(self, stamp: tuple[int, ...]) -> None:
        if not self.ws.exists:
            raise ThresherError(f"no thresher workspace at {self.ws.root} (run `thresher ingest` first)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._counter += 1
        target = self.folder / f"catalog-{os.getpid()}-{self._counter}.duckdb"
        started = time.perf_counter()
        # Held read-only for the copy only: no writer can be half-way through a commit meanwhile.
        with self.ws.connect(read_only=True):
            stamp = self._stamp()  # what is copied now (a commit may have landed since the check)
            shutil.copyfile(self.ws.catalog_path, target)
            wal = self.ws.catalog_path.with_name("catalog.duckdb.wal")
            if wal.exists():
                shutil.copyfile(wal, target.with_name(target.name + ".wal"))
        self.copy_seconds += time.perf_counter() - started
        self.copies += 1
        self._snapshots.append(_Snapshot(target, stamp))
        while len(self._snapshots) > KEEP_SNAPSHOTS:
            old = self._snapshots.pop(0)
            old.connection.close()
            for path in (old.path, old.path.with_name(old.path.name + ".wal")):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            for snapshot in self._snapshots:
                snapshot.connection.close()
                for path in (snapshot.path, snapshot.path.with_name(snapshot.path.name + ".wal")):
                    path.unlink(missing_ok=True)
            self._snapshots.clear()


class SnapshotWorkspace(Workspace):
    """A workspace whose reads come from catalog snapshots (writes still go to the catalog itself)."""

    def __init__(self, root: str | os.PathLike[str], snapshots: CatalogSnapshots | None = None) -> None:
        super().__init__(root)
        self.snapshots = snapshots or CatalogSnapshots(Workspace(root))

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            with super().connect(read_only=False) as con:
                yield con
            return
        cursor = self.snapshots.current().connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    @contextlib.contextmanager
    def connect_isolated(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own (a fresh in-memory database with the snapshot attached read-only), for
        a caller that changes connection settings (``thresher query`` locks its connection down): settings
        of a shared connection would reach every other request."""
        snapshot = self.snapshots.current()
        con = duckdb.connect(":memory:")
        try:
            literal = "'" + str(snapshot.path).replace("'", "''") + "'"
            con.execute(f"ATTACH {literal} AS catalog (READ_ONLY)")
            con.execute("USE catalog")
            yield con
        finally:
            con.close()
