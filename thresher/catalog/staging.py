"""Staging folders: where a command builds what becomes visible only by a rename, and how leftovers of a
killed command are cleaned without ever touching what another process (or another person) owns; and the
reverse, a folder removed by first renaming it out of sight (:func:`discard`).

A staging folder records the process that builds it (pid and host, in :data:`OWNER_FILE`). A later command
removes a leftover staging folder only when that record says it was made on this host by a process that
no longer exists; a folder without the record, of another host, or of a live process is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

OWNER_FILE = ".thresher-owner.json"


def _write_owner(folder: Path) -> Path:
    (folder / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    return folder


def new_staging(path: Path) -> Path:
    """A fresh staging folder at ``path`` (a leftover of the same name is replaced), owned by this process."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return _write_owner(path)


def new_temp_staging(parent: Path, prefix: str) -> Path:
    """A fresh uniquely named staging folder in ``parent`` (``prefix`` + random), owned by this process."""
    return _write_owner(Path(tempfile.mkdtemp(prefix=prefix, dir=parent)))


def seal(folder: Path) -> Path:
    """Drop the owner record before the folder is renamed into place."""
    (folder / OWNER_FILE).unlink(missing_ok=True)
    return folder


def remove_abandoned(parent: Path, pattern: str) -> list[Path]:
    """Delete the staging folders in ``parent`` matching ``pattern`` whose builder is provably gone."""
    from thresher.catalog.runs import shown_status

    removed = []
    if not parent.is_dir():
        return removed
    for folder in parent.glob(pattern):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if shown_status("running", owner.get("pid"), owner.get("host")) == "interrupted":
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def discard(path: Path) -> None:
    """Delete a file or folder so that no one ever sees a folder half deleted at its name: a folder is first
    renamed to a hidden name owned by this process (one atomic step), then deleted; the leftover of a
    removal killed half way is cleaned by the next one (:func:`remove_abandoned`). A symlink is unlinked,
    never followed."""
    if path.is_dir() and not path.is_symlink():
        remove_abandoned(path.parent, ".*.removed-*")
        _write_owner(path)
        trash = path.parent / f".{path.name}.removed-{uuid.uuid4().hex[:8]}"
        path.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
    elif path.is_symlink() or path.exists():
        path.unlink()
