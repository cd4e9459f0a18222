"""Embedder registry: turn an embedder name into a model that maps images to fixed-size vectors.

Names (the whole name is recorded with the embeddings, so it must say everything that changes them)::

    clip:<arch>[/<pretrained>][?image_size=N]     open_clip image tower; <pretrained> is a tag
                                                  (laion2b_s34b_b79k), a local file, or hf-hub:<org>/<repo>;
                                                  no <pretrained> = random init (tests, benchmarks)
    clip:hf-hub:<org>/<repo>                      open_clip model and weights from the Hub
    dino:<timm-name>[?random][&image_size=N][&weights=<file>]
                                                  timm backbone (num_classes=0, pooled features) with the
                                                  model's own data config; ?random skips the weights
    hog[:<side>[:<cell>]][?deskew]                HOG features (thresher.curate.hog_embedder), no weights
    pixels[:<side>[:<dim>]]                       resize to side x side (gray or RGB, decided at fit),
                                                  flatten, PCA to dim; fitted on the data, saved, reloaded

Every embedder has a picklable ``preprocess`` (PIL image -> CPU tensor, runs in DataLoader workers) and a
``forward`` (batch -> float32 (B, dim) on the embedder's device, under bf16/fp16 autocast on GPU).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl

import numpy as np
import torch
from PIL import Image

from thresher.device import autocast_dtype, pick_device
from thresher.errors import ThresherError

log = logging.getLogger(__name__)

Preprocess = Callable[[Image.Image], torch.Tensor]


class Embedder(ABC):
    """Images -> vectors. Subclasses implement ``preprocess`` and ``_encode``; fitted ones also fit/save/load."""

    #: True for embedders whose mapping is learned from the data being embedded (pixels PCA).
    fits_to_data: ClassVar[bool] = False
    #: False where reduced precision would only lose accuracy without saving time (a single matmul).
    uses_autocast: ClassVar[bool] = True

    def __init__(self, name: str, dim: int, device: torch.device, precision: str) -> None:
        self.name = name
        self.dim = dim
        self.device = device
        self.precision = precision

    @property
    @abstractmethod
    def preprocess(self) -> Preprocess:
        """A picklable callable PIL image -> CPU float tensor (no reference to the model)."""

    @abstractmethod
    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        """Model call on a batch already on ``self.device``."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Embed a preprocessed batch: float32 tensor (B, dim) on ``self.device``."""
        batch = batch.to(self.device, non_blocking=True)
        dtype = autocast_dtype(self.device, self.precision) if self.uses_autocast else None
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            out = self._encode(batch)
        return out.float()

    __call__ = forward

    @property
    def needs_fit(self) -> bool:
        """True while this embedder still has to be fitted (or loaded) before it can embed."""
        return False

    def fit(self, images: Iterable[Image.Image]) -> None:
        raise TypeError(f"embedder {self.name!r} has no fitted state")

    def save(self, path: str | Path) -> None:
        raise TypeError(f"embedder {self.name!r} has no fitted state")

    def load(self, path: str | Path) -> None:
        raise TypeError(f"embedder {self.name!r} has no fitted state")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, device={self.device})"


@dataclass(frozen=True)
class ToRGBThen:
    """Convert to RGB before a model transform: grayscale (MNIST) or RGBA inputs would give the wrong channel count."""

    transform: Preprocess

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.transform(image.convert("RGB"))


class ClipEmbedder(Embedder):
    """open_clip image tower (``encode_image`` without the text tower, which is dropped to save memory)."""

    def __init__(
        self,
        name: str,
        model_name: str,
        pretrained: str | None,
        image_size: int | None,
        device: torch.device,
        precision: str,
    ) -> None:
        import open_clip

        if not model_name.startswith(("hf-hub:", "local-dir:")) and model_name not in open_clip.list_models():
            raise ThresherError(
                f"unknown CLIP architecture {model_name!r} in {name!r}; see open_clip.list_models()"
            )
        extra = {"force_image_size": image_size} if image_size else {}
        try:
            model, _, transform = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, **extra
            )
        except Exception as exc:  # open_clip raises RuntimeError/OSError/HF errors for missing weights
            raise ThresherError(f"cannot load CLIP {name!r}: {_one_line(exc)}") from None
        self._tower = model.visual.to(device).eval()
        del model
        self._transform = ToRGBThen(transform)
        dim = getattr(self._tower, "output_dim", None) or self._probe_dim(device)
        super().__init__(name, int(dim), device, precision)

    def _probe_dim(self, device: torch.device) -> int:
        probe = self._transform(Image.new("RGB", (32, 32)))[None].to(device)
        with torch.inference_mode():
            return int(self._encode(probe).shape[-1])

    @property
    def preprocess(self) -> Preprocess:
        return self._transform

    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        out = self._tower(batch)
        # CoCa towers return (pooled, tokens); encode_image keeps the pooled latent.
        return out[0] if isinstance(out, tuple) else out


class TimmEmbedder(Embedder):
    """A timm backbone with its classifier removed: the pooled features (CLS token for DINOv2)."""

    def __init__(
        self,
        name: str,
        model_name: str,
        pretrained: bool,
        image_size: int | None,
        weights: str | None,
        device: torch.device,
        precision: str,
    ) -> None:
        import timm
        from timm.data import create_transform, resolve_data_config

        kwargs: dict[str, object] = {"num_classes": 0}
        if image_size:
            kwargs["img_size"] = image_size  # ViTs interpolate their position embeddings on load
        if weights:
            kwargs["pretrained_cfg_overlay"] = {"file": weights}
        try:
            model = timm.create_model(model_name, pretrained=pretrained, **kwargs)
        except Exception as exc:  # unknown name (RuntimeError), offline Hub (OSError), bad file
            raise ThresherError(f"cannot load timm model {name!r}: {_one_line(exc)}") from None
        # The pretrained config carries the training resolution (518 for DINOv2); an explicit size wins.
        override = {"input_size": (3, image_size, image_size)} if image_size else {}
        config = resolve_data_config(override, model=model)
        self._transform = ToRGBThen(create_transform(**config, is_training=False))
        self._model = model.to(device).eval()
        super().__init__(name, int(model.num_features), device, precision)

    @property
    def preprocess(self) -> Preprocess:
        return self._transform

    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        return self._model(batch)


@dataclass(frozen=True)
class PixelTransform:
    """Resize to side x side in gray (1 channel) or RGB (3), flatten, scale to [0, 1]."""

    side: int
    channels: int

    def __call__(self, image: Image.Image) -> torch.Tensor:
        mode = "L" if self.channels == 1 else "RGB"
        small = image.convert(mode).resize((self.side, self.side), Image.Resampling.BILINEAR)
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
        self, name: str, side: int, dim: int, device: torch.device, precision: str, seed: int = 0
    ) -> None:
        super().__init__(name, dim, device, precision)
        self.side = side
        self.seed = seed
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
        return PixelTransform(self.side, self.channels)

    def fit(self, images: Iterable[Image.Image]) -> None:
        from sklearn.decomposition import PCA

        rgb = np.stack([np.asarray(PixelTransform(self.side, 3)(img)).reshape(-1, 3) for img in images])
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
        self.channels = int(channels)
        self._mean = torch.as_tensor(mean, dtype=torch.float32, device=self.device)
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


# --- the registry -------------------------------------------------------------------------------------

Builder = Callable[[str, str, dict[str, str], torch.device, str], Embedder]
FAMILIES: dict[str, tuple[str, Builder]] = {}


def register_family(family: str, usage: str) -> Callable[[Builder], Builder]:
    """Add an embedder family; the builder gets (full name, spec after 'family:', ?options, device, precision)."""

    def add(builder: Builder) -> Builder:
        FAMILIES[family] = (usage, builder)
        return builder

    return add


@register_family("clip", "clip:<arch>[/<pretrained>]")
def _build_clip(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str
) -> Embedder:
    _check_options(name, options, {"image_size"})
    if spec.startswith(("hf-hub:", "local-dir:")):
        model_name, pretrained = spec, None
    else:
        model_name, _, pretrained = spec.partition("/")
        if pretrained.startswith("hf-hub:"):  # clip:ViT-B-32/hf-hub:org/repo: the Hub config names the arch
            model_name, pretrained = pretrained, ""
    if not model_name:
        raise ThresherError(
            f"embedder {name!r} names no CLIP architecture, e.g. clip:ViT-B-32/laion2b_s34b_b79k"
        )
    return ClipEmbedder(
        name, model_name, pretrained or None, _int_option(name, options, "image_size"), device, precision
    )


@register_family("dino", "dino:<timm-name>[?random][&image_size=N][&weights=<file>]")
def _build_dino(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str
) -> Embedder:
    _check_options(name, options, {"random", "image_size", "weights"})
    if not spec:
        raise ThresherError(
            f"embedder {name!r} names no timm model, e.g. dino:vit_small_patch14_dinov2.lvd142m"
        )
    weights = options.get("weights") or None
    if weights and not Path(weights).is_file():
        raise ThresherError(f"weights file {weights!r} for {name!r} does not exist")
    return TimmEmbedder(
        name,
        spec,
        "random" not in options,
        _int_option(name, options, "image_size"),
        weights,
        device,
        precision,
    )


@register_family("pixels", "pixels[:<side>[:<dim>]]")
def _build_pixels(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str
) -> Embedder:
    _check_options(name, options, {"seed"})
    fields = spec.split(":") if spec else []
    if len(fields) > 2 or not all(f.isdigit() and int(f) > 0 for f in fields):
        raise ThresherError(f"bad pixels embedder {name!r}; use pixels[:<side>[:<dim>]], e.g. pixels:32:64")
    side = int(fields[0]) if fields else 32
    dim = int(fields[1]) if len(fields) > 1 else 64
    return PixelPCAEmbedder(name, side, dim, device, precision, seed=_int_option(name, options, "seed") or 0)


def build_embedder(name: str, device: torch.device | None = None, precision: str = "auto") -> Embedder:
    """Build the embedder ``name`` (see the module docstring) on ``device`` (default: CUDA when present)."""
    name = name.strip()
    head, _, query = name.partition("?")
    family, _, spec = head.partition(":")
    if family not in FAMILIES:
        known = ", ".join(usage for usage, _ in FAMILIES.values())
        raise ThresherError(f"unknown embedder {name!r}; known families: {known}")
    options = dict(parse_qsl(query, keep_blank_values=True))
    return FAMILIES[family][1](name, spec, options, device or pick_device(None), precision)


def _check_options(name: str, options: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ThresherError(
            f"embedder {name!r}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _int_option(name: str, options: dict[str, str], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if not value.isdigit():
        raise ThresherError(f"embedder {name!r}: option {key} must be a positive integer, got {value!r}")
    return int(value)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# Families defined in their own modules register themselves on import (after the registry exists).
from thresher.curate import hog_embedder  # noqa: E402, F401
