"""The evaluation feature extractors, by name: what ``thresher evaluate --features NAME`` may say.

Each extractor family is declared in ``FAMILIES`` (a list of :class:`ExtractorFamily`) by one module of
:mod:`thresher.evaluate.extractors`, which the registry finds itself (:mod:`thresher.discovery`; a family
outside thresher is one module that ``THRESHER_FEATURE_EXTRACTORS`` names). A name is
``family[:spec][?options]``, as embedder names are; the embedder families that serve as extractors (CLIP,
DINO, EfficientNet-Lite0) are declared from the embedder registry, with their own name syntax and help.
The modules are light at import (the networks load in the builders): ``--features``' help is built from
them whenever the command line builds its options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from thresher.discovery import Families
from thresher.errors import ThresherError

if TYPE_CHECKING:
    import numpy as np
    import torch

PLUGINS_VARIABLE = "THRESHER_FEATURE_EXTRACTORS"


class FeatureExtractor(Protocol):
    """What the evaluator needs; ``num_classes`` is None when there is no class head."""

    name: str
    dim: int
    num_classes: int | None

    def extract(self, images: np.ndarray) -> np.ndarray: ...

    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass
class ExtractorRequest:
    """What building an extractor may use besides its name: local Inception ``weights``, the
    ``cache_dir`` for downloaded weights and trained classifiers, the labelled ``reference`` (images,
    labels or None) a classifier trains on, the device and the batch size."""

    weights: str | None
    cache_dir: Path | None
    reference: tuple[np.ndarray, np.ndarray | None] | None
    device: torch.device
    batch_size: int


@dataclass(frozen=True)
class ExtractorFamily:
    """One family of extractor names: ``usage`` is the name syntax, ``help`` a phrase saying what it is,
    ``build(name, request)`` checks the name and returns the extractor."""

    name: str
    usage: str
    help: str
    build: Callable[[str, ExtractorRequest], FeatureExtractor]


_FAMILIES: Families[ExtractorFamily] = Families(
    "thresher.evaluate.extractors", "FAMILIES", PLUGINS_VARIABLE, "feature extractor"
)


def families() -> dict[str, ExtractorFamily]:
    """Every family by name, read once (:func:`reset_families` reads again)."""
    return _FAMILIES.entries()


def reset_families() -> None:
    _FAMILIES.reset()


def features_help() -> str:
    """The help of ``--features``: every family's name syntax and what it is."""
    return f"Feature extractor: {_FAMILIES.listing()}."


def family_of(name: str) -> ExtractorFamily:
    """The family of extractor ``name``; an unknown one is a one-line error listing the known ones."""
    return _FAMILIES.of(name)


def exact_name(name: str, family: ExtractorFamily) -> None:
    """For a family whose name is all there is to say (``inception``): anything more is an error."""
    if name.strip() != family.name:
        raise ThresherError(f"feature extractor {name!r}: {family.name} takes no spec or options")
