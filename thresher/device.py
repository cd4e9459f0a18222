"""Device and precision choice shared by embed, train and evaluate.

CUDA is used when present unless the caller forces a device; the CPU path never depends on
anything GPU-only, so every code path here is exercised by the CPU test suite.
"""

from __future__ import annotations

import torch

from thresher.errors import ThresherError


def pick_device(requested: str | None = None) -> torch.device:
    """Return the device to run on: ``requested`` if given (``cpu``, ``cuda``, ``cuda:1``, ``mps``), else CUDA when available."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise ThresherError(f"unknown device {requested!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ThresherError(f"device {requested!r} asked for, but CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ThresherError(f"device {requested!r} asked for, but MPS is not available on this machine")
    return device


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for inference: bf16/fp16 on GPU when asked or by default (bf16), none on CPU."""
    if precision == "fp32" or device.type == "cpu":
        return None
    if precision == "fp16":
        return torch.float16
    if precision in ("bf16", "auto"):
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    raise ThresherError(f"unknown precision {precision!r}; choose auto, fp32, fp16 or bf16")


def process_state(device: str | None = None):  # -> accelerate.PartialState
    """accelerate's process state (rank, world size, barriers) for this run.

    Without CUDA (or with ``device="cpu"``) it must be asked for the CPU explicitly: otherwise, under
    ``accelerate launch --num_processes 2`` on a CPU machine, every process believes it is the only one and
    they all do (and commit) the whole job. With ``cpu=True`` the processes join one gloo group.
    """
    from accelerate import PartialState

    cpu = device == "cpu" or (device in (None, "", "auto") and not torch.cuda.is_available())
    return PartialState(cpu=cpu)
