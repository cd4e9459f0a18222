"""A small CNN trained on the reference images: the evaluation features for tiny datasets.

Inception/CLIP/DINO features mean little on 28x28 digits (and their weights are not available
offline), so for small labelled datasets we train our own classifier on the reference data: its
penultimate layer gives the features for FID/precision/recall/Vendi, its softmax gives class
predictions for balance, an IS-like score and the mean confidence. Training is seeded and cached in
``cache_dir`` under a fingerprint of the reference data and the training recipe, so every run of an
experiment is measured with the same network.

A held-out part of the reference (``holdout_fraction``) is kept out of training and the accuracy on
it is stored with the model: it tells how far its class predictions can be trusted. Small random
shifts during training make it robust to the slightly off-centre digits that generators produce.

With ``reject_class`` (the default) the network has one more output, trained on synthetic outliers
(:mod:`thresher.evaluate.negatives`: noise, flat images, blobs, shuffled pixels, blends of two classes).
``class_probs`` returns the probabilities of the real classes only, from the softmax over all outputs,
so they sum to ``1 - p(reject)``: mean confidence drops on samples that look like no class, instead of
being 1.00 on pure noise as it is without the reject class.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thresher.evaluate.image_batches import check_images, images_to_tensor
from thresher.evaluate.negatives import make_negatives
from thresher.progress import track

# Bump when the architecture or the training recipe changes, so old cache entries are not reused.
CLASSIFIER_VERSION = 2


@dataclass(frozen=True)
class ClassifierConfig:
    input_size: int = 28  # every image is resized to this square side
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 3e-3
    max_shift: int = 2  # random translation (pixels at input_size) used as augmentation
    holdout_fraction: float = 0.1
    width: int = 16  # channels of the first conv block (the second has twice as many)
    feature_dim: int = 128
    reject_class: bool = True  # an extra output trained on synthetic outliers (see the module docstring)
    negative_fraction: float = 0.15  # outliers added per batch, as a fraction of its real images
    seed: int = 0

    def outputs(self, num_classes: int) -> int:
        return num_classes + (1 if self.reject_class else 0)


class SmallCNN(nn.Module):
    """Two conv blocks and a hidden layer; the hidden layer's activations are the features."""

    def __init__(self, channels: int, num_classes: int, width: int, feature_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(7),  # any input size maps to the same hidden layer
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


def model_input(images: np.ndarray, size: int, channels: int) -> torch.Tensor:
    """uint8 NHWC images -> float NCHW in [-1, 1] at ``size`` x ``size`` with ``channels`` channels."""
    x = images_to_tensor(images, channels) / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x * 2.0 - 1.0


def _random_shift(batch: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate every image by its own random offset in [-max_shift, max_shift], filling with background."""
    if max_shift == 0:
        return batch
    size = batch.shape[-1]
    padded = F.pad(batch, (max_shift,) * 4, value=-1.0)
    offsets = torch.randint(0, 2 * max_shift + 1, (batch.shape[0], 2), generator=generator)
    return torch.stack(
        [padded[i, :, dy : dy + size, dx : dx + size] for i, (dy, dx) in enumerate(offsets.tolist())]
    )


class ReferenceClassifier:
    """The trained classifier as a feature extractor (``name = "classifier"``)."""

    name = "classifier"
    # True when this process trained it rather than loading it from the cache: its training is then a
    # one-time cost of the evaluation (a sweep reports it apart from the cell that paid it).
    trained_here = False

    def __init__(
        self,
        model: SmallCNN,
        class_ids: list,
        channels: int,
        config: ClassifierConfig,
        holdout_accuracy: float | None,
        device: torch.device | str = "cpu",
        batch_size: int = 512,
    ) -> None:
        self.model = model.to(device).eval()
        self.class_ids = list(class_ids)
        self.channels = channels
        self.config = config
        self.holdout_accuracy = holdout_accuracy
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.dim = config.feature_dim
        self.num_classes = len(self.class_ids)

    @torch.no_grad()
    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate-layer features (N, feature_dim) and softmax class probabilities (N, classes)."""
        images = check_images(images)
        feats, probs = [], []
        for start in track(
            range(0, len(images), self.batch_size), "classifier features", unit="batch", transient=True
        ):
            x = model_input(images[start : start + self.batch_size], self.config.input_size, self.channels)
            f, logits = self.model(x.to(self.device))
            feats.append(f.float().cpu().numpy())
            # The reject output (last, when present) is dropped after the softmax, so the class
            # probabilities sum to 1 - p(reject).
            probs.append(torch.softmax(logits.float(), dim=1)[:, : self.num_classes].cpu().numpy())
        return np.concatenate(feats), np.concatenate(probs)

    def extract(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[0]

    def class_probs(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[1]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted labels, in the label values of the reference data."""
        return np.asarray(self.class_ids)[self.class_probs(images).argmax(axis=1)]

    def reject_probability(self, images: np.ndarray) -> np.ndarray:
        """Per image, the probability that it is no class at all (0 without a reject class)."""
        return 1.0 - self.class_probs(images).sum(axis=1)

    def mean_confidence(self, images: np.ndarray) -> float:
        """Mean of the top softmax probability: low when generated samples look like no class."""
        return float(self.class_probs(images).max(axis=1).mean())

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float((self.predict(images) == np.asarray(labels)).mean())


def reference_fingerprint(images: np.ndarray, labels: np.ndarray, config: ClassifierConfig) -> str:
    """Hash of the reference data and the training recipe: the cache key of a trained classifier."""
    digest = hashlib.sha256()
    digest.update(f"v{CLASSIFIER_VERSION}|{sorted(asdict(config).items())}|{images.shape}".encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.asarray(labels).astype(str).tobytes())
    return digest.hexdigest()


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    config: ClassifierConfig | None = None,
    device: torch.device | str = "cpu",
) -> ReferenceClassifier:
    """Train the small CNN on labelled reference images (seeded; a held-out part measures accuracy)."""
    config = config or ClassifierConfig()
    images = check_images(images)
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"need one label per image: {len(images)} images, labels of shape {labels.shape}")
    class_ids, targets = np.unique(labels, return_inverse=True)
    channels = images.shape[-1]
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)

    order = torch.randperm(len(images), generator=generator).numpy()
    n_holdout = int(len(images) * config.holdout_fraction)
    holdout_idx, train_idx = order[:n_holdout], order[n_holdout:]
    x_train = model_input(images[train_idx], config.input_size, channels)
    y_train = torch.as_tensor(targets[train_idx], dtype=torch.long)

    model = SmallCNN(channels, config.outputs(len(class_ids)), config.width, config.feature_dim).to(device)
    reject_target = len(class_ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    steps_per_epoch = -(-len(train_idx) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch
    )
    model.train()
    for _ in track(range(config.epochs), "training evaluation classifier", unit="epoch", transient=True):
        perm = torch.randperm(len(train_idx), generator=generator)
        for start in range(0, len(train_idx), config.batch_size):
            batch = perm[start : start + config.batch_size]
            x = _random_shift(x_train[batch], config.max_shift, generator)
            y = y_train[batch]
            if config.reject_class:
                count = max(1, round(config.negative_fraction * len(batch)))
                x = torch.cat([x, make_negatives(x, y, count, generator)])
                y = torch.cat([y, torch.full((count,), reject_target, dtype=torch.long)])
            _, logits = model(x.to(device))
            loss = F.cross_entropy(logits, y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()

    classifier = ReferenceClassifier(model, class_ids.tolist(), channels, config, None, device)
    classifier.trained_here = True
    if n_holdout > 0:
        classifier.holdout_accuracy = classifier.accuracy(images[holdout_idx], labels[holdout_idx])
    return classifier


def load_or_train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    cache_dir: Path | None,
    config: ClassifierConfig | None = None,
    device: torch.device | str = "cpu",
) -> ReferenceClassifier:
    """The classifier for this reference data: loaded from ``cache_dir`` if trained before, else trained
    (and saved there when ``cache_dir`` is given)."""
    config = config or ClassifierConfig()
    images = check_images(images)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"classifier-{reference_fingerprint(images, labels, config)[:20]}.pt"
        if path.exists():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            outputs = config.outputs(len(saved["class_ids"]))
            model = SmallCNN(saved["channels"], outputs, config.width, config.feature_dim)
            model.load_state_dict(saved["state_dict"])
            return ReferenceClassifier(
                model, saved["class_ids"], saved["channels"], config, saved["holdout_accuracy"], device
            )
    classifier = train_classifier(images, labels, config, device)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.cpu() for k, v in classifier.model.state_dict().items()}
        payload = {
            "state_dict": state,
            "class_ids": classifier.class_ids,
            "channels": classifier.channels,
            "holdout_accuracy": classifier.holdout_accuracy,
        }
        # Write-then-rename so a crash never leaves a half-written cache entry behind.
        # The writer's host and pid: evaluations on several nodes may train the same classifier at once.
        tmp = path.with_suffix(f".tmp-{socket.gethostname()}-{os.getpid()}")
        torch.save(payload, tmp)
        os.replace(tmp, path)
    return classifier
