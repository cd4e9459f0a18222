"""What a training, sampling or pretraining request says: the train stage's config dataclasses.

Kept free of torch and the model code, so the command line can build its options from these fields (their
defaults, help and choices) without loading the heavy modules, and every front end validates a request
when it builds the config.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from thresher.catalog.names import check_name
from thresher.config_field import check_bounds, seed_setting, setting
from thresher.errors import ThresherError
from thresher.executors.config import StageExecutorConfig
from thresher.images import (
    DEFAULT_RESIZE,
    LEGACY_RESIZE,
    RESIZE_HELP,
    RESIZE_MODES,
    check_resize,
    parse_background,
)

if TYPE_CHECKING:
    from thresher.train.autoencoder import AutoencoderConfig

WEIGHTINGS = (None, "loss", "sampler")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine")
T_SAMPLINGS = ("uniform", "logit_normal")
SAMPLERS = ("euler", "heun")


def check_model_overrides(config: object) -> None:
    """--width/--depth/--heads given must be positive: 0 used to mean "the size's default" silently."""
    for name in ("width", "depth", "heads"):
        value = getattr(config, name, None)
        if value is not None and value < 1:
            raise ThresherError(
                f"--{name} must be at least 1, got {value} (leave it out for the size's default)"
            )


@dataclass
class TrainConfig:
    """Everything a run needs besides its data; saved resolved as ``config.yaml``. The command line takes its
    defaults and help from these fields (``thresher train``), so the two never disagree."""

    model_size: str = setting(
        "DiT-T/4",
        "DiT size and patch: DiT-T|S|B|L|XL / 1|2|4|8 (patch 1 suits small latents such as thresher-ae's 7x7).",
        flag="--model",
    )
    width: int | None = setting(None, "Override the size's width.")
    depth: int | None = setting(None, "Override the size's depth.")
    heads: int | None = setting(None, "Override the size's attention heads.")
    steps: int = setting(1000, "Optimizer steps.")
    batch_size: int = setting(64, "Global batch size (split across processes).")
    lr: float = setting(1e-3, "Learning rate (AdamW).")
    warmup_steps: int = setting(50, "Linear warmup steps.", flag="--warmup")
    lr_schedule: str = setting(
        "constant", "After warmup: constant, or cosine decay to 0 at --steps.", choices=LR_SCHEDULES
    )
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    grad_clip: float | None = setting(1.0, "Clip the gradient norm to this (none: no clipping).", cli=False)
    ema_decay: float = setting(0.999, "EMA decay of the sampled weights.", flag="--ema")
    seed: int = seed_setting(0, "Seed of initialization, data order, times and noise.")
    precision: str = setting("auto", "auto: bf16 on GPU, fp32 on CPU.", choices=PRECISIONS)
    device: str | None = setting(None, "cpu, cuda, … (default: accelerate's choice, GPU when present).")
    label_dropout: float = setting(0.1, "Share of labels dropped for classifier-free guidance.")
    unconditional: bool = setting(False, "Ignore labels (the null class for every row).")
    t_sampling: str = setting("uniform", "How training times are drawn.", choices=T_SAMPLINGS)
    weighting: str | None = setting(
        None,
        "How --weights apply: loss (weighted loss) or sampler (weighted sampling); default loss when "
        "weights are given.",
        choices=("loss", "sampler"),
    )
    checkpoint_every: int = setting(500, "Save a resumable checkpoint every N steps.")
    keep_checkpoints: int = setting(2, "Checkpoints kept (the newest).", cli=False)
    log_every: int = setting(10, "Log the loss every N steps.", cli=False)
    num_workers: int = setting(0, "DataLoader workers.", cli=False)
    sample_count: int = setting(
        16, "Images in the run's closing samples.png grid (0 skips it).", flag="--grid-count"
    )
    sample_steps: int = setting(50, "ODE steps of the closing grid.", flag="--grid-steps")
    sample_sampler: str = setting("heun", "Sampler of the closing grid.", choices=SAMPLERS, cli=False)
    sample_cfg_scale: float = setting(1.0, "Guidance scale of the closing grid.", cli=False)
    sample_seed: int = seed_setting(0, "Seed of the closing grid.", cli=False)

    def __post_init__(self) -> None:
        check_bounds(self)
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (0.0 <= self.label_dropout < 1.0, f"label_dropout must be in [0, 1), got {self.label_dropout}"),
            (0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}"),
            (self.t_sampling in T_SAMPLINGS, f"t_sampling must be one of {', '.join(T_SAMPLINGS)}"),
            (self.weighting in WEIGHTINGS, "weighting must be loss, sampler or none"),
            (self.sample_sampler in SAMPLERS, f"sample_sampler must be one of {', '.join(SAMPLERS)}"),
            (
                self.checkpoint_every >= 1 and self.log_every >= 1,
                "checkpoint_every and log_every must be >= 1",
            ),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
            (self.sample_count >= 0, f"the grid count must be >= 0, got {self.sample_count}"),
            (self.sample_steps >= 1, f"the grid's sampling steps must be >= 1, got {self.sample_steps}"),
            (self.num_workers >= 0, f"num_workers must be >= 0, got {self.num_workers}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ThresherError(message)
        check_model_overrides(self)

    def validate(self) -> None:
        """Re-check after fields were changed in place (``__post_init__`` checks at construction)."""
        self.__post_init__()


@dataclass
class TrainRunConfig:
    """A training run on a named dataset: the data side of ``thresher train`` (the model side is ``train``)."""

    dataset: str = setting(
        help="NAME[@vN] subset, a source id, a published folder, or hf://datasets/<owner>/<repo>@vN.",
        aliases=("-d",),
        path="read",
    )
    # Nested: the command line shows its fields as the command's own options, the service takes an object.
    train: TrainConfig = setting(default_factory=TrainConfig)
    image_size: int | None = setting(
        None, "Resize images to this side first (must divide by the patch size)."
    )
    resize: str = setting(
        DEFAULT_RESIZE,
        RESIZE_HELP,
        choices=RESIZE_MODES,
    )
    vae: str | None = setting(
        None,
        "Train in a latent space: thresher-ae (a small autoencoder of the source, trained on first use; "
        "about 5x the pixel-space throughput) or a diffusers AutoencoderKL (Hub id or path).",
        path="read",
    )
    weights: str | None = setting(
        None,
        "Per-sample/group weights: a `thresher reweight` run id (its DRO group weights), a score run id, or a "
        "Parquet file with a weight column.",
        path="read",
    )
    run: str | None = setting(
        None, "Run name (default: a fresh id); with --resume, the run to continue.", flag="--run"
    )
    resume: bool = setting(False, "Continue the run from its latest checkpoint.")
    autoencoder: AutoencoderConfig | None = setting(None, cli=False)  # for vae="thresher-ae"; None: defaults
    clusters: str | None = setting(
        None,
        "Condition on the clusters of this `thresher cluster` run (or `latest`) instead of class labels "
        "(no labels needed); sampling then draws clusters at their training frequencies.",
        metavar="RUN",
    )
    background: str = setting(
        "white", "Colour transparent pixels are composited onto when decoding: white, black or R,G,B."
    )

    def __post_init__(self) -> None:
        check_bounds(self)
        parse_background(self.background)
        check_resize(self.resize)
        if self.image_size is not None and self.image_size < 1:
            raise ThresherError(f"--image-size must be at least 1, got {self.image_size}")
        if self.clusters is not None and self.train.unconditional:
            raise ThresherError("a model conditioned on clusters is not unconditional; drop one of the two")
        if self.train.weighting is not None and self.weights is None:
            raise ThresherError("--weighting needs --weights")
        if self.weights is not None and self.train.weighting is None:
            self.train = replace(self.train, weighting="loss")
        if self.run is not None:
            check_name(self.run, "run name")
        elif self.resume:
            raise ThresherError("--resume needs --run NAME (the run to continue)")


@dataclass
class SampleConfig:
    """``thresher sample``: images from a training run's EMA model."""

    run: str = setting(help="Run id or run folder.", flag="--run", path="read")
    n: int = setting(help="Number of images.", flag="--n")
    out: str = setting(help="A folder (PNGs) or a .parquet file.", path="write")
    seed: int = seed_setting(0, "Seed of the initial noise and the drawn labels.")
    labels: str = setting(
        "auto",
        "uniform (every class equally), prior (at the training frequencies), none, or comma-separated "
        "class ids; auto is prior for a model conditioned on --clusters, uniform otherwise.",
    )
    steps: int = setting(50, "ODE steps.")
    sampler: str = setting("heun", "ODE sampler.", choices=SAMPLERS)
    cfg_scale: float = setting(1.0, "Classifier-free guidance scale.")
    cfg_interval: tuple[float, float] = setting(
        (0.0, 1.0), "Guide only at flow times t in LOW,HIGH (t=0 is noise, 1 is data)."
    )
    batch_size: int = setting(128, "Images per sampling batch.")
    device: str | None = setting(None, "cpu, cuda, … (default: CUDA when present).")

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.n < 1:
            raise ThresherError("--n must be at least 1")
        if self.steps < 1:
            raise ThresherError(f"--steps must be at least 1, got {self.steps}")
        if self.batch_size < 1:
            raise ThresherError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.sampler not in SAMPLERS:
            raise ThresherError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")


@dataclass
class PretrainConfig:
    """``thresher pretrain``: the short training run whose checkpoints and loss log the gradient scores read.

    The defaults fit a laptop CPU for the built-in sources: DiT-T/4 in pixel space, 10 epochs of batch 64 on
    mnist-lt (1703 rows: 260 steps), 5 checkpoints, 4 probe times × 1 noise per sample.
    """

    source: str | None = setting(None, "Source id (default: the workspace's only source).")
    model_size: str = setting("DiT-T/4", "DiT size and patch.", flag="--model")
    width: int | None = setting(None, "Override the size's width.")
    depth: int | None = setting(None, "Override the size's depth.")
    heads: int | None = setting(None, "Override the size's attention heads.")
    epochs: int = setting(10, "Training epochs (every epoch logs each sample's loss at its probes).")
    batch_size: int = setting(64, "Global batch size.")
    lr: float = setting(1e-3, "Learning rate (AdamW, constant after warmup).")
    warmup_steps: int = setting(20, "Linear warmup steps.", flag="--warmup")
    checkpoints: int = setting(5, "Checkpoints saved, spread evenly over the epochs (MoSo averages them).")
    k_times: int = setting(4, "Probe times per sample: (k + 0.5)/K for k < K.", flag="--probe-times")
    m_noises: int = setting(
        1, "Noise draws per probe time, seeded by (seed, sample id).", flag="--probe-noises"
    )
    image_size: int | None = setting(None, "Resize images to this side first.")
    resize: str = setting(
        DEFAULT_RESIZE,
        RESIZE_HELP,
        choices=RESIZE_MODES,
    )
    background: str = setting(
        "white", "Colour transparent pixels are composited onto when decoding: white, black or R,G,B."
    )
    vae: str | None = setting(
        None, "Latent space: thresher-ae or a diffusers AutoencoderKL (default: pixels).", path="read"
    )
    unconditional: bool = setting(
        False, "Ignore class labels (otherwise a labelled source trains conditioned)."
    )
    seed: int = seed_setting(0, "Seed of the run and of the probe points.")
    device: str | None = setting(None, "cpu, cuda, … (default: accelerate's choice).")

    def __post_init__(self) -> None:
        check_bounds(self)
        check_model_overrides(self)
        checks = [
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.warmup_steps >= 0, f"--warmup must be >= 0, got {self.warmup_steps}"),
            (
                1 <= self.checkpoints <= self.epochs,
                f"--checkpoints must be in [1, --epochs], got {self.checkpoints}",
            ),
            (self.k_times >= 1 and self.m_noises >= 1, "--probe-times and --probe-noises must be at least 1"),
            (self.seed >= 0, f"--seed must be non-negative, got {self.seed}"),
            (
                self.image_size is None or self.image_size >= 1,
                f"--image-size must be at least 1, got {self.image_size}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ThresherError(message)
        check_resize(self.resize)
        parse_background(self.background)

    def checkpoint_epochs(self) -> list[int]:
        """The epochs after which a checkpoint is kept: evenly spread, the last epoch always among them."""
        return sorted({round(self.epochs * (i + 1) / self.checkpoints) for i in range(self.checkpoints)})

    def identity(self) -> dict:
        """What determines the run's result (not where it runs): its config hash keys the run. The resize
        mode (without a size, or stretch) and a white background are left out, as runs were keyed before
        those settings existed, so their ids stay what they were."""
        from dataclasses import asdict

        out = {k: v for k, v in asdict(self).items() if k != "device"}
        if self.image_size is None or self.resize == LEGACY_RESIZE:
            del out["resize"]
        if self.background == "white":
            del out["background"]
        return out

    @classmethod
    def from_identity(cls, settings: dict, **overrides) -> PretrainConfig:
        """The config a run recorded with ``identity()`` (plus what else its record holds) was made from."""
        fields = {k: settings[k] for k in cls.__dataclass_fields__ if k in settings}
        if fields.get("image_size") is not None and "resize" not in fields:
            fields["resize"] = LEGACY_RESIZE  # recorded without a mode: stretched (or made before the modes)
        return cls(**{**fields, **overrides})


REWEIGHT_GROUPS = ("class", "cluster")


@dataclass
class ReweightConfig:
    """``thresher reweight``: DRO group weights of a subset against a reference run (docs/architecture.md,
    'DRO group weights'; the loop is :mod:`thresher.train.reweight`).

    A proxy DiT trains on the subset while a fixed reference model (a ``thresher train`` run, usually on the
    full source) is evaluated at the same (x, t, ε); the group weights move toward the groups where the
    proxy's loss exceeds the reference's. The data is prepared exactly as the reference's was (image size,
    VAE, background, conditioning); the proxy has the reference's architecture unless overridden.
    """

    dataset: str = setting(
        help="The subset to reweight: NAME[@vN] (or any --dataset of `thresher train`).",
        aliases=("-d",),
        path="read",
    )
    reference: str = setting(
        help="The reference: a `thresher train` run id of this workspace.", metavar="RUN"
    )
    groups: str = setting(help="Group the samples by class (labels) or cluster.", choices=REWEIGHT_GROUPS)
    clusters: str | None = setting(
        None,
        "--groups cluster: the clustering run (default: the subset's own clustering, else the source's latest).",
        metavar="RUN",
    )
    eta: float = setting(1.0, "Step size η of the exponentiated-gradient update of the group weights.")
    smoothing: float = setting(1e-3, "ε_s: the uniform share mixed into the weights after every step.")
    steps: int = setting(500, "Proxy training steps (= group-weight updates).")
    batch_size: int = setting(16, "Global batch size.")
    lr: float = setting(1e-3, "Proxy learning rate (AdamW).")
    warmup_steps: int = setting(50, "Linear warmup steps.", flag="--warmup")
    model_size: str | None = setting(
        None, "Proxy DiT size and patch (default: the reference's).", flag="--model"
    )
    width: int | None = setting(None, "Proxy width (default: the reference's).")
    depth: int | None = setting(None, "Proxy depth (default: the reference's).")
    heads: int | None = setting(None, "Proxy attention heads (default: the reference's).")
    t_sampling: str | None = setting(
        None, "How training times are drawn (default: the reference's).", choices=T_SAMPLINGS
    )
    label_dropout: float | None = setting(None, "Share of labels dropped (default: the reference's).")
    image_size: int | None = setting(
        None, "Must match the reference's image size when given (the data is prepared as the reference's)."
    )
    grad_clip: float | None = setting(1.0, "Clip the proxy's gradient norm (none: no clipping).", cli=False)
    seed: int = seed_setting(0, "Seed of the proxy's initialization, the data order, times and noise.")
    precision: str = setting("auto", "auto: bf16 on GPU, fp32 on CPU.", choices=PRECISIONS)
    device: str | None = setting(None, "cpu, cuda, … (default: accelerate's choice, GPU when present).")
    log_every: int = setting(10, "Log the loss and the group weights every N steps.", cli=False)
    run: str | None = setting(None, "Run name (default: a fresh reweight-… id).", flag="--run")

    def __post_init__(self) -> None:
        check_bounds(self)
        import math

        check_model_overrides(self)
        checks = [
            (self.groups in REWEIGHT_GROUPS, f"--groups must be class or cluster, got {self.groups!r}"),
            (
                isinstance(self.eta, (int, float)) and math.isfinite(self.eta) and self.eta > 0,
                f"--eta must be a finite number > 0, got {self.eta}",
            ),
            (0.0 <= self.smoothing < 1.0, f"--smoothing must lie in [0, 1), got {self.smoothing}"),
            (self.steps >= 1, f"--steps must be at least 1, got {self.steps}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.warmup_steps >= 0, f"--warmup must be >= 0, got {self.warmup_steps}"),
            (self.t_sampling in (None, *T_SAMPLINGS), f"t_sampling must be one of {', '.join(T_SAMPLINGS)}"),
            (
                self.label_dropout is None or 0.0 <= self.label_dropout < 1.0,
                f"--label-dropout must be in [0, 1), got {self.label_dropout}",
            ),
            (
                self.image_size is None or self.image_size >= 1,
                f"--image-size must be >= 1, got {self.image_size}",
            ),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.log_every >= 1, "log_every must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ThresherError(message)
        if self.clusters is not None and self.groups != "cluster":
            raise ThresherError("--clusters names the groups of --groups cluster; drop it for --groups class")
        if self.run is not None:
            check_name(self.run, "run name")


@dataclass
class StoreConfig:
    """``thresher store``: build a dataset's image store ahead of training (pixels, or ``--vae`` latents)."""

    dataset: str = setting(
        help="NAME[@vN] subset, a source id, a published folder, or hf://datasets/<owner>/<repo>@vN.",
        aliases=("-d",),
        path="read",
    )
    image_size: int | None = setting(None, "Resize images to this side first.")
    resize: str = setting(
        DEFAULT_RESIZE,
        RESIZE_HELP,
        choices=RESIZE_MODES,
    )
    vae: str | None = setting(
        None,
        "Store latents of this autoencoder: thresher-ae or a diffusers AutoencoderKL (Hub id or path).",
        path="read",
    )
    background: str = setting(
        "white", "Colour transparent pixels are composited onto when decoding: white, black or R,G,B."
    )
    num_workers: int = setting(2, "DataLoader workers that decode rows.")
    device: str | None = setting(None, "cpu, cuda, … for the autoencoder (default: CUDA when present).")
    # Where the parts are built: here (under `accelerate launch` if asked), or a Slurm job array.
    executor: StageExecutorConfig = setting(default_factory=StageExecutorConfig)

    def __post_init__(self) -> None:
        check_bounds(self)
        parse_background(self.background)
        check_resize(self.resize)
        if self.image_size is not None and self.image_size < 1:
            raise ThresherError(f"--image-size must be at least 1, got {self.image_size}")
        if self.num_workers < 0:
            raise ThresherError(f"--num-workers must be at least 0, got {self.num_workers}")
