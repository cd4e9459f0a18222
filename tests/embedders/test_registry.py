"""Embedder families and evaluation feature extractors are one module each: found by their registries
(plugins named by an environment variable), their name syntax and help written once, in the declaration."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import thresher.embedders as embedders_package
import thresher.evaluate.extractors as extractors_package
from thresher.curate.config import EmbedRunConfig
from thresher.embedders.registry import build_embedder, embedder_help, families, reset_families
from thresher.evaluate import feature_registry
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.features import EmbedderExtractor, build_extractor

# An embedder family in one file: `constant:<dim>` embeds every image as the vector (1, 2, …, dim).
EMBEDDER_PLUGIN = """
from thresher.embedders.base import Embedder
from thresher.embedders.registry import EmbedderFamily


class Constant(Embedder):
    @property
    def preprocess(self):
        import torch

        return lambda image: torch.zeros(1)

    def _encode(self, batch):
        import torch

        return torch.arange(1, self.dim + 1, dtype=torch.float32).repeat(len(batch), 1)


def build(name, spec, options, device, precision, background):
    return Constant(name, int(spec), device, precision)


FAMILIES = [EmbedderFamily("constant", "constant:<dim>", "the same vector for every image", build, features=True)]
"""

# A feature extractor in one file: `brightness`, the mean pixel of each image as a 1-d feature.
EXTRACTOR_PLUGIN = """
import numpy as np

from thresher.evaluate.feature_registry import ExtractorFamily


class Brightness:
    name, dim, num_classes = "brightness", 1, None

    def extract(self, images):
        return images.reshape(len(images), -1).mean(axis=1, keepdims=True).astype(np.float32)

    def features_and_probs(self, images):
        return self.extract(images), None


FAMILIES = [ExtractorFamily("brightness", "brightness", "mean pixel value", lambda name, request: Brightness())]
"""


def _declared(package) -> set[str]:
    names = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        names.update(f.name for f in getattr(module, "FAMILIES", []))
    return names


def test_every_declared_family_is_registered_and_its_help_reaches_the_options():
    assert (
        set(families())
        == _declared(embedders_package)
        == {"clip", "dino", "efficientnet-lite0", "hog", "pixels"}
    )
    assert set(feature_registry.families()) == _declared(extractors_package)
    assert set(feature_registry.families()) == {
        "inception",
        "classifier",
        "clip",
        "dino",
        "efficientnet-lite0",
    }
    embed_help = EmbedRunConfig.__dataclass_fields__["embedder"].metadata["help"]
    features_help = EvalRunConfig.__dataclass_fields__["features"].metadata["help"]
    for family in families().values():
        assert f"{family.usage} ({family.help})" in embed_help
        assert (f"{family.usage} ({family.help})" in features_help) == family.features
    assert "inception (" in features_help and "classifier (" in features_help


def test_reading_the_declarations_stays_light():
    probe = (
        "import sys; from thresher.embedders.registry import families; "
        "from thresher.evaluate.feature_registry import families as extractors; families(); extractors(); "
        "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'open_clip', 'sklearn') if m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"
    )


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "thresher_constant_embedder.py").write_text(textwrap.dedent(EMBEDDER_PLUGIN))
    (tmp_path / "thresher_brightness_extractor.py").write_text(textwrap.dedent(EXTRACTOR_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("THRESHER_EMBEDDERS", "thresher_constant_embedder")
    monkeypatch.setenv("THRESHER_FEATURE_EXTRACTORS", "thresher_brightness_extractor")
    for module in (
        "thresher_constant_embedder",
        "thresher_brightness_extractor",
        "thresher.evaluate.extractors.embedders",
    ):
        monkeypatch.delitem(sys.modules, module, raising=False)
    reset_families()
    feature_registry.reset_families()
    yield
    reset_families()
    feature_registry.reset_families()


def test_a_family_from_one_file_embeds_and_evaluates(plugins):
    assert "constant:<dim> (the same vector for every image)" in embedder_help()
    embedder = build_embedder("constant:3", torch.device("cpu"))
    assert embedder.dim == 3 and embedder.forward(embedder.preprocess(None)[None]).tolist() == [
        [1.0, 2.0, 3.0]
    ]
    # an embedder family that says it serves as features is an extractor too, with its own help
    assert "constant:<dim> (the same vector for every image)" in feature_registry.features_help()
    images = np.zeros((2, 4, 4, 1), dtype=np.uint8)
    extractor = build_extractor("constant:3", device="cpu")
    assert isinstance(extractor, EmbedderExtractor)
    assert extractor.extract(images).tolist() == [[1.0, 2.0, 3.0]] * 2
    # and an extractor of its own, in another file
    images[1] = 200
    assert build_extractor("brightness", device="cpu").extract(images).ravel().tolist() == [0.0, 200.0]
