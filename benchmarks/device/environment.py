"""What the kit runs on: device, versions, and whether the carried wheels' requirements hold there.

The wheels travel without their dependencies (``pip install --no-deps``), so each installed distribution's
``Requires-Dist`` is checked against what the machine has; a mismatch is listed, not fatal (it may still
work, and the log then says where to look first).

    python benchmarks/device/environment.py [--json environment.json]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import platform
import sys
from pathlib import Path

from packaging.requirements import Requirement

KIT = Path(__file__).resolve().parent


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def unmet_requirements(names: list[str]) -> list[str]:
    """``name: requirement (found: version)`` for every unmet, unconditional requirement of ``names``."""
    problems = []
    for name in names:
        for text in md.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            found = _version(requirement.name)
            if found is None or not requirement.specifier.contains(found, prereleases=True):
                problems.append(f"{name}: {requirement} (found: {found})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    args = parser.parse_args()
    import torch

    wheels = [line.split("#", 1)[0].strip() for line in (KIT / "wheels.txt").read_text().splitlines()]
    wheels = [w for w in wheels if w]
    cuda = torch.cuda.is_available()
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "bf16_native": bool(cuda and torch.cuda.is_bf16_supported(including_emulation=False)),
        "versions": {
            n: _version(n)
            for n in [
                *wheels,
                "torchvision",
                "timm",
                "accelerate",
                "huggingface_hub",
                "numpy",
                "pandas",
                "pyarrow",
                "fsspec",
                "scikit-learn",
                "safetensors",
            ]
        },  # fmt: skip
        "unmet_requirements": unmet_requirements([w for w in wheels if _version(w)]),
    }
    print(json.dumps(info, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
