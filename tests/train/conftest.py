"""Fixtures for the thresher.train tests: real MNIST digits and a tiny, fast DiT config."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# One thread: on a shared 2-core machine, OpenMP threads fighting other processes make steps 10x slower.
torch.set_num_threads(1)

# Loaded by path, so the helper works whether or not tests/ is a package.
_spec = importlib.util.spec_from_file_location(
    "tiny_mnist_run", Path(__file__).with_name("tiny_mnist_run.py")
)
tiny_mnist_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_mnist_run)


@pytest.fixture(scope="session")
def mnist16():
    """16 real MNIST digits (2 of each class 0-7), labelled, 10 classes."""
    return tiny_mnist_run.mnist_training_set()


@pytest.fixture(scope="session")
def make_mnist():
    return tiny_mnist_run.mnist_training_set


@pytest.fixture(scope="session")
def make_config():
    return tiny_mnist_run.tiny_config


@pytest.fixture(scope="session")
def driver_path() -> Path:
    return Path(tiny_mnist_run.__file__)


@pytest.fixture(scope="session")
def tiny_vae_path(tmp_path_factory) -> Path:
    """A randomly initialised 2-level AutoencoderKL (downsampling 2, 4 latent channels) saved like a Hub VAE."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(
        in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8, sample_size=28, scaling_factor=0.5, shift_factor=0.1,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("vae") / "tiny-vae"
    vae.save_pretrained(path)
    return path
