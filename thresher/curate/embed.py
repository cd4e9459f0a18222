"""The embedding store's writer: batched, by part, resumable. The store's layout is described once, in
:mod:`thresher.catalog.embeddings` (which also reads it).

Parts are the unit of work and of resumption: a rerun skips every part whose marker and files exist, so an
interrupted run (or one part deleted by hand) redoes only what is missing. Under ``accelerate launch`` part i
goes to rank i % world_size; the store looks the same whatever the number of processes.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from thresher.catalog.embeddings import ids_fingerprint, write_embedding_part
from thresher.catalog.part_files import part_done, remove_dead_temporaries, write_meta
from thresher.catalog.staging import new_temp_staging, remove_abandoned, seal
from thresher.config_field import default_of
from thresher.curate.config import EmbedRunConfig
from thresher.device import pick_device, process_state
from thresher.embedders import Embedder, Preprocess, build_embedder
from thresher.errors import ThresherError
from thresher.executors.config import task_parts
from thresher.images import background_name
from thresher.progress import task, track

DTYPES = ("float16", "float32")
FITTED_DIR = "embedder"


@dataclass
class EmbedConfig:
    """How to embed: which model, batch/worker sizes, device, precision, and the store's shape. The
    settings `thresher embed` exposes take their defaults from :class:`EmbedRunConfig` (one default each)."""

    embedder: str | Embedder  # a name may carry ?background=… (see thresher.embedders.with_background)
    batch_size: int = default_of(EmbedRunConfig, "batch_size")
    num_workers: int = 4
    device: str | None = default_of(EmbedRunConfig, "device")  # None/"auto": CUDA when present
    precision: str = default_of(EmbedRunConfig, "precision")  # CPU always runs fp32
    normalize: bool = default_of(EmbedRunConfig, "normalize")  # cosine geometry for clustering and dedup
    part_size: int = default_of(EmbedRunConfig, "part_size")  # rows per part: unit of resumption and work
    dtype: str = "float16"
    fit_sample: int = 10_000  # images a data-fitted embedder (pixels) is fitted on
    seed: int = default_of(EmbedRunConfig, "seed")  # picks the fit sample
    image_column: str = "image"
    task: tuple[int, int] | None = None  # (index, count): one Slurm array task's parts, p mod count = index


@dataclass
class EmbeddingInfo:
    """What a store holds, plus what this call did (``written`` / ``skipped`` part indices of this process)."""

    path: Path
    embedder: str
    dim: int
    dtype: str
    normalized: bool
    n: int
    parts: int
    complete: bool
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


class _PartBatches(torch.utils.data.Dataset):
    """Item j = one batch of one part: (part index, preprocessed images). Batches never straddle parts.

    Reading a batch of rows in one ``dataset[rows]`` call is one Arrow take instead of one per image.
    """

    def __init__(
        self,
        dataset: datasets.Dataset,
        batches: list[tuple[int, np.ndarray]],
        preprocess: Preprocess,
        image_column: str,
    ) -> None:
        self.dataset = dataset.select_columns([image_column])
        self.batches = batches
        self.preprocess = preprocess
        self.image_column = image_column

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, j: int) -> tuple[int, torch.Tensor]:
        part, rows = self.batches[j]
        images = self.dataset[rows.tolist()][self.image_column]
        return part, torch.stack([self.preprocess(img) for img in images])


def embed_dataset(
    dataset: datasets.Dataset, sample_ids: np.ndarray, out_dir: str | Path, config: EmbedConfig
) -> EmbeddingInfo:
    """Embed ``dataset`` rows ``sample_ids`` (in that order) into the store at ``out_dir``; resumes finished parts."""
    out_dir = Path(out_dir)
    sample_ids = np.asarray(sample_ids, dtype=np.int64)
    if config.dtype not in DTYPES:
        raise ThresherError(f"unknown embedding dtype {config.dtype!r}; choose {' or '.join(DTYPES)}")
    if config.part_size < 1 or config.batch_size < 1:
        raise ThresherError("part_size and batch_size must be positive")
    if config.image_column not in dataset.column_names:
        raise ThresherError(
            f"dataset has no {config.image_column!r} column (columns: {', '.join(dataset.column_names)})"
        )
    if len(sample_ids) and (sample_ids.min() < 0 or sample_ids.max() >= len(dataset)):
        raise ThresherError(f"sample ids must be rows 0..{len(dataset) - 1} of the dataset")

    state = process_state(config.device)  # the CPU asked for explicitly, so ranks join one gloo group
    device = pick_device(config.device) if config.device not in (None, "", "auto") else state.device
    embedder = config.embedder
    if isinstance(embedder, str):
        embedder = build_embedder(embedder, device=device, precision=config.precision, seed=config.seed)
    n_parts = math.ceil(len(sample_ids) / config.part_size)
    meta = {
        "format": 1,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "dtype": config.dtype,
        "normalized": config.normalize,
        "n": len(sample_ids),
        "parts": n_parts,
        "shard_size": config.part_size,
        "ids_sha1": ids_fingerprint(sample_ids),
        # what transparent pixels were composited onto (the name says it too, unless white); a store made
        # before compositing existed has no such key and is not resumed
        "background": background_name(embedder.background),
    }
    fingerprint = embedder.model_fingerprint()
    if fingerprint is not None:  # weights (pretrained or seeded random): another state is another store
        meta["model_sha1"] = fingerprint
        meta["seed"] = config.seed
    _check_resumable(out_dir, meta, embedder)
    state.wait_for_everyone()  # every rank has read the old meta before rank 0 replaces it

    if state.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(out_dir)  # what a killed run left behind
        remove_abandoned(out_dir, f".{FITTED_DIR}.*")
        if embedder.fits_to_data:
            _fit_or_load(embedder, dataset, sample_ids, out_dir, config)
        if not (out_dir / "meta.json").is_file():  # on resume it exists and matches (checked above)
            write_meta(out_dir, meta)
    state.wait_for_everyone()
    if embedder.fits_to_data and not state.is_main_process:  # every rank embeds with rank 0's fitted state
        embedder.load(out_dir / FITTED_DIR)

    mine = task_parts(range(n_parts), config.task, state.process_index, state.num_processes)
    todo = [i for i in mine if not part_done(out_dir, i)]
    _embed_parts(dataset, sample_ids, out_dir, config, embedder, todo, show=state.is_local_main_process)
    state.wait_for_everyone()
    complete = all(part_done(out_dir, i) for i in range(n_parts))
    return EmbeddingInfo(
        out_dir,
        embedder.name,
        embedder.dim,
        config.dtype,
        config.normalize,
        len(sample_ids),
        n_parts,
        complete,
        written=todo,
        skipped=sorted(set(mine) - set(todo)),
    )


# Recorded in meta.json for people, not compared: a seed only matters through the weights it made.
_RECORDED_ONLY = {"seed"}


def _check_resumable(out_dir: Path, meta: dict, embedder: Embedder) -> None:
    """Refuse to mix parts made with other settings or other ids into one store."""
    meta_file = out_dir / "meta.json"
    if not meta_file.is_file():
        if any(out_dir.glob("_SUCCESS.*")):
            raise ThresherError(
                f"{out_dir} has finished parts but no meta.json; delete the folder to start over"
            )
        return
    old = json.loads(meta_file.read_text())
    # A store written before weights were fingerprinted has no model_sha1: it cannot be checked, only kept.
    changed = [
        k
        for k, v in meta.items()
        if k not in _RECORDED_ONLY and old.get(k) != v and not (k == "model_sha1" and k not in old)
    ]
    if changed:
        raise ThresherError(
            f"{out_dir} holds embeddings made with other settings ({', '.join(changed)} differ); "
            "use another folder or delete it to start over"
        )
    has_parts = any(out_dir.glob("_SUCCESS.*"))
    if embedder.fits_to_data and has_parts and not (out_dir / FITTED_DIR).is_dir():
        raise ThresherError(
            f"{out_dir} has parts but lost the fitted {embedder.name!r} state in {FITTED_DIR}/; "
            "delete the folder to start over"
        )


def _fit_or_load(
    embedder: Embedder, dataset: datasets.Dataset, sample_ids: np.ndarray, out_dir: Path, config: EmbedConfig
) -> None:
    """Load the store's fitted state if it has one (a resumed run must match its earlier parts), else fit and save."""
    fitted = out_dir / FITTED_DIR
    if fitted.is_dir():
        embedder.load(fitted)
        return
    if embedder.needs_fit:
        rng = np.random.default_rng(config.seed)
        n_fit = min(config.fit_sample, len(sample_ids))
        # Sorted rows read the Arrow table front to back instead of jumping around.
        rows = np.sort(rng.choice(sample_ids, size=n_fit, replace=False))
        images = dataset.select_columns([config.image_column]).select(rows)
        embedder.fit(
            track(
                (row[config.image_column] for row in images), f"fit {embedder.name}", total=n_fit, unit="img"
            )
        )
    # (Else fitted by the caller: its state is kept with the store for resumes and readers.) Saved aside and
    # renamed in: Slurm array tasks each fit at once, the first rename wins, and every task then embeds
    # with the winner's state, so all parts of the store come from one fitted state.
    staging = new_temp_staging(out_dir, f".{FITTED_DIR}.")
    embedder.save(staging)
    try:
        staging.rename(fitted)
    except OSError:  # another process's state got there first
        shutil.rmtree(staging, ignore_errors=True)
    seal(fitted)
    embedder.load(fitted)


def _embed_parts(
    dataset: datasets.Dataset,
    sample_ids: np.ndarray,
    out_dir: Path,
    config: EmbedConfig,
    embedder: Embedder,
    todo: list[int],
    show: bool,
) -> None:
    if not todo:
        return
    batches: list[tuple[int, np.ndarray]] = []
    for i in todo:
        rows = sample_ids[i * config.part_size : (i + 1) * config.part_size]
        batches += [(i, rows[s : s + config.batch_size]) for s in range(0, len(rows), config.batch_size)]
    loader = DataLoader(
        _PartBatches(dataset, batches, embedder.preprocess, config.image_column),
        batch_size=None,
        num_workers=config.num_workers,
        pin_memory=embedder.device.type == "cuda",
    )
    np_dtype = np.dtype(config.dtype)
    current, chunks = -1, []
    total = sum(len(rows) for _, rows in batches)
    with task(f"embed {embedder.name}", total, unit="img", enabled=show) as bar:
        for part, images in loader:
            if part != current and chunks:
                _flush(out_dir, current, sample_ids, config.part_size, chunks)
                chunks = []
            current = part
            vectors = embedder.forward(images)
            if config.normalize:
                vectors = F.normalize(vectors, dim=-1)
            chunks.append(vectors.cpu().numpy().astype(np_dtype, copy=False))
            bar.advance(len(images))
    _flush(out_dir, current, sample_ids, config.part_size, chunks)


def _flush(
    out_dir: Path, part: int, sample_ids: np.ndarray, part_size: int, chunks: list[np.ndarray]
) -> None:
    ids = sample_ids[part * part_size : (part + 1) * part_size]
    vectors = np.concatenate(chunks)
    assert len(vectors) == len(ids), "a part's vectors and ids must line up"
    write_embedding_part(out_dir, part, ids, vectors)
