"""`thresher store`: build a dataset's image store ahead of training (docs/architecture.md, "Image stores").

`train`, `pretrain` and `evaluate` build what they need on first use; building it as its own step lets a
big box (or `accelerate launch` over many processes) do the decoding and encoding once, and shows what a
store costs apart from training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import resolve_dataset
from thresher.device import process_state
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

    def lines(self) -> list[str]:
        shape = "×".join(str(v) for v in self.row_shape)
        return [
            f"{self.dataset}: {self.rows} rows of {shape} {self.space} in {self.parts} parts "
            f"({self.seconds:.1f}s)",
            f"  → {self.folder}",
        ]


def build_store(ws: Workspace, config: StoreConfig) -> StoreOutcome:
    from thresher.train.run import prepare_training_data

    started = time.perf_counter()
    resolved = resolve_dataset(ws, config.dataset)
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
