"""Sharded, resumable part files: the on-disk unit shared by the embedding and image stores.

A store is a folder of ``part-NNNNN.npy`` arrays, each with a ``part-NNNNN.ids.parquet`` of the sample ids
its rows belong to, and a ``_SUCCESS.NNNNN`` marker written last (docs/architecture.md, "Workspace"). Both
files are written aside and renamed into place before the marker, so a crash never leaves a half part
marked done. The marker records the two files' sizes and checksums (xxh3-128): a part truncated, replaced
or with bytes changed at the same size (a bad disk, a bad copy) no longer matches and is redone instead of
being read as silently wrong rows. Markers written before checksums were recorded are still read, checked
by size only (docs/architecture.md, "Workspace").
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from thresher.errors import ThresherError

# Why a part cannot be read as complete (``part_problem``).
MISSING = "missing"
RESIZED = "truncated or replaced"
CORRUPT = "corrupt"
FOREIGN_MARKER = "marker unreadable"
_CHUNK = 4 << 20  # bytes hashed per read: large enough that the hash, not the calls, sets the pace


def _own_suffix() -> str:
    """``~host~pid~random.tmp``: a temporary file name of this process, which tells who left it behind."""
    return f"~{socket.gethostname()}~{os.getpid()}~{secrets.token_hex(4)}.tmp"


def remove_dead_temporaries(out_dir: Path) -> list[Path]:
    """Delete the temporary files in ``out_dir`` whose writer is provably gone (this host, pid not alive):
    what a killed build left behind. Files of live processes or of other hosts are never touched."""
    from thresher.catalog.runs import shown_status

    removed = []
    for path in out_dir.glob(".*~*~*~*.tmp") if out_dir.is_dir() else []:
        host, pid = path.name.split("~")[-3:-1]
        if pid.isdigit() and shown_status("running", int(pid), host) == "interrupted":
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_if_only(out_dir: Path, names: set[str]) -> bool:
    """Delete ``out_dir`` when it holds nothing but files named in ``names`` and this process's own
    temporaries: the folder a failed first build made, so no empty store is left to be listed. A folder
    where anything else appeared (a part, another process's temporary) is left alone. True if deleted."""
    own = f"~{socket.gethostname()}~{os.getpid()}~"
    if not out_dir.is_dir() or any(p.name not in names and own not in p.name for p in out_dir.iterdir()):
        return False
    shutil.rmtree(out_dir, ignore_errors=True)
    return True


def part_stem(index: int) -> str:
    return f"part-{index:05d}"


def marker_path(out_dir: Path, index: int) -> Path:
    return out_dir / f"_SUCCESS.{index:05d}"


def part_files(out_dir: Path, index: int) -> tuple[Path, Path]:
    """(array file, ids file) of part ``index``."""
    stem = part_stem(index)
    return out_dir / f"{stem}.npy", out_dir / f"{stem}.ids.parquet"


def part_problem(out_dir: Path, index: int, check_contents: bool = True) -> str | None:
    """Why part ``index`` cannot be read as complete, or None when it can: a file or the marker is
    ``MISSING``; a file is not the size its marker recorded (``RESIZED``); a file's bytes do not hash to the
    checksum its marker recorded (``CORRUPT``; only with ``check_contents``, which reads both files
    whole); the marker is not ours (``FOREIGN_MARKER``). Empty markers (the oldest format) vouch for
    presence only, markers without checksums for sizes only."""
    marker = marker_path(out_dir, index)
    array, ids = part_files(out_dir, index)
    if not (marker.is_file() and array.is_file() and ids.is_file()):
        return MISSING
    text = marker.read_text().strip()
    if not text:
        return None
    try:
        recorded = json.loads(text)
        if recorded["array_bytes"] != array.stat().st_size or recorded["ids_bytes"] != ids.stat().st_size:
            return RESIZED
        sums = recorded.get("array_xxh3_128"), recorded.get("ids_xxh3_128")
    except (ValueError, KeyError, TypeError, AttributeError):
        return FOREIGN_MARKER  # a marker that is not ours: the part is redone
    if not check_contents or sums == (None, None):
        return None
    if sums[0] != file_checksum(array) or sums[1] != file_checksum(ids):
        return CORRUPT
    return None


def part_done(out_dir: Path, index: int, check_contents: bool = True) -> bool:
    """Whether part ``index`` is complete and intact (``part_problem`` finds nothing)."""
    return part_problem(out_dir, index, check_contents) is None


def file_checksum(path: Path) -> str:
    """xxh3-128 of a file's bytes, read in chunks (hex)."""
    digest = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def write_part(out_dir: Path, index: int, ids: np.ndarray, array: np.ndarray, **columns: np.ndarray) -> None:
    """Write part ``index`` (rows ``array``, their ``ids`` and any extra per-row ``columns``) atomically,
    then its marker with the files' sizes and checksums."""
    marker = marker_path(out_dir, index)
    marker.unlink(missing_ok=True)
    array_file, ids_file = part_files(out_dir, index)
    # Temporary names of this process only: two processes that build the same part at once (sweep shards
    # sharing a store) each write whole files and rename them in, never into each other's files.
    own = _own_suffix()
    tmp_array = array_file.with_name(f".{array_file.name}{own}")
    tmp_ids = ids_file.with_name(f".{ids_file.name}{own}")
    with open(tmp_array, "wb") as fh:
        np.save(fh, array)
    table = {"sample_id": pa.array(np.asarray(ids, dtype=np.int64), type=pa.int64())}
    table.update({name: pa.array(values) for name, values in columns.items()})
    pq.write_table(pa.table(table), tmp_ids)
    recorded = {
        "rows": len(ids),
        "array_bytes": tmp_array.stat().st_size,
        "ids_bytes": tmp_ids.stat().st_size,
        "array_xxh3_128": file_checksum(tmp_array),  # read back just written: from the page cache
        "ids_xxh3_128": file_checksum(tmp_ids),
    }
    os.replace(tmp_array, array_file)
    os.replace(tmp_ids, ids_file)
    tmp_marker = marker.with_name(f".{marker.name}{own}")
    tmp_marker.write_text(json.dumps(recorded) + "\n")
    os.replace(tmp_marker, marker)


def read_part(
    out_dir: Path, index: int, columns: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(sample ids int64, the array memory-mapped, the extra ``columns`` as arrays) of part ``index``."""
    array_file, ids_file = part_files(out_dir, index)
    table = pq.read_table(ids_file, columns=["sample_id", *columns])
    ids = table.column("sample_id").to_numpy().astype(np.int64, copy=False)
    extra = {name: table.column(name).to_numpy(zero_copy_only=False) for name in columns}
    return ids, np.load(array_file, mmap_mode="r"), extra


def write_meta(out_dir: Path, meta: dict) -> None:
    tmp = out_dir / f".meta.json{_own_suffix()}"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / "meta.json")


@dataclass(frozen=True)
class ArrayFile:
    """A part's ``.npy`` array read by positioned reads (``os.preadv``) of exactly the rows asked for.

    Not memory-mapped: the pages of a mapped file that a process touches (and the kernel's read-ahead
    around each) count in its resident set, which then grows with the data read rather than with what is
    held: 200 training steps over a 10^5-row store grew RSS by 290 MiB that way (benchmarks/scale.py).
    Holds no open file, so it pickles into DataLoader workers."""

    path: Path
    offset: int  # where the rows start, after the .npy header
    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def open(cls, path: Path) -> ArrayFile:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(fh)
            offset = fh.tell()
        if fortran_order:
            raise ThresherError(f"{path} is not a C-ordered array; delete it to have it rebuilt")
        return cls(path, offset, tuple(shape), np.dtype(dtype))

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (any order, repeats allowed) as one new array; runs of consecutive rows are read
        with one call each."""
        rows = np.asarray(rows, dtype=np.int64)
        unique, inverse = np.unique(rows, return_inverse=True)
        data = np.empty((len(unique), *self.shape[1:]), dtype=self.dtype)
        if len(unique) == 0:
            return data
        if unique[0] < 0 or unique[-1] >= self.shape[0]:
            raise ThresherError(f"{self.path}: rows outside 0..{self.shape[0] - 1}")
        starts = np.concatenate([[0], np.flatnonzero(np.diff(unique) != 1) + 1, [len(unique)]])
        flat = data.reshape(len(unique), -1).view(np.uint8)  # the rows' bytes, filled in place
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for begin, end in zip(starts[:-1], starts[1:], strict=True):
                want = int(end - begin) * self.row_bytes
                got = os.preadv(
                    fd, [flat[begin:end].reshape(-1)], self.offset + int(unique[begin]) * self.row_bytes
                )
                if got != want:
                    raise ThresherError(
                        f"{self.path} is shorter than its header says; delete it to have it rebuilt"
                    )
        finally:
            os.close(fd)
        return data[inverse]
