"""``inception``: Inception-v3 with the TensorFlow FID weights (:class:`thresher.evaluate.features.InceptionExtractor`):
2048-d pool3 features and 1008 class probabilities for IS, comparable to published FIDs."""

from __future__ import annotations

from thresher.evaluate.feature_registry import ExtractorFamily, ExtractorRequest, FeatureExtractor, exact_name


def _build(name: str, request: ExtractorRequest) -> FeatureExtractor:
    from thresher.evaluate.features import InceptionExtractor, load_inception_state

    exact_name(name, FAMILIES[0])
    state = load_inception_state(request.weights, request.cache_dir)
    return InceptionExtractor(state, request.device, request.batch_size)


FAMILIES = [
    ExtractorFamily(
        "inception", "inception", "the FID Inception-v3; its weights download once, or --weights", _build
    )
]
