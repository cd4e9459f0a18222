"""`thresher serve`: one server per workspace, on a port it checked it can have, with uvicorn.

The workspace is claimed with an exclusive ``flock`` on ``.serve/server.lock`` (released by the kernel
when the process dies, even by SIGKILL), so a second server on the same workspace stops with one line
naming the first. The port is bound before anything starts, and uvicorn is handed that socket, so a port
in use is one line too, never a traceback half-way through start-up.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import socket
import webbrowser
from collections.abc import Callable
from pathlib import Path

from thresher.errors import ThresherError
from thresher.service.config import ServeConfig


def claim_workspace(root: Path) -> int:
    """Lock the workspace for this server; returns the open lock file's descriptor (keep it open)."""
    folder = root / ".serve"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        os.close(fd)
        try:
            who = json.loads(holder)
            at = f" (pid {who.get('pid')}, {who.get('url')})"
        except ValueError:
            at = ""
        raise ThresherError(f"workspace {root} is already served by another thresher serve{at}") from None
    return fd


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns TCP_NODELAY on only for sockets whose protocol says TCP, and without it
    # every response waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ThresherError(f"port {port} on {host} is in use: choose another with --port") from None
        raise ThresherError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def server_token(config: ServeConfig) -> str | None:
    """THRESHER_TOKEN if set; else a fresh one off loopback (printed once, as Jupyter does); else none."""
    token = os.environ.get("THRESHER_TOKEN") or None
    if token is None and not config.loopback:
        token = secrets.token_urlsafe(24)
    return token


def serve(root: Path, config: ServeConfig, say: Callable[[str], None] = print) -> None:
    import uvicorn

    from thresher.service.app import create_app

    root = root.absolute()
    lock = claim_workspace(root)
    sock = bind(config.host, config.port)
    token = server_token(config)
    shown_host = f"[{config.host}]" if ":" in config.host else config.host
    url = f"http://{shown_host}:{sock.getsockname()[1]}/"
    os.ftruncate(lock, 0)
    os.pwrite(lock, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)
    app = create_app(root, config, token=token)
    say(f"thresher serve: {url}  (workspace {root}; {config.workers} workers, executor {config.executor})")
    if token is not None:
        say(f"open {url}?token={token}")
    if config.open_browser:
        webbrowser.open(url + (f"?token={token}" if token else ""))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        os.close(lock)
