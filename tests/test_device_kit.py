"""The GPU kit's wheel list (benchmarks/device/): what travels to the GPU machine is what thresher needs there."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1] / "benchmarks" / "device"
_spec = importlib.util.spec_from_file_location("device_kit_pins", KIT / "pins.py")
pins_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pins_module)

# What the kit runs imports: the CLI and every stage the GPU tests and throughput scripts reach, plus the
# builtin MNIST sources (imported when the demo ingests them).
KIT_MODULES = [
    "thresher.cli",
    "thresher.experiments.demo",
    "thresher.curate.embed",
    "thresher.curate.cluster",
    "thresher.curate.gradient_scoring",
    "thresher.train.pretrain",
    "thresher.train.sampling",
    "thresher.evaluate.evaluator",
    "thresher.evaluate.features",
    "mlxtend.data",
]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _listed(path: Path) -> set[str]:
    return {_normal(name) for name in pins_module.wanted_names(path)}


def _imported_distributions(modules: list[str]) -> set[str]:
    """Distributions whose modules a fresh interpreter holds after importing ``modules``."""
    script = (
        "import importlib, importlib.metadata as md, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "top = md.packages_distributions()\n"
        "print(json.dumps(sorted({d for m in list(sys.modules) for d in top.get(m.split('.')[0], [])})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return {_normal(d) for d in json.loads(done.stdout.splitlines()[-1])}


def test_every_pin_is_one_locked_version_with_a_linux_wheel_and_all_fit_in_60_mib() -> None:
    pins = pins_module.pins(KIT.parents[1] / "uv.lock", pins_module.wanted_names(KIT / "wheels.txt"))
    assert [_normal(name) for name, _, _ in pins] == [
        _normal(n) for n in pins_module.wanted_names(KIT / "wheels.txt")
    ]
    assert all(size is not None for _, _, size in pins), pins
    assert sum(size for _, _, size in pins) <= 60 * 2**20


@pytest.mark.slow  # a fresh interpreter importing torch, diffusers and every stage: 20 s idle, minutes loaded
def test_the_wheels_are_what_the_kit_imports_and_the_gpu_machine_lacks() -> None:
    there = _listed(KIT / "gpu_machine_packages.txt")
    wheels = _listed(KIT / "wheels.txt")
    imported = _imported_distributions(KIT_MODULES)
    # Local-only distributions: this environment's newer huggingface_hub pulls httpx2 (with truststore);
    # the GPU machine's huggingface_hub uses the httpx it has.
    local_only = {"httpx2", "httpcore2", "truststore", "thresher"}
    missing = imported - there - wheels - local_only
    assert not missing, f"imported by the kit, absent on the GPU machine, not in wheels.txt: {missing}"
    assert not wheels & there, "wheels.txt names packages the GPU machine already has"
    assert wheels <= imported, f"wheels.txt names packages the kit never imports: {wheels - imported}"
