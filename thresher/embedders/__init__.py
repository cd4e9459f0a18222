"""Embedders: turn an embedder name into a model that maps images to fixed-size vectors.

Used by curation (``thresher embed``) and by evaluation (CLIP/DINO feature extractors), so the package sits
below both. One module per family; each registers itself in :mod:`thresher.embedders.base`.

Registry: turn an embedder name into a model that maps images to fixed-size vectors.

Names (the whole name is recorded with the embeddings, so it must say everything that changes them)::

    clip:<arch>[/<pretrained>][?image_size=N]     open_clip image tower; <pretrained> is a tag
                                                  (laion2b_s34b_b79k), a local file, or hf-hub:<org>/<repo>;
                                                  no <pretrained> = random init (tests, benchmarks)
    clip:hf-hub:<org>/<repo>                      open_clip model and weights from the Hub
    dino:<timm-name>[?random][&image_size=N][&weights=<file>]
                                                  timm backbone (num_classes=0, pooled features) with the
                                                  model's own data config; ?random skips the weights
    efficientnet-lite0[?image_size=N]             ImageNet-pretrained EfficientNet-Lite0, pooled 1280-d; its
                                                  weights ship in a package (thresher.embedders.efficientnet):
                                                  the offline stand-in for CLIP/DINO on colour images
    hog[:<side>[:<cell>]][?deskew]                HOG features (thresher.embedders.hog), no weights
    pixels[:<side>[:<dim>]]                       resize to side x side (gray or RGB, decided at fit),
                                                  flatten, PCA to dim; fitted on the data, saved, reloaded

Every family also takes ``background=white|black|R,G,B`` (``with_background`` writes it; white, the default,
is left out of the name): the colour transparent pixels are composited onto (``thresher.images``) before
the family's own preprocessing.

Every embedder has a picklable ``preprocess`` (PIL image -> CPU tensor, runs in DataLoader workers) and a
``forward`` (batch -> float32 (B, dim) on the embedder's device, under bf16/fp16 autocast on GPU).
"""

from thresher.embedders import efficientnet, hog, pixels, pretrained  # noqa: F401  (they register)
from thresher.embedders.base import (
    FAMILIES,
    Embedder,
    Preprocess,
    build_embedder,
    register_family,
    with_background,
)

__all__ = ["FAMILIES", "Embedder", "Preprocess", "build_embedder", "register_family", "with_background"]
