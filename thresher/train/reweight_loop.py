"""The proxy's training loop of `thresher reweight` (:mod:`thresher.train.reweight`): per step, α is updated
on the reference's and the proxy's per-sample losses, then the proxy steps on its α-weighted loss."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from thresher.errors import ThresherError
from thresher.progress import task
from thresher.train.config import ReweightConfig
from thresher.train.group_weights import GroupWeights


class _Grouped(torch.utils.data.Dataset):
    """``(x, label, group, sample_id)`` per row of a training set."""

    def __init__(self, data, groups: np.ndarray) -> None:
        from thresher.train.training_set import TrainingSetDataset

        self.base = TrainingSetDataset(data)
        self.groups = torch.from_numpy(np.asarray(groups, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        x, label, _, sample_id = self.base[index]
        return x, label, self.groups[index], sample_id


def _generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step) * 1_013 + rank + 7)


def reweight_loop(
    config: ReweightConfig,
    data,
    groups: np.ndarray,
    weights: GroupWeights,
    reference,
    run_dir: Path,
    *,
    proxy_size: tuple[str, int | None, int | None, int | None],
    t_sampling: str = "uniform",
    label_dropout: float = 0.1,
    conditional: bool = False,
    run_config: dict[str, Any] | None = None,
) -> list[float]:
    """Train a proxy on ``data`` (a :class:`TrainingSet`) for ``config.steps`` steps, updating ``weights``
    from its per-sample losses and those of ``reference`` (a velocity function ``(x, t, labels) -> v``, e.g.
    a :class:`FlowDiT`) at the same (x, t, ε, label). ``groups``: the group id of every row. Writes
    ``config.yaml`` and ``metrics.jsonl`` into ``run_dir`` and returns the last α."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from torch.utils.data import DataLoader

    from thresher.device import pick_device
    from thresher.train.flow import NULL_LABEL, flow_loss, sample_t
    from thresher.train.loop import lr_factor, mixed_precision
    from thresher.train.model import build_model
    from thresher.train.training_set import EpochSampler

    force_cpu = config.device == "cpu"
    if config.device not in (None, "", "auto", "cpu"):
        pick_device(config.device)
    probe = torch.device("cpu") if force_cpu else pick_device(None)
    accelerator = Accelerator(
        cpu=force_cpu,
        mixed_precision=mixed_precision(config.precision, probe),
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )
    if config.batch_size % accelerator.num_processes:
        raise ThresherError(
            f"batch size {config.batch_size} is not divisible by the {accelerator.num_processes} processes"
        )
    set_seed(config.seed)
    size, width, depth, heads = proxy_size
    model = build_model(
        size, data.channels, data.resolution, data.num_classes if conditional else None,
        width=width, depth=depth, heads=heads,
    )  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(lr_factor, warmup=config.warmup_steps, total=config.steps, schedule="constant")
    )
    sampler = EpochSampler(len(data), config.seed)
    loader = DataLoader(_Grouped(data, groups), batch_size=config.batch_size, sampler=sampler, drop_last=True)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    device = accelerator.device
    if isinstance(reference, torch.nn.Module):
        reference = reference.to(device).eval().requires_grad_(False)

    run_dir = Path(run_dir)
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(run_config or asdict(config), sort_keys=False))
        (run_dir / "metrics.jsonl").write_text("")
    G = weights.num_groups
    window = {k: torch.zeros(G, dtype=torch.float64) for k in ("proxy", "reference", "count")}
    window_loss, window_steps = 0.0, 0
    step, epoch = 0, 0
    bar = task("reweight", config.steps, unit="step", enabled=accelerator.is_main_process)
    model.train()
    while step < config.steps:
        sampler.set_epoch(epoch)
        loader.set_epoch(epoch)
        for x, labels, batch_groups, _ids in loader:
            generator = _generator(config.seed, step, accelerator.process_index, device)
            t = sample_t(len(x), t_sampling, generator=generator, device=device)
            noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
            drop = torch.rand(len(x), generator=generator, device=device) < label_dropout
            labels = torch.where(drop | (not conditional), NULL_LABEL, labels)
            proxy_losses = flow_loss(model, x, t, noise, labels)
            with torch.no_grad(), accelerator.autocast():
                reference_losses = flow_loss(reference, x, t, noise, labels)
            all_proxy = accelerator.gather(proxy_losses.detach().float())
            all_reference = accelerator.gather(reference_losses.float())
            all_groups = accelerator.gather(batch_groups)
            weights.update(all_proxy, all_reference, all_groups)
            loss = (proxy_losses * weights.sample_weights(batch_groups).to(proxy_losses)).mean()
            accelerator.backward(loss)
            if config.grad_clip:
                accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            step += 1
            ids = all_groups.cpu().long()
            window["proxy"].index_add_(0, ids, all_proxy.cpu().double())
            window["reference"].index_add_(0, ids, all_reference.cpu().double())
            window["count"].index_add_(0, ids, torch.ones(len(ids), dtype=torch.float64))
            window_loss += float(loss.detach())
            window_steps += 1
            if step % config.log_every == 0 or step == config.steps:
                count = window["count"]

                def per_group(values: torch.Tensor, count: torch.Tensor = count) -> list[float | None]:
                    return [float(v / c) if c > 0 else None for v, c in zip(values, count, strict=True)]

                record = {
                    "step": step,
                    "loss": window_loss / window_steps,
                    "proxy_loss": per_group(window["proxy"]),
                    "reference_loss": per_group(window["reference"]),
                    "alpha": weights.current.tolist(),
                }
                if accelerator.is_main_process:
                    with (run_dir / "metrics.jsonl").open("a") as log:
                        log.write(json.dumps(record) + "\n")
                bar.describe(f"loss={record['loss']:.4f}")
                for value in window.values():
                    value.zero_()
                window_loss, window_steps = 0.0, 0
            bar.advance()
            if step >= config.steps:
                break
        epoch += 1
    bar.close()
    if not all(math.isfinite(a) for a in weights.average.tolist()):
        raise ThresherError("the group weights diverged (non-finite); lower --eta")
    accelerator.wait_for_everyone()
    return weights.current.tolist()
