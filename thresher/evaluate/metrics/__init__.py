"""Sample-quality metrics on feature matrices (numpy/scipy/faiss, no torch).

Every function takes (N, D) feature arrays (or class probabilities / group labels) and returns plain
floats, so the evaluator can time each one and store the results as JSON.
"""

from thresher.evaluate.metrics.balance import (
    group_shares,
    min_share_ratio,
    nearest_centroid,
    normalized_entropy,
    per_group_fid,
    spread,
    total_variation,
)
from thresher.evaluate.metrics.frechet import (
    fid_from_features,
    frechet_distance,
    gaussian_stats,
    kernel_inception_distance,
    polynomial_mmd2_unbiased,
    trace_sqrt_product,
)
from thresher.evaluate.metrics.inception_score import inception_score, renormalize_class_probs
from thresher.evaluate.metrics.memorization import (
    RunningNearest,
    memorization_stats,
    memorization_stats_from_nearest,
    memorization_stats_streaming,
    nearest_distances_streaming,
    nearest_train_distances,
)
from thresher.evaluate.metrics.prdc import PRDC, compute_prdc, knn_radii, knn_search
from thresher.evaluate.metrics.vendi import vendi_score

__all__ = [
    "PRDC",
    "RunningNearest",
    "compute_prdc",
    "fid_from_features",
    "frechet_distance",
    "gaussian_stats",
    "group_shares",
    "inception_score",
    "renormalize_class_probs",
    "kernel_inception_distance",
    "knn_radii",
    "knn_search",
    "memorization_stats",
    "memorization_stats_from_nearest",
    "memorization_stats_streaming",
    "min_share_ratio",
    "nearest_centroid",
    "nearest_distances_streaming",
    "nearest_train_distances",
    "normalized_entropy",
    "per_group_fid",
    "polynomial_mmd2_unbiased",
    "spread",
    "total_variation",
    "trace_sqrt_product",
    "vendi_score",
]
