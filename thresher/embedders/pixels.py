"""``pixels``: resized, flattened pixels reduced by a PCA fitted on the data (no weights needed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
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
class PixelTransform:
    """Composite transparency onto ``background``, resize to side x side in gray (1 channel) or RGB (3),
    flatten, scale to [0, 1]."""

    side: int
    channels: int
    background: RGB = WHITE

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import torch

        mode = "L" if self.channels == 1 else "RGB"
        opaque = composite_onto(image, self.background).convert(mode)
        small = opaque.resize((self.side, self.side), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.asarray(small, dtype=np.float32).reshape(-1) / 255.0)


class PixelPCAEmbedder(Embedder):
    """Raw pixels projected on their top principal components: fast, offline, no weights to download.

    Gray or RGB is decided from the fit sample: if every fitted image has equal R, G and B the
    embedder works on one channel (a third of the features, same information).
    """

    fits_to_data = True
    uses_autocast = False
    STATE_FILE = "pixels_pca.npz"

    def __init__(
        self,
        name: str,
        side: int,
        dim: int,
        device: torch.device,
        precision: str,
        seed: int = 0,
        background: RGB = WHITE,
    ) -> None:
        super().__init__(name, dim, device, precision)
        self.side = side
        self.seed = seed
        self.background = background
        self.channels: int | None = None
        self._mean: torch.Tensor | None = None
        self._components: torch.Tensor | None = None

    @property
    def needs_fit(self) -> bool:
        return self._components is None

    @property
    def preprocess(self) -> Preprocess:
        if self.channels is None:
            raise ThresherError(f"embedder {self.name!r} must be fitted (or loaded) before it can embed")
        return PixelTransform(self.side, self.channels, self.background)

    def fit(self, images: Iterable[Image.Image]) -> None:
        from sklearn.decomposition import PCA

        as_rgb = PixelTransform(self.side, 3, self.background)
        rgb = np.stack([np.asarray(as_rgb(img)).reshape(-1, 3) for img in images])
        if len(rgb) < self.dim:
            raise ThresherError(f"{self.name!r} needs at least {self.dim} images to fit, got {len(rgb)}")
        gray = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
        features = rgb[..., 0] if gray else rgb.reshape(len(rgb), -1)
        if self.dim > features.shape[1]:
            raise ThresherError(
                f"{self.name!r}: dim {self.dim} exceeds the {features.shape[1]} pixel features"
            )
        pca = PCA(n_components=self.dim, random_state=self.seed).fit(features)
        self._set_state(1 if gray else 3, pca.mean_, pca.components_)

    def _set_state(self, channels: int, mean: np.ndarray, components: np.ndarray) -> None:
        import torch

        self.channels = int(channels)
        self._mean = torch.as_tensor(mean, dtype=torch.float32, device=self.device)
        # Contiguous whatever the source: sklearn's fitted components are Fortran-ordered, the saved ones are
        # not, and the matmul's summation order (so the last bit of an embedding) follows the layout: a run
        # resumed from the saved state must embed exactly as the run that fitted it.
        components = np.ascontiguousarray(components, dtype=np.float32)
        self._components = torch.as_tensor(components, dtype=torch.float32, device=self.device)

    def save(self, path: str | Path) -> None:
        if self._components is None or self._mean is None:
            raise ThresherError(f"embedder {self.name!r} is not fitted; nothing to save")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / self.STATE_FILE,
            mean=self._mean.cpu().numpy(),
            components=self._components.cpu().numpy(),
            channels=self.channels,
            side=self.side,
        )
        (folder / "embedder.json").write_text(json.dumps({"name": self.name, "dim": self.dim}) + "\n")

    def load(self, path: str | Path) -> None:
        file = Path(path) / self.STATE_FILE
        if not file.is_file():
            raise ThresherError(f"no fitted state for {self.name!r} at {file}")
        with np.load(file) as state:
            if int(state["side"]) != self.side or state["components"].shape[0] != self.dim:
                raise ThresherError(f"fitted state at {file} does not match {self.name!r}")
            self._set_state(int(state["channels"]), state["mean"], state["components"])

    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        if self._components is None:
            raise ThresherError(f"embedder {self.name!r} must be fitted (or loaded) before it can embed")
        return (batch.float() - self._mean) @ self._components.T


def _build_pixels(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str, background: RGB
) -> Embedder:
    _check_options(name, options, {"seed"})
    fields = spec.split(":") if spec else []
    if len(fields) > 2 or not all(f.isdigit() and int(f) > 0 for f in fields):
        raise ThresherError(f"bad pixels embedder {name!r}; use pixels[:<side>[:<dim>]], e.g. pixels:32:64")
    side = int(fields[0]) if fields else 32
    dim = int(fields[1]) if len(fields) > 1 else 64
    seed = _int_option(name, options, "seed") or 0
    return PixelPCAEmbedder(name, side, dim, device, precision, seed=seed, background=background)


FAMILIES = [
    EmbedderFamily(
        "pixels",
        "pixels[:<side>[:<dim>]]",
        "resized pixels, PCA fitted on the data, no weights",
        _build_pixels,
    )
]
