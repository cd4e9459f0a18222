"""Sharded, resumable part files: the on-disk unit shared by the embedding and image stores.

A store is a folder of ``part-NNNNN.npy`` arrays, each with a ``part-NNNNN.ids.parquet`` of the sample ids
its rows belong to, and a ``_SUCCESS.NNNNN`` marker written last (docs/architecture.md, "Workspace"). Both
files are written aside and renamed into place before the marker, so a crash never leaves a half part
marked done. The marker records the two files' sizes: a part truncated or replaced by hand afterwards no
longer matches and counts as missing, so it is redone instead of being read as silently wrong rows.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


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


def part_stem(index: int) -> str:
    return f"part-{index:05d}"


def marker_path(out_dir: Path, index: int) -> Path:
    return out_dir / f"_SUCCESS.{index:05d}"


def part_files(out_dir: Path, index: int) -> tuple[Path, Path]:
    """(array file, ids file) of part ``index``."""
    stem = part_stem(index)
    return out_dir / f"{stem}.npy", out_dir / f"{stem}.ids.parquet"


def part_done(out_dir: Path, index: int) -> bool:
    """Whether part ``index`` is complete: marker and files present, and the files the sizes it recorded
    (markers written before sizes were recorded are empty and only vouch for presence)."""
    marker = marker_path(out_dir, index)
    array, ids = part_files(out_dir, index)
    if not (marker.is_file() and array.is_file() and ids.is_file()):
        return False
    text = marker.read_text().strip()
    if not text:
        return True
    try:
        recorded = json.loads(text)
        return recorded["array_bytes"] == array.stat().st_size and recorded["ids_bytes"] == ids.stat().st_size
    except (ValueError, KeyError, TypeError):
        return False  # a marker that is not ours: the part is redone


def write_part(out_dir: Path, index: int, ids: np.ndarray, array: np.ndarray, **columns: np.ndarray) -> None:
    """Write part ``index`` (rows ``array``, their ``ids`` and any extra per-row ``columns``) atomically,
    then its marker with the files' sizes."""
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
    sizes = {"rows": len(ids), "array_bytes": tmp_array.stat().st_size, "ids_bytes": tmp_ids.stat().st_size}
    os.replace(tmp_array, array_file)
    os.replace(tmp_ids, ids_file)
    tmp_marker = marker.with_name(f".{marker.name}{own}")
    tmp_marker.write_text(json.dumps(sizes) + "\n")
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
