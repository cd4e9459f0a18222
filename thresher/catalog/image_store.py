"""Image stores: a source's decoded pixels, or an autoencoder's latents of them, in parts read row by row.

Training and evaluation read rows from here a batch at a time instead of decoding the whole set into one
array, so their memory does not grow with the number of rows (docs/architecture.md, "Image stores").

Layout of one store, ``cache/stores/<source>/<encoder>-<size>-<digest>/``::

    meta.json                  source, source_key (revision/fingerprint), n_rows, encoder, encoder_sha1,
                               size, background, layout, dtype, part_rows
    part-{p:05d}.npy           the ok rows with sample ids in [p·part_rows, (p+1)·part_rows):
                               pixels (rows, H, W, C) uint8, C = 1 when every row of the part is grey
                               else 3; or latents (rows, c, h, w) float32
    part-{p:05d}.ids.parquet   sample_id, grey (the row decoded to one channel)
    _SUCCESS.{p:05d}           the files' sizes and checksums, written last (thresher.catalog.part_files)

Parts are fixed ranges of the source's rows, so a subset needs only the parts its rows fall in, every subset
of a source shares them, and the parts are the unit of resumption and of multi-process work. The folder's
digest covers everything that determines the rows (the source's revision and row count, the encoder and
its weights' SHA-1, the size, how images were made square (pad or crop; stretch is left out, as stores
were keyed before the modes) and the background), so a changed source or another autoencoder gets another
store, never rows of the old one. The writer is :mod:`thresher.catalog.image_store_build`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from thresher.catalog.part_files import ArrayFile, marker_path, part_done, part_files, part_problem, read_part
from thresher.catalog.samples import check_one_size
from thresher.catalog.workspace import Workspace, embedder_folder
from thresher.errors import ThresherError
from thresher.images import LEGACY_RESIZE

FORMAT = 1
PART_ROWS = 4096
"""Source rows per part: 12 MiB of 32-px RGB, 768 MiB at 256 px; small enough to redo, few enough to list."""
PIXELS = "pixels"
"""The identity encoder: the store holds the decoded uint8 pixels."""


@dataclass(frozen=True)
class StoreKey:
    """What determines a store's rows; its digest names the folder."""

    source: str
    source_key: str  # the source's pinned revision or fingerprint
    n_rows: int  # the source's row count
    encoder: str  # PIXELS or the autoencoder's name
    encoder_sha1: str | None  # SHA-1 of the autoencoder's weights (None for pixels)
    size: int | None  # side images are resized to (None: as stored)
    background: str  # what transparent pixels were composited onto
    part_rows: int = PART_ROWS
    # How images were made size×size: pad or crop; None when stretched or not resized, which is what every
    # store was before the modes existed, so their keys (and folders) stay what they were.
    resize: str | None = None

    @classmethod
    def resize_of(cls, size: int | None, resize: str) -> str | None:
        """The key's ``resize`` for images decoded at ``size`` by ``resize``."""
        return None if size is None or resize == LEGACY_RESIZE else resize

    @property
    def decode_resize(self) -> str:
        return self.resize or LEGACY_RESIZE

    @property
    def layout(self) -> str:
        return "nhwc-uint8" if self.encoder == PIXELS else "nchw-float32"

    def meta(self) -> dict:
        fields = asdict(self)
        if fields["resize"] is None:
            del fields["resize"]
        return {"format": FORMAT, **fields, "layout": self.layout}

    def folder_name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.meta(), sort_keys=True).encode()).hexdigest()[:16]
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", self.encoder).strip("_")[-48:]
        return f"{readable}-{self.size or 'native'}px-{digest}"


def source_stores_dir(ws: Workspace, source: str) -> Path:
    """The folder of every image store of one source (removed with the source: `thresher rm`)."""
    return ws.root / "cache" / "stores" / embedder_folder(source)


def store_dir(ws: Workspace, key: StoreKey) -> Path:
    return source_stores_dir(ws, key.source) / key.folder_name()


def check_meta(folder: Path, key: StoreKey) -> None:
    """Refuse a folder whose meta.json describes other rows (a store copied or edited by hand)."""
    meta_file = folder / "meta.json"
    if not meta_file.is_file():
        return
    try:
        old = json.loads(meta_file.read_text())
    except ValueError:
        raise ThresherError(f"image store {folder} has an unreadable meta.json; delete the folder") from None
    changed = sorted(k for k, v in key.meta().items() if old.get(k) != v)
    if changed:
        raise ThresherError(
            f"image store {folder} holds other rows ({', '.join(changed)} differ); delete the folder"
        )


def parts_of(sample_ids: np.ndarray, part_rows: int) -> np.ndarray:
    """The parts that rows ``sample_ids`` fall in, ascending."""
    return np.unique(np.asarray(sample_ids, dtype=np.int64) // part_rows)


def part_problem_for(folder: Path, part: int, expected_ids: np.ndarray) -> str | None:
    """Why part ``part`` must be (re)built, or None when it is complete, intact (sizes and checksums: every
    open reads the parts it needs whole once to check them) and holds exactly ``expected_ids`` (the
    range's ok rows now)."""
    problem = part_problem(folder, part)
    if problem is not None:
        return problem
    try:
        ids, _, _ = read_part(folder, part)
    except (OSError, ValueError):
        return "unreadable"
    return None if np.array_equal(ids, expected_ids) else "out of date"


class StoreView:
    """Rows ``sample_ids`` of a store, in that order, read from the parts on demand (positioned reads of the
    rows a batch needs: :class:`thresher.catalog.part_files.ArrayFile`).

    Pixel stores satisfy :class:`thresher.image_rows.ImageRows` (uint8 H×W×C rows): the view has one channel
    when every one of its rows decoded grey, else three (grey rows repeated, as ``load_images`` does), so a
    view equals ``load_images`` of the same rows. Latent views give c×h×w float32 rows. A view holds no
    open file, so it can be handed to DataLoader workers.
    """

    def __init__(self, folder: Path, key: StoreKey, sample_ids: np.ndarray) -> None:
        self.folder = folder
        self.key = key
        self.sample_ids = np.asarray(sample_ids, dtype=np.int64)
        parts = self.sample_ids // key.part_rows
        self._part = parts.astype(np.int32)
        self._row = np.empty(len(self.sample_ids), dtype=np.int64)
        grey = np.empty(len(self.sample_ids), dtype=bool)
        self._files: dict[int, ArrayFile] = {}
        for part in parts_of(self.sample_ids, key.part_rows):
            ids, _, extra = read_part(folder, int(part), ("grey",))
            array = self._files[int(part)] = ArrayFile.open(part_files(folder, int(part))[0])
            if array.shape[0] != len(ids):
                raise ThresherError(f"part {int(part)} of image store {folder} has {array.shape[0]} rows for "
                                    f"{len(ids)} ids; delete the folder to have it rebuilt")  # fmt: skip
            mine = np.flatnonzero(parts == part)
            found = np.minimum(np.searchsorted(ids, self.sample_ids[mine]), max(len(ids) - 1, 0))
            if len(ids) == 0 or not np.array_equal(ids[found], self.sample_ids[mine]):
                missing = self.sample_ids[mine][ids[found] != self.sample_ids[mine]] if len(ids) else mine
                raise ThresherError(
                    f"row {int(missing[0])} of source {key.source!r} is not an ok row of image store {folder}"
                )
            self._row[mine] = found
            grey[mine] = extra["grey"][found]
        shapes = [f.shape[1:] for f in self._files.values()]
        sides = {s[:2] if self.is_pixels else s[1:] for s in shapes}
        check_one_size(sides, key.source)
        first = shapes[0] if shapes else (1, 1, 1)
        if self.is_pixels:
            self._row_shape = (*first[:2], 1 if grey.all() else 3)
        else:
            self._row_shape = tuple(first)

    @property
    def is_pixels(self) -> bool:
        return self.key.encoder == PIXELS

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __repr__(self) -> str:
        return f"StoreView({str(self.folder)!r}, rows={len(self)}, row_shape={self._row_shape})"

    @property
    def row_shape(self) -> tuple[int, ...]:
        """One row's shape: (H, W, C) pixels or (c, h, w) latents."""
        return self._row_shape

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self._row_shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.is_pixels else np.float32)

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The rows at ``positions`` of the view (any order, repeats allowed), one array."""
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        out = np.empty((len(positions), *self._row_shape), dtype=self.dtype)
        parts = self._part[positions]
        for part in np.unique(parts):
            where = np.flatnonzero(parts == part)
            block = self._files[int(part)].read_rows(self._row[positions[where]])
            out[where] = self._fit_channels(block)
        return out

    def _fit_channels(self, block: np.ndarray) -> np.ndarray:
        if not self.is_pixels or block.shape[-1] == self._row_shape[-1]:
            return block
        if block.shape[-1] == 1:  # a grey part in a colour view: the channel repeated
            return np.repeat(block, 3, axis=-1)
        return block[..., :1]  # a colour part's grey rows in an all-grey view: three equal channels

    def row(self, position: int) -> np.ndarray:
        part, row = int(self._part[position]), int(self._row[position])
        return self._fit_channels(self._files[part].read_rows(np.array([row])))[0]

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, len(self), batch_size):
            yield self.take(np.arange(start, min(start + batch_size, len(self))))


def list_stores(ws: Workspace) -> list[dict]:
    """Every image store of the workspace: source, encoder, size, complete parts, rows and bytes on disk."""
    root = ws.root / "cache" / "stores"
    out = []
    for meta_file in sorted(root.glob("*/*/meta.json")) if root.is_dir() else []:
        try:
            meta = json.loads(meta_file.read_text())
        except ValueError:
            continue
        folder = meta_file.parent
        parts = sorted(int(m.name.split(".")[1]) for m in folder.glob("_SUCCESS.*"))
        done = [p for p in parts if part_done(folder, p, check_contents=False)]  # a listing reads no parts
        rows = sum(json.loads(marker_path(folder, p).read_text() or '{"rows": 0}')["rows"] for p in done)
        out.append(
            {
                "source": meta.get("source"),
                "encoder": meta.get("encoder"),
                "size": meta.get("size"),
                "resize": meta.get("resize", LEGACY_RESIZE) if meta.get("size") else None,
                "parts": len(done),
                "rows": rows,
                "bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
                "folder": ws.to_stored(folder),
            }
        )
    return out
