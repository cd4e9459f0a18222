"""The embedding map's points over HTTP: a layout's positions and colours as binary columns, never JSON
per point (docs/architecture.md, 'The embedding map').

The body is one buffer, little-endian::

    bytes 0-3     b"TMP1"
    bytes 4-7     uint32 H, the length of the JSON header
    bytes 8-8+H   {"n": N, "columns": [{"name", "dtype", "offset", "length"}, ...]}, padded with spaces
                  so that the first column starts at a multiple of 8
    columns       each at its ``offset`` (a multiple of 8 from the start): ``length`` values of ``dtype``

The points are the layout's rows in ascending sample id, the same order in every column:

    xy        float32 × 2N: x0 y0 x1 y1 … (a WebGL vertex buffer as it comes)
    id        uint32 × N: the sample ids (the page asks for them after its first paint, for hover)
    label     uint8 × N (uint16 when there are 255 classes or more): the class; the dtype's largest value
              means none
    cluster   the same codes, of the clustering ``?clustering=RUN``
    kept      uint8 × N: 1 where ``?subset=NAME@vN`` keeps the sample, 0 where it removed it
    score     float32 × N: ``?score_run=RUN``'s score, NaN where it has none

So the first paint costs 9 bytes per point with a class, cluster or kept colour, 12 with a score. What the
codes mean (class names, counts, the score range) is the small JSON of :meth:`MapPoints.legend`. A
response is named by its ETag: the digest of the layout file's state, the columns and the catalog rows
they come from (the runs' and versions' times, the source's identity), so a browser revalidates in one
request that decodes and reads nothing.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from thresher.catalog.browse import require_score_run, require_source
from thresher.catalog.layouts import LAYOUT_FILE, read_layout, require_layout
from thresher.catalog.point_values import kept_at, run_values_at
from thresher.catalog.row_pixels import source_identity
from thresher.catalog.samples import labels_of
from thresher.catalog.subset_versions import parse_ref, require_version
from thresher.catalog.workspace import Workspace
from thresher.errors import ConfigError

MAGIC = b"TMP1"
FORMAT = "map-points-1"  # part of every ETag: a change of the encoding is a new name
COLUMNS = ("xy", "id", "label", "cluster", "kept", "score")
NEEDS = {"cluster": "clustering", "kept": "subset", "score": "score_run"}
LAYOUTS_HELD = 4
COLUMN_BYTES_HELD = 256 << 20


@dataclass(frozen=True)
class Layout:
    row: dict[str, Any]
    stamp: tuple[int, int]  # the layout file's (mtime_ns, size)
    ids: np.ndarray  # int64, ascending
    xy: np.ndarray  # float32 n×2

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def source(self) -> str:
        return self.row["source"]


@dataclass(frozen=True)
class Colouring:
    """What a request colours by: the run or version each column needs, checked against the catalog, with
    what changes when they change (a run's finish time, a version's creation)."""

    clustering: str | None = None
    subset: str | None = None
    score_run: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    values: np.ndarray
    legend: dict[str, Any]


class MapPoints:
    """The service's layouts and their columns, cached in memory (layouts by their file's state, columns
    by everything their ETag names)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._lock = threading.Lock()
        self._layouts: OrderedDict[str, Layout] = OrderedDict()
        self._columns: OrderedDict[tuple, Column] = OrderedDict()
        self._making: dict[tuple, threading.Lock] = {}  # a lock per column being computed
        self._held = 0

    def layout(self, layout_id: str) -> Layout:
        row = require_layout(self.ws, layout_id)
        stat = (row["folder"] / LAYOUT_FILE).stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            known = self._layouts.get(layout_id)
            if known is not None and known.stamp == stamp:
                self._layouts.move_to_end(layout_id)
                return known
        ids, xy = read_layout(row["folder"])
        layout = Layout(row, stamp, ids, xy)
        with self._lock:
            self._layouts[layout_id] = layout
            while len(self._layouts) > LAYOUTS_HELD:
                self._layouts.popitem(last=False)
        return layout

    def colouring(
        self, layout: Layout, clustering: str | None, subset: str | None, score_run: str | None
    ) -> Colouring:
        """The runs and version a request names, each checked to exist over the layout's source."""
        versions = {"source": source_identity(self.ws, layout.source)}
        if clustering:
            run = require_score_run(self.ws, clustering, source=layout.source, kind="cluster")
            versions["clustering"] = f"{clustering}\0{run['finished']}"
        if score_run:
            run = require_score_run(self.ws, score_run, source=layout.source)
            versions["score_run"] = f"{score_run}\0{run['finished']}"
        if subset:
            row = require_version(self.ws, parse_ref(subset))
            if row["source"] != layout.source:
                raise ConfigError(
                    f"subset {subset} is of source {row['source']!r}; the layout is of {layout.source!r}",
                    field="subset",
                )
            subset = f"{row['name']}@v{row['version']}"
            versions["subset"] = f"{subset}\0{row['created']}"
        return Colouring(clustering or None, subset or None, score_run or None, versions)

    def etag(self, layout: Layout, columns: tuple[str, ...], colouring: Colouring) -> str:
        parts = [FORMAT, layout.id, str(layout.stamp), ",".join(columns)]
        parts += [f"{key}={colouring.versions[key]}" for key in sorted(colouring.versions)]
        return '"' + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32] + '"'

    def body(self, layout: Layout, columns: tuple[str, ...], colouring: Colouring) -> bytes:
        arrays = [(name, self.column(layout, name, colouring).values) for name in columns]
        return encode_columns(len(layout.ids), arrays)

    def legend(self, layout: Layout, name: str, colouring: Colouring) -> dict[str, Any]:
        return self.column(layout, name, colouring).legend

    def column(self, layout: Layout, name: str, colouring: Colouring) -> Column:
        check_columns((name,), colouring)
        key = (layout.id, layout.stamp, name, tuple(sorted(colouring.versions.items())))
        with self._lock:
            known = self._columns.get(key)
            if known is not None:
                self._columns.move_to_end(key)
                return known
            making = self._making.setdefault(key, threading.Lock())
        with making:  # the page asks for a column and its legend at once: one of them computes it
            with self._lock:
                known = self._columns.get(key)
            if known is not None:
                return known
            try:
                made = self._make(layout, name, colouring)
                # kept before its lock goes, so that a later request finds it rather than making it again
                with self._lock:
                    self._columns[key] = made
                    self._held += made.values.nbytes
                    while self._held > COLUMN_BYTES_HELD and len(self._columns) > 1:
                        _, old = self._columns.popitem(last=False)
                        self._held -= old.values.nbytes
            finally:
                with self._lock:
                    self._making.pop(key, None)
        return made

    def _make(self, layout: Layout, name: str, colouring: Colouring) -> Column:
        ids = layout.ids
        if name == "xy":
            return Column(np.ascontiguousarray(layout.xy).reshape(-1), {"column": "xy"})
        if name == "id":
            return Column(ids.astype(np.uint32), {"column": "id"})
        if name == "label":
            names = require_source(self.ws, layout.source)["label_names"] or []
            labels = labels_of(self.ws, layout.source, ids)
            return categorical("label", labels, lambda c: _class_name(c, names))
        if name == "cluster":
            assert colouring.clustering is not None
            clusters = run_values_at(self.ws, colouring.clustering, "cluster", ids)
            codes = np.where(np.isnan(clusters), -1, clusters).astype(np.int64)
            return categorical("cluster", codes, lambda c: f"cluster {c}")
        if name == "kept":
            version = require_version(self.ws, parse_ref(str(colouring.subset)))
            kept = kept_at(version, ids).astype(np.uint8)
            n_kept = int(kept.sum())
            entries = [
                {"code": 0, "text": "removed", "n": len(kept) - n_kept},
                {"code": 1, "text": "kept", "n": n_kept},
            ]
            return Column(kept, {"column": "kept", "subset": colouring.subset, "entries": entries})
        assert name == "score" and colouring.score_run is not None
        scores = run_values_at(self.ws, colouring.score_run, "score", ids)
        finite = scores[np.isfinite(scores)]
        legend = {
            "column": "score",
            "score_run": colouring.score_run,
            "min": float(finite.min()) if len(finite) else None,
            "max": float(finite.max()) if len(finite) else None,
            "n_missing": int(len(scores) - len(finite)),
        }
        return Column(scores.astype(np.float32), legend)


def check_columns(columns: tuple[str, ...], colouring: Colouring) -> None:
    """Refuse an unknown column, or one whose run or version the request does not name (a 422)."""
    for name in columns:
        if name not in COLUMNS:
            raise ConfigError(f"unknown column {name!r}; choose from {', '.join(COLUMNS)}", field="columns")
        needed = NEEDS.get(name)
        if needed is not None and getattr(colouring, needed) is None:
            raise ConfigError(f"column {name} needs ?{needed}=…", field=needed)


def categorical(name: str, values: np.ndarray, text: Any) -> Column:
    """Codes of a small-integer column (−1: none) as uint8, or uint16 when a code reaches 255, with the
    dtype's largest value for none; the legend lists each present code, its text and count."""
    top = int(values.max()) if len(values) else -1
    if top >= np.iinfo(np.uint16).max:
        raise ConfigError(f"{name} codes reach {top}: the map draws at most 65534 {name}s", field=name)
    dtype = np.uint8 if top < np.iinfo(np.uint8).max else np.uint16
    missing = int(np.iinfo(dtype).max)
    codes = np.where(values < 0, missing, values).astype(dtype)
    present, counts = np.unique(codes, return_counts=True)
    entries = [
        {"code": int(c), "text": text(int(c)), "n": int(n)} for c, n in zip(present, counts, strict=True)
        if c != missing
    ]  # fmt: skip
    n_missing = int(counts[present == missing].sum())
    legend = {"column": name, "dtype": np.dtype(dtype).name, "missing": missing, "n_missing": n_missing,
              "entries": entries}  # fmt: skip
    return Column(codes, legend)


def encode_columns(n: int, columns: list[tuple[str, np.ndarray]]) -> bytes:
    """The binary body (see the module's docstring) of ``columns``, each a little-endian array."""
    described, offset = [], 0
    for name, values in columns:
        described.append({"name": name, "dtype": values.dtype.name, "length": int(values.size)})
    # Offsets depend on the header's length, which depends on the offsets' digits: pad generously.
    header = json.dumps({"n": n, "columns": [{**d, "offset": 10**12} for d in described]}).encode()
    start = _aligned(8 + len(header))
    offset = start
    for entry, (_, values) in zip(described, columns, strict=True):
        entry["offset"] = offset
        offset = _aligned(offset + values.nbytes)
    text = json.dumps({"n": n, "columns": described}).encode()
    text += b" " * (start - 8 - len(text))
    out = bytearray(offset)
    out[:8] = MAGIC + struct.pack("<I", len(text))
    out[8 : 8 + len(text)] = text
    for entry, (_, values) in zip(described, columns, strict=True):
        data = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
        out[entry["offset"] : entry["offset"] + len(data)] = data
    return bytes(out)


def decode_columns(body: bytes) -> tuple[int, dict[str, np.ndarray]]:
    """The inverse of :func:`encode_columns` (for tests and benchmarks; the page decodes in JavaScript)."""
    if body[:4] != MAGIC:
        raise ValueError("not a map points body")
    (length,) = struct.unpack("<I", body[4:8])
    header = json.loads(body[8 : 8 + length])
    columns = {
        c["name"]: np.frombuffer(body, dtype=np.dtype(c["dtype"]).newbyteorder("<"), count=c["length"],
                                 offset=c["offset"])
        for c in header["columns"]
    }  # fmt: skip
    return header["n"], columns


def _aligned(offset: int) -> int:
    return (offset + 7) // 8 * 8


def _class_name(label: int, names: list[str]) -> str:
    return (
        f"{label} ({names[label]})"
        if 0 <= label < len(names) and str(names[label]) != str(label)
        else str(label)
    )
