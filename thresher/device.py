"""Device and precision choice shared by embed, train and evaluate.

CUDA is used when present unless the caller forces a device; the CPU path never depends on
anything GPU-only, so every code path here is exercised by the CPU test suite.
"""

from __future__ import annotations

import torch

from thresher.errors import ThresherError
from thresher.progress import note


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


def bf16_supported() -> bool:
    """Whether the current CUDA GPU runs bf16 natively (Ampere and later); emulated bf16 on older GPUs is slow."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def gpu_precision() -> str:
    """The training precision ``auto`` means on a CUDA GPU: bf16 where it is native, else fp16."""
    return "bf16" if bf16_supported() else "fp16"


def usable_precision(device: torch.device, precision: str) -> str:
    """``precision`` unless it is bf16 on a CUDA GPU without native bf16: then fp16, said in one line.

    Resolved once where a run or an embedder is set up, so the line is shown once, not per batch.
    """
    if precision == "bf16" and device.type == "cuda" and not bf16_supported():
        note(f"bf16 is not supported by {torch.cuda.get_device_name(device)}; falling back to fp16")
        return "fp16"
    return precision


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for inference: bf16/fp16 on GPU when asked or by default (bf16), none on CPU."""
    if precision == "fp32" or device.type == "cpu":
        return None
    if precision == "fp16":
        return torch.float16
    if precision in ("bf16", "auto"):
        return torch.bfloat16 if device.type == "cuda" and bf16_supported() else torch.float16
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
