"""``dedup``: SemDeDup (Abbas et al. 2023, arXiv 2303.09540) within the k-means clusters, computed by
:mod:`thresher.curate.scores.dedup`. A sample is dropped when its cosine similarity to a sample already
kept in its cluster exceeds 1 − ε: the selection keeps what ε decides, not a count."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.curate.scores.registry import ScoreMethod
from thresher.errors import ThresherError

# float32 dot products of two identical unit vectors land within ~1e-6 of 1 (worse in high d), so
# without slack eps=0 would keep some exact duplicates; 1e-5 is an angle of ~0.26 degrees.
SIMILARITY_TOLERANCE = 1e-5


@dataclass
class DedupOptions:
    """SemDeDup's ε."""

    epsilon: float = setting(0.05, "drop above cosine similarity 1-ε.")

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon < 1.0:
            raise ThresherError(f"--epsilon {self.epsilon} is outside [0, 1)")


def _threshold(options: DedupOptions) -> float:
    return 1.0 - options.epsilon - SIMILARITY_TOLERANCE


METHODS = [
    ScoreMethod(
        name="dedup",
        summary="SemDeDup: drop samples within cosine 1−ε of a kept sample of their cluster",
        scores="thresher.curate.scores.dedup:dedup_scores",
        needs=frozenset({"clusters", "embeddings"}),
        default_keep="low",
        threshold=_threshold,
        options=DedupOptions,
        citation="Abbas et al. 2023, arXiv 2303.09540",
    )
]
