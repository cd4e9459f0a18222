"""The GPU correctness tests: each runs a stage on CUDA and checks it against the CPU (or against itself).

They are marked ``cuda``: skipped on a machine without CUDA, run by the GPU kit (``benchmarks/device/run.sh``,
``pytest -m cuda``). ``THRESHER_GPU_TEST_DEVICE=cpu`` runs them on the CPU instead, each comparing the CPU with
itself: a dry run of the tests' own code where no GPU is at hand (it proves nothing about CUDA).
"""

from __future__ import annotations

import os

# cuBLAS is deterministic only with a fixed workspace; it reads this when its first handle is created.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import pytest  # noqa: E402
import torch  # noqa: E402

DRY_RUN_VARIABLE = "THRESHER_GPU_TEST_DEVICE"


def gpu_device() -> str:
    return os.environ.get(DRY_RUN_VARIABLE, "cuda")


@pytest.fixture
def device() -> str:
    return gpu_device()


@pytest.fixture
def deterministic():
    """Deterministic kernels (cuBLAS, cuDNN, scatter) for the tests that compare runs bit for bit."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)
