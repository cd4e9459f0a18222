"""What an evaluation request says: the evaluate stage's config dataclass (no heavy imports, see
:mod:`thresher.train.config` for why)."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import check_bounds, seed_setting, setting
from thresher.errors import ThresherError
from thresher.evaluate.feature_registry import features_help
from thresher.images import parse_background
from thresher.train.config import SAMPLERS


@dataclass
class EvalRunConfig:
    run: str | None = setting(None, "Training run to sample from and evaluate.", flag="--run")
    images: str | None = setting(
        None, "Evaluate these generated images instead (folder of PNGs or .parquet).", path="read"
    )
    n: int = setting(1000, "Images to generate.", flag="--n")
    against: str | None = setting(
        None, "Reference: a subset, source or published dataset (default: the run's source).", path="read"
    )
    features: str = setting("classifier", features_help())
    weights: str | None = setting(
        None, "Local Inception-v3 FID weights (for --features inception offline).", path="read"
    )
    steps: int = setting(50, "ODE steps when sampling.")
    sampler: str = setting("heun", "ODE sampler.", choices=SAMPLERS)
    # Classifier-free guidance (at flow times within cfg_interval); labels follow the run's default, see
    # thresher.train.sampling.generate.
    cfg_scale: float = setting(1.0, "Classifier-free guidance when sampling.")
    cfg_interval: tuple[float, float] = setting(
        (0.0, 1.0), "Guide only at flow times t in LOW,HIGH (t=0 is noise, 1 is data)."
    )
    seed: int = seed_setting(
        0, "Seed of the generated samples (and of the reference sample, see --max-reference)."
    )
    # Reference metrics (FID, KID, PRDC, Vendi, the classifier) hold the reference in memory, and their
    # cost grows with it; a seeded sample of this size bounds both (10 000 is FID's usual sample size).
    max_reference: int = setting(
        10_000, "Reference rows used at most: a seeded sample when the reference has more (0: all)."
    )
    batch_size: int = setting(256, "Images per batch when sampling and extracting features.")
    device: str | None = setting(None, "cpu, cuda, … (default: CUDA when present).")
    background: str | None = setting(
        None,
        "Colour transparent pixels are composited onto (reference, training and --images): white, black or "
        "R,G,B (default: the run's training background, else white).",
    )

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.background is not None:
            parse_background(self.background)
        if self.run is None and self.images is None:
            raise ThresherError("give --run (a training run) or --images (generated images)")
        if self.n < 2:
            raise ThresherError("--n must be at least 2")
        if self.steps < 1:
            raise ThresherError(f"--steps must be at least 1, got {self.steps}")
        if self.max_reference < 0:
            raise ThresherError(f"--max-reference must be at least 0 (0: all rows), got {self.max_reference}")
        if self.batch_size < 1:
            raise ThresherError(f"--batch-size must be at least 1, got {self.batch_size}")


@dataclass
class ReportConfig:
    out: str | None = setting(None, "Folder for the page and figures.", path="write")
    runs: tuple[str, ...] = setting(
        (), "Only these runs (repeatable; default: every evaluation).", flag="--run", metavar="RUN"
    )
    sweep: str | None = setting(
        None, "The report of a sweep (`thresher sweep`): its figures, tables and claims."
    )

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.sweep and self.runs:
            raise ThresherError("--sweep reports the sweep's own cells: drop --run")


@dataclass(frozen=True)
class EvalConfig:
    """The metrics' own knobs (library level: `thresher evaluate` sets only the seed and batch)."""

    nearest_k: int = 3  # k of the k-NN manifolds (precision/recall/density/coverage)
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    vendi_method: str = "auto"  # auto | primal | dual
    min_group_samples: int = 10  # per-group FID only where both sides have this many samples
    max_fid_groups: int = 100  # above this many groups, per-group FID is skipped (shares are kept)
    memorization_pixels: bool = True  # also measure nearest-training distance in pixel space
    pixel_side: int = 32  # pixel-space memorization area-downsamples larger images to this side
    cluster_normalize: bool = True  # L2-normalize features before nearest-centroid assignment
    # Training rows read, extracted and compared per batch (rounded up to a multiple of the extractor's own
    # batch, see features.rows_batch_size): memory is this many rows, whatever the training set's size.
    batch_size: int = 512
    seed: int = 0
