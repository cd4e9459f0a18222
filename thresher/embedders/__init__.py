"""Embedders: turn an embedder name into a model that maps images to fixed-size vectors.

Used by curation (``thresher embed``) and by evaluation (feature extractors), so the package sits below
both. One module per family, each declaring its names in ``FAMILIES``; :mod:`thresher.embedders.registry`
finds them and builds an embedder from a name (``thresher embed --help`` lists the names).

Every embedder has a picklable ``preprocess`` (PIL image -> CPU tensor, runs in DataLoader workers) and a
``forward`` (batch -> float32 (B, dim) on the embedder's device, under bf16/fp16 autocast on GPU).
"""

from thresher.embedders.base import Embedder, Preprocess, with_background
from thresher.embedders.registry import EmbedderFamily, build_embedder, families

__all__ = ["Embedder", "EmbedderFamily", "Preprocess", "build_embedder", "families", "with_background"]
