"""One pixel mode for images of any PNG/JPEG/WebP mode: greyscale ``L`` or colour ``RGB``, no alpha.

Transparency is composited onto a background, never dropped: `convert('RGB')` would expose whatever colour
sits under transparent pixels.

``composite_onto`` handles every mode PIL opens: RGBA, LA, PA and palette or greyscale/colour images with a
``transparency`` entry (a tRNS chunk) go through ``convert("RGBA")`` and ``Image.alpha_composite`` onto the
background; 16-bit greyscale is scaled to 8 bits; everything else is converted to ``L`` or ``RGB``.
Going through RGBA is also what PIL asks for: converting a palette image whose transparency is a byte
string straight to RGB warns "Palette images with Transparency expressed in bytes should be converted to
RGBA images" for every image, and this path never does.

``to_square`` makes an image size×size for ``--image-size``: ``pad`` (the whole image, aspect kept, the
rest filled with the background colour), ``crop`` (the centre square) or ``stretch`` (both sides scaled
apart, what thresher did before the modes existed). Pillow's ``ImageOps.pad`` and ``ImageOps.fit`` do the
work; for a square image all three are one plain resize, so they give the same pixels.

``uniform_batch`` makes a batch of one mode: if any image is colour, all are RGB (greyscale is repeated
into three channels, which loses nothing); only an all-greyscale batch stays ``L``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageOps

from thresher.errors import ThresherError

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
BACKGROUNDS = {"white": WHITE, "black": BLACK}

RESIZE_MODES = ("pad", "crop", "stretch")
# pad loses nothing of an image and distorts nothing (crop cuts its edges off, stretch changes its shapes),
# and on square images it is exactly the stretch thresher always did, so square sources keep their pixels.
DEFAULT_RESIZE = "pad"
RESIZE_HELP = (
    "How --image-size makes images square: pad (the whole image, aspect kept, the background colour "
    "around it), crop (the centre square) or stretch (both sides scaled apart). Square images are the "
    "same in all three."
)
LEGACY_RESIZE = "stretch"
"""The mode of runs, stores and caches made before the modes existed (their records name none)."""

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_GREY_MODES = {"1", "L", "LA", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def parse_background(text: str) -> RGB:
    """``white`` | ``black`` | ``R,G,B`` (integers 0-255) as an RGB triple; ThresherError otherwise."""
    value = str(text).strip().lower()
    if value in BACKGROUNDS:
        return BACKGROUNDS[value]
    parts = [p.strip() for p in value.split(",")]
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise ThresherError(f"bad background {text!r}: use white, black or R,G,B with each value in 0..255")


def background_name(background: RGB) -> str:
    """The text ``parse_background`` reads back as ``background``: white, black or R,G,B."""
    rgb = tuple(int(c) for c in background)
    names = {v: k for k, v in BACKGROUNDS.items()}
    return names.get(rgb, ",".join(str(c) for c in rgb))


def has_transparency(img: Image.Image) -> bool:
    """Whether ``img`` has an alpha channel or a transparent colour/palette entry."""
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def is_greyscale(img: Image.Image) -> bool:
    """Whether ``img``'s mode holds one grey channel (palette images count as colour)."""
    return img.mode in _GREY_MODES or img.mode in _SIXTEEN_BIT_MODES


def composite_onto(img: Image.Image, background: RGB = WHITE) -> Image.Image:
    """``img`` as ``L`` (greyscale without transparency, or composited onto a grey background) or ``RGB``.

    Transparent pixels take the ``background`` colour, half-transparent ones blend with it
    (``Image.alpha_composite``, the usual "over" with 8-bit rounding); opaque pixels keep their colour.
    """
    background = tuple(int(c) for c in background)
    if len(background) != 3 or not all(0 <= c <= 255 for c in background):
        raise ThresherError(f"background must be three values in 0..255, got {background}")
    if has_transparency(img):
        grey = is_greyscale(img) and background[0] == background[1] == background[2]
        if img.mode in _SIXTEEN_BIT_MODES:  # a 16-bit grey PNG with a transparent grey level
            transparent = np.asarray(img) == img.info["transparency"]
            grey8 = np.asarray(_to_8bit(img))
            img = Image.fromarray(np.stack([grey8, np.where(transparent, 0, 255).astype(np.uint8)], -1))
        rgba = img.convert("RGBA")
        out = Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert("RGB")
        # every channel is equal for a grey image over a grey background, so L is exact
        return out.convert("L") if grey else out
    if img.mode in _SIXTEEN_BIT_MODES:
        return _to_8bit(img)
    if img.mode in ("1", "L"):
        return img.convert("L")
    return img.convert("RGB")


def check_resize(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise ThresherError(f"--resize must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    return mode


def to_square(
    img: Image.Image, size: int, mode: str = DEFAULT_RESIZE, background: RGB = WHITE
) -> Image.Image:
    """``img`` (already ``composite_onto``'d: ``L`` or ``RGB``) as size×size, bicubic, by ``mode``
    (:data:`RESIZE_MODES`); ``pad`` fills with ``background``, so a grey image padded with a colour turns RGB."""
    check_resize(mode)
    target = (size, size)
    if img.size == target:
        return img
    if mode == "stretch" or img.width == img.height:
        return img.resize(target, Image.Resampling.BICUBIC)
    if mode == "crop":
        return ImageOps.fit(img, target, Image.Resampling.BICUBIC)
    background = tuple(int(c) for c in background)
    if img.mode == "L" and len(set(background)) > 1:
        img = img.convert("RGB")
    fill = background[0] if img.mode == "L" else background
    return ImageOps.pad(img, target, Image.Resampling.BICUBIC, color=fill)


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit greyscale (``I;16*``, or ``I`` as PIL opens 16-bit PNGs) scaled to 8-bit ``L``."""
    pixels = np.asarray(img).astype(np.int64)
    return Image.fromarray(np.clip(pixels >> 8, 0, 255).astype(np.uint8))


def uniform_batch(images: Iterable[Image.Image | np.ndarray], background: RGB = WHITE) -> np.ndarray:
    """Images of any modes as one uint8 N x H x W x C array, C = 1 if all are greyscale, else 3.

    Arrays are read as ``Image.fromarray`` does (H x W grey, H x W x 2 grey+alpha, x 3 RGB, x 4 RGBA).
    ThresherError if the images differ in size (after the mode is made uniform, so only real sizes count).
    """
    converted = [composite_onto(_as_pil(img), background) for img in images]
    if not converted:
        raise ThresherError("no images")
    sizes = sorted({img.size for img in converted})
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for w, h in sizes[:3]) + (", ..." if len(sizes) > 3 else "")
        raise ThresherError(f"images have different sizes ({shown}); resize them to one size first")
    if any(img.mode == "RGB" for img in converted):
        return np.stack([np.asarray(img.convert("RGB")) for img in converted])
    return np.stack([np.asarray(img) for img in converted])[..., None]


def _as_pil(img: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(img, Image.Image):
        return img
    array = np.asarray(img)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] > 4):
        raise ThresherError(
            f"an image array must be uint8 H x W or H x W x 1-4, got {array.dtype} {array.shape}"
        )
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return Image.fromarray(array)
