"""Feature extractors for evaluation, by name.

``build_extractor(name, ...)`` returns an object with ``extract(images) -> (N, D) float32`` and
``features_and_probs(images)``, which also returns the class probabilities when the network has a class
head. Images are numpy uint8 N x H x W x C (C = 1 or 3) everywhere. The names are the families of
:mod:`thresher.evaluate.feature_registry` (one module each in :mod:`thresher.evaluate.extractors`):

- ``inception``: Inception-v3 with the TensorFlow FID weights in torch-fidelity's layout (pool3, 2048-d
  features; softmax of the bias-free logits for IS), here. The FID-specific blocks differ from
  torchvision's (average pools ignore padding, the last block max-pools), and images are resized to 299
  with TensorFlow-1 bilinear sampling, as torch-fidelity does, so the numbers are comparable to published
  FIDs.
- the curation embedders that serve as extractors (``clip:…``, ``dino:…``, ``efficientnet-lite0``),
  through :class:`EmbedderExtractor`. EfficientNet-Lite0's weights ship in a package: pooled 1280-d
  features, and the softmax of its 1000 ImageNet logits for IS; the offline choice for colour images where
  the Inception weights cannot be downloaded (its FIDs are not comparable to published Inception ones).
- ``classifier``: a small CNN trained on the labelled reference images (``thresher.evaluate.classifier``).

``extract_rows`` runs an extractor over :class:`thresher.image_rows.ImageRows` a batch at a time, for sets
(the training rows) that are never held in memory whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.models import inception as tv_inception

from thresher.device import pick_device
from thresher.errors import ThresherError
from thresher.evaluate.feature_registry import ExtractorRequest, FeatureExtractor, family_of
from thresher.evaluate.image_batches import check_images, images_to_tensor
from thresher.image_rows import ImageRows
from thresher.progress import track

INCEPTION_WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
INCEPTION_SIZE = 299


@dataclass
class RowBatch:
    """One batch of rows with its features (and class probabilities, None without a class head)."""

    images: np.ndarray
    features: np.ndarray
    probs: np.ndarray | None


def rows_batch_size(extractor: FeatureExtractor, batch_size: int) -> int:
    """``batch_size`` rounded up to a multiple of the extractor's own batch (``batch_size`` attribute).

    Extractors split what they are given into batches of their own; reading rows in a multiple of that
    size hands the network exactly the batches a whole-set extraction would, so the features (and every
    figure) do not depend on how the rows were streamed, even where a kernel's rounding depends on the
    batch.
    """
    own = getattr(extractor, "batch_size", None)
    if not isinstance(own, int) or own < 1:
        return batch_size
    return own * max(1, math.ceil(batch_size / own))


def extract_rows(
    extractor: FeatureExtractor, rows: ImageRows, batch_size: int, *, desc: str = "training rows"
) -> Iterator[RowBatch]:
    """Features and probabilities of ``rows``, one :class:`RowBatch` at a time, in row order.

    Only one batch of images (``rows_batch_size(extractor, batch_size)`` rows) is in memory at a time.
    """
    size = rows_batch_size(extractor, batch_size)
    total = math.ceil(len(rows) / size)
    for batch in track(rows.batches(size), desc, total=total, unit="batch", transient=True):
        images = check_images(batch)
        features, probs = extractor.features_and_probs(images)
        yield RowBatch(images, features, probs)


def resize_bilinear_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize with TensorFlow 1.x semantics (align_corners=False, no half-pixel offset).

    Output pixel i samples input coordinate i * in/out, clamped at the last pixel; this is the
    resize the original FID graph (and torch-fidelity) applies, and it differs from
    ``F.interpolate``'s half-pixel convention.
    """

    def axis(in_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        src = torch.arange(size, dtype=torch.float32, device=x.device) * (in_size / size)
        lo = src.floor().long().clamp_max(in_size - 1)
        return lo, (lo + 1).clamp_max(in_size - 1), (src - lo.float())

    y_lo, y_hi, y_frac = axis(x.shape[2])
    x_lo, x_hi, x_frac = axis(x.shape[3])
    top = x[:, :, y_lo, :]
    bottom = x[:, :, y_hi, :]
    rows = top + (bottom - top) * y_frac.view(1, 1, -1, 1)
    left, right = rows[:, :, :, x_lo], rows[:, :, :, x_hi]
    return left + (right - left) * x_frac.view(1, 1, 1, -1)


# The FID graph's blocks differ from torchvision's in their pooling branch only, so each override
# recomputes the branches with torchvision's submodules (same names, so the state dict loads as is).
class _FIDInceptionA(tv_inception.InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), b5, b3, self.branch_pool(pool)]


class _FIDInceptionC(tv_inception.InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3):
            bd = layer(bd)
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), b7, bd, self.branch_pool(pool)]


class _FIDInceptionE(tv_inception.InceptionE):
    max_pool = False  # Mixed_7c of the FID graph max-pools, Mixed_7b average-pools without padding

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), b3, bd, self.branch_pool(pool)]


class _FIDInceptionEMaxPool(_FIDInceptionE):
    max_pool = True


def fid_inception_v3() -> tv_inception.Inception3:
    """Inception-v3 with the FID graph's blocks and 1008 classes (randomly initialized)."""
    blocks = [
        tv_inception.BasicConv2d,
        _FIDInceptionA,
        tv_inception.InceptionB,
        _FIDInceptionC,
        tv_inception.InceptionD,
        _FIDInceptionE,
        tv_inception.InceptionAux,
    ]
    net = tv_inception.Inception3(
        num_classes=1008, aux_logits=False, inception_blocks=blocks, init_weights=False
    )
    net.Mixed_7c = _FIDInceptionEMaxPool(2048)
    return net


def load_inception_state(weights: str | None, cache_dir: Path | None) -> dict[str, torch.Tensor]:
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise ThresherError(f"Inception weights file {path} does not exist")
        return torch.load(path, map_location="cpu", weights_only=True)
    try:
        return torch.hub.load_state_dict_from_url(
            INCEPTION_WEIGHTS_URL,
            model_dir=str(cache_dir) if cache_dir is not None else None,
            map_location="cpu",
            progress=True,
        )
    except Exception as exc:  # any network/IO failure means the same thing to the user
        raise ThresherError(
            f"could not download the Inception FID weights ({type(exc).__name__}); download "
            f"{INCEPTION_WEIGHTS_URL} on a connected machine and pass --weights PATH"
        ) from None


class InceptionExtractor:
    """Inception-v3 FID features (2048-d pool3) and IS class probabilities (1008 classes)."""

    name = "inception"
    dim = 2048
    num_classes = 1008

    def __init__(
        self, state_dict: dict[str, torch.Tensor], device: torch.device, batch_size: int = 64
    ) -> None:
        net = fid_inception_v3()
        missing, unexpected = net.load_state_dict(state_dict, strict=False)
        # Converted TF weights may lack BatchNorm's step counters, which inference never reads.
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ThresherError(
                f"not an Inception-v3 FID state dict: {len(missing)} missing keys (e.g. {missing[:2]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})"
            )
        self.net = net.to(device).eval()
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = check_images(images)
        feats, probs = [], []
        for start in track(
            range(0, len(images), self.batch_size), "inception features", unit="batch", transient=True
        ):
            x = images_to_tensor(images[start : start + self.batch_size], 3).to(self.device)
            x = (resize_bilinear_tf1(x, INCEPTION_SIZE) - 128.0) / 128.0
            net = self.net
            for layer in (net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, net.maxpool1):
                x = layer(x)
            for layer in (net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, net.maxpool2, net.Mixed_5b, net.Mixed_5c):
                x = layer(x)
            for layer in (net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e):
                x = layer(x)
            x = net.Mixed_7c(net.Mixed_7b(net.Mixed_7a(x)))
            pool = torch.flatten(net.avgpool(x), 1)
            # IS uses the logits without the fc bias, as the original TF implementation did.
            logits = pool @ net.fc.weight.T
            feats.append(pool.float().cpu().numpy())
            probs.append(torch.softmax(logits.double(), dim=1).float().cpu().numpy())
        return np.concatenate(feats), np.concatenate(probs)

    def extract(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[0]


class EmbedderExtractor:
    """Adapter from a curation embedder (PIL preprocess + batch forward) to the extractor interface."""

    num_classes = None

    def __init__(self, name: str, embedder, device: torch.device, batch_size: int = 64) -> None:
        self.name = name
        self.embedder = embedder
        self.dim = int(embedder.dim)
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def extract(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images)
        out = []
        for start in track(
            range(0, len(images), self.batch_size), f"{self.name} features", unit="batch", transient=True
        ):
            batch = images[start : start + self.batch_size]
            pils = [
                Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).convert("RGB") for img in batch
            ]
            x = torch.stack([self.embedder.preprocess(p) for p in pils]).to(self.device)
            out.append(self.embedder.forward(x).float().cpu().numpy())
        return np.concatenate(out)

    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, None]:
        return self.extract(images), None


class EfficientNetExtractor(EmbedderExtractor):
    """An embedder with a class head (``features_and_logits``, as EfficientNet-Lite0's ImageNet classifier):
    its features and class probabilities in one pass."""

    def __init__(self, name: str, embedder, device: torch.device, batch_size: int = 64) -> None:
        super().__init__(name, embedder, device, batch_size)
        self.num_classes = int(embedder.num_classes)

    @torch.no_grad()
    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = check_images(images)
        feats, probs = [], []
        for start in track(
            range(0, len(images), self.batch_size), f"{self.name} features", unit="batch", transient=True
        ):
            batch = images[start : start + self.batch_size]
            pils = [Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img) for img in batch]
            x = torch.stack([self.embedder.preprocess(p) for p in pils])
            pooled, logits = self.embedder.features_and_logits(x)
            feats.append(pooled.cpu().numpy())
            probs.append(torch.softmax(logits.double(), dim=1).float().cpu().numpy())
        return np.concatenate(feats), np.concatenate(probs)

    def extract(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[0]


def build_extractor(
    name: str,
    *,
    weights: str | None = None,
    cache_dir: Path | None = None,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 64,
) -> FeatureExtractor:
    """Build the evaluation feature extractor ``name`` (its family's declaration says the name syntax).

    ``weights``: local Inception state dict (offline use). ``cache_dir``: where downloaded weights and
    trained classifiers are kept. ``reference``: (images, labels) the ``classifier`` is trained on.
    """
    family = family_of(name)
    torch_device = device if isinstance(device, torch.device) else pick_device(device)
    return family.build(name, ExtractorRequest(weights, cache_dir, reference, torch_device, batch_size))
