"""What `thresher query` may read: files, never folders (docs/architecture.md, 'Query').

The allow-list holds the views' own files, resolved inside the resolved workspace, and the files the
query's string literals name (a glob: the files it matches now). A named path that lies in the workspace
but resolves outside it (a symlink) is refused. :func:`lock_down` then switches the connection's external
access off except for that list, with extension loading off and the configuration locked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

import duckdb

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

_GLOB_CHARACTERS = re.compile(r"[*?\[]")


def lock_down(con: duckdb.DuckDBPyConnection, allowed_files: set[str]) -> None:
    """No file access beyond ``allowed_files`` (files, never folders: DuckDB checks a folder entry as a
    path prefix); no extension loading; and the configuration locked so a statement cannot undo it."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET allowed_directories = []")
    con.execute("SET allowed_paths = ?", [sorted(allowed_files)])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def named_files(sql: str, ws: Workspace) -> set[str]:
    """The files the query's string literals name (comments are not literals): what the user asked to read
    explicitly. A glob gives the files DuckDB's own ``glob`` matches now, plus the pattern itself, which
    DuckDB must be allowed to expand. Each file is allowed by its resolved path and, when that is the same
    file, by the path as DuckDB checks it (absolute, ``..`` removed as text). A path that lies in the
    workspace (or passes through a folder that resolves into it) but resolves outside it is refused: a link
    planted in the workspace must not reach the rest of the machine."""
    out: set[str] = set()
    with duckdb.connect() as helper:
        for text in _string_literals(sql):
            # Absolute with its ``..`` kept, so they are followed as the OS follows them (after links).
            as_written = os.path.join(os.getcwd(), os.path.expanduser(text))
            if _GLOB_CHARACTERS.search(text):
                if "/" not in text and not os.path.splitext(text)[1]:
                    continue  # '*' or 'a?' is a value, not a file pattern
                try:
                    paths = [row[0] for row in helper.execute("SELECT file FROM glob(?)", [text]).fetchall()]
                except duckdb.Error:
                    continue
                if paths:
                    out.add(os.path.abspath(as_written))
            else:
                paths = [as_written]
            for path in paths:
                try:
                    resolved = os.path.realpath(path)
                    if not os.path.exists(resolved):
                        continue
                except (OSError, ValueError):  # a literal too long or odd to be a path is not one
                    continue
                if _passes_through(path, ws.root) and not _inside(resolved, ws.root):
                    raise ThresherError(
                        f"query names {text!r}, a path in the workspace that resolves outside the "
                        f"workspace ({resolved}): refused"
                    )
                if os.path.isfile(resolved):
                    out.add(resolved)
                    checked = os.path.abspath(path)
                    if os.path.realpath(checked) == resolved:
                        out.add(checked)
    return out


def _string_literals(sql: str) -> list[str]:
    """The values of the query's string constants, as DuckDB's own tokenizer finds them (so a quote inside
    a comment is not one) and reads them (``'it''s'``, ``E'…'``, ``$$…$$``), on a connection that can
    reach no file."""
    data = sql.encode()
    tokens = duckdb.tokenize(sql)  # byte offsets
    bounds = [offset for offset, _ in tokens[1:]] + [len(data)]
    texts = []
    with duckdb.connect() as con:
        con.execute("SET enable_external_access = false")
        for (offset, kind), end in zip(tokens, bounds, strict=True):
            if kind == duckdb.token_type.string_const:
                token = data[offset:end].decode().strip()
                try:
                    value = con.execute(f"SELECT {token}").fetchone()
                except duckdb.Error:
                    continue
                if value is not None and isinstance(value[0], str):
                    texts.append(value[0])
    return texts


def _passes_through(path: str, root: Path) -> bool:
    """Whether ``path`` or one of its folders is (or links to) the workspace or a place inside it."""
    return any(_inside(os.path.realpath(p), root) for p in (path, *map(str, PurePosixPath(path).parents)))


def _inside(resolved: str, root: Path) -> bool:
    return resolved == str(root) or resolved.startswith(str(root).rstrip("/") + "/")


def view_files(files: list[Path], ws: Workspace) -> set[str]:
    """The workspace files a view reads, as it names them and resolved; each must resolve inside the
    (resolved) workspace, or a link planted there would open another file."""
    allowed = set()
    for f in files:
        real = os.path.realpath(f)
        if not _inside(real, ws.root):
            raise ThresherError(f"workspace file {f} resolves outside the workspace ({real}): refused")
        allowed |= {str(f), real}
    return allowed
