"""Answers to catalog reads, kept per catalog snapshot: a read repeated before the next commit costs a
dictionary lookup instead of a query.

The curator's pages ask the same few questions over and over (the status, a sample page, a clustering's
table), and their answers change only when the catalog does (docs/architecture.md, 'The service'). This
ASGI middleware keeps the 200 answers of GET requests under :data:`CACHED_PREFIXES`, keyed by the path,
the query string and the snapshot's stamp (the catalog files' mtime, size and inode), in a bounded LRU;
a new commit gives a new stamp, so no answer outlives the data it came from. Reads that follow files the
catalog does not describe — a running job's log and progress, a training run's metrics, thumbnails (which
have their own cache and ETags) — are not cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from thresher.service.security import ASGIApp, Receive, Scope, Send

CACHED_PREFIXES = (
    "/api/status",
    "/api/sources",
    "/api/subsets",
    "/api/clusterings",
    "/api/score_runs",
    "/api/diff",
)
MAX_ENTRIES = 512
MAX_BODY = 4 << 20  # an answer bigger than this is not kept


class ReadCache:
    def __init__(self, app: ASGIApp, stamp: Callable[[], object]) -> None:
        self.app = app
        self.stamp = stamp
        self._entries: OrderedDict[tuple, tuple[int, list, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CACHED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        try:
            stamp = self.stamp()
        except Exception:  # noqa: BLE001 - no catalog yet (or unreadable): answer uncached, the route says why
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""), stamp)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if entry is not None:
            status, headers, body = entry
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        self.misses += 1
        captured: dict[str, Any] = {"body": b""}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"], captured["headers"] = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
                if (
                    not message.get("more_body")
                    and captured.get("status") == 200
                    and len(captured["body"]) <= MAX_BODY
                ):
                    self._keep(key, (captured["status"], captured["headers"], captured["body"]))
            await send(message)

        await self.app(scope, receive, capture)

    def _keep(self, key: tuple, entry: tuple[int, list, bytes]) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
