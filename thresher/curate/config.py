"""What a curation request says: the curate stage's config dataclasses (embed, cluster, select,
publish; ingest's is the catalog's, :mod:`thresher.catalog.config`), with their defaults, help and validation. Light on imports, so the command line builds its
options from these fields without loading the models (see :mod:`thresher.config_field`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thresher.catalog.names import check_name
from thresher.config_field import check_bounds, flag_of, seed_setting, setting
from thresher.curate.scores.method_options import WithMethodOptions, config_with_options
from thresher.curate.scores.methods.dedup import DedupOptions
from thresher.curate.scores.registry import gradient_methods, keep_rule, registry
from thresher.embedders.registry import embedder_help
from thresher.errors import ThresherError
from thresher.executors.config import StageExecutorConfig
from thresher.images import parse_background

if TYPE_CHECKING:
    from thresher.curate.scores.registry import GradientSignal

BALANCES = ("proportional", "equal")
KMEANS_INITS = ("kmeans++", "random")
EMBED_PRECISIONS = ("auto", "fp32", "fp16", "bf16")
GROUP_KINDS = ("auto", "class", "cluster", "none")
LAYOUT_METHODS = ("umap", "pca")
# --groups, after the methods that score within groups (ScoreMethod.grouped)
GROUPS_HELP = (
    "score within each class, cluster, or none; --balance then balances over the same groups (--groups "
    "class balances classes for any method). auto: class when the source has labels, else cluster, else none "
    "(and cluster for --balance of the other methods)."
)


@dataclass
class EmbedRunConfig:
    embedder: str = setting("pixels", embedder_help(), aliases=("-e",))
    source: str | None = setting(None, "Source id (default: the workspace's only source).")
    reduce: str | None = setting(None, "Also reduce the embeddings, e.g. umap:10.")
    batch_size: int = setting(256, "Images per batch.")
    num_workers: int | None = setting(None, "DataLoader workers (default: the CPU count, at most 4).")
    part_size: int = setting(
        50_000, "Rows per part file: the unit of resumption and of the work each process takes."
    )
    device: str | None = setting(None, "cpu, cuda, cuda:1, mps (default: CUDA when present).")
    precision: str = setting("auto", "Model precision (CPU always runs fp32).", choices=EMBED_PRECISIONS)
    normalize: bool = setting(True, "L2-normalize the embeddings.")
    seed: int = seed_setting(0, "Seed of data-fitted embedders (the pixels PCA fit sample) and of UMAP.")
    background: str = setting(
        "white",
        "Colour transparent pixels are composited onto: white, black or R,G,B. A non-white one is part of "
        "the embeddings' name (EMBEDDER?background=...), so embeddings of other backgrounds never mix.",
    )
    # Where the parts are embedded: here (under `accelerate launch` if asked), or a Slurm job array.
    executor: StageExecutorConfig = setting(default_factory=StageExecutorConfig)

    def __post_init__(self) -> None:
        check_bounds(self)
        parse_background(self.background)
        if self.reduce is not None and not self.reduce.startswith("umap:"):
            raise ThresherError(f"unknown --reduce {self.reduce!r}; use umap:<dim>, e.g. umap:10")
        if self.batch_size < 1:
            raise ThresherError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.num_workers is not None and self.num_workers < 0:
            raise ThresherError(f"--num-workers must be at least 0, got {self.num_workers}")
        if self.part_size < 1:
            raise ThresherError(f"--part-size must be at least 1, got {self.part_size}")

    @property
    def resolved_num_workers(self) -> int:
        return self.num_workers if self.num_workers is not None else min(4, os.cpu_count() or 1)


@dataclass
class ClusterRunConfig:
    ks: list[int] = setting(help="Number of clusters, or a comma-separated list to compare.", flag="--k")
    embedder: str | None = setting(
        None, "Which embeddings (default: the source's only one; with several, pass one).", aliases=("-e",)
    )
    source: str | None = setting(None, "Source id (default: the workspace's only source).")
    spherical: bool | None = setting(
        None,
        "Cosine (spherical) or L2 k-means (default: cosine for normalized embeddings, L2 for UMAP outputs).",
        flag="--spherical/--euclidean",
    )
    init: str = setting("kmeans++", "Centroid seeding.", choices=KMEANS_INITS)
    restarts: int = setting(1, "k-means restarts; the lowest inertia wins.")
    niter: int = setting(25, "k-means iterations.")
    max_train: int | None = setting(None, "Train on at most this many rows (default: 256 per centroid).")
    device: str | None = setting(None, "cpu or cuda (default: GPU faiss when present).")
    seed: int = seed_setting(0, "Seed of the training sample and the seeding.")

    def __post_init__(self) -> None:
        check_bounds(self)
        if not self.ks:
            raise ThresherError("--k: give at least one k")
        for k in self.ks:
            if k < 1:
                raise ThresherError(f"--k must be at least 1, got {k}")
        if self.restarts < 1:
            raise ThresherError(f"--restarts must be at least 1, got {self.restarts}")
        if self.niter < 1:
            raise ThresherError(f"--niter must be at least 1, got {self.niter}")
        if self.max_train is not None and self.max_train < 1:
            raise ThresherError(f"--max-train must be at least 1, got {self.max_train}")


@dataclass
class LayoutConfig:
    """``thresher layout``: a 2-D layout of one source's embeddings for the embedding map
    (docs/architecture.md, 'The embedding map')."""

    embedder: str | None = setting(
        None, "Which embeddings (default: the source's only ones).", aliases=("-e",)
    )
    source: str | None = setting(None, "Source id (default: the workspace's only source).")
    method: str = setting(
        "umap",
        "umap (keeps neighbourhoods; minutes for 10^5 rows) or pca (the two main axes; seconds).",
        choices=LAYOUT_METHODS,
    )
    seed: int = setting(0, "umap: seed of the fit sample and of UMAP.")
    n_neighbors: int = setting(15, "umap: neighbours per point (larger: more global structure).")
    min_dist: float = setting(0.1, "umap: how tightly points may pack, in [0, 1].")
    fit_sample: int = setting(
        50_000, "umap: fit on at most this many rows (seeded sample), then place the rest with transform."
    )

    def __post_init__(self) -> None:
        if self.method not in LAYOUT_METHODS:
            raise ThresherError(
                f"unknown --method {self.method!r}; choose one of: {', '.join(LAYOUT_METHODS)}"
            )
        if self.n_neighbors < 2:
            raise ThresherError(f"--n-neighbors must be at least 2, got {self.n_neighbors}")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ThresherError(f"--min-dist {self.min_dist} is outside [0, 1]")
        if self.fit_sample < 10:
            raise ThresherError(f"--fit-sample must be at least 10, got {self.fit_sample}")


@dataclass
class SelectSettings(WithMethodOptions):
    """One selection request; built and validated in one step from any front end. The general settings:
    :data:`SelectConfig` adds the options of every registered method (docs/architecture.md, 'Scores')."""

    name: str = setting(help="Subset name; each selection becomes its next version.")
    method: str = setting(help="Selection method (select_config lists the registered ones).")
    source: str | None = setting(None, "Source id (default: the workspace's only source).")
    ratio: float | None = setting(None, "Fraction of the source to prune, in [0, 1).")
    keep_count: int | None = setting(None, "Number of samples to keep (instead of --ratio).")
    keep: str | None = setting(
        None,
        "Which end of the ranking to keep: nearest|middle|furthest (also low|high); default: the method's "
        "own (nearest for cluster, high for the gradient scores).",
    )
    balance: str | None = setting(
        None, "Per cluster: proportional (the same ratio) or equal (the same count).", choices=BALANCES
    )
    inverse: bool = setting(False, "Keep the other end of the ranking.")
    seed: int = seed_setting(0, "Seed of the random method.")
    clustering: str | None = setting(
        None,
        "Cluster run id (default: the source's only one; with several, pass one).",
    )
    groups: str = setting("auto", GROUPS_HELP, choices=GROUP_KINDS)
    preview: bool = setting(
        False, "Write the selection's gallery and counts to previews/NAME/ without creating a version."
    )
    gallery_clusters: int = setting(24, "With --preview: clusters drawn (the largest).")

    def __post_init__(self) -> None:
        check_bounds(self)
        check_name(self.name, "subset name")
        if self.groups not in GROUP_KINDS:
            raise ThresherError(f"unknown --groups {self.groups!r}; choose one of: {', '.join(GROUP_KINDS)}")
        if self.groups == "none" and self.balance is not None:
            raise ThresherError("--balance needs groups to balance over: drop --groups none or --balance")
        method = self.score_method
        keep_rule(method, self.keep)  # validates --keep
        self.check_method_options()
        if self.balance is not None and self.balance not in BALANCES:
            raise ThresherError(f"unknown --balance {self.balance!r}; choose one of: {', '.join(BALANCES)}")
        if self.ratio is not None and not 0.0 <= self.ratio < 1.0:
            raise ThresherError(f"--ratio {self.ratio} is outside [0, 1): it is the fraction pruned")
        if self.ratio is not None and self.keep_count is not None:
            raise ThresherError("give --ratio or --keep-count, not both")
        if self.keep_count is not None and self.keep_count < 1:
            raise ThresherError("--keep-count must be at least 1")
        if not method.takes_count:
            if self.ratio is not None or self.keep_count is not None or self.balance is not None:
                decides = ", ".join(flag_of(f) for f in dataclasses.fields(method.options)) or "its threshold"
                raise ThresherError(
                    f"{self.method} keeps what {decides} decides: it takes no --ratio, --keep-count or --balance"
                )
        elif self.ratio is None and self.keep_count is None and self.balance != "equal":
            raise ThresherError("give --ratio (fraction pruned) or --keep-count")


def select_config() -> type:
    """:class:`SelectSettings` plus the options of every method registered now (read at import; a test
    that registers a method builds its own after :func:`~thresher.curate.scores.registry.reset_registry`)."""
    methods = list(registry().values())
    grouped = "/".join(m.name for m in methods if m.grouped)
    described = {
        "method": {"help": f"Selection method: {', '.join(m.name for m in methods)}."},
        "groups": {"help": f"{grouped}: {GROUPS_HELP}"},
    }
    return config_with_options(SelectSettings, methods, "SelectConfig", metadata=described)


SelectConfig = select_config()


@dataclass
class PublishConfig:
    ref: str = setting(help="NAME or NAME@vN.")
    to: str = setting(help="A local folder or hf://datasets/<owner>/<repo>.", flag="--to", path="write")
    materialize: bool = setting(False, "Also copy the kept rows (image bytes included) as Parquet shards.")
    private: bool = setting(False, "Create the Hub repo as private.")
    gallery_clusters: int = setting(
        24, "Clusters drawn in the version's gallery (the largest; kept beside removed samples)."
    )
    token: str | None = setting(None, cli=False)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.gallery_clusters < 0:
            raise ThresherError(f"--gallery-clusters must be >= 0, got {self.gallery_clusters}")
        if not self.to.strip():
            raise ThresherError("--to is empty: give a local folder or hf://datasets/<owner>/<repo>")


@dataclass
class ScoreRunSettings(WithMethodOptions):
    """``thresher score``: a gradient score of every ok row, from a ``thresher pretrain`` run.

    The probe points (K times × M noises, seeded per sample id) are the pretraining's, so EL2N, GraNd,
    MoSo and the loss log behind monotonicity all measure each sample at the same (t, ε).
    :data:`ScoreRunConfig` adds the gradient methods' options (``pretrain``, ``params``, ``checkpoint``).
    """

    method: str = setting(help="Gradient method (score_run_config lists the registered ones).")
    source: str | None = setting(None, "Source id (default: the workspace's only source).")
    part_size: int = setting(1024, "Rows per part: the unit of resumption and of multi-process work.")
    chunk_size: int | None = setting(None, "Samples per vmapped gradient chunk (default: sized to memory).")
    device: str | None = setting(None, "cpu, cuda, … (default: CUDA when present).")
    # Where the parts are scored: here (under `accelerate launch` if asked), or a Slurm job array.
    executor: StageExecutorConfig = setting(default_factory=StageExecutorConfig)

    def __post_init__(self) -> None:
        check_bounds(self)
        names = [m.name for m in gradient_methods()]
        if self.method not in names:
            raise ThresherError(f"unknown method {self.method!r}; choose one of: {', '.join(names)}")
        self.check_method_options()
        if self.part_size < 1:
            raise ThresherError(f"--part-size must be at least 1, got {self.part_size}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ThresherError(f"--chunk-size must be at least 1, got {self.chunk_size}")

    @property
    def signal(self) -> GradientSignal:
        signal = self.score_method.signal
        assert signal is not None  # checked in __post_init__
        return signal

    def identity(self, source: str, pretrain: str) -> dict[str, Any]:
        """What determines the scores (the run's config hash): method, source, pretraining, and the
        method's other options (the parameter subset, the checkpoint, where its signal uses them)."""
        return {**self.method_options(), "method": self.method, "source": source, "pretrain": pretrain}


def score_run_config() -> type:
    """:class:`ScoreRunSettings` plus the options of every gradient method registered now."""
    names = [m.name for m in gradient_methods()]
    described = {"method": {"help": f"{', '.join(names)}.", "choices": names}}
    return config_with_options(ScoreRunSettings, gradient_methods(), "ScoreRunConfig", metadata=described)


ScoreRunConfig = score_run_config()


@dataclass
class DedupConfig:
    """SemDeDup's parameters (library level; `thresher select --method dedup` sets ``eps``).

    ``eps``: drop a sample whose cosine similarity to a kept one exceeds ``1 - eps`` (0 drops exact duplicates).
        ``keep``: which end of the distance-to-centroid order is visited, and so kept, first:
        ``"furthest"`` (the paper's choice) or ``"nearest"``."""

    eps: float = DedupOptions.epsilon  # the one default, `thresher select --epsilon`'s
    keep: str = "furthest"
    block_size: int = 1024
    progress: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps <= 2.0:
            raise ThresherError(f"dedup eps must lie in [0, 2] (cosine distance), got {self.eps}")
        if self.keep not in ("furthest", "nearest"):
            raise ThresherError(f"unknown dedup keep {self.keep!r}; choose furthest or nearest")
        if self.block_size < 1:
            raise ThresherError("dedup block_size must be at least 1")
