"""`thresher mv subset OLD NEW`: rename every version of a subset (docs/architecture.md, 'Removing and
renaming').

The catalog rows (name, and each ``parent`` that names an old version) change in one transaction, then the
folder ``subsets/OLD`` is renamed and each version's ``stats.json`` (what a card is made from at publish)
gets the new name. A rename killed after its commit is finished by running it again.

Refused: a new name that is not a valid name, that a subset has or had (a removed version's number is not
given again, and NEW's could then be), or whose folder exists; and an old name that runs, evaluations or
sweep cells name as ``OLD@vN``: they would name a subset that is gone, so they are listed and the rename is
refused (with no ``--force``: ``thresher rm`` them first, or keep the name). Published copies keep the
old name.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from thresher.catalog.config import MoveConfig
from thresher.catalog.removal import NAMED_IN_REFUSAL, Item, depends_on
from thresher.catalog.subsets import known_versions, move_retired_versions, retired_version, versions_of
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError


@dataclass
class MoveResult:
    old: str
    new: str
    versions: list[int]
    published: list[str]
    finished_earlier_move: bool = False

    def lines(self) -> list[str]:
        listed = ", ".join(f"v{v}" for v in self.versions)
        done = f"subset {self.old} to {self.new} ({listed})"
        out = [f"finished renaming {done}: its files had stayed behind" if self.finished_earlier_move
               else f"renamed {done}"]  # fmt: skip
        out += [f"published copy keeps the old name: {destination}" for destination in self.published]
        return out


def move(ws: Workspace, config: MoveConfig) -> MoveResult:
    old, new = config.old, config.new
    if not ws.exists:
        raise ThresherError(f"unknown subset {old!r}: the workspace {ws.root} is empty")
    with ws.connect() as con:  # held to the end: no other writer meanwhile, files included
        if not versions_of(con, old) and versions_of(con, new) and _files_left_behind(ws, con, old, new):
            return _finish_files(ws, old, new, versions_of(con, new), con, finished=True)
        con.execute("BEGIN")
        try:
            versions = versions_of(con, old)
            _refuse(ws, con, old, new, versions)
            for version, parent in con.execute(
                "SELECT version, parent FROM subsets WHERE name = ? ORDER BY version", [old]
            ).fetchall():
                con.execute(
                    "UPDATE subsets SET name = ?, parent = ? WHERE name = ? AND version = ?",
                    [new, _renamed_ref(parent, old, new), old, version],
                )
            move_retired_versions(con, old, new)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already rolled back
                con.execute("ROLLBACK")
            raise
        return _finish_files(ws, old, new, versions, con, finished=False)


def _refuse(ws: Workspace, con: duckdb.DuckDBPyConnection, old: str, new: str, versions: list[int]) -> None:
    if not versions:
        known_versions(con, old)  # the one-line error listing the subsets there are
    taken = versions_of(con, new)
    if taken:
        have = ", ".join(f"v{v}" for v in taken)
        raise ThresherError(
            f"subset {new!r} exists ({have}): choose another name, or `thresher rm subset {new}`"
        )
    retired = retired_version(con, new)
    if retired:
        raise ThresherError(
            f"subset {new!r} had versions up to v{retired} (removed): its numbers are not given again, so "
            "it cannot take another subset's versions; choose another name"
        )
    folder = _folder(ws, new)
    if folder.exists():
        raise ThresherError(
            f"{folder} exists but the catalog has no subset {new!r}: move it away or choose another name"
        )
    users = [u for v in versions for u in depends_on(con, Item("subset", old, v)) if u.kind != "subset"]
    if users:
        named = ", ".join(str(u) for u in users[:NAMED_IN_REFUSAL])
        more = len(users) - NAMED_IN_REFUSAL
        named += f" and {more} more" if more > 0 else ""
        raise ThresherError(
            f"subset {old} is named by {named}: renamed, they would name a subset that is gone; keep the name "
            f"or remove them first (`thresher rm run ID`; `thresher rm subset {old} --dry-run` lists them all)"
        )


def _renamed_ref(ref: str | None, old: str, new: str) -> str | None:
    """``OLD@vN`` → ``NEW@vN``; any other reference unchanged."""
    if ref is None or not ref.startswith(f"{old}@"):
        return ref
    return new + ref[len(old) :]


def _folder(ws: Workspace, name: str) -> Path:
    return ws.subset_dir(name, 1).parent  # subsets/<name>/, the folder of every version


def _files_left_behind(ws: Workspace, con: duckdb.DuckDBPyConnection, old: str, new: str) -> bool:
    """Whether a rename to ``new`` committed but was killed before its files followed: the files still
    under the old name (in ``subsets/OLD``, or a ``stats.json`` that says OLD) are those of NEW's versions,
    as their config hashes prove."""
    folder = _files_of(ws, old, new)
    hashes = dict(con.execute("SELECT version, config_hash FROM subsets WHERE name = ?", [new]).fetchall())
    behind = {v: _stats(folder / f"v{v}" / "stats.json") for v in hashes}
    behind = {v: stats for v, stats in behind.items() if stats.get("name") == old}
    return bool(behind) and all(stats.get("config_hash") == hashes[v] for v, stats in behind.items())


def _files_of(ws: Workspace, old: str, new: str) -> Path:
    """Where the versions' files are: ``subsets/OLD`` until the rename has moved them."""
    if _folder(ws, old).is_dir() and not _folder(ws, new).exists():
        return _folder(ws, old)
    return _folder(ws, new)


def _stats(path: Path) -> dict:
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stats if isinstance(stats, dict) else {}


def _finish_files(
    ws: Workspace, old: str, new: str, versions: list[int], con: duckdb.DuckDBPyConnection, finished: bool
) -> MoveResult:
    """The files' side of a committed rename: the folder, then each version's stats.json (both steps may be
    repeated: a rerun finishes a rename killed half way)."""
    if _files_of(ws, old, new) == _folder(ws, old):
        _folder(ws, old).rename(_folder(ws, new))
    for version in versions:
        path = ws.subset_dir(new, version) / "stats.json"
        stats = _stats(path)
        if not stats:
            continue  # a version whose files are gone: nothing to rename (reading it says so)
        renamed = {**stats, "name": new}
        if stats.get("parent"):
            renamed["parent"] = _renamed_ref(stats["parent"], old, new)
        if renamed != stats:
            staging = path.with_name(".stats.json.partial")
            staging.write_text(json.dumps(renamed, indent=2))
            os.replace(staging, path)
    published = [
        r[0]
        for r in con.execute(
            "SELECT destination FROM subsets WHERE name = ? AND destination IS NOT NULL ORDER BY version",
            [new],
        ).fetchall()
    ]
    return MoveResult(old, new, versions, published, finished)
