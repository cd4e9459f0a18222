"""A real `thresher serve` (uvicorn on a free 127.0.0.1 port) in a thread of the test process, for the
browser tests, the screenshots and the thumbnail benchmark. Jobs still run in processes of their own."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from thresher.service.app import create_app
from thresher.service.config import ServeConfig


@contextlib.contextmanager
def live_server(workspace: Path, **config: Any) -> Iterator[str]:
    """Serve ``workspace`` until the block ends; yields the base URL (``http://127.0.0.1:PORT``)."""
    # IPPROTO_TCP named, so asyncio sets TCP_NODELAY on the connections (with proto 0 it does not, and every
    # response with a body waits ~40 ms for the client's delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = create_app(workspace, ServeConfig(port=port, **config))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
