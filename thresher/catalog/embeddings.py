"""The embedding store: one folder per (source, embedder) of sharded, resumable parts, and its catalog rows.

Layout of one store (docs/architecture.md, "Workspace")::

    out_dir/meta.json                 embedder, dim, dtype, normalized, n, parts, shard_size (the part
                                      size; the key's older name, kept so existing stores read), ids_sha1,
                                      background
    out_dir/part-{i:05d}.npy          (rows, dim) float16|float32, rows i*part_size .. of the requested ids
    out_dir/part-{i:05d}.ids.parquet  sample_id int64, same order as the vectors
    out_dir/_SUCCESS.{i:05d}          written last: the part is complete
    out_dir/embedder/                 fitted state of data-fitted embedders (pixels PCA), reused on resume

Parts are written and checked by :mod:`thresher.catalog.part_files` (atomic; markers record sizes and
checksums). The writer (:func:`thresher.curate.embed.embed_dataset`) lives in curate and redoes a part that
is missing, cut short or corrupt; every reader (clustering, dedup, surrogate scores) uses
:class:`EmbeddingStore`, which checks each part's checksums once and refuses a damaged part with one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from thresher.catalog.names import utcnow
from thresher.catalog.part_files import MISSING, marker_path, part_files, part_problem, read_part, write_part
from thresher.catalog.tables import insert_row
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

log = logging.getLogger(__name__)


def write_embedding_part(out_dir: Path, index: int, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Write one part of vectors and their sample ids (atomically, marker last). A part written over a
    marker is one a rerun found damaged: one line says so."""
    if marker_path(out_dir, index).exists():
        problem = part_problem(out_dir, index)
        log.warning("embeddings at %s: redoing part %s (%s)", out_dir, index, problem or "rewritten")
    write_part(out_dir, index, ids, vectors)


def ids_fingerprint(sample_ids: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(sample_ids, dtype=np.int64).tobytes()).hexdigest()


class EmbeddingStore:
    """Read a store written by :func:`embed_dataset` (or :func:`thresher.curate.reduce.reduce_embeddings`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file():
            raise ThresherError(f"no embeddings at {self.path} (no meta.json); run embed first")
        self.meta: dict = json.loads(meta_file.read_text())
        self.embedder: str = self.meta["embedder"]
        self.dim: int = int(self.meta["dim"])
        self.dtype: str = self.meta["dtype"]
        self.normalized: bool = bool(self.meta["normalized"])
        self.n: int = int(self.meta["n"])
        self.num_parts: int = int(self.meta["parts"])
        self._verified: dict[int, tuple] = {}  # part -> the file states whose checksums matched

    def __repr__(self) -> str:
        return f"EmbeddingStore({str(self.path)!r}, embedder={self.embedder!r}, n={self.n}, dim={self.dim})"

    def __len__(self) -> int:
        return self.n

    def problem(self, index: int) -> str | None:
        """Why part ``index`` cannot be read (``part_files.part_problem``), or None. Presence and sizes are
        checked on every call; the checksums once per state of the files (readers ask for every part
        several times: ``ids``, then ``iter_chunks``)."""
        problem = part_problem(self.path, index, check_contents=False)
        if problem is not None:
            return problem
        try:
            stamp = tuple(
                (st.st_size, st.st_mtime_ns, st.st_ino)
                for st in (f.stat() for f in (*part_files(self.path, index), marker_path(self.path, index)))
            )
        except FileNotFoundError:  # removed since the line above
            return MISSING
        if self._verified.get(index) != stamp:
            problem = part_problem(self.path, index)
            if problem is not None:
                return problem
            self._verified[index] = stamp
        return None

    def done_parts(self) -> list[int]:
        return [i for i in range(self.num_parts) if self.problem(i) is None]

    @property
    def complete(self) -> bool:
        return len(self.done_parts()) == self.num_parts

    def part(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """One part: (sample ids int64, vectors memory-mapped in the stored dtype). A part that is not intact
        is refused with one line, never read."""
        problem = self.problem(index)
        if problem is not None:
            raise ThresherError(
                f"part {index} of the embeddings at {self.path} is {problem}: "
                "rerun `thresher embed` to redo it"
            )
        ids, vectors, _ = read_part(self.path, index)
        return ids, vectors

    def _parts(self, allow_partial: bool) -> list[int]:
        done = self.done_parts()
        if len(done) != self.num_parts and not allow_partial:
            damaged = [i for i in range(self.num_parts) if self.problem(i) not in (None, MISSING)]
            if damaged:
                self.part(damaged[0])  # raises, naming the part and what is wrong with it
            raise ThresherError(
                f"embeddings at {self.path} are incomplete ({len(done)}/{self.num_parts} parts); "
                "rerun embed to finish them"
            )
        return done

    def ids(self, allow_partial: bool = False) -> np.ndarray:
        parts = self._parts(allow_partial)
        return np.concatenate([self.part(i)[0] for i in parts]) if parts else np.empty(0, np.int64)

    def iter_chunks(
        self, chunk_rows: int | None = None, allow_partial: bool = False
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (ids, float32 vectors) per part, or per ``chunk_rows`` slice of a part, in store order."""
        for i in self._parts(allow_partial):
            ids, vectors = self.part(i)
            step = chunk_rows or max(len(ids), 1)
            for s in range(0, len(ids), step):
                yield ids[s : s + step], np.asarray(vectors[s : s + step], dtype=np.float32)

    def load(self, allow_partial: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, float32 vectors) in memory; for stores larger than RAM use :meth:`iter_chunks`."""
        chunks = list(self.iter_chunks(allow_partial=allow_partial))
        if not chunks:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def register_embeddings(
    ws: Workspace,
    source: str,
    embedder: str,
    path: Path,
    dim: int,
    n: int,
    normalized: bool,
    reduced_from: str | None,
) -> None:
    with ws.connect() as con:
        con.execute("DELETE FROM embeddings WHERE source = ? AND embedder = ?", [source, embedder])
        insert_row(
            con,
            "embeddings",
            {
                "source": source,
                "embedder": embedder,
                "path": ws.to_stored(path),
                "dim": dim,
                "n": n,
                "normalized": normalized,
                "reduced_from": reduced_from,
                "created": utcnow(),
            },
        )


def embeddings_normalized(ws: Workspace, source: str, embedder: str) -> bool:
    """Whether the source's ``embedder`` vectors are L2-normalized (False when there are none)."""
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT normalized FROM embeddings WHERE source = ? AND embedder = ?", [source, embedder]
        ).fetchone()
    return bool(row and row[0])


def embeddings_path(ws: Workspace, source: str, embedder: str | None) -> tuple[str, Path]:
    """The (embedder, folder) to use: the named one, else the source's only one. With several and none
    named, a one-line error lists them rather than guessing (the most recent is not necessarily meant)."""
    with ws.connect(read_only=True) as con:
        if embedder is None:
            rows = con.execute(
                "SELECT embedder, path FROM embeddings WHERE source = ? ORDER BY created", [source]
            ).fetchall()
            if len(rows) > 1:
                names = ", ".join(r[0] for r in rows)
                raise ThresherError(f"source {source!r} has several embeddings ({names}): pass --embedder")
            row = rows[0] if rows else None
        else:
            row = con.execute(
                "SELECT embedder, path FROM embeddings WHERE source = ? AND embedder = ?", [source, embedder]
            ).fetchone()
    if row is None:
        what = f"embeddings {embedder!r}" if embedder else "embeddings"
        raise ThresherError(f"no {what} for source {source!r}: run `thresher embed` first")
    path = ws.from_stored(row[1])
    if not path.is_dir() and ws.embeddings_dir(source, row[0]).is_dir():
        # An absolute path recorded before paths were stored relative, in a workspace moved since.
        path = ws.embeddings_dir(source, row[0])
    return row[0], path
