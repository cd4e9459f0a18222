"""No request parameter becomes a path outside the workspace (docs/architecture.md, 'The service').

Config fields that may name a local file or folder are marked ``setting(path="read"|"write")``. A value
that names something local (it starts with ``/``, ``.`` or ``~``, or exists relative to the workspace,
where jobs run) must resolve — symlinks
followed — inside the workspace or, for reads, inside a folder the server was started with
(``--allow-path``). Hub ids (``owner/name``), ``hf://`` URLs, ``builtin:`` sources and workspace names are not
paths and pass. The command line is not confined: its user names paths on their own machine.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from thresher.config_field import nested_config
from thresher.config_json import exposed_fields
from thresher.errors import ConfigError

NOT_PATHS = ("hf://", "builtin:")


def check_request_paths(cls: type, config: Any, workspace: Path, allowed: tuple[Path, ...] = ()) -> None:
    for field in exposed_fields(cls):
        value = getattr(config, field.name)
        nested = nested_config(cls, field)
        if nested is not None and dataclasses.is_dataclass(value):
            check_request_paths(nested, value, workspace, allowed)
            continue
        kind = field.metadata.get("path")
        if kind is None or value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            _check(field.name, str(item), kind, workspace, allowed)


def _check(name: str, value: str, kind: str, workspace: Path, allowed: tuple[Path, ...]) -> None:
    if value.startswith(NOT_PATHS) or not _names_local(value, workspace):
        return
    path = Path(os.path.expanduser(value))
    path = path if path.is_absolute() else workspace / path
    resolved = path.resolve()
    roots = [workspace.resolve()] + ([a.resolve() for a in allowed] if kind == "read" else [])
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        where = "the workspace" + (" or an --allow-path folder" if kind == "read" and allowed else "")
        raise ConfigError(
            f"{name}: {value!r} is outside {where}; the service reads and writes only there", field=name
        )


def _names_local(value: str, workspace: Path) -> bool:
    if value.startswith(("/", ".", "~")):
        return True
    # Jobs run in the workspace folder, so a relative value names something there (or is a Hub id).
    return (workspace / value).exists()
