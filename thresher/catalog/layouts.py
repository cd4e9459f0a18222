"""The layout store: 2-D positions of a source's embedded samples for the embedding map, and their runs.

A layout is ``layouts/<source>/<embedder folder>/<method>-<digest>/`` (docs/architecture.md, 'The
embedding map') holding ``layout.parquet`` (``sample_id`` int64 ascending, ``x``, ``y`` float32) and
``meta.json``, plus a finished ``runs`` row of kind ``layout`` whose config records what made it. The
digest is the hash of that config's identity (source, embedder and its ids, method and settings), so the
same request finds the same folder and run again. A layout is built in a staging folder that records its
owner and is renamed into place before its run row is committed; the owner record is dropped only after
the commit, so a command killed in between leaves a folder the next one can prove abandoned (as subset
versions do, ``catalog/staging.py``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.catalog.names import check_name
from thresher.catalog.runs import record_finished_run
from thresher.catalog.staging import new_staging, remove_abandoned, seal
from thresher.catalog.tables import rows_as_dicts
from thresher.catalog.workspace import Workspace, embedder_folder
from thresher.errors import NotFound, ThresherError

KIND = "layout"
LAYOUT_FILE = "layout.parquet"
LAYOUT_SCHEMA = pa.schema([("sample_id", pa.int64()), ("x", pa.float32()), ("y", pa.float32())])


def layout_folder(ws: Workspace, source: str, embedder: str, name: str) -> Path:
    return ws.root / "layouts" / source / embedder_folder(embedder) / name


@contextmanager
def layout_writer(
    ws: Workspace, run_id: str, folder: Path, source: str, config: dict[str, Any], identity: dict[str, Any]
) -> Iterator[Path]:
    """Build a layout in a staging folder; on success it becomes ``folder`` and run ``run_id`` is recorded.

    A folder left by a command killed after its rename but before its run row is removed when its owner is
    provably gone; any other folder at ``folder`` that the catalog does not know is refused, never deleted.
    """
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(parent, f".{folder.name}.partial")
    remove_abandoned(parent, folder.name)
    if folder.exists():
        raise ThresherError(
            f"{folder} exists but the catalog has no layout run {run_id!r}: move it away and run again"
        )
    staging = new_staging(parent / f".{folder.name}.partial")
    renamed = False
    try:
        yield staging
        staging.rename(folder)
        renamed = True
        record_finished_run(ws, run_id, KIND, source, config, folder, identity=identity)
        seal(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if renamed:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def write_layout_table(folder: Path, sample_ids: np.ndarray, xy: np.ndarray, meta: dict[str, Any]) -> None:
    """``layout.parquet`` (rows ascending by sample id) and ``meta.json`` into ``folder``."""
    order = np.argsort(sample_ids, kind="stable")
    xy = np.asarray(xy, dtype=np.float32)[order]
    table = pa.table(
        [
            pa.array(np.asarray(sample_ids, dtype=np.int64)[order]),
            pa.array(xy[:, 0]),
            pa.array(xy[:, 1]),
        ],
        schema=LAYOUT_SCHEMA,
    )
    pq.write_table(table, folder / LAYOUT_FILE)
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def list_layouts(ws: Workspace) -> list[dict[str, Any]]:
    """Every finished layout, newest first: id, source, embedder, method, n, finished, config."""
    if not ws.exists:
        return []
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                "SELECT id, source, config, output, finished FROM runs WHERE kind = ? AND status = 'done' "
                "ORDER BY finished DESC, id",
                [KIND],
            )
        )
    return [_described(row) for row in rows]


def require_layout(ws: Workspace, layout_id: str) -> dict[str, Any]:
    """A finished layout's row (as :func:`list_layouts` gives it) with its ``folder``; NotFound for an
    unknown id or a layout whose file is gone."""
    check_name(layout_id, "layout id")
    rows: list[dict[str, Any]] = []
    if ws.exists:
        with ws.connect(read_only=True) as con:
            rows = rows_as_dicts(
                con.execute(
                    "SELECT id, source, config, output, finished FROM runs "
                    "WHERE id = ? AND kind = ? AND status = 'done'",
                    [layout_id, KIND],
                )
            )
    if not rows:
        raise NotFound(f"unknown layout {layout_id!r}")
    row = _described(rows[0])
    folder = ws.from_stored(rows[0]["output"])
    if not folder.resolve().is_relative_to(ws.root.resolve()) or not (folder / LAYOUT_FILE).is_file():
        raise NotFound(f"the file of layout {layout_id!r} is gone")
    row["folder"] = folder
    return row


def read_layout(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(sample ids int64 ascending, positions float32 n×2 C-contiguous) of the layout in ``folder``."""
    # DuckDB, not pyarrow: pyarrow's to_numpy imports pandas on first use (about 2 s, which the first map a
    # server draws would wait for); DuckDB keeps the file's row order
    with duckdb.connect() as con:
        found = con.execute(
            "SELECT sample_id, x, y FROM read_parquet(?)", [str(folder / LAYOUT_FILE)]
        ).fetchnumpy()
    ids = found["sample_id"].astype(np.int64, copy=False)
    xy = np.empty((len(ids), 2), dtype=np.float32)
    xy[:, 0] = found["x"]
    xy[:, 1] = found["y"]
    return ids, xy


def _described(row: dict[str, Any]) -> dict[str, Any]:
    config = json.loads(row["config"]) if row["config"] else {}
    return {
        "id": row["id"],
        "source": row["source"],
        "embedder": config.get("embedder"),
        "method": config.get("method"),
        "n": config.get("n"),
        "finished": row["finished"],
        "config": config,
    }
