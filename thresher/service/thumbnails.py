"""Thumbnails of samples, cached in memory and on disk, each with a strong ETag.

A thumbnail is determined by the source's identity (revision, fingerprint, row count), the sample id and
the size, so their digest names it: it is the ETag (a browser that has it gets a 304 without a decode) and
the file name under ``.serve/thumbnails/``. Sizes come from a fixed set, so no request makes arbitrary
work. Rows come from :class:`~thresher.catalog.row_pixels.RowPixels` (the native pixel store when there is
one, else the source's rows), one reader per source, replaced when the source's identity changes.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from thresher.catalog.browse import sample_status
from thresher.catalog.row_pixels import RowPixels, source_identity
from thresher.catalog.workspace import Workspace
from thresher.errors import ConfigError, NotFound

SIZES = (32, 64, 128, 256)
DEFAULT_SIZE = 64
FORMAT = "thumbnail-png-1"  # part of every key: a change of how thumbnails are drawn is a new key
MEMORY_BYTES = 64 << 20


def _share_one_progress_lock() -> None:
    """Opening a saved source (``datasets.load_from_disk``) runs tqdm's ``thread_map``, which creates the
    bar class's lock when there is none and deletes it afterwards: two request threads opening sources at
    once (thumbnails of a grid, a gallery being drawn) race on that delete and one fails with
    AttributeError. A lock made once, before any request, is one that map never deletes."""
    from tqdm import tqdm

    tqdm.get_lock()


_share_one_progress_lock()


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    etag: str  # quoted, as the header carries it


class Thumbnails:
    def __init__(self, ws: Workspace, folder: Path, memory_bytes: int = MEMORY_BYTES) -> None:
        self.ws = ws
        self.folder = folder
        self.memory_bytes = memory_bytes
        self._lock = threading.Lock()
        self._readers: dict[str, RowPixels] = {}
        self._identities: tuple[object, dict[str, str]] = (None, {})  # (catalog snapshot, source → identity)
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._held = 0
        self.decoded = 0  # thumbnails drawn from pixels (for tests and the benchmark)

    def etag(self, source: str, sample_id: int, size: int) -> str:
        """The thumbnail's ETag; NotFound for an unknown source or a sample that is not an ok row."""
        return f'"{self._key(self._reader(source), sample_id, size)}"'

    def get(self, source: str, sample_id: int, size: int) -> Thumbnail:
        reader = self._reader(source)
        key = self._key(reader, sample_id, size)
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
        if data is None:
            path = self.folder / key[:2] / f"{key}.png"
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                data = _png(_resized(reader.pixels(sample_id), size))
                self.decoded += 1
                _write_atomically(path, data)
            self._remember(key, data)
        return Thumbnail(data, f'"{key}"')

    def _reader(self, source: str) -> RowPixels:
        identity = self._identity(source)
        with self._lock:
            reader = self._readers.get(source)
        if reader is None or reader.identity != identity:
            reader = RowPixels(self.ws, source)
            with self._lock:
                self._readers[source] = reader
        return reader

    def _identity(self, source: str) -> str:
        """The source's identity, looked up once per catalog snapshot: it changes only with the catalog,
        and a catalog query per thumbnail would cost more than the thumbnail."""
        snapshots = getattr(self.ws, "snapshots", None)  # a SnapshotWorkspace (the service's)
        if snapshots is None or not self.ws.exists:
            return source_identity(self.ws, source)
        snapshot = snapshots.current()
        with self._lock:
            if self._identities[0] is not snapshot:
                self._identities = (snapshot, {})
            known = self._identities[1].get(source)
        if known is None:
            known = source_identity(self.ws, source)
            with self._lock:
                if self._identities[0] is snapshot:
                    self._identities[1][source] = known
        return known

    def _key(self, reader: RowPixels, sample_id: int, size: int) -> str:
        if size not in SIZES:
            raise ConfigError(f"size must be one of {', '.join(map(str, SIZES))}, got {size}", field="size")
        position = int(np.searchsorted(reader.ok, sample_id))
        if position >= len(reader.ok) or reader.ok[position] != sample_id:
            found = sample_status(self.ws, reader.source, sample_id)
            if found is None:
                raise NotFound(f"source {reader.source!r} has no sample {sample_id}")
            raise NotFound(f"sample {sample_id} of {reader.source!r} has no image: {found[1] or found[0]}")
        text = f"{FORMAT}\0{reader.identity}\0{sample_id}\0{size}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _remember(self, key: str, data: bytes) -> None:
        with self._lock:
            if key not in self._memory:
                self._memory[key] = data
                self._held += len(data)
            while self._held > self.memory_bytes and self._memory:
                _, old = self._memory.popitem(last=False)
                self._held -= len(old)


def _resized(pixels: np.ndarray, size: int) -> Image.Image:
    """The image with its longer side ``size``: enlarged with square pixels (a digit stays legible),
    reduced with a Lanczos filter."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    scale = size / max(image.size)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if target == image.size:
        return image
    return image.resize(target, Image.NEAREST if scale > 1 else Image.LANCZOS)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # thumbnails are small; speed over bytes
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
