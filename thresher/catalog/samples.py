"""The samples of an ingested source: its rows as a Dataset, the ok ids, labels and decoded images.

Every stage reads rows through this module, so it alone knows that a built-in source lives in the
workspace (``sources/<id>/dataset``) and that any other source is re-opened from its URI at the pinned
revision and checked against what ingest recorded.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from thresher.catalog.workspace import Workspace, fetch_source
from thresher.errors import ThresherError
from thresher.images import DEFAULT_RESIZE, RGB, WHITE, composite_onto, to_square
from thresher.progress import track

if TYPE_CHECKING:
    import datasets


def open_source(ws: Workspace, source_id: str) -> tuple[datasets.Dataset, str]:
    """The source's rows as a Dataset (image column renamed to ``image``) and the label column or None."""
    # Imported here: the catalog's id and label lookups (select, publish of an index) need no datasets.
    import datasets

    from thresher.catalog.source_loaders import SourceRequest, load_source

    with ws.connect(read_only=True) as con:
        row = fetch_source(con, source_id)
    if row["kind"] == "builtin":
        saved = ws.source_dir(source_id) / "dataset"
        try:
            dataset = datasets.load_from_disk(str(saved))
        except (FileNotFoundError, OSError, ValueError):
            raise ThresherError(
                f"the saved rows of source {source_id!r} ({saved}) are gone or unreadable: run "
                f"`thresher ingest {row['uri']}` again to restore them"
            ) from None
    else:
        request = SourceRequest(
            uri=row["uri"],
            config=row["config"],
            split=row["split"],
            revision=row["revision"] if row["kind"] == "hub" else None,
            image_column=row["image_column"],
            label_column=row["label_column"],
        )
        loaded = load_source(request)
        if loaded.revision != row["revision"] and row["kind"] != "hub":
            raise ThresherError(
                f"source {source_id!r} changed on disk since ingest (revision {row['revision']} → {loaded.revision})"
            )
        if len(loaded.dataset) != row["n_rows"]:
            raise ThresherError(
                f"source {source_id!r} now has {len(loaded.dataset)} rows, {row['n_rows']} at ingest"
            )
        dataset = loaded.dataset
    if row["image_column"] != "image":
        if "image" in dataset.column_names:
            dataset = dataset.remove_columns("image")
        dataset = dataset.rename_column(row["image_column"], "image")
    return dataset, row["label_column"]


def ok_sample_ids(ws: Workspace, source_id: str) -> np.ndarray:
    with ws.connect(read_only=True) as con:
        ids = con.execute(
            "SELECT sample_id FROM samples WHERE source = ? AND status = 'ok' ORDER BY sample_id", [source_id]
        ).fetchnumpy()["sample_id"]
    return np.asarray(ids, dtype=np.int64)


def decode_row(
    image: Image.Image, size: int | None, background: RGB = WHITE, resize: str = DEFAULT_RESIZE
) -> np.ndarray:
    """One image as uint8 H×W (grey) or H×W×3: composited onto ``background``, then made size×size by
    ``resize`` (pad, crop or stretch: ``thresher.images.to_square``) when ``size`` is given. The one decode
    every reader of pixels shares (``load_images`` and the image stores), so a store holds exactly what
    ``load_images`` returns."""
    image = composite_onto(image, background)
    if size is not None:
        image = to_square(image, size, resize, background)
    return np.asarray(image)


def load_images(
    ws: Workspace,
    source_id: str,
    sample_ids: np.ndarray,
    size: int | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
) -> np.ndarray:
    """Decode rows to a uint8 N×H×W×C array: C is 1 when every row is greyscale, else 3.

    Each image goes through ``thresher.images.composite_onto``: transparent pixels take the ``background``
    colour (never whatever colour sits under them), 16-bit greyscale is scaled to 8 bits. A source mixing
    greyscale and colour rows is all RGB (the grey rows repeated into three channels, which loses nothing),
    as ``uniform_batch`` does. ``size`` makes every image size×size by ``resize`` (after compositing, so
    hidden colours never bleed into the edges); without it all rows must share one size.
    """
    dataset, _ = open_source(ws, source_id)
    subset = dataset.select(np.asarray(sample_ids, dtype=np.int64)).select_columns(["image"])
    arrays = []
    n_batches = (len(subset) + 255) // 256
    for batch in track(subset.iter(batch_size=256), "decoding images", total=n_batches, transient=True):
        arrays += [decode_row(img, size, background, resize) for img in batch["image"]]
    if not arrays:
        return np.zeros((0, 1, 1, 1), np.uint8)
    return stack_rows(arrays, source_id)[0]


def stack_rows(arrays: list[np.ndarray], source_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Decoded rows (``decode_row``) as one uint8 N×H×W×C array and their grey flags: C is 1 when every row
    is grey, else 3 (grey rows repeated, which loses nothing). Rows of several sizes are one-line error."""
    grey = np.array([a.ndim == 2 for a in arrays])
    check_one_size({a.shape[:2] for a in arrays}, source_id)
    if grey.all():
        return np.stack(arrays)[..., None], grey
    return np.stack([np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a for a in arrays]), grey


def check_one_size(sizes: set[tuple[int, ...]], source_id: str) -> None:
    """Refuse rows of ``source_id`` with several (height, width) sizes: only an image size makes them one."""
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for h, w in sorted(sizes)[:3]) + (", ..." if len(sizes) > 3 else "")
        raise ThresherError(
            f"images of {source_id!r} have several sizes ({shown}): pass an image size (--image-size, or "
            "image_size under a sweep spec's train:); they are padded to a square unless --resize says crop"
        )


def labels_of(ws: Workspace, source_id: str, sample_ids: np.ndarray) -> np.ndarray:
    """The class label of each sample (int64; −1 where a row has none or is not in the source)."""
    with ws.connect(read_only=True) as con:
        table = con.execute(
            "SELECT sample_id, coalesce(label, -1)::BIGINT AS label FROM samples WHERE source = ? "
            "ORDER BY sample_id",
            [source_id],
        ).fetchnumpy()
    known = np.asarray(table["sample_id"], dtype=np.int64)
    labels = np.asarray(table["label"], dtype=np.int64)
    wanted = np.asarray(sample_ids, dtype=np.int64)
    if len(known) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
    return np.where(known[pos] == wanted, labels[pos], -1)


def label_names(ws: Workspace, source_id: str) -> list[str] | None:
    """The source's class names (index = label), when its features name them."""
    with ws.connect(read_only=True) as con:
        names = fetch_source(con, source_id)["label_names"]
    return json.loads(names) if names else None


def flagged_ids(ws: Workspace, source_id: str, flag: str) -> np.ndarray:
    """The sample ids of ``source_id`` that ingest flagged ``flag`` (``blank``), ascending."""
    with ws.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT sample_id FROM samples WHERE source = ? AND flag = ? ORDER BY sample_id",
            [source_id, flag],
        ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)
