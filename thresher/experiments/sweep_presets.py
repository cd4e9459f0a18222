"""Sweep presets by name: the YAML files in ``experiments/presets/`` and the presets built from a config
dataclass (the demo), so a preset's defaults live in one place. Sits above both the spec reader and the
demo's config, which therefore never import each other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from thresher.experiments.sweep_spec import SweepSpec, file_preset_names, load_spec


def _code_presets() -> dict[str, Callable[[], SweepSpec]]:
    from thresher.experiments.demo_config import DemoConfig, demo_spec

    return {"demo": lambda: demo_spec(DemoConfig()), "demo-quick": lambda: demo_spec(DemoConfig(quick=True))}


def preset_names() -> list[str]:
    return sorted(file_preset_names() + list(_code_presets()))


def spec_for(spec: str) -> SweepSpec:
    """A spec file, a YAML preset or a built preset, by path or name (a file of that name wins)."""
    built = _code_presets().get(spec)
    if built is not None and not Path(spec).is_file():
        return built()
    return load_spec(spec)
