"""`thresher reweight`: DRO group weights of a pruned subset, learned online against a reference model
(the "reweighting" of Li et al. 2024, "Pruning then Reweighting", arXiv:2409.19128, after DoReMi, Xie et al.
2023); the math and its choices are in :mod:`thresher.train.group_weights` and docs/architecture.md, 'DRO
group weights'.

A proxy DiT trains from scratch on the subset. At every step the fixed reference model (a ``thresher
train`` run, usually on the full source, its EMA weights in eval mode) is evaluated at the proxy's
(x, t, ε, label); the per-sample losses update the group weights α (:class:`GroupWeights`), and the proxy's
loss is weighted by the α of each sample's group (``G·α[g]``, so uniform α is the plain mean). The result
is the mean of α over the steps.

Choices beyond the formula (the paper released no code; docs/reweight/README.md lists them all):

* The data is prepared exactly as the reference's was: its image size, its VAE (the very autoencoder
  folder, so the latents come from one cache), its background and its conditioning (class labels,
  clusters, or none); the proxy gets the reference's labels with the same dropout mask, so both models
  see the same input. A reference of another source, revision or resolution is refused.
* The proxy has the reference's architecture unless ``--model/--width/--depth/--heads`` say otherwise;
  times are drawn as the reference's were (``--t-sampling`` overrides), batches are uniform over the
  subset (an epoch permutation, as ``thresher train``), AdamW with linear warmup then a constant rate.
* α is updated first, on the batch's losses, and the proxy's loss of the same step is weighted by the
  updated α (DoReMi's order).
* Multi-process (``accelerate launch``): losses and groups are gathered, so every process takes the same
  DRO step. No resume: a killed run is started again.

Run folder ``runs/<run>/``: ``config.yaml``, ``metrics.jsonl`` (per logging window: the weighted loss,
proxy and reference loss per group, α), ``group_weights.parquet`` (``label`` or ``cluster``, ``weight`` =
mean α, ``final`` = last α, ``n`` rows in the subset, ``present``), ``sample_weights.parquet``
(``sample_id``, ``weight`` = G·mean α of its group) and ``summary.json``; the run is a ``reweight`` row
of the catalog, which ``thresher train --weights RUN`` reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from thresher.catalog.names import new_run_id
from thresher.catalog.runs import find_run_dir, finish_run, latest_run, run_row, start_run
from thresher.catalog.samples import label_names, labels_of, ok_sample_ids, open_source
from thresher.catalog.subsets import parse_subset_ref, subset_row
from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import ResolvedDataset, resolve_dataset
from thresher.errors import ThresherError
from thresher.images import LEGACY_RESIZE, parse_background
from thresher.train.config import ReweightConfig
from thresher.train.group_weights import DROConfig, GroupWeights
from thresher.train.reweight_loop import reweight_loop
from thresher.train.reweight_store import GROUP_WEIGHTS_FILE, REWEIGHT_KIND, SAMPLE_WEIGHTS_FILE


@dataclass
class ReweightResult:
    run_id: str
    run_dir: Path
    dataset: str
    reference: str
    kind: str  # class | cluster
    weights: list[float]  # mean α per group id
    counts: list[int]  # rows of the subset per group id
    absent: list[int]  # group ids with no row in the subset (weight 0)
    steps: int
    seconds: float
    names: list[str] | None = None
    final: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        column = "label" if self.kind == "class" else "cluster"
        out = [
            f"{self.run_id}: {self.steps} steps on {self.dataset} against {self.reference} "
            f"({self.seconds:.0f}s); mean DRO weight per {self.kind}:",
            f"  {column:>8} {'rows':>6} {'weight':>8}",
        ]
        for g, (w, n) in enumerate(zip(self.weights, self.counts, strict=True)):
            name = f" ({self.names[g]})" if self.names and g < len(self.names) else ""
            out.append(f"  {g:>8} {n:>6} {w:>8.4f}{name}")
        if self.absent:
            out.append(
                f"  absent from the subset (weight 0): {self.kind} " + ", ".join(str(g) for g in self.absent)
            )
        out.append(f"→ {self.run_dir}  (train on it: --weights {self.run_id} --weighting loss|sampler)")
        return out


@dataclass
class _Reference:
    run_id: str
    run_dir: Path
    config: dict[str, Any]  # the catalog's run config
    payload: dict[str, Any]  # model.json


def _reference(ws: Workspace, spec: str) -> _Reference:
    """The finished ``thresher train`` run that ``--reference`` names (an id, or a run folder of this workspace)."""
    try:
        row = run_row(ws, spec)
    except ThresherError:
        row = None
    if row is None:
        run_dir = find_run_dir(ws, spec)  # a one-line error for something that is no run at all
        try:
            row = run_row(ws, run_dir.name)
        except ThresherError:
            raise ThresherError(f"--reference {spec!r} is not a training run of this workspace") from None
    if row["kind"] != "train" or row["status"] != "done":
        raise ThresherError(
            f"--reference {spec!r} is a {row['status']} {row['kind']} run, not a finished training"
        )
    run_dir = find_run_dir(ws, row["id"])
    model_json = run_dir / "model.json"
    if not model_json.is_file():
        raise ThresherError(f"--reference {spec!r} holds no trained model ({model_json} is missing)")
    return _Reference(row["id"], run_dir, row["config"], json.loads(model_json.read_text()))


def _groups(
    ws: Workspace, config: ReweightConfig, resolved: ResolvedDataset
) -> tuple[np.ndarray, int, str | None, list[str] | None]:
    """(group id per row, number of groups, the clustering used, class names): validated, nothing written."""
    if config.groups == "class":
        labels = labels_of(ws, resolved.source, resolved.sample_ids)
        if (labels < 0).any():
            raise ThresherError(
                f"--groups class: {int((labels < 0).sum())} of the {resolved.n} rows of {resolved.spec} have "
                "no class label; use --groups cluster"
            )
        names = label_names(ws, resolved.source)
        top = int(labels_of(ws, resolved.source, ok_sample_ids(ws, resolved.source)).max())
        return labels, max(len(names or []), top + 1), None, names
    from thresher.train.conditioning import cluster_labels, resolve_clustering

    clustering = config.clusters
    if clustering is not None:
        clustering = resolve_clustering(ws, clustering, resolved.source)
    elif resolved.kind == "subset":
        clustering = subset_row(ws, parse_subset_ref(resolved.spec))["params"].get("clustering")
    if clustering is None:
        clustering = latest_run(ws, resolved.source, "cluster")
    if clustering is None:
        raise ThresherError(
            f"--groups cluster: no clustering of {resolved.source!r}: run `thresher cluster` or pass --clusters"
        )
    groups, k = cluster_labels(ws, clustering, resolved.source, resolved.sample_ids)
    return groups.numpy(), k, clustering, None


def _native_side(ws: Workspace, resolved: ResolvedDataset) -> int:
    """The side of the source's images as stored (one row decoded; sources of mixed sizes need --image-size)."""
    dataset, _ = open_source(ws, resolved.source)
    return int(dataset[int(resolved.sample_ids[0])]["image"].size[1])


def run_reweight(ws: Workspace, config: ReweightConfig) -> ReweightResult:
    """Validate everything, then train the proxy and write the reweight run (module docstring)."""
    from accelerate import PartialState

    from thresher.train.model import dit_config, load_model
    from thresher.train.train_run import prepare_training_data

    state = PartialState()
    resolved = resolve_dataset(ws, config.dataset)
    ref = _reference(ws, config.reference)
    ref_source, ref_revision = ref.config.get("source"), ref.config.get("revision")
    if ref_source != resolved.source:
        raise ThresherError(
            f"reference {ref.run_id} was trained on source {ref_source!r}, but {resolved.spec} comes from "
            f"{resolved.source!r}: train a reference on {resolved.source!r}"
        )
    if ref_revision is not None and ref_revision != resolved.revision:
        raise ThresherError(
            f"reference {ref.run_id} was trained on {ref_source}@{ref_revision}, {resolved.spec} is of revision "
            f"{resolved.revision}"
        )
    ref_size = ref.config.get("image_size")
    if config.image_size is not None:
        trained_at = ref_size if ref_size is not None else _native_side(ws, resolved)
        if config.image_size != trained_at:
            raise ThresherError(
                f"reference {ref.run_id} was trained at {trained_at}px, not --image-size {config.image_size}: "
                "the proxy must see the data at the reference's resolution"
            )
    groups, num_groups, clustering, names = _groups(ws, config, resolved)

    dit = ref.payload["dit"]
    condition = ref.payload.get("condition")
    conditional = dit.get("num_classes") is not None and condition is not None
    clusters = condition.split(":", 1)[1] if conditional and condition.startswith("clusters:") else None
    model_size = config.model_size or dit["size"]
    data = prepare_training_data(
        ws,
        resolved,
        image_size=ref_size,
        vae=ref.payload.get("vae"),  # the reference's own VAE or autoencoder folder: one latent cache
        autoencoder=None,
        model_size=model_size,
        device=config.device,
        unconditional=not conditional,
        clusters=clusters,
        background=parse_background(ref.config.get("background") or "white"),
        resize=ref.config.get("resize") or LEGACY_RESIZE,  # a reference recorded before the modes: stretch
    )
    if (data.channels, data.resolution) != (dit["in_channels"], dit["sample_size"]):
        raise ThresherError(
            f"reference {ref.run_id} models {dit['in_channels']}×{dit['sample_size']}² inputs, but {resolved.spec} "
            f"prepares as {data.channels}×{data.resolution}²: another resolution or VAE"
        )
    if conditional and data.num_classes != dit["num_classes"]:
        raise ThresherError(
            f"reference {ref.run_id} is conditioned on {dit['num_classes']} classes, the data on {data.num_classes}"
        )
    if len(data) < config.batch_size:
        raise ThresherError(
            f"{resolved.spec} has {len(data)} rows, fewer than one batch of {config.batch_size}"
        )
    proxy_config = dit_config(
        model_size,
        data.channels,
        data.resolution,
        dit["num_classes"] if conditional else None,
        width=config.width or (dit["width"] if config.model_size is None else None),
        depth=config.depth or (dit["depth"] if config.model_size is None else None),
        heads=config.heads or (dit["heads"] if config.model_size is None else None),
    )
    reference_model, _ = load_model(ref.run_dir)
    ref_train = ref.config.get("train") or {}
    t_sampling = config.t_sampling or ref_train.get("t_sampling", "uniform")
    label_dropout = (
        config.label_dropout if config.label_dropout is not None else ref_train.get("label_dropout", 0.1)
    )
    present = sorted({int(g) for g in groups})
    weights = GroupWeights(num_groups, DROConfig(config.eta, config.smoothing), present=present)
    counts = np.bincount(groups, minlength=num_groups).tolist()

    run_id = config.run or new_run_id(REWEIGHT_KIND)
    run_dir = ws.run_dir(run_id)
    if config.run and run_dir.exists():
        raise ThresherError(f"run {config.run!r} exists: pick another --run name")
    run_config = {
        "dataset": resolved.spec,
        "source": resolved.source,
        "revision": resolved.revision,
        "n_rows": resolved.n,
        "reference": ref.run_id,
        "groups": config.groups,
        "clustering": clustering,
        "num_groups": num_groups,
        "absent_groups": weights.absent_groups,
        "image_size": ref_size,
        "resize": ref.config.get("resize") or (LEGACY_RESIZE if ref_size is not None else None),
        "vae": ref.payload.get("vae"),
        "condition": condition if conditional else None,
        "proxy": asdict(proxy_config),
        "t_sampling": t_sampling,
        "label_dropout": label_dropout,
        "reweight": asdict(config),
    }
    if state.is_main_process:
        start_run(ws, run_id, REWEIGHT_KIND, resolved.source, run_config, run_dir, dataset=resolved.spec)
    started = time.perf_counter()
    try:
        final = reweight_loop(
            config,
            data,
            groups,
            weights,
            reference_model,
            run_dir,
            proxy_size=(model_size, proxy_config.width, proxy_config.depth, proxy_config.heads),
            t_sampling=t_sampling,
            label_dropout=label_dropout,
            conditional=conditional,
            run_config=run_config,
        )
        seconds = time.perf_counter() - started
        if state.is_main_process:
            _write_weights(run_dir, config.groups, weights, final, counts, data.sample_ids.numpy(), groups)
    except BaseException:
        if state.is_main_process:
            finish_run(ws, run_id, "failed")
        raise
    average = weights.average.tolist()
    result = ReweightResult(
        run_id, run_dir, resolved.spec, ref.run_id, config.groups, average, counts, weights.absent_groups,
        weights.steps, seconds, names, final,
    )  # fmt: skip
    if state.is_main_process:
        summary = {"weights": average, "final": final, "counts": counts, "absent_groups": weights.absent_groups,
                   "steps": weights.steps, "seconds": seconds}  # fmt: skip
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        finish_run(ws, run_id, "done", summary)
    return result


def _write_weights(
    run_dir: Path,
    kind: str,
    weights: GroupWeights,
    final: list[float],
    counts: list[int],
    sample_ids: np.ndarray,
    groups: np.ndarray,
) -> None:
    column = "label" if kind == "class" else "cluster"
    average = weights.average.numpy()
    ids = np.arange(weights.num_groups)
    present = np.isin(ids, weights.present_groups)
    pq.write_table(
        pa.table({column: ids.astype(np.int64), "weight": average, "final": np.asarray(final),
                  "n": np.asarray(counts, dtype=np.int64), "present": present}),
        run_dir / GROUP_WEIGHTS_FILE,
    )  # fmt: skip
    per_sample = weights.sample_weights(torch.from_numpy(groups), average=True).double().numpy()
    pq.write_table(
        pa.table({"sample_id": np.asarray(sample_ids, dtype=np.int64), "weight": per_sample}),
        run_dir / SAMPLE_WEIGHTS_FILE,
    )
