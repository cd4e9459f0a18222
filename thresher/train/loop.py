"""The training loop: a DiT learns the flow-matching velocity of a :class:`TrainingSet` (docs/architecture.md, "Training and evaluation").

``accelerate`` owns devices, processes (DDP under ``accelerate launch``), mixed precision and
checkpoints. Every global batch is split across processes (``split_batches``), so the data a run sees
does not depend on the process count. Resuming is exact: the epoch order is a pure function of
(seed, epoch) (:class:`EpochSampler`), the per-step noise and times come from a generator seeded by
(seed, step, rank), and model, optimizer, scheduler, EMA and progress all live in the checkpoint.

Run folder (written by rank 0): ``config.yaml``, ``metrics.jsonl``, ``checkpoints/step-NNNNNNN/``,
``model.json`` + ``ema.safetensors`` (final EMA weights), ``samples.png``, ``seen_ids.parquet``
(distinct sample ids trained on) and ``summary.json`` (the :class:`TrainResult`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader

from thresher.device import gpu_precision, pick_device, usable_precision
from thresher.errors import ThresherError
from thresher.progress import task
from thresher.train.checkpoints import (
    check_run_dir,
    load_newest_readable,
    save_checkpoint,
    truncate_metrics,
)
from thresher.train.conditioning import label_counts
from thresher.train.config import TrainConfig
from thresher.train.ema import create_ema
from thresher.train.flow import NULL_LABEL, flow_loss, sample_t
from thresher.train.latents import load_vae
from thresher.train.model import FlowDiT, build_model, save_model
from thresher.train.sampling import resolve_labels, sample_images, save_grid
from thresher.train.training_set import EpochSampler, TrainingSet, TrainingSetDataset

log = logging.getLogger(__name__)


def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    """Learning-rate multiplier at ``step``: linear warmup, then constant or a cosine decay to 0 at ``total``.

    Constant (as DiT and SiT train) never depends on the total steps, so a run can be extended; cosine
    gives more quality from a fixed short budget (the demo) at the price of fixing the length up front.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "cosine":
        progress = min(1.0, (step - warmup) / max(total - warmup, 1))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    final_loss: float  # mean training loss over the last logging window
    images_per_second: float  # over the whole run (this session, after any resume)
    distinct_samples_seen: int  # distinct sample ids trained on, all processes together
    local_images_seen: int  # images this process consumed in this session
    resumed_from: int | None  # step of the checkpoint a resumed run started from


class _Progress:
    """Step counter and which rows were seen, checkpointed with the run (accelerate custom state)."""

    def __init__(self, sample_ids: torch.Tensor) -> None:
        self.step = 0
        self.order = torch.argsort(sample_ids)
        self.sorted_ids = sample_ids[self.order]
        self.seen = torch.zeros(len(sample_ids), dtype=torch.bool)

    def mark(self, ids: torch.Tensor) -> None:
        self.seen[self.order[torch.searchsorted(self.sorted_ids, ids.cpu())]] = True

    def seen_ids(self) -> torch.Tensor:
        return torch.unique(self.sorted_ids[self.seen[self.order]])

    def state_dict(self) -> dict:
        return {"step": self.step, "seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.seen = int(state["step"]), state["seen"].bool()


def mixed_precision(precision: str, device: torch.device) -> str:
    """accelerate's mixed-precision name for ``precision`` on ``device`` (auto: bf16 on GPU, none on CPU)."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return "no"
    if precision == "auto":
        return gpu_precision()
    if precision == "fp16" and device.type != "cuda":
        raise ThresherError("fp16 training needs a GPU; use bf16 or fp32 on the CPU")
    return usable_precision(device, precision)


def _relative_local_path(path: str | None, run_dir: Path) -> str | None:
    if not path or not Path(path).is_dir():
        return None
    return os.path.relpath(Path(path).resolve(), Path(run_dir).resolve())


def _step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """Per-step randomness (t, ε, label dropout) that a resumed run reproduces without saved RNG state."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step) * 1_009 + rank)


# Called on the main process after every completed epoch with (epoch number from 1, the network being
# trained, the learning rate of the epoch's last step); the pretraining records its per-sample signals here.
EpochHook = Callable[[int, FlowDiT, float], None]


def train(
    config: TrainConfig,
    data: TrainingSet,
    run_dir: Path,
    resume: bool = False,
    on_epoch_end: EpochHook | None = None,
) -> TrainResult:
    """Train a DiT on ``data``, writing the run folder described in this module's docstring."""
    config.validate()
    run_dir = Path(run_dir)
    if config.device not in (None, "", "auto"):
        pick_device(config.device)  # a clear error for an unavailable device
    force_cpu = config.device == "cpu"
    probe = torch.device("cpu") if force_cpu else pick_device(None)
    accelerator = Accelerator(
        cpu=force_cpu,
        mixed_precision=mixed_precision(config.precision, probe),
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )
    world = accelerator.num_processes
    if config.batch_size % world:
        raise ThresherError(f"batch_size {config.batch_size} is not divisible by the {world} processes")
    if len(data) < config.batch_size:
        raise ThresherError(f"training set {data.name!r} has {len(data)} rows, fewer than one batch")
    weighted = config.weighting is not None
    if weighted and data.weights is None:
        raise ThresherError(
            f"weighting={config.weighting!r} needs per-sample weights; {data.name!r} has none"
        )
    conditional = data.num_classes is not None and not config.unconditional
    num_classes = data.num_classes if conditional else None

    set_seed(config.seed)
    model = build_model(
        config.model_size, data.channels, data.resolution, num_classes,
        width=config.width, depth=config.depth, heads=config.heads,
    )  # fmt: skip
    resolved = {
        **asdict(config),
        "mixed_precision": accelerator.mixed_precision,
        "num_processes": world,
        "data": {"name": data.name, "rows": len(data), "space": data.space, "vae": data.vae,
                 "num_classes": data.num_classes, "resolution": data.resolution},
        "model": {**asdict(model.config), "parameters": sum(p.numel() for p in model.parameters())},
    }  # fmt: skip
    start_checkpoint = check_run_dir(run_dir, resolved, resume)
    accelerator.wait_for_everyone()  # every process has read the old config.yaml before rank 0 rewrites it
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        partial(lr_factor, warmup=config.warmup_steps, total=config.steps, schedule=config.lr_schedule),
    )
    dataset = TrainingSetDataset(data)
    sampler = EpochSampler(len(data), config.seed, dataset.weights if config.weighting == "sampler" else None)
    loader = DataLoader(
        dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
        num_workers=config.num_workers, pin_memory=accelerator.device.type == "cuda",
    )  # fmt: skip
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    network: FlowDiT = accelerator.unwrap_model(model)
    ema = create_ema(network, config.ema_decay)
    progress = _Progress(data.sample_ids.long())
    accelerator.register_for_checkpointing(ema, progress)
    metrics_path = run_dir / "metrics.jsonl"
    if start_checkpoint is not None:
        start_checkpoint = load_newest_readable(accelerator, run_dir)
        if accelerator.is_main_process:
            truncate_metrics(metrics_path, progress.step)
    resumed_from = progress.step if start_checkpoint is not None else None

    steps_per_epoch = len(loader)
    rank, device = accelerator.process_index, accelerator.device
    bar = task(
        "training", config.steps, unit="step", initial=progress.step, enabled=accelerator.is_main_process
    )
    window_loss, window_steps, window_start = torch.zeros((), device=device), 0, time.perf_counter()
    session_start, session_steps, local_images, final_loss = time.perf_counter(), 0, 0, float("nan")
    model.train()
    while progress.step < config.steps:
        epoch, done_in_epoch = divmod(progress.step, steps_per_epoch)
        sampler.set_epoch(epoch)
        loader.set_epoch(epoch)
        batches = accelerator.skip_first_batches(loader, done_in_epoch) if done_in_epoch else loader
        for x, labels, weights, ids in batches:
            generator = _step_generator(config.seed, progress.step, rank, device)
            t = sample_t(len(x), config.t_sampling, generator=generator, device=device)
            noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
            drop = torch.rand(len(x), generator=generator, device=device) < config.label_dropout
            labels = torch.where(drop | (not conditional), NULL_LABEL, labels)
            losses = flow_loss(model, x, t, noise, labels)
            loss = (losses * weights).mean() if config.weighting == "loss" else losses.mean()
            accelerator.backward(loss)
            if config.grad_clip:
                accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            ema.update_parameters(network)

            progress.step += 1
            session_steps += 1
            local_images += len(x)
            progress.mark(accelerator.gather(ids))
            window_loss += loss.detach()
            window_steps += 1
            if progress.step % config.log_every == 0 or progress.step == config.steps:
                final_loss = accelerator.reduce(window_loss / window_steps, "mean").item()
                rate = window_steps * config.batch_size / (time.perf_counter() - window_start)
                record = {"step": progress.step, "loss": final_loss, "lr": scheduler.get_last_lr()[0],
                          "images_per_s": rate}  # fmt: skip
                if accelerator.is_main_process:
                    with metrics_path.open("a") as log:
                        log.write(json.dumps(record) + "\n")
                bar.describe(f"loss={final_loss:.4f}, img_s={rate:.1f}")
                window_loss.zero_()
                window_steps, window_start = 0, time.perf_counter()
            if on_epoch_end is not None and progress.step % steps_per_epoch == 0:
                # Before the checkpoint of the same step: a run killed in between redoes the epoch's hook
                # from the previous checkpoint, with the same result.
                if accelerator.is_main_process:
                    on_epoch_end(progress.step // steps_per_epoch, network, scheduler.get_last_lr()[0])
                accelerator.wait_for_everyone()
                model.train()
            if progress.step % config.checkpoint_every == 0 or progress.step == config.steps:
                save_checkpoint(accelerator, run_dir, progress.step, config.keep_checkpoints)
            bar.advance()
            if progress.step >= config.steps:
                break
    bar.close()
    elapsed = time.perf_counter() - session_start

    result = TrainResult(
        run_dir=run_dir,
        steps=progress.step,
        final_loss=final_loss,
        images_per_second=session_steps * config.batch_size / elapsed if session_steps else 0.0,
        distinct_samples_seen=int(progress.seen.sum()),
        local_images_seen=local_images,
        resumed_from=resumed_from,
    )
    if accelerator.is_main_process:
        _write_outputs(config, data, ema, progress, run_dir, result)
    accelerator.wait_for_everyone()
    return result


def _write_outputs(
    config: TrainConfig,
    data: TrainingSet,
    ema: AveragedModel,
    progress: _Progress,
    run_dir: Path,
    result: TrainResult,
) -> None:
    """Final EMA model, sample grid, seen ids and summary (rank 0 only)."""
    averaged: FlowDiT = ema.module
    conditional = averaged.config.num_classes is not None
    extra = {
        "space": data.space,
        "vae": data.vae,
        # A local autoencoder (the workspace's thresher-ae cache) relative to the run folder too, so a moved
        # or copied workspace samples with its own copy, never the original's.
        "vae_relative": _relative_local_path(data.vae, run_dir),
        "dataset": data.name,
        "condition": data.condition if conditional else None,
        "label_counts": label_counts(data.labels, averaged.config.num_classes),
    }
    save_model(averaged, run_dir, extra=extra)
    if config.sample_count:
        vae = load_vae(data.vae, next(averaged.parameters()).device) if data.space == "latent" else None
        labels = resolve_labels(
            "auto", config.sample_count, averaged.config.num_classes,
            counts=extra["label_counts"], condition=extra["condition"], seed=config.sample_seed,
        )  # fmt: skip
        images = sample_images(
            averaged, config.sample_count, seed=config.sample_seed, labels=labels,
            steps=config.sample_steps, sampler=config.sample_sampler, cfg_scale=config.sample_cfg_scale,
            vae=vae, precision=config.precision,
        )  # fmt: skip
        classes = averaged.config.num_classes if labels is not None else None
        save_grid(
            images, run_dir / "samples.png", nrow=min(classes, config.sample_count) if classes else None
        )
    pq.write_table(pa.table({"sample_id": progress.seen_ids().numpy()}), run_dir / "seen_ids.parquet")
    summary = {**asdict(result), "run_dir": str(result.run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
