"""Where a command writes: checked before any work, so a bad destination is one line and costs nothing."""

from __future__ import annotations

import os
from pathlib import Path

from thresher.errors import ThresherError


def writable_folder(path: str | os.PathLike[str], option: str) -> Path:
    """``path`` as a folder that exists (created) and can be written, or a one-line error naming ``option``:
    an existing file, a path under a file, a folder that cannot be created or written."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ThresherError(f"{option} {folder} is a file, not a folder")
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ThresherError(f"{option} {folder} is under {ancestor}, which is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ThresherError(f"cannot create {option} {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ThresherError(f"{option} {folder} is not writable")
    return folder


def new_output_file(path: str | os.PathLike[str], option: str) -> Path:
    """A file path that does not exist yet, in a writable folder (one line otherwise)."""
    target = Path(path).expanduser()
    if target.exists():
        raise ThresherError(f"{option} {target} already exists: choose a new path")
    writable_folder(target.parent if str(target.parent) else ".", option)
    return target
