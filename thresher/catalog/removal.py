"""`thresher rm`: remove a source, a subset version or a run, and (asked to) what depends on it
(docs/architecture.md, 'Removing and renaming').

What depends on what, each edge a column or a recorded config key of the catalog:

- a **source**: its embeddings, every run over it (``runs.source``), every subset version of it;
- a **run**: the runs whose recorded config names it (:data:`RUN_REFERENCES`: a score run's pretraining or
  clustering, a reweighting's reference run, a training's weights or clusters), the subset versions selected
  with it (``subsets.score_run``, ``params.clustering``), its evaluations, the sweep cells it trained, and
  the embeddings it made (``embeddings.run_id``);
- a **subset version**: the runs trained on it (``runs.dataset``), their evaluations (``evaluations.dataset``)
  and the sweep cells that used it (``sweep_cells.subset``);
- an **evaluation**: the sweep cells it scored.

A version's ``parent`` is no dependency: it names the version before, whose files the later one never
reads, so removing v1 leaves v2 whole. A sweep keeps its row and its list of cells: a cell whose row is
removed is one the sweep has not finished, and its next run computes it again.

The removal is one catalog transaction (what depends on the thing is worked out inside it, so nothing that
starts to depend on it meanwhile is missed), and the files go after the commit: a crash in between leaves
folders no row names, which nothing reads (:func:`thresher.catalog.staging.discard`). Paths the catalog
records outside the workspace and published copies (``publish --to``, the Hub) are never deleted.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from thresher.catalog.config import RemoveConfig
from thresher.catalog.image_store import source_stores_dir
from thresher.catalog.runs import shown_status
from thresher.catalog.staging import discard
from thresher.catalog.subsets import known_versions, parse_subset_ref, retire_version
from thresher.catalog.workspace import Workspace, fetch_source
from thresher.errors import ThresherError

# The keys of a run's recorded config that name another run of the workspace.
RUN_REFERENCES = ("pretrain", "clustering", "clusters", "reference", "weights")
NAMED_IN_REFUSAL = 8  # dependents a refusal names; the rest it counts


@dataclass(frozen=True)
class Item:
    """One removable thing: ``kind`` is source, embeddings, run, subset, evaluation or cell; ``name`` its
    key (an embeddings' embedder, with ``source``; a subset's name, with ``version``)."""

    kind: str
    name: str
    version: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        if self.kind == "subset":
            return f"subset {self.name}@v{self.version}"
        if self.kind == "embeddings":
            return f"embeddings {self.name} of {self.source}"
        if self.kind == "cell":
            return f"sweep cell {self.name[:12]}"
        return f"{self.kind} {self.name}"


@dataclass
class Removal:
    """What removing ``targets`` takes: the dependents (in the order found), a line for each item, and
    the paths to delete once the rows are gone."""

    targets: list[Item]
    dependents: list[Item]
    labels: dict[Item, str] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)  # inside the workspace
    outside: list[str] = field(default_factory=list)  # recorded outside the workspace: left alone
    published: list[str] = field(default_factory=list)  # copies of removed subset versions: left alone
    running: list[str] = field(default_factory=list)  # runs whose process is alive on this machine

    @property
    def items(self) -> list[Item]:
        return self.targets + self.dependents


@dataclass
class RemovalResult:
    what: str
    removed: list[str]
    dry_run: bool
    published: list[str]
    left_outside: list[str]

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{verb} {label}" for label in self.removed]
        out += [f"published copy not deleted: {destination}" for destination in self.published]
        out += [f"left in place (outside the workspace): {path}" for path in self.left_outside]
        if self.dry_run:
            out.append("dry run: nothing was changed")
        return out


def remove(ws: Workspace, config: RemoveConfig) -> RemovalResult:
    """Remove what ``config`` names; without ``force`` refuse (one line naming them) while anything depends
    on it, with ``force`` remove that too; ``dry_run`` only says what would go."""
    if not ws.exists:
        raise ThresherError(f"unknown {config.kind} {config.name!r}: the workspace {ws.root} is empty")
    if config.dry_run:
        with ws.connect(read_only=True) as con:
            removal = plan_removal(ws, con, find_targets(con, config.kind, config.name))
        return _result(config, removal, dry_run=True)
    with ws.connect() as con:
        con.execute("BEGIN")
        try:
            removal = plan_removal(ws, con, find_targets(con, config.kind, config.name))
            _refuse(config, removal)
            delete_rows(con, removal.items)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already rolled back
                con.execute("ROLLBACK")
            raise
    for path in removal.paths:
        discard(path)
    for item in removal.items:  # a subset's folder once its last version is gone
        if item.kind == "subset":
            _remove_if_empty(ws.subset_dir(item.name, int(item.version or 0)).parent)
    return _result(config, removal, dry_run=False)


def _result(config: RemoveConfig, removal: Removal, dry_run: bool) -> RemovalResult:
    removed = [removal.labels[item] for item in removal.items]
    return RemovalResult(_what(config, removal), removed, dry_run, removal.published, removal.outside)


def _what(config: RemoveConfig, removal: Removal) -> str:
    if len(removal.targets) == 1:
        return str(removal.targets[0])
    return f"subset {config.name} ({', '.join(f'v{t.version}' for t in removal.targets)})"


def _refuse(config: RemoveConfig, removal: Removal) -> None:
    what = _what(config, removal)
    if removal.running:
        raise ThresherError(
            f"{removal.running[0]} is still running: wait for it to finish or stop it before removing {what}"
        )
    if removal.dependents and not config.force:
        named = ", ".join(str(d) for d in removal.dependents[:NAMED_IN_REFUSAL])
        more = len(removal.dependents) - NAMED_IN_REFUSAL
        named += f" and {more} more" if more > 0 else ""
        raise ThresherError(
            f"{what} is needed by {named}: pass --force to remove them with it (--dry-run lists what would go)"
        )


def find_targets(con: duckdb.DuckDBPyConnection, kind: str, name: str) -> list[Item]:
    """The items ``thresher rm KIND NAME`` names (a subset name alone: every version); unknown: one line."""
    if kind == "source":
        fetch_source(con, name)  # a one-line error listing the known sources
        return [Item("source", name)]
    if kind == "run":
        if con.execute("SELECT count(*) FROM runs WHERE id = ?", [name]).fetchone()[0] == 0:
            raise ThresherError(f"unknown run {name!r} (`thresher status` lists the runs)")
        return [Item("run", name)]
    ref = parse_subset_ref(name)
    versions = known_versions(con, ref.name)
    if ref.version is not None and ref.version not in versions:
        have = ", ".join(f"v{v}" for v in versions)
        raise ThresherError(f"subset {ref.name!r} has no version v{ref.version}; it has {have}")
    return [Item("subset", ref.name, v) for v in versions if ref.version in (None, v)]


def plan_removal(ws: Workspace, con: duckdb.DuckDBPyConnection, targets: list[Item]) -> Removal:
    """Everything that depends on ``targets``, followed to the end, with the paths and lines of each."""
    references = run_references(con)
    found = dict.fromkeys(targets)
    queue = list(targets)
    while queue:
        for dependent in depends_on(con, queue.pop(0), references):
            if dependent not in found:
                found[dependent] = None
                queue.append(dependent)
    removal = Removal(targets, [item for item in found if item not in targets])
    paths: dict[Path, None] = {}
    for item in removal.items:
        removal.labels[item] = _label(con, item)
        for path in _paths(ws, con, item):
            if _inside(ws, path):
                paths[path] = None
            elif path.exists():
                removal.outside.append(str(path))
        if item.kind == "subset":
            destination = con.execute(
                "SELECT destination FROM subsets WHERE name = ? AND version = ?", [item.name, item.version]
            ).fetchone()[0]
            removal.published += [destination] if destination else []
        if item.kind == "run" and _alive(con, item.name):
            removal.running.append(str(item))
    removal.paths = list(paths)
    return removal


def run_references(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Run id → the runs whose recorded config names it under one of :data:`RUN_REFERENCES`."""
    out: dict[str, list[str]] = {}
    for run_id, text in con.execute("SELECT id, config FROM runs ORDER BY started").fetchall():
        config = json.loads(text) if text else {}
        for key in RUN_REFERENCES:
            value = config.get(key) if isinstance(config, dict) else None
            if isinstance(value, str) and value != run_id:
                out.setdefault(value, []).append(run_id)
    return out


def depends_on(
    con: duckdb.DuckDBPyConnection, item: Item, references: dict[str, list[str]] | None = None
) -> list[Item]:
    """What depends on ``item`` directly (see the module's docstring)."""

    def rows(sql: str, *params: object) -> list[tuple]:
        return con.execute(sql, list(params)).fetchall()

    def runs(sql: str, *params: object) -> list[Item]:
        return [Item("run", r[0]) for r in rows(sql, *params)]

    def subsets(sql: str, *params: object) -> list[Item]:
        return [Item("subset", name, version) for name, version in rows(sql, *params)]

    def evaluations(sql: str, *params: object) -> list[Item]:
        return [Item("evaluation", r[0]) for r in rows(sql, *params)]

    def cells(sql: str, *params: object) -> list[Item]:
        return [Item("cell", r[0]) for r in rows(sql, *params)]

    if item.kind == "source":
        return (
            [Item("embeddings", e, source=item.name) for (e,) in rows(
                "SELECT embedder FROM embeddings WHERE source = ? ORDER BY created", item.name)]
            + subsets("SELECT name, version FROM subsets WHERE source = ? ORDER BY name, version", item.name)
            + runs("SELECT id FROM runs WHERE source = ? ORDER BY started", item.name)
        )  # fmt: skip
    if item.kind == "run":
        if references is None:
            references = run_references(con)
        return (
            [Item("run", r) for r in references.get(item.name, [])]
            + subsets(
                "SELECT name, version FROM subsets WHERE score_run = ? "
                "OR json_extract_string(params, '$.clustering') = ? ORDER BY name, version",
                item.name, item.name,
            )
            + evaluations("SELECT id FROM evaluations WHERE run = ? ORDER BY created", item.name)
            + cells("SELECT cell FROM sweep_cells WHERE run = ? ORDER BY cell", item.name)
            + [Item("embeddings", e, source=s) for s, e in rows(
                "SELECT source, embedder FROM embeddings WHERE run_id = ?", item.name)]
        )  # fmt: skip
    if item.kind == "subset":
        ref = f"{item.name}@v{item.version}"
        return (
            runs("SELECT id FROM runs WHERE dataset = ? ORDER BY started", ref)
            + evaluations("SELECT id FROM evaluations WHERE dataset = ? ORDER BY created", ref)
            + cells("SELECT cell FROM sweep_cells WHERE subset = ? ORDER BY cell", ref)
        )
    if item.kind == "evaluation":
        return cells("SELECT cell FROM sweep_cells WHERE evaluation = ? ORDER BY cell", item.name)
    return []


def delete_rows(con: duckdb.DuckDBPyConnection, items: list[Item]) -> None:
    """Delete the catalog rows of ``items`` (in the caller's transaction). A removed subset version's number
    is retired: the next selection of that name gets a new one."""
    for item in items:
        if item.kind == "source":
            con.execute("DELETE FROM samples WHERE source = ?", [item.name])
            con.execute("DELETE FROM sources WHERE id = ?", [item.name])
        elif item.kind == "embeddings":
            con.execute("DELETE FROM embeddings WHERE source = ? AND embedder = ?", [item.source, item.name])
        elif item.kind == "run":
            con.execute("DELETE FROM runs WHERE id = ?", [item.name])
        elif item.kind == "subset":
            con.execute("DELETE FROM subsets WHERE name = ? AND version = ?", [item.name, item.version])
            retire_version(con, item.name, int(item.version or 0))
        elif item.kind == "evaluation":
            con.execute("DELETE FROM evaluations WHERE id = ?", [item.name])
        elif item.kind == "cell":
            con.execute("DELETE FROM sweep_cells WHERE cell = ?", [item.name])


def _paths(ws: Workspace, con: duckdb.DuckDBPyConnection, item: Item) -> list[Path]:
    """The files and folders that are ``item``'s."""
    if item.kind == "source":
        # embeddings_dir(source, embedder) is embeddings/<source>/<embedder>: the source's folder holds all
        return [
            ws.source_dir(item.name),
            ws.root / "embeddings" / item.name,
            source_stores_dir(ws, item.name),
        ]
    if item.kind == "embeddings":
        row = con.execute(
            "SELECT path FROM embeddings WHERE source = ? AND embedder = ?", [item.source, item.name]
        ).fetchone()
        return [ws.from_stored(row[0]), ws.embeddings_dir(str(item.source), item.name)] if row else []
    if item.kind == "run":
        row = con.execute("SELECT output FROM runs WHERE id = ?", [item.name]).fetchone()
        recorded = [ws.from_stored(row[0])] if row and row[0] else []
        return [ws.scores_dir(item.name), ws.clustering_dir(item.name), ws.run_dir(item.name), *recorded]
    if item.kind == "subset":
        return [ws.subset_dir(item.name, int(item.version or 0))]
    if item.kind == "evaluation":
        # Written beside the evaluated run (eval_run.py), or under evaluations/ for --images evaluations.
        row = con.execute("SELECT run FROM evaluations WHERE id = ?", [item.name]).fetchone()
        run = row[0] if row else None
        folder = (ws.run_dir(run) if "/" not in run else Path(run)) if run else ws.root / "evaluations"
        return [
            folder / "evaluations" / f"{item.name}.json",
            folder / "evaluations" / f"{item.name}-grid.png",
        ]
    return []


def _inside(ws: Workspace, path: Path) -> bool:
    """Whether ``path`` is inside the workspace, at least two levels down (never the root, the catalog or
    a top folder such as ``runs/``). Its last part is not resolved: a symlink there is removed, not followed."""
    where = path.parent.resolve() / path.name
    return where.is_relative_to(ws.root) and len(where.relative_to(ws.root).parts) >= 2


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (other versions, a leftover being cleaned) or gone
        folder.rmdir()


def _alive(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Whether the run's process is running now, on this machine (elsewhere nothing here can tell)."""
    row = con.execute("SELECT status, pid, host FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None or row[1] is None or row[2] != socket.gethostname():
        return False
    return shown_status(*row) == "running"


def _label(con: duckdb.DuckDBPyConnection, item: Item) -> str:
    """A line for people: the item and what tells it apart."""
    if item.kind == "source":
        row = con.execute("SELECT kind, uri, n_rows FROM sources WHERE id = ?", [item.name]).fetchone()
        return f"{item} ({row[2]} rows, {row[0]}:{row[1]})" if row else str(item)
    if item.kind == "run":
        row = con.execute("SELECT kind, dataset, source FROM runs WHERE id = ?", [item.name]).fetchone()
        return f"{item} ({row[0]} on {row[1] or row[2]})" if row else str(item)
    if item.kind == "subset":
        row = con.execute(
            "SELECT n, n_source, source FROM subsets WHERE name = ? AND version = ?",
            [item.name, item.version],
        ).fetchone()
        return f"{item} ({row[0]} of {row[1]} rows of {row[2]})" if row else str(item)
    if item.kind == "evaluation":
        row = con.execute("SELECT run, extractor, n FROM evaluations WHERE id = ?", [item.name]).fetchone()
        return f"{item} (of run {row[0]}, {row[1]} features, n={row[2]})" if row else str(item)
    if item.kind == "cell":
        sweeps = [r[0] for r in con.execute(
            "SELECT DISTINCT sweep FROM sweep_members WHERE cell = ? ORDER BY 1", [item.name]).fetchall()]  # fmt: skip
        return f"{item} (of sweep {', '.join(sweeps)}: it will be computed again)" if sweeps else str(item)
    return str(item)
