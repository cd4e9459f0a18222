"""DiT sizes, the flow-matching wrapper's conditioning conventions, and the saved form."""

from __future__ import annotations

import pytest
import torch

from thresher.errors import ThresherError
from thresher.train.flow import NULL_LABEL
from thresher.train.model import build_model, dit_config, load_model, save_model


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("DiT-S/2", (384, 12, 6, 2)),
        ("DiT-B/4", (768, 12, 12, 4)),
        ("DiT-L/8", (1024, 24, 16, 8)),
        ("dit-xl/2", (1152, 28, 16, 2)),
        ("DiT-T/4", (128, 4, 4, 4)),
    ],
)
def test_named_sizes_follow_the_dit_paper(size, expected):
    config = dit_config(size, in_channels=4, sample_size=32, num_classes=1000)
    assert (config.width, config.depth, config.heads, config.patch_size) == expected


def test_size_errors_are_user_errors():
    with pytest.raises(ThresherError, match="unknown model size"):
        dit_config("DiT-M/2", 4, 32, None)
    with pytest.raises(ThresherError, match="unknown model size"):
        dit_config("DiT-S/3", 4, 32, None)
    with pytest.raises(ThresherError, match="not divisible by the patch size 8"):
        dit_config("DiT-S/8", 1, 28, 10)
    with pytest.raises(ThresherError, match="attention heads"):
        dit_config("DiT-T/2", 1, 28, 10, width=100, heads=3)


def _perturbed(model):
    """The DiT init zeroes the adaLN and output layers; randomise everything so outputs depend on inputs."""
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


def test_overrides_shape_the_network_and_init_outputs_zero():
    model = build_model("DiT-T/4", in_channels=1, sample_size=28, num_classes=10, width=48, depth=3, heads=3)
    assert len(model.dit.transformer_blocks) == 3 and model.dit.inner_dim == 48
    x = torch.randn(2, 1, 28, 28)
    # adaLN-Zero: every block starts as the identity and the output projection at zero.
    assert torch.equal(model(x, torch.rand(2), torch.tensor([3, 4])), torch.zeros_like(x))


def test_labels_time_and_the_null_class():
    model = _perturbed(build_model("DiT-T/4", 1, 28, num_classes=10, width=32, depth=2, heads=2)).train()
    x, t = torch.randn(3, 1, 28, 28), torch.full((3,), 0.3)
    out = model(x, t, torch.tensor([1, 2, 3]))
    assert out.shape == x.shape
    # No hidden label dropout in train mode: the same call gives the same output.
    assert torch.equal(out, model(x, t, torch.tensor([1, 2, 3])))
    assert not torch.allclose(out, model(x, t, torch.tensor([4, 2, 3])))
    null = model(x, t, torch.full((3,), model.null_class))
    assert model.null_class == 10
    assert torch.equal(model(x, t, None), null) and torch.equal(
        model(x, t, torch.full((3,), NULL_LABEL)), null
    )
    assert not torch.allclose(out, model(x, torch.full((3,), 0.9), torch.tensor([1, 2, 3])))


def test_unconditional_model_ignores_labels():
    model = _perturbed(build_model("DiT-T/2", 1, 8, num_classes=None, width=32, depth=1, heads=2))
    x, t = torch.randn(2, 1, 8, 8), torch.rand(2)
    assert torch.equal(model(x, t, torch.tensor([0, 5])), model(x, t, None))


def test_save_and_load_round_trip(tmp_path):
    model = _perturbed(build_model("DiT-T/4", 1, 28, num_classes=10, width=32, depth=2, heads=2)).eval()
    save_model(model, tmp_path, extra={"space": "pixel", "vae": None})
    loaded, payload = load_model(tmp_path)
    x, t, y = torch.randn(2, 1, 28, 28), torch.rand(2), torch.tensor([0, 9])
    assert loaded.config == model.config and payload["space"] == "pixel"
    assert torch.equal(loaded(x, t, y), model(x, t, y))
    with pytest.raises(ThresherError, match="no trained model"):
        load_model(tmp_path / "elsewhere")
