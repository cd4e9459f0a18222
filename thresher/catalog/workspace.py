"""The workspace folder and its DuckDB catalog — the one place that opens the catalog.

Layout (docs/architecture.md, "Workspace")::

    catalog.duckdb                  sources, samples, runs, subsets, embeddings, evaluations, meta
    sources/<source>/               datasets saved by ingest for built-in and in-memory sources
    embeddings/<source>/<embedder>/ part-*.npy + ids parquet + _SUCCESS markers
    scores/<run-id>/part-*.parquet  long-form scores: sample_id, method, score, cluster, distance, rank
    clusterings/<run-id>/           centroids and sweep tables/plots
    subsets/<name>/v<N>/            ids.parquet, stats.json, README.md card, plots
    runs/<run-id>/                  training runs
    cache/                          latents, evaluation classifiers

A sample's ``sample_id`` is its row number in the pinned revision of its source; every embedding, score and
subset is per source, so (source, sample_id) identifies a row everywhere.

DuckDB lets one process hold the file for writing, and readers cannot open it while a writer does. Every
thresher command therefore holds the catalog only for short transactions, and an open that meets another
process's lock waits and retries for up to :data:`LOCK_WAIT_SECONDS` (``THRESHER_LOCK_WAIT`` to change)
before it fails with one line that names the process holding the lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from thresher.errors import ThresherError

SCHEMA_VERSION = 6
LOCK_WAIT_SECONDS = 60.0
DEFAULT_WORKSPACE = "thresher-workspace"

# Each entry migrates the catalog from version i to i+1; SCHEMA_VERSION == len(_MIGRATIONS).
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE sources (
        id TEXT PRIMARY KEY, uri TEXT NOT NULL, kind TEXT NOT NULL, config TEXT, split TEXT,
        revision TEXT, fingerprint TEXT, n_rows BIGINT, n_ok BIGINT, image_column TEXT,
        label_column TEXT, label_names JSON, license TEXT, created TIMESTAMP);
    CREATE TABLE samples (
        source TEXT NOT NULL, "row" BIGINT NOT NULL, sample_id BIGINT NOT NULL, label INTEGER,
        width INTEGER, height INTEGER, status TEXT NOT NULL, error TEXT);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT, config JSON, config_hash TEXT,
        started TIMESTAMP, finished TIMESTAMP, status TEXT, output TEXT, dataset TEXT);
    CREATE TABLE embeddings (
        source TEXT NOT NULL, embedder TEXT NOT NULL, path TEXT NOT NULL, dim INTEGER, n BIGINT,
        normalized BOOLEAN, reduced_from TEXT, run_id TEXT, created TIMESTAMP,
        PRIMARY KEY (source, embedder));
    CREATE TABLE subsets (
        name TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL, revision TEXT,
        method TEXT, params JSON, config_hash TEXT, n BIGINT, n_source BIGINT, parent TEXT,
        score_run TEXT, created TIMESTAMP, destination TEXT, card_path TEXT,
        PRIMARY KEY (name, version));
    CREATE TABLE evaluations (
        id TEXT PRIMARY KEY, run TEXT, dataset TEXT, extractor TEXT, n BIGINT,
        metrics JSON, created TIMESTAMP, seconds DOUBLE);
    """,
    # v2: sweeps (thresher.experiments.sweep) and the process that owns a running run (to tell "interrupted").
    """
    CREATE TABLE sweeps (name TEXT PRIMARY KEY, spec JSON, path TEXT, created TIMESTAMP, updated TIMESTAMP);
    CREATE TABLE sweep_members (sweep TEXT NOT NULL, cell TEXT NOT NULL, position INTEGER,
        PRIMARY KEY (sweep, cell));
    CREATE TABLE sweep_cells (cell TEXT PRIMARY KEY, description JSON, subset TEXT, run TEXT,
        evaluation TEXT, status TEXT, seconds JSON, finished TIMESTAMP);
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    """,
    # v3: each sample's file (relative to an image folder source; the image cell's own path for others), so
    # `thresher query` can name it.
    """
    ALTER TABLE samples ADD COLUMN file TEXT;
    """,
    # v4: what ingest noticed about a row it keeps (e.g. "blank": near-constant on the white background), as
    # fastdup flags them, so a curator can look before dedup or a selection treats them as content.
    """
    ALTER TABLE samples ADD COLUMN flag TEXT;
    """,
    # v5: what determines a subset version, keyed by the select flags that chose it (thresher.curate
    # .subset_settings), so `thresher status` shows what tells versions apart and nothing that played no part.
    """
    ALTER TABLE subsets ADD COLUMN settings JSON;
    """,
    # v6: a sweep cell's lease while a process runs it (thresher.catalog.sweeps.claim_cell), so two sweep
    # processes sharing cells never run one twice.
    """
    CREATE TABLE cell_leases (cell TEXT PRIMARY KEY, pid INTEGER, host TEXT, started TIMESTAMP);
    """,
]


class Workspace:
    """A thresher workspace: a folder plus its DuckDB catalog, created on first use."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        chosen = root or os.environ.get("THRESHER_WORKSPACE") or DEFAULT_WORKSPACE
        self.root = Path(chosen).expanduser().resolve()

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def exists(self) -> bool:
        return self.catalog_path.exists()

    # -- paths in the catalog --------------------------------------------------------------------
    def to_stored(self, path: str | os.PathLike[str]) -> str:
        """How the catalog records a path: relative to the workspace when inside it, so a workspace can be
        moved or copied (a copy then reads its own files, never the original's); absolute otherwise."""
        absolute = Path(path).expanduser().absolute()
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return str(absolute)

    def from_stored(self, text: str) -> Path:
        """A path as recorded by :meth:`to_stored` (or, in catalogs written before, absolute)."""
        path = Path(text)
        return path if path.is_absolute() else self.root / path

    # -- folders ---------------------------------------------------------------------------------
    def source_dir(self, source: str) -> Path:
        return self.root / "sources" / source

    def embeddings_dir(self, source: str, embedder: str) -> Path:
        return self.root / "embeddings" / source / embedder_folder(embedder)

    def scores_dir(self, run_id: str) -> Path:
        return self.root / "scores" / run_id

    def clustering_dir(self, run_id: str) -> Path:
        return self.root / "clusterings" / run_id

    def subset_dir(self, name: str, version: int) -> Path:
        return self.root / "subsets" / name / f"v{version}"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def reports_dir(self, name: str) -> Path:
        """Where a report lands by default: ``reports/demo/``, ``reports/evaluations/``,
        ``reports/sweep-<name>/`` (one place for all of them, hardening item 14)."""
        return self.root / "reports" / name

    def cache_dir(self, what: str) -> Path:
        path = self.root / "cache" / what
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- catalog ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the catalog; writers create and migrate it, readers need it to exist."""
        if read_only:
            if not self.exists:
                raise ThresherError(f"no thresher workspace at {self.root} (run `thresher ingest` first)")
            con = self._open(read_only=True)
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            con = self._open(read_only=False)
            self._migrate(con)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def connect_isolated(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection no other caller shares, for a reader that changes connection settings
        (``thresher query`` locks its connection down). A plain read-only open here; the service's
        snapshot workspace gives each caller a database instance of its own (``catalog/snapshot.py``)."""
        with self.connect(read_only=True) as con:
            yield con

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the catalog, waiting (bounded) while another process holds its lock."""
        wait = float(os.environ.get("THRESHER_LOCK_WAIT", LOCK_WAIT_SECONDS))
        deadline = time.monotonic() + wait
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.catalog_path), read_only=read_only)
            except duckdb.IOException as exc:
                message = str(exc)
                if "lock" not in message.lower() or time.monotonic() >= deadline:
                    raise ThresherError(_open_error(self.catalog_path, message, read_only, wait)) from None
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ThresherError(f"cannot open the catalog {self.catalog_path}: {first}") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        has_meta = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()[0]
        version = 0
        if has_meta:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise ThresherError(
                f"workspace {self.root} has catalog schema v{version}; this thresher knows v{SCHEMA_VERSION}: upgrade thresher"
            )
        for step in range(version, SCHEMA_VERSION):
            con.execute("BEGIN")
            con.execute(_MIGRATIONS[step])
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(step + 1)])
            con.execute("COMMIT")

    # -- small typed look-ups used across commands ------------------------------------------------
    def source_row(self, source: str) -> dict[str, Any]:
        with self.connect(read_only=True) as con:
            return fetch_source(con, source)

    def only_source(self) -> str:
        """The workspace's source when there is exactly one (so most commands need no --source)."""
        with self.connect(read_only=True) as con:
            ids = [r[0] for r in con.execute("SELECT id FROM sources ORDER BY created").fetchall()]
        if not ids:
            raise ThresherError("the workspace has no sources yet: run `thresher ingest SOURCE` first")
        if len(ids) > 1:
            raise ThresherError(f"the workspace has several sources ({', '.join(ids)}): pass --source")
        return ids[0]

    def has_source(self, source: str) -> bool:
        if not self.exists:
            return False
        with self.connect(read_only=True) as con:
            return con.execute("SELECT count(*) FROM sources WHERE id = ?", [source]).fetchone()[0] > 0

    def source_with_uri(self, uri: str, revision: str | None) -> str | None:
        """The id of the source ingested from ``uri`` at ``revision``, None when there is none."""
        if not self.exists:
            return None
        with self.connect(read_only=True) as con:
            row = con.execute(
                "SELECT id FROM sources WHERE uri = ? AND revision = ?", [uri, revision]
            ).fetchone()
        return row[0] if row else None

    def resolve_source(self, source: str | None) -> str:
        if source is None:
            return self.only_source()
        self.source_row(source)
        return source


def _open_error(path: Path, message: str, read_only: bool, waited: float) -> str:
    what = "reading" if read_only else "writing"
    holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if holder:
        return (
            f"the catalog {path} is busy: process {holder.group(2)} ({holder.group(1)}) held it for "
            f"{waited:.0f} s while this command waited to open it for {what}; try again when it finishes"
        )
    if "lock" in message.lower():
        return f"the catalog {path} is locked by another process; waited {waited:.0f} s to open it for {what}"
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return f"cannot open the catalog {path} for {what}: {first}"


def fetch_source(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, Any]:
    cur = con.execute("SELECT * FROM sources WHERE id = ?", [source])
    row = cur.fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT id FROM sources").fetchall()]
        raise ThresherError(
            f"unknown source {source!r}; known: {', '.join(known) or 'none (run thresher ingest)'}"
        )
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def embedder_folder(embedder: str) -> str:
    """A folder name for an embedder spec such as ``clip:ViT-B-32/laion2b_s34b_b79k``."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", embedder)
