"""The embedder base class and what the families share: option parsing of names, the ``background=``
option. Light at import, as every module of the package (:mod:`thresher.embedders.registry`): torch loads
when an embedder is built or run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from PIL import Image

from thresher.errors import ThresherError
from thresher.images import RGB, WHITE, background_name, parse_background

if TYPE_CHECKING:
    import torch

Preprocess = Callable[[Image.Image], "torch.Tensor"]


class Embedder(ABC):
    """Images -> vectors. Subclasses implement ``preprocess`` and ``_encode``; fitted ones also fit/save/load."""

    #: True for embedders whose mapping is learned from the data being embedded (pixels PCA).
    fits_to_data: ClassVar[bool] = False
    #: False where reduced precision would only lose accuracy without saving time (a single matmul).
    uses_autocast: ClassVar[bool] = True

    def __init__(self, name: str, dim: int, device: torch.device, precision: str) -> None:
        self.name = name
        self.dim = dim
        from thresher.device import usable_precision

        self.device = device
        self.precision = usable_precision(device, precision)
        #: what transparent pixels are composited onto before ``preprocess`` (the name's ``background=``)
        self.background: RGB = WHITE

    @property
    @abstractmethod
    def preprocess(self) -> Preprocess:
        """A picklable callable PIL image -> CPU float tensor (no reference to the model)."""

    @abstractmethod
    def _encode(self, batch: torch.Tensor) -> torch.Tensor:
        """Model call on a batch already on ``self.device``."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Embed a preprocessed batch: float32 tensor (B, dim) on ``self.device``."""
        import torch

        from thresher.device import autocast_dtype

        batch = batch.to(self.device, non_blocking=True)
        dtype = autocast_dtype(self.device, self.precision) if self.uses_autocast else None
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            out = self._encode(batch)
        return out.float()

    __call__ = forward

    def model_fingerprint(self) -> str | None:
        """A hash of the network's weights (None for embedders without one): a store is resumed only under
        the model state that made its finished parts."""
        module = self.network()
        if module is None:
            return None
        import hashlib

        digest = hashlib.sha1()
        for tensor in module.state_dict().values():
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def network(self) -> torch.nn.Module | None:
        """The torch module that embeds, where there is one."""
        return None

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


def with_background(name: str, background: str | RGB | None = None) -> str:
    """``name`` saying its background once: a non-white one as the option ``background=…``, white left out.

    The name is recorded with the embeddings and names their folder, so it must say everything that changes
    them: embeddings of transparent images composited onto another colour get another name and are never
    mixed with (or resumed from) the white ones. ``background`` (``--background``) is added when the name
    has none; a name that already says one keeps it unless ``background`` is another non-white colour, which
    is an error (say it once). Other options keep their text and order.
    """
    head, sep, query = name.strip().partition("?")
    parts = [p for p in query.split("&") if p] if sep else []
    own = [p.partition("=")[2] for p in parts if p.partition("=")[0] == "background"]
    rest = [p for p in parts if p.partition("=")[0] != "background"]
    if len(own) > 1:
        raise ThresherError(f"embedder {name!r} gives background= more than once")
    chosen = parse_background(own[0]) if own else WHITE
    if background is not None:
        given = parse_background(background) if isinstance(background, str) else tuple(background)
        if own and given != WHITE and given != chosen:
            raise ThresherError(
                f"embedder {name!r} says background={own[0]} but the background given is "
                f"{background_name(given)}; give it once"
            )
        if not own:
            chosen = given
    if chosen != WHITE:
        rest.append(f"background={background_name(chosen)}")
    return head + ("?" + "&".join(rest) if rest else "")


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
