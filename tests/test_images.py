"""Mode handling: transparency composited onto a background, one mode per batch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from thresher.errors import ThresherError
from thresher.images import BLACK, WHITE, composite_onto, parse_background, uniform_batch


def over(colour: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """The "over" operator in float: what an 8-bit composite must round to (within 1)."""
    a = alpha.astype(np.float64)[..., None] / 255.0
    return colour.astype(np.float64) * a + np.asarray(background, dtype=np.float64) * (1.0 - a)


def rgba(pixels: list[tuple[int, int, int, int]]) -> Image.Image:
    return Image.fromarray(np.array([pixels], dtype=np.uint8))


def reopened(img: Image.Image, tmp_path, name: str = "x.png") -> Image.Image:
    """Through a real PNG file, so transparency is a tRNS chunk as PIL reads it from disk."""
    img.save(tmp_path / name)
    out = Image.open(tmp_path / name)
    out.load()
    return out


def test_transparent_opaque_and_half_alpha_pixels(tmp_path) -> None:
    img = reopened(rgba([(255, 0, 0, 0), (10, 200, 30, 255), (255, 0, 0, 128), (0, 0, 255, 64)]), tmp_path)
    assert img.mode == "RGBA"
    for background in (WHITE, BLACK, (0, 128, 255)):
        out = composite_onto(img, background)
        assert out.mode == "RGB"
        pixels = np.asarray(out)[0]
        assert tuple(pixels[0]) == background  # fully transparent red shows the background, not red
        assert tuple(pixels[1]) == (10, 200, 30)  # opaque keeps its colour
        source = np.asarray(img)[0]
        expected = over(source[:, :3], source[:, 3], background)
        np.testing.assert_allclose(pixels, expected, atol=1.0)
    assert tuple(np.asarray(composite_onto(img))[0, 2]) in {(255, 127, 127), (255, 128, 128)}


def test_palette_with_transparency_converts_without_warnings(tmp_path) -> None:
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3)
    by_index = Image.new("P", (4, 4), 0)
    by_index.putpalette(palette)
    by_index.putpixel((1, 1), 1)
    by_index.info["transparency"] = 0  # index 0 (red) is transparent
    by_bytes = by_index.copy()
    by_bytes.info["transparency"] = b"\x00\x80"  # red transparent, green half, blue opaque
    by_bytes.putpixel((2, 2), 2)
    images = [reopened(by_index, tmp_path, "a.png"), reopened(by_bytes, tmp_path, "b.png")]
    assert all(img.mode == "P" for img in images)
    assert isinstance(images[1].info["transparency"], bytes)  # the case PIL warns about on convert('RGB')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        outs = [np.asarray(composite_onto(img, WHITE)) for img in images]
        batch = uniform_batch(images * 5, WHITE)
    assert tuple(outs[0][0, 0]) == WHITE and tuple(outs[0][1, 1]) == (0, 255, 0)
    assert tuple(outs[1][0, 0]) == WHITE and tuple(outs[1][2, 2]) == (0, 0, 255)
    np.testing.assert_allclose(outs[1][1, 1], over(np.array([0, 255, 0]), np.array(128), WHITE), atol=1.0)
    assert batch.shape == (10, 4, 4, 3)


def test_the_background_is_composited_under_palette_colours_hidden_by_transparency(tmp_path) -> None:
    # convert('RGB') would show the transparent entry's stored colour (red); composite_onto shows white
    img = Image.new("P", (2, 2), 0)
    img.putpalette([255, 0, 0] + [0] * 765)
    img.info["transparency"] = 0
    img = reopened(img, tmp_path)
    assert tuple(np.asarray(img.convert("RGB"))[0, 0]) == (255, 0, 0)
    assert tuple(np.asarray(composite_onto(img))[0, 0]) == WHITE


def test_greyscale_stays_grey_and_grey_alpha_composites(tmp_path) -> None:
    la = Image.fromarray(np.array([[[100, 0], [100, 255], [0, 128]]], dtype=np.uint8))
    assert la.mode == "LA"
    out = composite_onto(reopened(la, tmp_path), WHITE)
    assert out.mode == "L"
    np.testing.assert_allclose(np.asarray(out)[0], [255, 100, 255 * 127 / 255], atol=1.0)
    coloured = composite_onto(la, (255, 0, 0))  # a coloured background makes the result colour
    assert coloured.mode == "RGB" and tuple(np.asarray(coloured)[0, 0]) == (255, 0, 0)
    assert composite_onto(Image.new("L", (3, 3), 7)).mode == "L"
    assert composite_onto(Image.new("1", (3, 3), 1)).getpixel((0, 0)) == 255
    sixteen = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16))
    assert np.array_equal(np.asarray(composite_onto(reopened(sixteen, tmp_path, "s.png")))[0], [0, 128, 255])


def test_uniform_batch_makes_one_mode_and_refuses_real_size_differences() -> None:
    grey = np.full((5, 6), 40, dtype=np.uint8)
    colour = np.zeros((5, 6, 3), dtype=np.uint8)
    colour[..., 2] = 200
    half = np.concatenate([colour, np.full((5, 6, 1), 0, dtype=np.uint8)], axis=-1)  # RGBA, transparent
    batch = uniform_batch([grey, Image.fromarray(colour), half])
    assert batch.shape == (3, 5, 6, 3) and batch.dtype == np.uint8
    assert np.all(batch[0] == 40) and np.array_equal(batch[1], colour) and np.all(batch[2] == 255)
    assert uniform_batch([grey, grey[..., None]]).shape == (2, 5, 6, 1)  # all grey stays one channel
    with pytest.raises(ThresherError, match="different sizes"):
        uniform_batch([grey, np.zeros((6, 5), dtype=np.uint8)])
    with pytest.raises(ThresherError):
        uniform_batch([])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("white", WHITE), ("Black", BLACK), (" 10, 20,30 ", (10, 20, 30)), ("0,0,255", (0, 0, 255))],
)
def test_parse_background(text: str, expected) -> None:
    assert parse_background(text) == expected


@pytest.mark.parametrize("text", ["blue", "1,2", "256,0,0", "-1,0,0", "1,2,3,4", "", "a,b,c", "1.5,0,0"])
def test_bad_backgrounds_are_one_line_user_errors(text: str) -> None:
    with pytest.raises(ThresherError) as info:
        parse_background(text)
    assert "\n" not in str(info.value) and "background" in str(info.value)


def _tall_colour(width: int = 17, height: int = 51) -> Image.Image:
    """A tall RGB image of distinct pixels (a gradient per channel), so any shift or scale shows."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], -1).astype(np.uint8)
    return Image.fromarray(pixels)


def test_pad_keeps_the_whole_image_centred_on_the_background():
    from thresher.images import to_square

    image = _tall_colour()
    out = np.asarray(to_square(image, 64, "pad", (10, 20, 30)))
    assert out.shape == (64, 64, 3)
    # independently: 17x51 scaled by 64/51 is 21.33 → 21 wide and 64 high, the rest background
    content = np.asarray(image.resize((21, 64), Image.Resampling.BICUBIC))
    is_background = (out == (10, 20, 30)).all(axis=(0, 2))
    left = int(np.argmin(is_background))
    right = 64 - left - 21
    assert abs(left - right) <= 1 and is_background[:left].all() and is_background[left + 21 :].all()
    np.testing.assert_array_equal(out[:, left : left + 21], content)


def test_crop_takes_the_centre_square():
    from thresher.images import to_square

    image = _tall_colour()
    out = np.asarray(to_square(image, 64, "crop"))
    # independently: the middle 17x17 (rows 17..33 of 51) scaled to 64x64, the filter reading the rows
    # just outside it at its edges (a resize of that box) ...
    box = np.asarray(image.resize((64, 64), Image.Resampling.BICUBIC, box=(0, 17, 17, 34)))
    np.testing.assert_array_equal(out, box)
    # ... which is the cut-out square resized, but for 8-bit rounding where its edge rows meet
    cut = np.asarray(image.crop((0, 17, 17, 34)).resize((64, 64), Image.Resampling.BICUBIC)).astype(int)
    assert np.abs(out.astype(int) - cut).max() <= 1


def test_stretch_scales_both_sides_apart():
    from thresher.images import to_square

    image = _tall_colour()
    expected = np.asarray(image.resize((64, 64), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(np.asarray(to_square(image, 64, "stretch")), expected)


def test_square_images_are_the_same_in_every_mode():
    from thresher.images import RESIZE_MODES, to_square

    image = _tall_colour(30, 30)
    expected = np.asarray(image.resize((16, 16), Image.Resampling.BICUBIC))
    for mode in RESIZE_MODES:
        np.testing.assert_array_equal(np.asarray(to_square(image, 16, mode, BLACK)), expected)


def test_a_grey_image_padded_with_a_colour_turns_colour():
    from thresher.images import to_square

    grey = Image.new("L", (4, 8), 100)
    out = to_square(grey, 8, "pad", (255, 0, 0))
    assert out.mode == "RGB"
    pixels = np.asarray(out)
    assert (pixels[:, 0] == (255, 0, 0)).all() and (pixels[:, 3] == (100, 100, 100)).all()
    assert to_square(grey, 8, "pad", WHITE).mode == "L"  # a grey background keeps it grey
    with pytest.raises(ThresherError, match="--resize must be one of pad, crop, stretch"):
        to_square(grey, 8, "squash")
