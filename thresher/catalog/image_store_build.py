"""Writing image stores (layout: :mod:`thresher.catalog.image_store`): a streaming pass over the rows.

DataLoader workers decode batches of rows (``decode_row``, the decode ``load_images`` uses); an optional
encoder (an autoencoder: :class:`thresher.train.latents.VaeEncoder`) maps each batch to latents; a part is
written when its last batch arrives. Nothing holds more than one part. Only the parts the requested rows
fall in are built, and only those that are missing, incomplete, truncated, corrupt (checksums) or out of
date with the catalog's ok rows: a rerun or another subset of the source reuses the rest. Under
``accelerate launch`` the parts to build are dealt to the ranks in turn, and every rank waits for all of
them before reading.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import datasets
import numpy as np
from torch.utils.data import DataLoader, Dataset

from thresher.catalog.image_store import (
    PART_ROWS,
    PIXELS,
    StoreKey,
    StoreView,
    check_meta,
    part_problem_for,
    parts_of,
    store_dir,
)
from thresher.catalog.part_files import (
    marker_path,
    remove_dead_temporaries,
    remove_if_only,
    write_meta,
    write_part,
)
from thresher.catalog.samples import check_one_size, decode_row, ok_sample_ids, open_source, stack_rows
from thresher.catalog.workspace import Workspace, fetch_source
from thresher.device import process_state
from thresher.errors import ThresherError
from thresher.executors.config import task_parts
from thresher.images import DEFAULT_RESIZE, RGB, WHITE, background_name, check_resize
from thresher.progress import task

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What a latent store encodes pixels with."""

    name: str
    sha1: str  # of the weights: another state of the same name is another store
    in_channels: int

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (b, C, H, W) pixels, C = ``in_channels`` → float32 (b, c, h, w) latents."""
        ...


def open_store(
    ws: Workspace,
    source: str,
    sample_ids: np.ndarray,
    *,
    size: int | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
    encoder: Encoder | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    part_rows: int = PART_ROWS,
    device: str | None = None,
) -> StoreView:
    """Rows ``sample_ids`` of ``source`` from its store for (``size``, ``background``, ``resize``,
    ``encoder``; None = pixels), after building the parts they need that are not there and intact."""
    folder, key = build_parts(ws, source, sample_ids, size=size, background=background, resize=resize,
                              encoder=encoder,
                              batch_size=batch_size, num_workers=num_workers, part_rows=part_rows,
                              device=device)  # fmt: skip
    return StoreView(folder, key, np.asarray(sample_ids, dtype=np.int64))


def pixel_rows(
    ws: Workspace,
    source: str,
    sample_ids: np.ndarray,
    *,
    size: int | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
) -> StoreView:
    """Rows ``sample_ids`` of ``source`` as uint8 H×W×C pixels from its pixel store, building the parts they
    need first (in parallel under ``accelerate launch``): the same rows ``load_images`` decodes."""
    return open_store(ws, source, sample_ids, size=size, background=background, resize=resize)


def build_parts(
    ws: Workspace,
    source: str,
    sample_ids: np.ndarray,
    *,
    size: int | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
    encoder: Encoder | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    part_rows: int = PART_ROWS,
    device: str | None = None,
    task: tuple[int, int] | None = None,
) -> tuple[Path, StoreKey]:
    """Build the parts rows ``sample_ids`` need that are missing or damaged: this process's share of them
    under ``accelerate launch``, and with ``task`` (index, count) only the parts p with p mod count =
    index (one Slurm array task's share; the other parts may still be missing when it returns).
    Returns the store's folder and key."""
    folder, key, expected, problems = _plan(
        ws, source, sample_ids, size, background, resize, encoder, part_rows
    )
    todo = [p for p, problem in problems.items() if problem is not None]
    state = process_state(device)
    state.wait_for_everyone()  # every rank has decided what is missing before any rank writes
    if todo:
        created = state.is_main_process and not folder.exists()
        try:
            _build_todo(ws, source, folder, key, expected, problems, todo, state, task, background, encoder,
                        batch_size, num_workers)  # fmt: skip
        except BaseException:
            if created:  # a first build that failed leaves no empty store behind (status would list it)
                remove_if_only(folder, {"meta.json"})
            raise
    return folder, key


def _build_todo(
    ws: Workspace,
    source: str,
    folder: Path,
    key: StoreKey,
    expected: dict[int, np.ndarray],
    problems: dict[int, object],
    todo: list[int],
    state: Any,  # accelerate.PartialState (thresher.device.process_state)
    task: tuple[int, int] | None,
    background: RGB,
    encoder: Encoder | None,
    batch_size: int,
    num_workers: int,
) -> None:
    """Build parts ``todo`` (this rank's or this task's share of them), after clearing what a killed build
    left and saying which damaged parts are rebuilt."""
    if state.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(folder)  # what a killed build left behind
        if not (folder / "meta.json").is_file():
            write_meta(folder, key.meta())
        damaged = [p for p in todo if marker_path(folder, p).exists()]
        if damaged:
            reasons = sorted({str(problems[p]) for p in damaged})
            log.warning(
                "image store %s: rebuilding part(s) %s (%s)",
                folder,
                ", ".join(map(str, damaged)),
                "; ".join(reasons),
            )
    state.wait_for_everyone()
    mine = task_parts(todo, task, state.process_index, state.num_processes)
    dataset, _ = open_source(ws, source)
    _build(folder, key, dataset, {p: expected[p] for p in mine}, background, encoder, batch_size,
           num_workers, show=state.is_local_main_process)  # fmt: skip
    state.wait_for_everyone()


def missing_parts(
    ws: Workspace,
    source: str,
    sample_ids: np.ndarray,
    *,
    size: int | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
    encoder: Encoder | None = None,
    part_rows: int = PART_ROWS,
) -> tuple[list[int], list[int]]:
    """(every part rows ``sample_ids`` need, those of them missing or damaged), building nothing."""
    _, _, expected, problems = _plan(ws, source, sample_ids, size, background, resize, encoder, part_rows)
    return sorted(expected), [p for p, problem in problems.items() if problem is not None]


def _plan(
    ws: Workspace,
    source: str,
    sample_ids: np.ndarray,
    size: int | None,
    background: RGB,
    resize: str,
    encoder: Encoder | None,
    part_rows: int,
) -> tuple[Path, StoreKey, dict[int, np.ndarray], dict[int, object]]:
    """The store's folder and key, each needed part's expected ids, and each part's problem (None: intact)."""
    sample_ids = np.asarray(sample_ids, dtype=np.int64)
    with ws.connect(read_only=True) as con:
        row = fetch_source(con, source)
    ok = ok_sample_ids(ws, source)
    found = np.minimum(np.searchsorted(ok, sample_ids), max(len(ok) - 1, 0))
    if len(sample_ids) and (len(ok) == 0 or not np.array_equal(ok[found], sample_ids)):
        bad = sample_ids[ok[found] != sample_ids] if len(ok) else sample_ids
        raise ThresherError(
            f"row {int(bad[0])} of source {source!r} is not an ok row (see `thresher status`)"
        )
    key = StoreKey(
        source=source,
        source_key=str(row["revision"] or row["fingerprint"]),
        n_rows=int(row["n_rows"]),
        encoder=PIXELS if encoder is None else encoder.name,
        encoder_sha1=None if encoder is None else encoder.sha1,
        size=size,
        background=background_name(background),
        part_rows=part_rows,
        resize=StoreKey.resize_of(size, check_resize(resize)),
    )
    folder = store_dir(ws, key)
    check_meta(folder, key)
    expected = {int(p): _range(ok, int(p), part_rows) for p in parts_of(sample_ids, part_rows)}
    problems = {p: part_problem_for(folder, p, ids) for p, ids in expected.items()}
    return folder, key, expected, problems


def _range(ok: np.ndarray, part: int, part_rows: int) -> np.ndarray:
    lo, hi = np.searchsorted(ok, [part * part_rows, (part + 1) * part_rows])
    return ok[lo:hi]


class _DecodeBatches(Dataset):
    """Item j = (part, uint8 (b, H, W, C) pixels, grey flags, error or None) for one batch of one part.

    A decode error is returned, not raised: DataLoader would re-raise it with a worker traceback attached,
    and it must reach the user as one line."""

    def __init__(
        self,
        dataset: datasets.Dataset,
        source: str,
        batches: list[tuple[int, np.ndarray]],
        size: int | None,
        background: RGB,
        resize: str,
    ) -> None:
        self.dataset = dataset.select_columns(["image"])
        self.source = source
        self.batches = batches
        self.size = size
        self.background = background
        self.resize = resize

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, j: int) -> tuple[int, np.ndarray | None, np.ndarray | None, str | None]:
        part, rows = self.batches[j]
        try:
            arrays = [
                decode_row(img, self.size, self.background, self.resize)
                for img in self.dataset[rows.tolist()]["image"]
            ]
            return part, *stack_rows(arrays, self.source), None
        except ThresherError as exc:
            return part, None, None, str(exc)
        except (OSError, ValueError) as exc:
            return (
                part,
                None,
                None,
                f"source {self.source!r}: cannot decode rows {int(rows[0])}..{int(rows[-1])}: {exc}",
            )


def _as_decoded(item: tuple) -> tuple:
    """The loader's collate function: items stay numpy (the default would turn them into tensors)."""
    return item


def _as_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """(b, H, W, C) → (b, channels, H, W) for an encoder: grey repeated into 3; colour into 1 refused."""
    if pixels.shape[-1] != channels:
        if pixels.shape[-1] != 1:
            raise ThresherError(f"the autoencoder takes {channels}-channel images; these are colour")
        pixels = np.repeat(pixels, channels, axis=-1)
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def _build(
    folder: Path,
    key: StoreKey,
    dataset: datasets.Dataset,
    parts: dict[int, np.ndarray],
    background: RGB,
    encoder: Encoder | None,
    batch_size: int,
    num_workers: int,
    show: bool,
) -> None:
    if not parts:
        return
    batches = [
        (p, ids[s : s + batch_size]) for p, ids in parts.items() for s in range(0, len(ids), batch_size)
    ]
    loader = DataLoader(
        _DecodeBatches(dataset, key.source, batches, key.size, background, key.decode_resize),
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_as_decoded,
    )
    what = "pixel store" if encoder is None else f"latent store ({encoder.name})"
    current, chunks, greys = -1, [], []
    with task(what, sum(len(ids) for ids in parts.values()), unit="img", enabled=show) as bar:
        for part, pixels, grey, error in loader:
            if error is not None:
                raise ThresherError(error)
            if part != current and chunks:
                _flush(folder, key.source, current, parts[current], chunks, greys, encoder is None)
                chunks, greys = [], []
            current = part
            chunks.append(
                pixels if encoder is None else encoder.encode(_as_channels(pixels, encoder.in_channels))
            )
            greys.append(grey)
            bar.advance(len(grey))
    _flush(folder, key.source, current, parts[current], chunks, greys, encoder is None)


def _flush(
    folder: Path,
    source: str,
    part: int,
    ids: np.ndarray,
    chunks: list[np.ndarray],
    greys: list[np.ndarray],
    pixels: bool,
) -> None:
    if pixels:
        check_one_size({c.shape[1:3] for c in chunks}, source)
        if any(c.shape[-1] == 3 for c in chunks):
            chunks = [np.repeat(c, 3, axis=-1) if c.shape[-1] == 1 else c for c in chunks]
    array = np.concatenate(chunks)
    assert len(array) == len(ids), "a part's rows and ids must line up"
    write_part(folder, part, ids, array, grey=np.concatenate(greys))
