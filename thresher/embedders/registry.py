"""The embedder families, by name: what ``--embedder NAME`` may say, and how a name becomes an embedder.

An embedder name is ``family[:spec][?option=value&…]``; the whole name is recorded with the embeddings,
so it says everything that changes them. Each family is declared in ``FAMILIES`` (a list of
:class:`EmbedderFamily`) by one module of :mod:`thresher.embedders`, which the registry finds itself
(:mod:`thresher.discovery`; a family outside thresher is one module that ``THRESHER_EMBEDDERS`` names).
A declaration says its name syntax and a phrase of help once: ``thresher embed --help`` and the
evaluation's ``--features`` help are built from them. The modules are light at import (torch and the
models load inside the builders and the embedders' methods), because the command line reads the
declarations whenever it builds its options.

Every family also takes ``background=white|black|R,G,B`` (``with_background`` writes it; white, the default,
is left out of the name): the colour transparent pixels are composited onto (``thresher.images``) before
the family's own preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from thresher.discovery import Families
from thresher.images import RGB, WHITE, parse_background

if TYPE_CHECKING:
    import torch

    from thresher.embedders.base import Embedder

PLUGINS_VARIABLE = "THRESHER_EMBEDDERS"

# (full name, spec after 'family:', ?options, device, precision, background) -> the embedder
Builder = Callable[[str, str, dict[str, str], "torch.device", str, RGB], "Embedder"]


@dataclass(frozen=True)
class EmbedderFamily:
    """One family of embedder names. ``usage`` is the name syntax (``hog[:<side>[:<cell>]]…``), ``help``
    a phrase saying what it is. ``build`` gets (full name, spec after ``family:``, the ``?`` options
    without ``background``, device, precision, background), checks the name and returns the embedder;
    ``background`` is the colour its ``preprocess`` composites transparent pixels onto
    (``thresher.images.composite_onto``). ``features``: evaluation may use it as its feature extractor
    (``thresher evaluate --features NAME``, :mod:`thresher.evaluate.extractors.embedders`)."""

    name: str
    usage: str
    help: str
    build: Builder
    features: bool = False


_FAMILIES: Families[EmbedderFamily] = Families("thresher.embedders", "FAMILIES", PLUGINS_VARIABLE, "embedder")


def families() -> dict[str, EmbedderFamily]:
    """Every family by name, read once (:func:`reset_families` reads again)."""
    return _FAMILIES.entries()


def reset_families() -> None:
    _FAMILIES.reset()


def embedder_help() -> str:
    """The help of ``--embedder``: every family's name syntax and what it is."""
    return f"An embedder name: {_FAMILIES.listing()}."


def check_embedder_name(name: str) -> None:
    """Refuse (one line) a name of no known family or with a bad ``background``, building nothing: what can
    be checked before any work (a family's own options are checked when it builds)."""
    _FAMILIES.of(name)
    options = dict(parse_qsl(name.strip().partition("?")[2], keep_blank_values=True))
    if "background" in options:
        parse_background(options["background"])


def build_embedder(
    name: str, device: torch.device | None = None, precision: str = "auto", seed: int = 0
) -> Embedder:
    """Build the embedder ``name`` on ``device`` (default: CUDA when present).

    Networks without pretrained weights (``dino:…?random``, a CLIP architecture without a tag) are
    initialized from ``seed``, under a forked RNG so the caller's random state is untouched: two runs with
    one seed embed with the same random network."""
    import torch

    from thresher.device import pick_device

    name = name.strip()
    family = _FAMILIES.of(name)
    head, _, query = name.partition("?")
    spec = head.partition(":")[2]
    options = dict(parse_qsl(query, keep_blank_values=True))
    background = parse_background(options.pop("background")) if "background" in options else WHITE
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        embedder = family.build(name, spec, options, device or pick_device(None), precision, background)
    embedder.background = background
    return embedder
