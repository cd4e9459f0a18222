"""``hkmeans``: hierarchical k-means with resampling and a balanced sampling from the top level down (Vo
et al. 2024, arXiv 2405.15613), computed by :mod:`thresher.curate.scores.hkmeans` (the runs) and
:mod:`thresher.curate.hkmeans` (the algorithm, with the choices that are thresher's own).

The selection is an order: every row's place in the hierarchical balanced sampling, so keeping the
lowest ``n`` is the balanced sample of size ``n`` for every ``n`` (``--ratio``, ``--keep-count``), a
``--seed`` draws another hierarchy and sample, and ``--inverse`` keeps what the balanced sample of the
other size leaves. The hierarchy is stored as a clustering (finest level in the usual columns, every
level in ``cluster_levels`` of ``thresher query``) that the selection's statistics and gallery use.
"""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.curate.scores.methods.surrogate import SurrogateOptions
from thresher.curate.scores.registry import ScoreMethod
from thresher.errors import ThresherError

WITHIN = ("random", "nearest", "furthest")
DEFAULT_LEVELS = 2
DEFAULT_RESAMPLING_STEPS = 10  # per level above the first (the paper's configurations use 10)
# The default finest level holds at most this many clusters: a CPU k-means of 10⁶ rows with 10⁴ centroids
# takes hours on a few cores (benchmarks/hkmeans_scale.py); with a GPU, --level-ks asks for more.
MAX_DEFAULT_LEAVES = 1024


def check_level_ks(ks: list[int] | tuple[int, ...], n: int | None = None) -> None:
    """A one-line error unless ``ks`` is a non-empty, strictly decreasing list of k ≥ 1 whose first k is
    at most ``n`` (the rows; a later level has k_(l-1) points, so decreasing k's always fit there)."""
    if not ks:
        raise ThresherError("--level-ks: give at least one k")
    if any(k < 1 for k in ks):
        raise ThresherError(f"--level-ks: every level's k must be at least 1, got {list(ks)}")
    for level, (lower, upper) in enumerate(zip(ks, ks[1:], strict=False), start=1):
        if upper >= lower:
            raise ThresherError(
                f"--level-ks must decrease from the finest level up: level {level + 1} has k={upper}, "
                f"level {level} k={lower} (each level clusters the centroids of the one below)"
            )
    if n is not None and ks[0] > n:
        raise ThresherError(f"--level-ks: level 1 has k={ks[0]}, more than its {n} points (the rows)")


def default_level_ks(n: int, levels: int) -> tuple[int, ...]:
    """The k's for ``n`` rows and ``levels`` levels when ``--level-ks`` is not given.

    The top level gets k_L = n^(1/(L+1)) clusters and the finest k_1 = n^(L/(L+1)), at most
    :data:`MAX_DEFAULT_LEAVES`, the levels between them spaced geometrically (each about as many times
    coarser as the one below): 2 levels on 1 703 rows 143, 12; 3 levels 265, 41, 6; on 10⁶ rows 1024,
    100 and 1024, 180, 32. Every k is at least 2 and below the one under it."""
    if levels < 1:
        raise ThresherError(f"--levels must be at least 1, got {levels}")
    if n < 2 * levels:
        raise ThresherError(f"{n} rows are too few for {levels} levels of k-means")
    top = n ** (1 / (levels + 1))
    finest = min(n ** (levels / (levels + 1)), MAX_DEFAULT_LEAVES)
    ks: list[int] = []
    for level in range(levels):
        share = level / (levels - 1) if levels > 1 else 0.0
        k = max(2, round(finest ** (1 - share) * top**share))
        ks.append(min(k, ks[-1] - 1) if ks else min(k, n))
    if ks[-1] < 1:
        raise ThresherError(f"{n} rows are too few for {levels} levels of k-means")
    return tuple(ks)


def resolve_resampling(steps: list[int] | None, levels: int) -> tuple[int, ...]:
    """Resampling steps per level: the default (none at level 1, 10 above), one number for every level,
    or one per level."""
    if steps is None:
        return (0, *[DEFAULT_RESAMPLING_STEPS] * (levels - 1))
    if len(steps) == 1:
        return tuple(steps) * levels
    if len(steps) != levels:
        raise ThresherError(
            f"--resampling-steps names {len(steps)} levels but there are {levels}: give one number or one per level"
        )
    return tuple(steps)


@dataclass
class HKMeansOptions(SurrogateOptions):
    """The embeddings (``embedder``, shared with the surrogate scores), the hierarchy and the order inside
    a leaf cluster."""

    levels: int | None = setting(
        None, f"levels of the hierarchy (default: as many as --level-ks names, else {DEFAULT_LEVELS})."
    )
    level_ks: list[int] | None = setting(
        None,
        "k of every level, finest first, decreasing (e.g. 150,12); default: sized from the rows "
        "(docs/architecture.md, 'Hierarchical k-means (hkmeans)').",
    )
    resampling_steps: list[int] | None = setting(
        None,
        f"resampling steps per level, finest first, or one number for all (default: none at level 1, "
        f"{DEFAULT_RESAMPLING_STEPS} above).",
    )
    within: str = setting(
        "random", "order inside a leaf cluster: random (the paper's), nearest or furthest.", choices=WITHIN
    )

    def __post_init__(self) -> None:
        if self.levels is not None and self.levels < 1:
            raise ThresherError(f"--levels must be at least 1, got {self.levels}")
        if self.level_ks is not None:
            check_level_ks(self.level_ks)
            if self.levels is not None and self.levels != len(self.level_ks):
                raise ThresherError(
                    f"--levels {self.levels} but --level-ks names {len(self.level_ks)} levels"
                )
        if self.resampling_steps is not None:
            if any(s < 0 for s in self.resampling_steps):
                raise ThresherError(f"--resampling-steps must be at least 0, got {self.resampling_steps}")
            resolve_resampling(self.resampling_steps, self.resolved_levels)
        if self.within not in WITHIN:
            raise ThresherError(f"--within {self.within!r}: choose one of {', '.join(WITHIN)}")

    @property
    def resolved_levels(self) -> int:
        if self.level_ks is not None:
            return len(self.level_ks)
        return self.levels if self.levels is not None else DEFAULT_LEVELS


METHODS = [
    ScoreMethod(
        name="hkmeans",
        summary="hierarchical k-means with resampling, sampled evenly from the top level down",
        scores="thresher.curate.scores.hkmeans:hkmeans_scores",
        needs=frozenset({"embeddings"}),
        default_keep="low",  # the score is the row's place in the balanced sampling order
        options=HKMeansOptions,
        seeded=True,
        citation="Vo et al. 2024, arXiv 2405.15613",
    )
]
