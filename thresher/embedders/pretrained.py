"""Pretrained backbones: open_clip image towers (``clip:``) and timm models such as DINOv2 (``dino:``).

Names::

    clip:<arch>[/<pretrained>][?image_size=N]     open_clip image tower; <pretrained> is a tag
                                                  (laion2b_s34b_b79k), a local file, or hf-hub:<org>/<repo>;
                                                  no <pretrained> = random init (tests, benchmarks)
    clip:hf-hub:<org>/<repo>                      open_clip model and weights from the Hub
    dino:<timm-name>[?random][&image_size=N][&weights=<file>]
                                                  timm backbone (num_classes=0, pooled features) with the
                                                  model's own data config; ?random skips the weights
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from thresher.embedders.base import Embedder, Preprocess, _check_options, _int_option, _one_line
from thresher.embedders.registry import EmbedderFamily
from thresher.errors import ThresherError
from thresher.images import RGB, WHITE, composite_onto

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ToRGBThen:
    """Composite transparency onto ``background`` and convert to RGB before a model transform: grayscale
    (MNIST) or RGBA inputs would give the wrong channel count, and dropping alpha would show whatever colour
    sits under transparent pixels."""

    transform: Preprocess
    background: RGB = WHITE

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.transform(composite_onto(image, self.background).convert("RGB"))


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
        background: RGB = WHITE,
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
        self._transform = ToRGBThen(transform, background)
        dim = getattr(self._tower, "output_dim", None) or self._probe_dim(device)
        super().__init__(name, int(dim), device, precision)

    def network(self) -> torch.nn.Module:
        return self._tower

    def _probe_dim(self, device: torch.device) -> int:
        import torch

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
        background: RGB = WHITE,
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
        self._transform = ToRGBThen(create_transform(**config, is_training=False), background)
        self._model = model.to(device).eval()
        super().__init__(name, int(model.num_features), device, precision)

    @property
    def preprocess(self) -> Preprocess:
        return self._transform

    def network(self) -> torch.nn.Module:
        return self._model

    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        return self._model(batch)


def _build_clip(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str, background: RGB
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
    image_size = _int_option(name, options, "image_size")
    return ClipEmbedder(name, model_name, pretrained or None, image_size, device, precision, background)


def _build_dino(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str, background: RGB
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
        background,
    )


FAMILIES = [
    EmbedderFamily(
        "clip", "clip:<arch>[/<pretrained>]", "an open_clip image tower", _build_clip, features=True
    ),
    EmbedderFamily(
        "dino",
        "dino:<timm-name>[?random][&image_size=N][&weights=<file>]",
        "a timm backbone such as DINOv2",
        _build_dino,
        features=True,
    ),
]
