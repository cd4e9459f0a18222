"""`thresher train` and `thresher sample`: the workspace side of a training run.

Resolves ``--dataset`` to rows (:mod:`thresher.dataset_resolution`), encodes latents once per source/VAE/size when
asked, trains (:func:`thresher.train.loop.train`) in ``runs/<run-id>/`` and registers the run in the
catalog with the dataset it trained on. Under ``accelerate launch`` every process trains on its share of
the batches and only the main process writes the catalog.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from thresher.catalog.names import new_run_id
from thresher.catalog.runs import find_run_dir, finish_run, start_run
from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import ResolvedDataset, resolve_dataset
from thresher.device import pick_device, process_state
from thresher.errors import ThresherError
from thresher.images import DEFAULT_RESIZE, LEGACY_RESIZE, RGB, WHITE, background_name, parse_background
from thresher.train.autoencoder import AUTOENCODER_NAME, AutoencoderConfig
from thresher.train.config import SampleConfig, TrainRunConfig
from thresher.train.loop import TrainResult, train
from thresher.train.model import dit_config
from thresher.train.training_data import load_training_set
from thresher.train.training_set import TrainingSet


@dataclass
class TrainRunOutcome:
    run_id: str
    dataset: str
    n_rows: int
    result: TrainResult
    condition: str | None = None  # what the model is conditioned on: None, "label" or "clusters:<run>"

    def lines(self) -> list[str]:
        r = self.result
        conditioned = {None: "unconditional", "label": "conditioned on class labels"}.get(
            self.condition, f"conditioned on the clusters of {str(self.condition).partition(':')[2]}"
        )
        return [
            f"{self.run_id}: trained {r.steps} steps on {self.dataset} ({self.n_rows} rows; "
            f"{r.distinct_samples_seen} distinct rows seen), final loss {r.final_loss:.4f}, "
            f"{r.images_per_second:.1f} images/s; {conditioned}",
            f"run folder: {r.run_dir}",
        ]


def run_training(ws: Workspace, config: TrainRunConfig) -> TrainRunOutcome:
    state = process_state(config.train.device)
    run_id = _run_id(ws, config)
    resolved = resolve_dataset(ws, config.dataset)
    data = prepare_training_data(
        ws,
        resolved,
        image_size=config.image_size,
        vae=config.vae,
        autoencoder=config.autoencoder,
        model_size=config.train.model_size,
        device=config.train.device,
        unconditional=config.train.unconditional,
        weights=config.weights,
        clusters=config.clusters,
        background=parse_background(config.background),
        resize=config.resize,
        num_workers=config.train.num_workers,
    )
    # The model must fit the data before the run is registered, so a bad size records no failed run.
    dit_config(
        config.train.model_size,
        data.channels,
        data.resolution,
        None,
        width=config.train.width,
        depth=config.train.depth,
        heads=config.train.heads,
    )
    run_dir = ws.run_dir(run_id)
    run_config = {
        "dataset": resolved.spec,
        "source": resolved.source,
        "revision": resolved.revision,
        "n_rows": resolved.n,
        "image_size": config.image_size,
        "resize": config.resize if config.image_size is not None else None,  # meaningless without a size
        "background": background_name(parse_background(config.background)),
        "vae": config.vae,
        "weights": config.weights,
        "clusters": config.clusters,
        "train": asdict(config.train),
    }
    resume = config.resume
    if resume:
        _check_resume(ws, run_id, run_config)  # before anything of the run is touched
        from thresher.train.checkpoints import has_checkpoint

        if not has_checkpoint(run_dir):
            # Killed before its first checkpoint: nothing in the folder can be continued, so it starts over.
            resume = False
            if state.is_main_process:
                shutil.rmtree(run_dir, ignore_errors=True)
            state.wait_for_everyone()
    if state.is_main_process:
        start_run(
            ws, run_id, "train", resolved.source, run_config, run_dir, dataset=resolved.spec, exclusive=True
        )
    try:
        result = train(config.train, data, run_dir, resume=resume)
    except BaseException:
        if state.is_main_process:
            finish_run(ws, run_id, "failed")
        raise
    if state.is_main_process:
        finish_run(
            ws,
            run_id,
            "done",
            {
                "distinct_samples_seen": result.distinct_samples_seen,
                "final_loss": result.final_loss,
                "steps": result.steps,
            },
        )
    condition = data.condition if data.num_classes is not None and not config.train.unconditional else None
    return TrainRunOutcome(run_id, resolved.spec, resolved.n, result, condition)


def prepare_training_data(
    ws: Workspace,
    resolved: ResolvedDataset,
    *,
    image_size: int | None,
    vae: str | None,
    autoencoder: AutoencoderConfig | None,
    model_size: str | None,
    device: str | None,
    unconditional: bool = False,
    weights: str | None = None,
    clusters: str | None = None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
    num_workers: int = 0,
) -> TrainingSet:
    """The rows of ``resolved`` as the model sees them: pixels, or latents of ``vae`` (encoded once per
    source into its latent store), with labels or clusters and weights. Training and the pretraining share it.

    ``background``: what transparent pixels are composited onto when the images are decoded; a non-white
    one is part of the latent and autoencoder cache keys (white keeps the keys caches already have).
    ``resize``: how ``image_size`` makes images square (pad, crop, stretch); pad and crop are part of those
    keys too (stretch keeps the keys caches had before the modes).
    ``model_size`` (``DiT-S/2``) is checked against the latents' side; None skips the check (a store
    built ahead of training). ``num_workers`` decode rows where the store lacks them."""
    encoder = training_encoder(ws, resolved, image_size=image_size, vae=vae, autoencoder=autoencoder,
                               device=device, background=background, resize=resize)  # fmt: skip
    if encoder is not None and image_size is not None and model_size is not None:
        encoder.check_side(image_size, _patch_size(model_size))  # refused before any row is encoded
    data = load_training_set(
        ws,
        resolved,
        image_size=image_size,
        unconditional=unconditional,
        weights=weights,
        clusters=clusters,
        background=background,
        resize=resize,
        encoder=encoder,
        num_workers=num_workers,
        device=device,
    )
    if encoder is not None and image_size is None and model_size is not None:
        encoder.check_side(data.resolution * encoder.factor, _patch_size(model_size))
    return data


def training_encoder(
    ws: Workspace,
    resolved: ResolvedDataset,
    *,
    image_size: int | None,
    vae: str | None,
    autoencoder: AutoencoderConfig | None,
    device: str | None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
):  # -> VaeEncoder | None
    """The encoder of ``vae`` for the rows of ``resolved`` (the source's own autoencoder, trained on first
    use, for ``thresher-ae``), or None for pixels."""
    if not vae:
        return None
    from thresher.train.latents import VaeEncoder

    vae_name = (
        _source_autoencoder(ws, resolved, image_size, autoencoder, background, resize)
        if vae == AUTOENCODER_NAME
        else vae
    )
    return VaeEncoder(vae_name, pick_device(device) if device else process_state(device).device)


def _patch_size(model_size: str) -> int:
    return int(model_size.rsplit("/", 1)[-1])


def _background_key(background: RGB) -> str:
    """The part of a cache key that says a non-white background (empty for white, the default)."""
    return "" if tuple(background) == WHITE else f"@background={background_name(background)}"


def _resize_key(image_size: int | None, resize: str) -> str:
    """The part of a cache key that says how images were made square: empty without a size and for
    stretch (the keys caches had before the modes), else ``@resize=pad`` or ``@resize=crop``."""
    return "" if image_size is None or resize == LEGACY_RESIZE else f"@resize={resize}"


def _source_autoencoder(
    ws: Workspace,
    resolved: ResolvedDataset,
    image_size: int | None,
    ae_config: AutoencoderConfig | None,
    background: RGB = WHITE,
    resize: str = DEFAULT_RESIZE,
) -> str:
    """``--vae thresher-ae``: the small autoencoder of the whole source (every ok row, or a seeded sample of
    ``max_rows`` of them), trained on first use, so the full set and all its pruned subsets share one latent
    space and one latent store."""
    from thresher.catalog.samples import load_images, ok_sample_ids
    from thresher.train.autoencoder import autoencoder_dir, ensure_autoencoder

    ae_config = ae_config or AutoencoderConfig()
    cache = ws.cache_dir("autoencoders")
    key = f"{resolved.source}@{resolved.revision}@{image_size}"
    key += _background_key(background) + _resize_key(image_size, resize)
    if (autoencoder_dir(cache, key, ae_config) / "config.json").is_file():
        return str(autoencoder_dir(cache, key, ae_config))
    ids = ok_sample_ids(ws, resolved.source)
    if len(ids) > ae_config.max_rows:  # decode only the sample, not the whole source
        ids = np.sort(np.random.default_rng(ae_config.seed).choice(ids, ae_config.max_rows, replace=False))
    images = load_images(ws, resolved.source, ids, size=image_size, background=background, resize=resize)
    return str(ensure_autoencoder(cache, key, images, ae_config))


# Training settings a resumed run may change: where and how it runs, how long, how it logs and checkpoints.
_RESUMABLE_CHANGES = {
    "steps", "device", "num_workers", "log_every", "checkpoint_every", "keep_checkpoints",
    "sample_count", "sample_steps", "sample_sampler", "sample_cfg_scale", "sample_seed",
}  # fmt: skip


def _check_resume(ws: Workspace, run_id: str, new: dict) -> None:
    """Refuse (one line, touching nothing) to resume a run under settings that would make it another run."""
    from thresher.catalog.runs import refuse_if_running, run_row

    try:
        row = run_row(ws, run_id)
        old = row["config"]
    except ThresherError:
        raise ThresherError(
            f"cannot resume {run_id!r}: the catalog has no such training run (nothing of it was recorded: "
            "run without --resume to start it)"
        ) from None
    refuse_if_running(run_id, row["status"], row["pid"], row["host"])  # one trainer per run folder
    if old.get("image_size") is not None and "resize" not in old:
        old = {**old, "resize": LEGACY_RESIZE}  # recorded before the modes: its images were stretched
    differences = [
        (key, old.get(key), new.get(key)) for key in new if key != "train" and old.get(key) != new.get(key)
    ]
    old_train, new_train = old.get("train") or {}, new.get("train") or {}
    differences += [
        (f"train.{key}", old_train.get(key), value)
        for key, value in new_train.items()
        if key not in _RESUMABLE_CHANGES and old_train.get(key) != value
    ]
    if differences:
        key, before, after = differences[0]
        more = f" (and {len(differences) - 1} more settings)" if len(differences) > 1 else ""
        raise ThresherError(
            f"cannot resume {run_id!r}: its {key} was {before!r}, now {after!r}{more}; "
            "resume with the run's own settings, or start a new run"
        )


def _run_id(ws: Workspace, config: TrainRunConfig) -> str:
    if config.run:  # checked as a name when the config was built
        if not config.resume and ws.run_dir(config.run).exists():
            raise ThresherError(
                f"run {config.run!r} exists: pass --resume to continue it, or another --run name"
            )
        return config.run
    return new_run_id("train")


@dataclass
class SampleResult:
    n: int
    destination: Path

    def lines(self) -> list[str]:
        return [f"{self.n} images → {self.destination}"]


def run_sampling(ws: Workspace, config: SampleConfig) -> SampleResult:
    from thresher.output_paths import new_output_file, writable_folder
    from thresher.train.sampling import generate, save_images

    run_dir = find_run_dir(ws, config.run)
    out = Path(config.out)
    if out.suffix == ".parquet":
        new_output_file(out, "--out")
    else:  # a folder of PNGs: refuse a file there, or a folder that already holds images
        if out.is_dir() and any(out.glob("*.png")):
            raise ThresherError(f"--out {out} already holds images: choose a new folder")
        writable_folder(out, "--out")
    labels: str | list[int] | None
    if config.labels in ("auto", "uniform", "prior", "none"):
        labels = None if config.labels == "none" else config.labels
    else:
        try:
            labels = [int(x) for x in config.labels.split(",")]
        except ValueError:
            raise ThresherError(
                f"--labels must be auto, uniform, prior, none or comma-separated class ids, got {config.labels!r}"
            ) from None
    images = generate(
        run_dir,
        config.n,
        seed=config.seed,
        labels=labels,
        steps=config.steps,
        sampler=config.sampler,
        cfg_scale=config.cfg_scale,
        cfg_interval=config.cfg_interval,
        batch_size=config.batch_size,
        device=config.device,
    )
    return SampleResult(config.n, save_images(images, out))
