"""The embedder families that serve as feature extractors (``EmbedderFamily.features``: CLIP, DINO,
EfficientNet-Lite0), with the embedder's name syntax and help: a curation embedder, adapted to the
extractor interface (:class:`thresher.evaluate.features.EmbedderExtractor`; one with a class head, such as
EfficientNet-Lite0's ImageNet classifier, also gives class probabilities for IS)."""

from __future__ import annotations

from thresher.embedders.registry import families
from thresher.evaluate.feature_registry import ExtractorFamily, ExtractorRequest, FeatureExtractor


def _build(name: str, request: ExtractorRequest) -> FeatureExtractor:
    from thresher.embedders import build_embedder
    from thresher.evaluate.features import EfficientNetExtractor, EmbedderExtractor

    embedder = build_embedder(name, request.device)
    adapter = EfficientNetExtractor if hasattr(embedder, "features_and_logits") else EmbedderExtractor
    return adapter(name, embedder, request.device, request.batch_size)


FAMILIES = [ExtractorFamily(f.name, f.usage, f.help, _build) for f in families().values() if f.features]
