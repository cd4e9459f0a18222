"""Extractor registry: the FID Inception network (random weights, no download), embedder adapter, errors."""

from __future__ import annotations

import sys
import types
import urllib.error

import numpy as np
import pytest
import torch
from torchvision.models import inception as tv_inception

from thresher.errors import ThresherError
from thresher.evaluate import features
from thresher.evaluate.features import build_extractor, fid_inception_v3, resize_bilinear_tf1


def test_tf1_bilinear_resize_samples_at_i_times_scale() -> None:
    # TF1 (align_corners=False): output i reads input i * in/out, clamped at the last pixel.
    row = torch.tensor([[[[0.0, 10.0]]]])
    np.testing.assert_allclose(resize_bilinear_tf1(row, 4)[0, 0, 0].numpy(), [0.0, 5.0, 10.0, 10.0])
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    np.testing.assert_allclose(resize_bilinear_tf1(ramp, 2)[0, 0, 0].numpy(), [0.0, 2.0])
    constant = torch.full((1, 3, 28, 28), 7.0)
    assert torch.allclose(resize_bilinear_tf1(constant, 299), torch.full((1, 3, 299, 299), 7.0))


def test_state_dict_has_the_torch_fidelity_layout() -> None:
    state = fid_inception_v3().state_dict()
    keys = [k for k in state if not k.endswith("num_batches_tracked")]
    assert len([k for k in keys if k.endswith("conv.weight")]) == 94
    for key in (
        "Conv2d_1a_3x3.conv.weight",
        "Mixed_5b.branch_pool.conv.weight",
        "Mixed_7c.branch3x3dbl_3b.bn.running_var",
    ):
        assert key in state
    assert state["fc.weight"].shape == (1008, 2048)
    assert not any("AuxLogits" in k for k in keys)


def test_fid_blocks_only_change_the_border_of_the_pooling_branch() -> None:
    torch.manual_seed(0)
    ours, theirs = (
        features._FIDInceptionA(192, pool_features=32).eval(),
        tv_inception.InceptionA(192, 32).eval(),
    )
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(1, 192, 9, 9) + 1.0
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    # Padding zeros only enter the average at the border; the interior must agree exactly.
    assert torch.allclose(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1], atol=1e-5)
    assert not torch.allclose(a[..., 0, :], b[..., 0, :], atol=1e-3)


def test_inception_loads_local_weights_and_extracts(tmp_path) -> None:
    torch.manual_seed(0)
    source = fid_inception_v3()
    path = tmp_path / "inception.pth"
    torch.save({k: v for k, v in source.state_dict().items() if "num_batches" not in k}, path)
    extractor = build_extractor("inception", weights=str(path), device="cpu")
    assert torch.equal(extractor.net.fc.weight, source.fc.weight)
    gray = np.random.default_rng(0).integers(0, 256, (1, 28, 28, 1), dtype=np.uint8)
    feats, probs = extractor.features_and_probs(gray)
    assert feats.shape == (1, 2048) and feats.dtype == np.float32 and np.isfinite(feats).all()
    assert probs.shape == (1, 1008) and probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_inception_without_weights_or_network_says_to_pass_weights(monkeypatch, tmp_path) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ThresherError, match="--weights"):
        build_extractor("inception", cache_dir=tmp_path, device="cpu")
    with pytest.raises(ThresherError, match="does not exist"):
        build_extractor("inception", weights=str(tmp_path / "missing.pth"), device="cpu")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    with pytest.raises(ThresherError, match="not an Inception-v3 FID state dict"):
        build_extractor("inception", weights=str(wrong), device="cpu")


def test_embedder_names_go_through_the_curation_embedders(monkeypatch) -> None:
    calls = {}

    class FakeEmbedder:
        dim = 5

        def preprocess(self, image):
            calls["mode"] = image.mode
            return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)

        def forward(self, batch):
            return batch.mean(dim=(2, 3)).repeat(1, 2)[:, :5]

    def build_embedder(name, device):
        calls["name"] = name
        return FakeEmbedder()

    monkeypatch.setitem(
        sys.modules, "thresher.embedders", types.SimpleNamespace(build_embedder=build_embedder)
    )
    extractor = build_extractor("dino:vit_small_patch14_dinov2", device="cpu", batch_size=2)
    images = np.stack([np.full((8, 8, 1), v, dtype=np.uint8) for v in (0, 10, 20)])
    feats, probs = extractor.features_and_probs(images)
    assert calls == {"name": "dino:vit_small_patch14_dinov2", "mode": "RGB"}
    assert probs is None and feats.shape == (3, 5) and extractor.num_classes is None
    np.testing.assert_allclose(feats[:, 0], [0, 10, 20])


def test_unknown_names_and_missing_reference_are_user_errors() -> None:
    with pytest.raises(ThresherError, match="unknown feature extractor"):
        build_extractor("resnet", device="cpu")
    with pytest.raises(ThresherError, match="labelled reference"):
        build_extractor("classifier", device="cpu")
    with pytest.raises(ThresherError, match="needs labels"):
        build_extractor("classifier", reference=(np.zeros((4, 8, 8, 1), np.uint8), None), device="cpu")


def test_rgba_and_palette_pngs_of_one_size_load_as_one_rgb_batch(tmp_path) -> None:
    # The `evaluate --images FOLDER` case: all 64x64, in modes RGBA, P (+ transparency), P, L and RGB.
    from PIL import Image

    from thresher.evaluate.image_batches import check_images, load_image_files

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(64, 64, 4), dtype=np.uint8)
    rgba[:8, :, 3] = 0  # a fully transparent band
    rgba[8:16, :, 3] = 255
    palette = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)
    indices = rng.integers(0, 256, size=(64, 64), dtype=np.uint8)
    grey = rng.integers(0, 256, size=(64, 64), dtype=np.uint8)
    colour = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a_rgba.png")
    for name, transparency in (("b_palette_trns.png", 5), ("c_palette.png", None)):
        img = Image.frombytes("P", (64, 64), indices.tobytes())
        img.putpalette(palette.flatten().tolist())
        if transparency is not None:
            img.info["transparency"] = transparency
        img.save(tmp_path / name)
    Image.fromarray(grey).save(tmp_path / "d_grey.png")
    Image.fromarray(colour).save(tmp_path / "e_rgb.png")
    files = sorted(tmp_path.glob("*.png"))
    assert [Image.open(f).mode for f in files] == ["RGBA", "P", "P", "L", "RGB"]

    batch = load_image_files(files)
    assert batch.shape == (5, 64, 64, 3) and batch.dtype == np.uint8
    alpha = rgba[..., 3:].astype(np.float64) / 255.0
    np.testing.assert_allclose(batch[0], rgba[..., :3] * alpha + 255.0 * (1 - alpha), atol=1.0)
    assert np.all(batch[0, :8] == 255) and np.array_equal(batch[0, 8:16], rgba[8:16, :, :3])
    looked_up = palette[indices]
    assert np.all(batch[1][indices == 5] == 255)  # the transparent palette entry shows white
    assert np.array_equal(batch[1][indices != 5], looked_up[indices != 5])
    assert np.array_equal(batch[2], looked_up)
    assert np.array_equal(batch[3], np.repeat(grey[..., None], 3, axis=-1))
    assert np.array_equal(batch[4], colour)
    black = check_images([Image.open(f) for f in files], background=(0, 0, 0))
    assert np.all(black[0, :8] == 0) and np.array_equal(black[2:], batch[2:])


def test_an_all_grey_folder_stays_one_channel_and_real_size_differences_are_reported(tmp_path) -> None:
    from PIL import Image

    from thresher.evaluate.image_batches import load_image_files

    for i in range(3):
        Image.new("L", (16, 16), 10 * i).save(tmp_path / f"{i}.png")
    batch = load_image_files(sorted(tmp_path.glob("*.png")))
    assert batch.shape == (3, 16, 16, 1) and list(batch[:, 0, 0, 0]) == [0, 10, 20]
    Image.new("RGBA", (16, 8)).save(tmp_path / "wide.png")
    with pytest.raises(ThresherError, match="different sizes"):
        load_image_files(sorted(tmp_path.glob("*.png")))
