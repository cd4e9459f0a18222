"""`thresher store`: build a dataset's image store ahead of training (docs/architecture.md, "Image stores").

`train`, `pretrain` and `evaluate` build what they need on first use; building it as its own step lets a
big box (or `accelerate launch` over many processes, or a Slurm job array: `--executor slurm`) do the
decoding and encoding once, and shows what a store costs apart from training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import resolve_dataset
from thresher.device import process_state
from thresher.executors.slurm import Submission
from thresher.images import parse_background
from thresher.train.config import StoreConfig


@dataclass
class StoreOutcome:
    dataset: str
    folder: Path
    rows: int
    row_shape: tuple[int, ...]
    space: str
    parts: int
    seconds: float
    task: str | None = None  # --task i/n: only this array task's parts were built

    def lines(self) -> list[str]:
        if self.task is not None:
            return [
                f"{self.dataset}: task {self.task} built its parts in {self.seconds:.1f}s → {self.folder}"
            ]
        shape = "×".join(str(v) for v in self.row_shape)
        return [
            f"{self.dataset}: {self.rows} rows of {shape} {self.space} in {self.parts} parts "
            f"({self.seconds:.1f}s)",
            f"  → {self.folder}",
        ]


def build_store(ws: Workspace, config: StoreConfig) -> StoreOutcome | Submission:
    started = time.perf_counter()
    resolved = resolve_dataset(ws, config.dataset)
    if config.executor.on_slurm:
        return _submit(ws, config, resolved)
    if config.executor.task is not None:
        return _build_task_share(ws, config, resolved, started)
    from thresher.train.train_run import prepare_training_data

    data = prepare_training_data(
        ws,
        resolved,
        image_size=config.image_size,
        vae=config.vae,
        autoencoder=None,
        model_size=None,
        device=config.device,
        unconditional=True,
        background=parse_background(config.background),
        resize=config.resize,
        num_workers=config.num_workers,
    )
    view = data.images.view
    process_state(config.device).wait_for_everyone()
    return StoreOutcome(
        dataset=resolved.spec,
        folder=view.folder,
        rows=len(view),
        row_shape=view.row_shape,
        space=data.space,
        parts=len(list(view.folder.glob("_SUCCESS.*"))),
        seconds=time.perf_counter() - started,
    )


def _build_task_share(ws: Workspace, config: StoreConfig, resolved, started: float) -> StoreOutcome:
    """One Slurm array task: the parts p with p mod n = i − 1 of the store that the command as given
    would build (same encoder, size, resize and background), and nothing else."""
    from thresher.catalog.image_store_build import build_parts
    from thresher.train.train_run import training_encoder

    background = parse_background(config.background)
    encoder = training_encoder(ws, resolved, image_size=config.image_size, vae=config.vae, autoencoder=None,
                               device=config.device, background=background, resize=config.resize)  # fmt: skip
    folder, _ = build_parts(ws, resolved.source, resolved.sample_ids, size=config.image_size,
                            background=background, resize=config.resize, encoder=encoder, num_workers=config.num_workers,
                            device=config.device, task=config.executor.task_share)  # fmt: skip
    return StoreOutcome(resolved.spec, folder, 0, (), "latents" if encoder else "pixels", 0,
                        time.perf_counter() - started, task=config.executor.task)  # fmt: skip


def _submit(ws: Workspace, config: StoreConfig, resolved) -> Submission:
    """The store's parts as a Slurm array. A pixel store's missing parts are known here; a latent store's
    folder names its autoencoder's weights, which are not loaded here (a login node), so every part
    counts as pending and each task skips what it finds built."""
    from thresher.catalog.image_store import PART_ROWS, parts_of
    from thresher.catalog.image_store_build import missing_parts
    from thresher.executors.stage_arrays import submit_parts

    if config.vae is None:
        parts, pending = missing_parts(ws, resolved.source, resolved.sample_ids, size=config.image_size,
                                       background=parse_background(config.background),
                                       resize=config.resize)  # fmt: skip
    else:
        parts = pending = [int(p) for p in parts_of(resolved.sample_ids, PART_ROWS)]
    return submit_parts(ws.root, "store", replace(config, dataset=resolved.spec), f"store-{resolved.spec}",
                        parts, pending, positional=())  # fmt: skip
