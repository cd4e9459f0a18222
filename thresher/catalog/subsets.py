"""Names of subsets: ``name``, ``name@v2`` (or ``name@2``), and where a version lives."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from thresher.catalog.names import check_name, utcnow
from thresher.catalog.tables import insert_row
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError


@dataclass(frozen=True)
class SubsetRef:
    name: str
    version: int | None  # None: the latest

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@v{self.version}"


def parse_subset_ref(text: str) -> SubsetRef:
    name, _, version = text.partition("@")
    check_name(name, "subset name")
    if not version:
        return SubsetRef(name, None)
    digits = version[1:] if version[:1] in ("v", "V") else version
    if not digits.isdigit() or int(digits) < 1:
        raise ThresherError(f"invalid version {version!r} in {text!r}: use name@v1, name@v2, …")
    return SubsetRef(name, int(digits))


def subset_exists(ws: Workspace, name: str) -> bool:
    """Whether any version of subset ``name`` is recorded."""
    if not ws.exists:
        return False
    with ws.connect(read_only=True) as con:
        return con.execute("SELECT count(*) FROM subsets WHERE name = ?", [name]).fetchone()[0] > 0


def versions_of(con: duckdb.DuckDBPyConnection, name: str) -> list[int]:
    """The version numbers of subset ``name``, ascending (none for a name the catalog does not know)."""
    query = "SELECT version FROM subsets WHERE name = ? ORDER BY version"
    return [r[0] for r in con.execute(query, [name]).fetchall()]


def known_versions(con: duckdb.DuckDBPyConnection, name: str) -> list[int]:
    """:func:`versions_of`, or, for an unknown name, a one-line error listing the subsets there are."""
    versions = versions_of(con, name)
    if not versions:
        known = [r[0] for r in con.execute("SELECT DISTINCT name FROM subsets ORDER BY 1").fetchall()]
        raise ThresherError(
            f"unknown subset {name!r}; known: {', '.join(known) or 'none (run thresher select)'}"
        )
    return versions


def subset_row(ws: Workspace, ref: SubsetRef) -> dict[str, Any]:
    """The catalog row of a subset version (the latest when the ref names none)."""
    if not ws.exists:
        raise ThresherError(f"unknown subset {ref}: the workspace {ws.root} is empty")
    with ws.connect(read_only=True) as con:
        versions = known_versions(con, ref.name)
        version = ref.version or versions[-1]
        if version not in versions:
            raise ThresherError(
                f"subset {ref.name!r} has no version v{version}; it has "
                + ", ".join(f"v{v}" for v in versions)
            )
        cur = con.execute("SELECT * FROM subsets WHERE name = ? AND version = ?", [ref.name, version])
        row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    row["params"] = json.loads(row["params"]) if row.get("params") else {}
    ids = ws.subset_dir(row["name"], int(row["version"])) / "ids.parquet"
    if not ids.is_file():
        raise ThresherError(
            f"the files of subset {row['name']}@v{row['version']} are gone ({ids} is missing): "
            "select it again under a new version"
        )
    return row


def record_destination(ws: Workspace, name: str, version: int, destination: str) -> None:
    """Where ``name@v{version}`` was published (a folder or a Hub repository) and its card there."""
    with ws.connect() as con:
        con.execute(
            "UPDATE subsets SET destination = ?, card_path = ? WHERE name = ? AND version = ?",
            [destination, f"{destination}/README.md", name, version],
        )


# The highest version number a subset has had, kept in ``meta`` once versions are removed (`thresher rm`), so
# a number is never given to another selection: published copies and runs may still name the removed one.
_RETIRED_KEY = "subset_retired_version:"


def retired_version(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """The highest removed version number of subset ``name`` (0 when none was removed)."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [_RETIRED_KEY + name]).fetchone()
    return int(row[0]) if row else 0


def retire_version(con: duckdb.DuckDBPyConnection, name: str, version: int) -> None:
    """Record that ``name@v<version>`` was removed (in the caller's transaction)."""
    highest = max(version, retired_version(con, name))
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_RETIRED_KEY + name, str(highest)])


def move_retired_versions(con: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
    """A renamed subset keeps its record of removed numbers (in the caller's transaction)."""
    con.execute("UPDATE meta SET key = ? WHERE key = ?", [_RETIRED_KEY + new, _RETIRED_KEY + old])


def next_version(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """The version a new selection named ``name`` gets: one past every version it has or had."""
    current = con.execute("SELECT max(version) FROM subsets WHERE name = ?", [name]).fetchone()[0] or 0
    return max(current, retired_version(con, name)) + 1


def planned_version(ws: Workspace, name: str) -> tuple[int, str | None]:
    """(the version a new selection named ``name`` would get now, the version it follows): a short read;
    :func:`commit_version` checks the number again under the write lock."""
    with ws.connect(read_only=True) as con:
        latest = con.execute("SELECT max(version) FROM subsets WHERE name = ?", [name]).fetchone()[0]
        # The version a new one follows is the name's latest, not simply v(N-1): a removed version's
        # number is never reused, so the one before may be gone.
        return next_version(con, name), (f"{name}@v{latest}" if latest else None)


def commit_version(ws: Workspace, staging: Path, out_dir: Path, row: dict[str, Any]) -> None:
    """Make ``staging`` subset version ``row['name']@v{row['version']}``: rename it into place and add its
    row, under the catalog's write lock for just that long. Another select that committed the same number
    meanwhile makes this one fail in one line, its staging left to the caller to remove."""
    name, version = row["name"], int(row["version"])
    with ws.connect() as con:
        if next_version(con, name) != version:
            raise ThresherError(
                f"another select made {name}@v{version} while this one ran; run this one again"
            )
        staging.rename(out_dir)
        try:
            insert_row(con, "subsets", {**row, "created": utcnow()})
        except BaseException:
            out_dir.rename(staging)  # back, so the caller's clean-up removes it
            raise


def first_version(ws: Workspace, name: str) -> tuple[int, int] | None:
    """(version, rows) of subset ``name``'s first version, None when it has none."""
    with ws.connect(read_only=True) as con:
        found = con.execute(
            "SELECT version, n FROM subsets WHERE name = ? ORDER BY version LIMIT 1", [name]
        ).fetchall()
    return (int(found[0][0]), int(found[0][1])) if found else None
