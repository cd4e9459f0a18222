"""The decoded pixels of single rows of a source, one at a time (the service's thumbnails).

From the source's pixel image store at native size when a complete, current one exists (positioned reads
of one row: docs/architecture.md, 'Image stores'), else decoded from the source's rows through
:func:`~thresher.catalog.samples.open_source` and the shared ``decode_row``. Either way a row is the uint8
H×W (grey) or H×W×3 array ``load_images`` would give for it, composited onto white. Nothing is built: a
page view never starts a store build.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from thresher.catalog.image_store import (
    PART_ROWS,
    PIXELS,
    StoreKey,
    StoreView,
    part_problem_for,
    parts_of,
    store_dir,
)
from thresher.catalog.samples import decode_row, ok_sample_ids, open_source
from thresher.catalog.workspace import Workspace, fetch_source
from thresher.errors import NotFound, ThresherError
from thresher.images import WHITE, background_name

if TYPE_CHECKING:
    import datasets


class RowPixels:
    """Rows of one source at its current revision. ``identity`` says which rows these are (revision,
    fingerprint, row count): a reader keyed by it is never stale."""

    def __init__(self, ws: Workspace, source: str) -> None:
        self.ws = ws
        self.source = source
        with ws.connect(read_only=True) as con:
            row = fetch_source(con, source)
        self.identity = _identity(source, row["revision"], row["fingerprint"], row["n_rows"])
        self.ok = ok_sample_ids(ws, source)
        self.store = _complete_store(ws, row, self.ok)
        self._dataset: datasets.Dataset | None = None
        self._lock = threading.Lock()

    @property
    def from_store(self) -> bool:
        return self.store is not None

    def pixels(self, sample_id: int) -> np.ndarray:
        """Row ``sample_id`` decoded; NotFound when it is not an ok row of the source."""
        position = int(np.searchsorted(self.ok, sample_id))
        if position >= len(self.ok) or self.ok[position] != sample_id:
            raise NotFound(f"sample {sample_id} of source {self.source!r} is not an ok row")
        if self.store is not None:
            pixels = self.store.row(position)
            return pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        image = self._rows()[int(sample_id)]["image"]
        try:
            return decode_row(image, None, WHITE)
        except (OSError, ValueError) as exc:  # the file changed since ingest
            raise ThresherError(f"sample {sample_id} of {self.source!r} no longer decodes: {exc}") from None

    def _rows(self) -> datasets.Dataset:
        with self._lock:
            if self._dataset is None:
                dataset, _ = open_source(self.ws, self.source)
                self._dataset = dataset.select_columns(["image"])
            return self._dataset


def source_identity(ws: Workspace, source: str) -> str:
    """What determines a source's rows now (its revision, fingerprint and row count); NotFound when the
    workspace has no such source. A :class:`RowPixels` whose ``identity`` differs is out of date."""
    if not ws.exists:
        raise NotFound(f"unknown source {source!r}: the workspace is empty")
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT revision, fingerprint, n_rows FROM sources WHERE id = ?", [source]
        ).fetchone()
    if row is None:
        raise NotFound(f"unknown source {source!r}")
    return _identity(source, *row)


def _identity(source: str, revision: str | None, fingerprint: str | None, n_rows: int | None) -> str:
    return f"{source}\0{revision}\0{fingerprint}\0{n_rows}"


def _complete_store(ws: Workspace, row: dict, ok: np.ndarray) -> StoreView | None:
    """A view of every ok row from the source's native-size pixel store, if every part of it is there and
    holds exactly the ok rows of its range now; None otherwise."""
    key = StoreKey(
        source=row["id"],
        source_key=str(row["revision"] or row["fingerprint"]),
        n_rows=int(row["n_rows"]),
        encoder=PIXELS,
        encoder_sha1=None,
        size=None,
        background=background_name(WHITE),
        part_rows=PART_ROWS,
    )
    folder = store_dir(ws, key)
    if len(ok) == 0 or not (folder / "meta.json").is_file():
        return None
    for part in parts_of(ok, PART_ROWS):
        lo, hi = np.searchsorted(ok, [part * PART_ROWS, (part + 1) * PART_ROWS])
        if part_problem_for(folder, int(part), ok[lo:hi]) is not None:
            return None
    try:
        return StoreView(folder, key, ok)
    except (ThresherError, OSError, ValueError):
        return None
