"""Lists of sample ids in files: what ``thresher select --method ids --ids FILE`` reads, and where the
service writes the ids a lasso on the embedding map holds.

A list is Parquet (a ``sample_id`` column, or a file of one integer column) or text: one id per line, the
first comma-separated field of a CSV line, an optional ``sample_id`` header, blank lines and ``#``
comments skipped. Ids are returned sorted and without repeats. Lists the service writes go to
``selections/<digest>.parquet``, named by their content, so writing one twice writes the same file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

PARQUET_SUFFIXES = (".parquet", ".pq")


def read_id_list(path: str | os.PathLike[str]) -> np.ndarray:
    """The sample ids a file lists (int64, ascending, unique); a one-line error naming the file and what
    is wrong with it otherwise."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ThresherError(f"--ids {path}: no such file")
    ids = _parquet_ids(path) if path.suffix.lower() in PARQUET_SUFFIXES else _text_ids(path)
    if len(ids) and ids.min() < 0:
        raise ThresherError(f"--ids {path}: sample ids are row numbers, but it holds {int(ids.min())}")
    return np.unique(ids)


def write_id_list(ws: Workspace, sample_ids: np.ndarray) -> Path:
    """``selections/<digest>.parquet`` with the ids (ascending, unique), written atomically; its path."""
    ids = np.unique(np.asarray(sample_ids, dtype=np.int64))
    digest = hashlib.sha1(ids.tobytes()).hexdigest()[:20]
    folder = ws.root / "selections"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.parquet"
    if not path.is_file():
        temporary = folder / f".{digest}.{os.getpid()}.tmp"
        pq.write_table(pa.table({"sample_id": pa.array(ids, pa.int64())}), temporary)
        os.replace(temporary, path)
    return path


def _parquet_ids(path: Path) -> np.ndarray:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ThresherError(f"--ids {path}: not a readable Parquet file ({first})") from None
    names = table.column_names
    column = "sample_id" if "sample_id" in names else (names[0] if len(names) == 1 else None)
    if column is None:
        raise ThresherError(f"--ids {path}: needs a sample_id column (it has {', '.join(names)})")
    values = table.column(column)
    if not pa.types.is_integer(values.type):
        raise ThresherError(f"--ids {path}: column {column!r} holds {values.type}, not integer sample ids")
    if values.null_count:
        raise ThresherError(f"--ids {path}: column {column!r} has {values.null_count} empty values")
    return values.to_numpy().astype(np.int64, copy=False)


def _text_ids(path: Path) -> np.ndarray:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ThresherError(f"--ids {path}: cannot read it as text ({type(exc).__name__})") from None
    ids: list[int] = []
    header_allowed = True
    for number, line in enumerate(lines, 1):
        text = line.split(",", 1)[0].strip().strip('"')
        if not text or text.startswith("#"):
            continue
        if header_allowed and text == "sample_id":
            header_allowed = False
            continue
        header_allowed = False
        try:
            ids.append(int(text))
        except ValueError:
            raise ThresherError(f"--ids {path}: line {number}: {text[:40]!r} is not a sample id") from None
    return np.asarray(ids, dtype=np.int64)
