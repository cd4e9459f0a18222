"""Evaluate generated images against real ones: every metric in one flat, JSON-ready dict.

The images go through one feature extractor (``thresher.evaluate.features``) once per set; the
metrics then run on the features and each is timed (``seconds_<metric>`` keys), so users see what a
metric costs before they scale it up. The training set is never held whole: it is read once, a batch
at a time (``thresher.evaluate.training_pass``), for the nearest-training distances and its labels. Balance is measured over classes (the reference classifier's
predictions, or the nearest class mean in feature space when only reference labels exist) and over
clusters (nearest centroid, when the curation clusters are given).

Result keys (a key is left out when its inputs are missing): ``fid``, ``kid``/``kid_std``, ``inception_score``/
``inception_score_std`` and ``classifier_confidence`` (extractors with a class head), ``precision``,
``recall``, ``f_score``, ``density``, ``coverage``, ``vendi``/``vendi_reference``,
``memorization_{mean,median,heldout_mean,heldout_median,ratio}`` in feature space and
``memorization_pixel_*`` in pixel space, and per group kind ``class``/``cluster``: ``<kind>_ids``,
``<kind>_share_{gen,train,reference}`` (lists), ``<kind>_entropy[_train|_reference]``,
``<kind>_tv_{reference,train}``, ``<kind>_min_share_ratio``, ``<kind>_fid`` (list, None where too few
samples) and ``<kind>_fid_{mean,std,min,max,max_over_min}``; plus ``n_*`` counts, ``extractor``,
``feature_dim``, ``classifier_holdout_accuracy`` and ``seconds_<step>`` timings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch.nn.functional as F

from thresher.errors import ThresherError
from thresher.evaluate import metrics
from thresher.evaluate.config import EvalConfig
from thresher.evaluate.features import FeatureExtractor, RowBatch, extract_rows
from thresher.evaluate.image_batches import check_images, images_to_tensor
from thresher.evaluate.training_pass import Labeler, TrainingSummary, array_batches, scan_training
from thresher.image_rows import ImageRows, as_rows


class _Timer:
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.result[f"seconds_{name}"] = time.perf_counter() - start


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays -> Python; NaN and infinities -> None (JSON has no such numbers)."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pixel_vectors(images: np.ndarray, channels: int, side: int) -> np.ndarray:
    """Images as flat float32 vectors in [0, 1], area-downsampled so neither side exceeds ``side``."""
    x = images_to_tensor(images, channels) / 255.0
    height, width = x.shape[-2:]
    if max(height, width) > side:
        scale = side / max(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        x = F.interpolate(x, size=size, mode="area")
    return x.flatten(1).numpy().astype(np.float32)


def _group_metrics(
    kind: str,
    groups: np.ndarray,
    gen_groups: np.ndarray,
    ref_groups: np.ndarray,
    train_groups: np.ndarray | None,
    gen_features: np.ndarray,
    ref_features: np.ndarray,
    config: EvalConfig,
) -> dict[str, Any]:
    share_gen = metrics.group_shares(gen_groups, groups)
    share_ref = metrics.group_shares(ref_groups, groups)
    out: dict[str, Any] = {
        f"{kind}_ids": groups,
        f"{kind}_share_gen": share_gen,
        f"{kind}_share_reference": share_ref,
        f"{kind}_entropy": metrics.normalized_entropy(share_gen),
        f"{kind}_entropy_reference": metrics.normalized_entropy(share_ref),
        f"{kind}_tv_reference": metrics.total_variation(share_gen, share_ref),
        f"{kind}_min_share_ratio": metrics.min_share_ratio(share_gen, share_ref),
    }
    if train_groups is not None:
        share_train = metrics.group_shares(train_groups, groups)
        out[f"{kind}_share_train"] = share_train
        out[f"{kind}_entropy_train"] = metrics.normalized_entropy(share_train)
        out[f"{kind}_tv_train"] = metrics.total_variation(share_gen, share_train)
    if len(groups) <= config.max_fid_groups:
        fids = metrics.per_group_fid(
            gen_features, gen_groups, ref_features, ref_groups, groups, min_samples=config.min_group_samples
        )
        out[f"{kind}_fid"] = fids
        out.update({f"{kind}_fid_{key}": value for key, value in metrics.spread(fids).items()})
    return out


@dataclass(frozen=True)
class _ClassLabeler:
    """Class labels of rows: the classifier's top class, or (``means`` given) the nearest class mean in
    feature space, for balance without a classifier."""

    classes: np.ndarray
    means: np.ndarray | None  # L2-normalized reference class means; None: argmax of the probabilities

    def __call__(self, probs: np.ndarray | None, feats: np.ndarray | None) -> np.ndarray | None:
        if self.means is None:
            return None if probs is None else self.classes[probs.argmax(axis=1)]
        if feats is None:
            return None
        return self.classes[metrics.nearest_centroid(feats, self.means, normalize=True)]


def _class_labeler(
    extractor: FeatureExtractor,
    gen_p: np.ndarray | None,
    ref_f: np.ndarray,
    reference_labels: np.ndarray | None,
) -> _ClassLabeler | None:
    """A classifier extractor predicts the classes; otherwise, with reference labels, the nearest class
    mean does (the means computed once, since training rows are labelled batch by batch)."""
    class_ids = getattr(extractor, "class_ids", None)
    if class_ids is not None and gen_p is not None:
        return _ClassLabeler(np.asarray(class_ids), None)
    if reference_labels is None:
        return None
    ref_labels = np.asarray(reference_labels)
    classes = np.unique(ref_labels)
    normed = ref_f / np.maximum(np.linalg.norm(ref_f, axis=1, keepdims=True), 1e-12)
    return _ClassLabeler(classes, np.stack([normed[ref_labels == c].mean(axis=0) for c in classes]))


def _scan_training(
    train_images: np.ndarray | ImageRows,
    generated: tuple[np.ndarray, np.ndarray],
    heldout: tuple[np.ndarray, np.ndarray] | None,
    extractor: FeatureExtractor,
    config: EvalConfig,
    *,
    same: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None,
    class_labeler: Labeler | None,
    cluster_labeler: Labeler | None,
) -> TrainingSummary:
    """The one pass over the training rows; ``generated``/``heldout`` are (images, features) pairs, ``same``
    the reference's (images, features, probs) when the training rows are the reference's."""
    if same is None:
        rows = as_rows(check_images(train_images) if isinstance(train_images, np.ndarray) else train_images)
        channels = rows.shape[-1]
        batches = extract_rows(extractor, rows, config.batch_size)
    else:
        channels = same[0].shape[-1]
        batches = array_batches(*same, config.batch_size)
    pixels = None
    gen_pixels = held_pixels = None
    if config.memorization_pixels:

        def pixels(images: np.ndarray) -> np.ndarray:
            return pixel_vectors(images, channels, config.pixel_side)

        gen_pixels = pixels(generated[0])
        held_pixels = None if heldout is None else pixels(heldout[0])

    return scan_training(
        batches,
        generated=generated[1],
        heldout=None if heldout is None else heldout[1],
        pixels=pixels,
        generated_pixels=gen_pixels,
        heldout_pixels=held_pixels,
        class_labeler=class_labeler,
        cluster_labeler=cluster_labeler,
    )


CONFIDENT = 0.9  # top-class probability above which a generated sample counts as clearly classified


def evaluate_images(
    generated: np.ndarray,
    reference: np.ndarray,
    train_images: np.ndarray | ImageRows | None,
    heldout_images: np.ndarray | None,
    extractor: FeatureExtractor,
    config: EvalConfig | None = None,
    reference_labels: np.ndarray | None = None,
    cluster_centroids: np.ndarray | None = None,
    *,
    cluster_extractor: FeatureExtractor | None = None,
    train_labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics of ``generated`` vs ``reference`` (uint8 N x H x W x C arrays) as a flat JSON-able dict.

    ``train_images``: what the model was trained on (memorization, training share), an array or
    :class:`~thresher.image_rows.ImageRows` read once, ``config.batch_size`` rows at a time, so memory does
    not grow with its size (passing ``reference`` itself reuses the reference's features);
    ``heldout_images``: real images it never saw (the memorization baseline). ``reference_labels``/
    ``train_labels``: true labels for the class balance (predicted by the classifier where absent).
    ``cluster_centroids``: curation centroids in the feature space of ``cluster_extractor`` (default:
    ``extractor``).
    """
    config = config or EvalConfig()
    # The training set is often the reference itself; extract it only once then.
    same_train = train_images is not None and train_images is reference
    generated, reference = check_images(generated), check_images(reference)
    for name, images in (("generated", generated), ("reference", reference)):
        if len(images) <= config.nearest_k:
            raise ThresherError(
                f"{len(images)} {name} images are too few: the k-NN metrics need more than k={config.nearest_k}"
            )
    if train_images is not None and len(train_images) == 0:
        raise ThresherError("the training set has no images to measure memorization against")
    result: dict[str, Any] = {"extractor": extractor.name, "feature_dim": int(extractor.dim)}
    timer = _Timer(result)
    start = time.perf_counter()

    held_f = None
    with timer("extract"):
        gen_f, gen_p = extractor.features_and_probs(generated)
        ref_f, ref_p = extractor.features_and_probs(reference)
        if heldout_images is not None:
            held_f = extractor.extract(heldout_images)
    result.update(n_generated=len(gen_f), n_reference=len(ref_f))
    result["n_heldout"] = None if held_f is None else len(held_f)
    result["classifier_holdout_accuracy"] = getattr(extractor, "holdout_accuracy", None)

    with timer("fid"):
        result["fid"] = metrics.fid_from_features(gen_f, ref_f)
    with timer("kid"):
        result["kid"], result["kid_std"] = metrics.kernel_inception_distance(
            gen_f, ref_f, num_subsets=config.kid_subsets, subset_size=config.kid_subset_size, seed=config.seed
        )
    if gen_p is not None:
        with timer("inception_score"):
            # A classifier with a reject output gives class probabilities summing to 1 - p(reject):
            # IS is defined over the classes, so it sees them renormalized; confidence keeps the deficit.
            class_mass = gen_p.sum(axis=1, keepdims=True)
            result["inception_score"], result["inception_score_std"] = metrics.inception_score(
                metrics.renormalize_class_probs(gen_p),
                splits=min(config.is_splits, len(gen_p)),
                seed=config.seed,
            )
            result["classifier_confidence"] = float(gen_p.max(axis=1).mean())
            result["classifier_reject"] = float(1.0 - class_mass.mean())  # mean p(no class at all)
    with timer("prdc"):
        prdc = metrics.compute_prdc(ref_f, gen_f, k=config.nearest_k)
        result.update(
            precision=prdc.precision,
            recall=prdc.recall,
            f_score=prdc.f_score,
            density=prdc.density,
            coverage=prdc.coverage,
        )
    with timer("vendi"):
        result["vendi"] = metrics.vendi_score(gen_f, method=config.vendi_method)
        result["vendi_reference"] = metrics.vendi_score(ref_f, method=config.vendi_method)

    labeler = _class_labeler(extractor, gen_p, ref_f, reference_labels)
    cluster_ex = cluster_extractor or extractor

    def assign(images: np.ndarray, features: np.ndarray) -> np.ndarray:
        feats = features if cluster_extractor is None else cluster_ex.extract(images)
        return metrics.nearest_centroid(feats, cluster_centroids, normalize=config.cluster_normalize)

    def train_classes(batch: RowBatch) -> np.ndarray:
        labels = labeler(batch.probs, batch.features) if labeler is not None else None
        if labels is None:  # the labeler was made from this extractor's outputs, which every batch has
            raise ValueError("training rows lack the outputs their class labels are predicted from")
        return labels

    # the training rows' labels are predicted in the pass only where they are not given, nor the reference's
    predict_classes = labeler is not None and train_labels is None and not same_train
    assign_clusters = cluster_centroids is not None and not same_train
    summary = None
    if train_images is not None:
        with timer("memorization"):
            summary = _scan_training(
                train_images,
                (generated, gen_f),
                None if held_f is None else (heldout_images, held_f),
                extractor,
                config,
                # the reference's own features stand in for the training set's when they are the same rows
                same=(reference, ref_f, ref_p) if same_train else None,
                class_labeler=train_classes if predict_classes else None,
                cluster_labeler=(lambda b: assign(b.images, b.features)) if assign_clusters else None,
            )
        # the pass interleaves reading, extracting and labelling the training rows with the distances:
        # each part's time goes to its own key
        result["seconds_memorization"] -= sum(v for k, v in summary.seconds.items() if k != "memorization")
        result["seconds_extract"] += summary.seconds["extract"]
        stats = metrics.memorization_stats_from_nearest(summary.nearest, summary.nearest_heldout)
        result.update({f"memorization_{k}": v for k, v in stats.items()})
        if summary.pixel_nearest is not None:
            stats = metrics.memorization_stats_from_nearest(
                summary.pixel_nearest, summary.pixel_nearest_heldout
            )
            result.update({f"memorization_pixel_{k}": v for k, v in stats.items()})
    result["n_train"] = None if summary is None else summary.n

    if labeler is not None:
        with timer("balance_class"):
            if train_labels is not None:
                train_groups = np.asarray(train_labels)
            elif same_train:
                train_groups = labeler(ref_p, ref_f)
            else:
                train_groups = None if summary is None else summary.class_labels
            ref_groups = (
                np.asarray(reference_labels) if reference_labels is not None else labeler(ref_p, ref_f)
            )
            gen_labels = labeler(gen_p, gen_f)
            groups = (labeler.classes, gen_labels, ref_groups, train_groups)
            result.update(_group_metrics("class", *groups, gen_f, ref_f, config))
            if gen_p is not None:
                # The same shares over confidently classified samples only: malformed samples get some
                # class by argmax, which blurs the shares of an undertrained generator.
                confident = gen_p.max(axis=1) >= CONFIDENT
                result["n_generated_confident"] = int(confident.sum())
                result["class_share_gen_confident"] = [
                    float((gen_labels[confident] == c).mean()) if confident.any() else None
                    for c in labeler.classes
                ]
        if summary is not None:
            result["seconds_balance_class"] += summary.seconds["balance_class"]

    if cluster_centroids is not None:
        with timer("balance_cluster"):
            ref_clusters = assign(reference, ref_f)
            train_clusters = ref_clusters if same_train else None
            if summary is not None and not same_train:
                train_clusters = summary.cluster_labels
            result.update(
                _group_metrics(
                    "cluster",
                    np.arange(len(cluster_centroids)),
                    assign(generated, gen_f),
                    ref_clusters,
                    train_clusters,
                    gen_f,
                    ref_f,
                    config,
                )
            )
        if summary is not None:
            result["seconds_balance_cluster"] += summary.seconds["balance_cluster"]

    result["seconds_total"] = time.perf_counter() - start
    return {key: _jsonable(value) for key, value in result.items()}
