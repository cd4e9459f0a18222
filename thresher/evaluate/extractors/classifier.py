"""``classifier``: a small CNN trained on the labelled reference images
(:mod:`thresher.evaluate.classifier`): features and class probabilities in the reference's own classes."""

from __future__ import annotations

from thresher.errors import ThresherError
from thresher.evaluate.feature_registry import ExtractorFamily, ExtractorRequest, FeatureExtractor, exact_name


def _build(name: str, request: ExtractorRequest) -> FeatureExtractor:
    exact_name(name, FAMILIES[0])
    if request.reference is None:
        raise ThresherError("the classifier extractor needs labelled reference images to train on")
    images, labels = request.reference
    if labels is None:
        raise ThresherError("the classifier extractor needs labels; the reference data has none")
    from thresher.evaluate.classifier import load_or_train_classifier

    return load_or_train_classifier(images, labels, cache_dir=request.cache_dir, device=request.device)


FAMILIES = [
    ExtractorFamily("classifier", "classifier", "a small CNN trained on the labelled reference", _build)
]
