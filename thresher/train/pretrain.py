"""`thresher pretrain`: a short training run on a whole source that records what the gradient scores need.

It is an ordinary training run (:func:`thresher.train.loop.train`, so accelerate, exact resume and the
run folder come with it) plus an epoch hook that, after every epoch, on the main process:

* logs every sample's probe-averaged loss l̄(z) at its fixed probe points (docs/architecture.md,
  'Gradient scores'): ``loss_log/epoch-NNNN.parquet`` (sample_id, loss), read by ``monotonicity``;
* after the epochs of :meth:`PretrainConfig.checkpoint_epochs`, saves the network being trained (not its
  EMA: MoSo's first-order expansion is about the trajectory the optimizer took) with the epoch's learning
  rate: ``snapshots/epoch-NNNN/`` (``model.json`` + weights), read by ``el2n``, ``grand`` and ``moso``.

The run id is derived from the config hash of everything that determines the result, so rerunning the same
command reuses a finished run and resumes a killed one from its last checkpoint (an epoch's hook output
is rewritten identically when its epoch is redone). Broken rows are never seen: the source's rows are its
``ok`` rows.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from thresher.catalog.names import config_hash
from thresher.catalog.runs import finish_run, run_row, start_run
from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import resolve_dataset
from thresher.device import pick_device, process_state
from thresher.errors import ThresherError
from thresher.images import parse_background
from thresher.train.config import PretrainConfig, TrainConfig
from thresher.train.model import FlowDiT, load_model, save_model
from thresher.train.pretrain_record import PRETRAIN_KIND
from thresher.train.training_set import TrainingSet, TrainingSetDataset

LOSS_LOG = "loss_log"
SNAPSHOTS = "snapshots"
LOSS_BATCH = 256  # samples per probe-loss pass


@dataclass
class PretrainResult:
    run_id: str
    source: str
    run_dir: Path
    epochs: int
    snapshots: list[Path]
    reused: bool

    def lines(self) -> list[str]:
        verb = "reused" if self.reused else "trained"
        return [
            f"{self.run_id}: {verb} {self.epochs} epochs on {self.source}; "
            f"{len(self.snapshots)} checkpoints, loss log of every epoch → {self.run_dir}"
        ]


def pretrain_run_id(source: str, config: PretrainConfig) -> str:
    return f"pretrain-{source}-{config_hash({**config.identity(), 'source': source})[:10]}"


def run_pretrain(ws: Workspace, config: PretrainConfig) -> PretrainResult:
    if config.device not in (None, "", "auto"):
        pick_device(config.device)  # an unavailable device fails before the pixel store is built
    state = process_state(config.device)
    source = ws.resolve_source(config.source)
    run_id = pretrain_run_id(source, config)
    run_dir = ws.run_dir(run_id)
    try:
        existing = run_row(ws, run_id)
    except ThresherError:
        existing = None
    if existing is not None and existing["status"] == "done" and (run_dir / "model.json").is_file():
        return PretrainResult(run_id, source, run_dir, config.epochs, snapshot_dirs(run_dir), reused=True)

    data = pretrain_data(ws, source, config)
    steps_per_epoch = len(data) // config.batch_size
    if steps_per_epoch < 1:
        raise ThresherError(
            f"source {source!r} has {len(data)} rows, fewer than one batch of {config.batch_size}"
        )
    train_config = TrainConfig(
        model_size=config.model_size,
        width=config.width,
        depth=config.depth,
        heads=config.heads,
        steps=config.epochs * steps_per_epoch,
        batch_size=config.batch_size,
        lr=config.lr,
        warmup_steps=config.warmup_steps,
        unconditional=config.unconditional,
        seed=config.seed,
        device=config.device,
        checkpoint_every=steps_per_epoch,
        sample_count=0,
    )
    resume = any((run_dir / "checkpoints").glob("step-*"))
    run_config = {
        **config.identity(),
        "source": source,
        "revision": data_revision(ws, source),
        "n_rows": len(data),
        "steps_per_epoch": steps_per_epoch,
        "checkpoint_epochs": config.checkpoint_epochs(),
        "train": train_config.__dict__,
    }
    if state.is_main_process:
        if not resume:
            # A run killed before its first checkpoint starts over: nothing of it can be trusted.
            shutil.rmtree(run_dir, ignore_errors=True)
        start_run(ws, run_id, PRETRAIN_KIND, source, run_config, run_dir, dataset=source)
    hook = _EpochRecorder(data, config, run_dir)
    try:
        from thresher.train.loop import train

        train(train_config, data, run_dir, resume=resume, on_epoch_end=hook)
    except BaseException:
        if state.is_main_process:
            finish_run(ws, run_id, "failed")
        raise
    if state.is_main_process:
        finish_run(ws, run_id, "done", {"snapshots": [p.name for p in snapshot_dirs(run_dir)]})
    return PretrainResult(run_id, source, run_dir, config.epochs, snapshot_dirs(run_dir), reused=False)


def data_revision(ws: Workspace, source: str) -> str | None:
    return ws.source_row(source)["revision"]


def pretrain_data(ws: Workspace, source: str, config: PretrainConfig) -> TrainingSet:
    """Every ok row of ``source`` as the pretraining sees it (pixels or latents, labels unless unconditional)."""
    from thresher.train.train_run import prepare_training_data

    resolved = resolve_dataset(ws, source)
    return prepare_training_data(
        ws,
        resolved,
        image_size=config.image_size,
        vae=config.vae,
        autoencoder=None,
        model_size=config.model_size,
        device=config.device,
        unconditional=config.unconditional,
        background=parse_background(config.background),
        resize=config.resize,
    )


class _EpochRecorder:
    """The epoch hook: the loss log of every epoch and the checkpoints of the chosen epochs."""

    def __init__(self, data: TrainingSet, config: PretrainConfig, run_dir: Path) -> None:
        self.data = data
        self.config = config
        self.run_dir = run_dir
        self.keep = set(config.checkpoint_epochs())

    def __call__(self, epoch: int, network: FlowDiT, lr: float) -> None:
        losses = probe_losses(network, self.data, self.config)
        log_dir = self.run_dir / LOSS_LOG
        log_dir.mkdir(parents=True, exist_ok=True)
        table = pa.table({"sample_id": self.data.sample_ids.numpy().astype(np.int64), "loss": losses})
        tmp = log_dir / f".epoch-{epoch:04d}.parquet.tmp"
        pq.write_table(table, tmp)
        tmp.replace(log_dir / f"epoch-{epoch:04d}.parquet")
        if epoch in self.keep:
            final = self.run_dir / SNAPSHOTS / f"epoch-{epoch:04d}"
            staging = final.parent / f".{final.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            save_model(network, staging, extra={"epoch": epoch, "lr": lr, "space": self.data.space,
                                                "vae": self.data.vae})  # fmt: skip
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)


def probe_losses(network: torch.nn.Module, data: TrainingSet, config: PretrainConfig) -> np.ndarray:
    """l̄(z) of every row of ``data`` at its fixed probe points (float64, in row order)."""
    from thresher.train.probes import per_sample_losses, probe_points

    dataset = TrainingSetDataset(data)
    out = np.empty(len(data), dtype=np.float64)
    conditional = network.config.num_classes is not None
    for start in range(0, len(data), LOSS_BATCH):
        rows = range(start, min(start + LOSS_BATCH, len(data)))
        x, labels, ids = rows_of(dataset, rows, conditional)
        t, noise = probe_points(ids, tuple(x.shape[1:]), config.k_times, config.m_noises, config.seed)
        out[start : rows.stop] = per_sample_losses(network, x, labels, t, noise).double().mean(dim=1).numpy()
    return out


def rows_of(
    dataset: TrainingSetDataset, rows: range, conditional: bool
) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
    items = [dataset[i] for i in rows]
    x = torch.stack([item[0] for item in items])
    labels = torch.stack([item[1] for item in items]) if conditional else None
    ids = np.array([int(item[3]) for item in items], dtype=np.int64)
    return x, labels, ids


# -- reading a finished pretraining back ------------------------------------------------------------
def snapshot_dirs(run_dir: Path) -> list[Path]:
    return sorted(p for p in (run_dir / SNAPSHOTS).glob("epoch-*") if p.is_dir())


def load_snapshot(path: Path) -> tuple[FlowDiT, float]:
    """A saved checkpoint of the pretraining and the learning rate it was trained with."""
    model, payload = load_model(path)
    return model, float(payload["lr"])


def loss_log(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(sample ids, losses of shape (epochs, N)) from the loss log, rows aligned on sample id."""
    files = sorted((run_dir / LOSS_LOG).glob("epoch-*.parquet"))
    if not files:
        raise ThresherError(f"{run_dir} has no loss log; was it made by `thresher pretrain`?")
    tables = [pq.read_table(f).to_pandas().set_index("sample_id")["loss"] for f in files]
    ids = tables[0].index.to_numpy(np.int64)
    return ids, np.stack([t.reindex(ids).to_numpy(np.float64) for t in tables])
