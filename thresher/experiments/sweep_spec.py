"""A sweep's spec: the research grid (methods × pruning ratios × inverse × seeds at one training budget) as
YAML, read and checked before anything runs.

Format (docs/architecture.md, "Sweeps"; the presets in ``thresher/experiments/presets/`` are examples)::

    name: paper-mini
    source: builtin:mnist-lt      # a built-in (ingested by the sweep) or a source already ingested
    reference: builtin:mnist      # what generated images are compared with
    embedder: hog?deskew          # embeddings for the clustering
    k: 10                         # clusters (one clustering per sweep)
    methods:                      # a name, or a mapping of `thresher select` options
      - random
      - {method: cluster, balance: proportional, inverse: true, label: cluster}
    ratios: [0.25, 0.5, 0.75, 0.9]   # fractions pruned; the unpruned baseline is always a cell
    seeds: [0, 1]
    budget: steps                 # steps: every cell trains `steps` (the paper's protocol); epochs: `epochs`
    steps: 400                    #   passes over its own subset
    train: {model_size: DiT-T/1, batch_size: 16, image_size: 32}  # `TrainConfig` fields, and the data
                                  #   settings of `thresher train`: image_size, resize, background
    pretrain: {epochs: 5}         # `PretrainConfig` fields, for the gradient methods (image_size, resize
                                  #   and background default to train's)
    evaluate: {n: 500, steps: 4}  # `EvalRunConfig` fields

Every error names the spec's file and line and is one line (exit 2); nothing runs before the whole spec
has been checked. The YAML itself is read by :mod:`thresher.experiments.spec_yaml` (aliases capped,
duplicate keys and non-finite numbers refused).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.config_field import SEED_BOUNDS
from thresher.errors import ThresherError
from thresher.experiments.spec_yaml import SpecError, read_spec_yaml

PRESETS_DIR = Path(__file__).with_name("presets")
BUDGETS = ("steps", "epochs")
# Options of a method entry that are the sweep's, not `thresher select`'s.
_ENTRY_KEYS = {"method", "label", "inverse", "middle", "seeds"}
# `thresher select` options a method entry may not set: the sweep decides them per cell.
_CELL_OWNED = {"name", "source", "ratio", "keep_count", "seed", "clustering", "pretrain", "inverse"}
_TOP_KEYS = {
    "name", "description", "source", "reference", "embedder", "k", "kmeans_restarts", "methods", "ratios",
    "seeds", "budget", "steps", "epochs", "train", "vae", "autoencoder_steps", "cluster_conditioning",
    "pretrain", "evaluate", "noise_grid", "seed",
}  # fmt: skip
# `thresher train` settings of the data (TrainRunConfig's, not TrainConfig's) a spec's `train:` may set;
# the pretraining takes the same ones from `train:` unless `pretrain:` sets its own.
RUN_DATA_KEYS = ("image_size", "resize", "background")


@dataclass(frozen=True)
class MethodSpec:
    """One method of the grid and which of its ends (and middle) the sweep trains on."""

    method: str
    label: str
    options: dict[str, Any]  # `SelectConfig` fields: balance, keep, epsilon, params, groups, …
    inverse: bool = False
    middle: bool = False
    seeds: list[int] | None = None  # this method's seeds, when not the sweep's
    line: int = 0

    def variants(self) -> list[tuple[str, dict[str, Any]]]:
        """(series label, select options) for the method itself, its inverse and its middle."""
        out = [(self.label, dict(self.options))]
        if self.inverse:
            out.append((f"{self.label} (inverse)", {**self.options, "inverse": True}))
        if self.middle:
            out.append((f"{self.label} (middle)", {**self.options, "keep": "middle"}))
        return out


@dataclass(frozen=True)
class SweepSpec:
    name: str
    source: str
    reference: str
    methods: list[MethodSpec]
    ratios: list[float]
    seeds: list[int]
    budget: str = "steps"
    steps: int | None = None
    epochs: float | None = None
    embedder: str = "hog?deskew"
    k: int = 10
    kmeans_restarts: int = 3
    train: dict[str, Any] = field(default_factory=dict)
    vae: str | None = "thresher-ae"
    autoencoder_steps: int = 300
    cluster_conditioning: bool = False
    pretrain: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    noise_grid: int = 8  # samples per cell drawn from one shared initial noise, for the ratio grids
    seed: int = 0  # data seed: generated built-ins, the embedder's fit sample and the clustering
    description: str = ""
    path: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, 1)

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(f"{self.path}:{self.line_of(key)}: {message}")

    @property
    def train_settings(self) -> dict[str, Any]:
        """What every cell's training sets: `TrainConfig` fields and the data settings of `thresher train`
        (:data:`RUN_DATA_KEYS`). Cells train unconditionally (the paper's protocol, and what label-free
        curation is about) unless the spec conditions them on the sweep's clusters or sets
        ``unconditional: false`` to condition on the source's labels."""
        return {"unconditional": not self.cluster_conditioning, **self.train}

    @property
    def model_settings(self) -> dict[str, Any]:
        """The `TrainConfig` fields of :attr:`train_settings` (all but the data settings)."""
        return {k: v for k, v in self.train_settings.items() if k not in RUN_DATA_KEYS}

    @property
    def data_settings(self) -> dict[str, Any]:
        """The data settings of ``train:`` (image size, resize, background)."""
        return {k: v for k, v in self.train.items() if k in RUN_DATA_KEYS}

    @property
    def pretrain_settings(self) -> dict[str, Any]:
        """`PretrainConfig` fields of the pretraining: ``pretrain:``, with the data settings of ``train:``
        where it sets none (images of several sizes need a size in both)."""
        return {**self.data_settings, **self.pretrain}

    @property
    def needs_pretrain(self) -> bool:
        from thresher.curate.scores.registry import get_method

        return any("pretrain" in get_method(m.method).needs for m in self.methods)


def file_preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def spec_path(spec: str) -> Path:
    """A spec file, or the file of a preset named ``spec``."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    preset = PRESETS_DIR / f"{spec}.yaml"
    if preset.is_file():
        return preset
    raise SpecError(
        f"no spec file {spec!r} and no preset of that name (presets: {', '.join(file_preset_names())}; see `thresher sweep --help`)"
    )


def load_spec(spec: str) -> SweepSpec:
    """Read and check a spec file or preset; every problem is a :class:`SpecError` naming its line."""
    path = spec_path(spec)
    where = str(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{where}:1: cannot read the spec: {exc}") from None
    data, node = read_spec_yaml(text, where)
    if not isinstance(data, dict) or node is None:
        raise SpecError(f"{where}:1: a sweep spec is a mapping of settings (name, source, methods, …)")
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
    items = {k.value: v for k, v in node.value}

    def fail(key: str, message: str, line: int | None = None) -> SpecError:
        return SpecError(f"{where}:{line or lines.get(key, 1)}: {message}")

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown setting {unknown[0]!r}; settings: {', '.join(sorted(_TOP_KEYS))}")
    for key in ("name", "source", "reference", "methods", "ratios", "seeds"):
        if key not in data:
            raise fail(key, f"the spec needs {key!r}")
    methods = [
        _method(entry, item.start_mark.line + 1, fail)
        for entry, item in zip(_list(data, "methods", fail), items["methods"].value, strict=True)
    ]
    if not methods:
        raise fail("methods", "methods is empty: name at least one selection method")
    seen: set[str] = set()
    for m in methods:
        for label, _ in m.variants():
            if label in seen:
                raise fail("methods", f"two methods are both labelled {label!r}: give one a `label`", m.line)
            seen.add(label)
    ratios = [_number(r, "ratios", fail) for r in _list(data, "ratios", fail)]
    for ratio, item in zip(ratios, items["ratios"].value, strict=True):
        if not 0.0 <= ratio < 1.0:
            raise fail(
                "ratios",
                f"ratio {ratio} is outside [0, 1): it is the fraction pruned",
                item.start_mark.line + 1,
            )
    seeds = _list(data, "seeds", fail)
    if not _seed_list(seeds):
        raise fail("seeds", f"seeds must be a non-empty list of integers in [0, {SEED_BOUNDS[1]}]")
    budget = data.get("budget", "steps")
    if budget not in BUDGETS:
        raise fail("budget", f"budget {budget!r} is not one of: {', '.join(BUDGETS)}")
    if budget == "steps":
        steps = data.get("steps")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise fail(
                "steps" if "steps" in data else "budget", f"budget steps needs steps ≥ 1 (got {steps!r})"
            )
    else:
        epochs = data.get("epochs")  # (a non-finite number was refused with the YAML)
        if not isinstance(epochs, int | float) or isinstance(epochs, bool) or not epochs > 0:
            raise fail(
                "epochs" if "epochs" in data else "budget", f"budget epochs needs epochs > 0 (got {epochs!r})"
            )
    for key in ("name", "source", "reference", "embedder", "description"):
        if key in data and not isinstance(data[key], str):
            raise fail(key, f"{key} must be text")
    if data.get("vae") is not None and not isinstance(data["vae"], str):
        raise fail("vae", "vae must be text, or null for pixel space")
    from thresher.catalog.names import check_name

    try:
        check_name(data["name"], "sweep name")
    except ThresherError as exc:
        raise fail("name", str(exc)) from None
    for key, minimum in (
        ("k", 2),
        ("kmeans_restarts", 1),
        ("autoencoder_steps", 1),
        ("noise_grid", 0),
    ):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            raise fail(key, f"{key} must be an integer ≥ {minimum}")
    if "seed" in data and not _seed_list([data["seed"]]):
        raise fail("seed", f"seed must be an integer in [0, {SEED_BOUNDS[1]}]")
    _check_train(data, fail)
    _check_fields(data, "pretrain", "thresher.train.config", "PretrainConfig", fail, owned={"source"},
                  inherited={k: v for k, v in (data.get("train") or {}).items() if k in RUN_DATA_KEYS})  # fmt: skip
    _check_fields(data, "evaluate", "thresher.evaluate.config", "EvalRunConfig", fail,
                  owned={"run", "images", "against", "seed"}, probe={"run": "spec-check"})  # fmt: skip
    values = {k: v for k, v in data.items() if k not in ("methods", "ratios", "seeds")}
    return SweepSpec(
        # null means "the default" except for vae, where it means pixel space (the default is thresher-ae)
        **{k: v for k, v in values.items() if v is not None or k == "vae"},
        methods=methods,
        ratios=ratios,
        seeds=list(seeds),
        path=where,
        lines=lines,
    )


def _list(data: dict[str, Any], key: str, fail) -> list[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise fail(key, f"{key} must be a list")
    return value


def _seed_list(seeds: Any) -> bool:
    """A non-empty list of seeds, each an integer numpy's seeding takes (thresher.config_field.SEED_BOUNDS)."""
    low, high = SEED_BOUNDS
    return (
        isinstance(seeds, list)
        and bool(seeds)
        and all(isinstance(s, int) and not isinstance(s, bool) and low <= s <= high for s in seeds)
    )


def _number(value: Any, key: str, fail) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(key, f"{key} holds {value!r}, not a number")
    return float(value)


def _method(entry: Any, line: int, fail) -> MethodSpec:
    """A method entry: a method name, or a mapping of select options plus label/inverse/middle."""
    from thresher.curate.config import SelectConfig

    if isinstance(entry, str):
        entry = {"method": entry}
    if not isinstance(entry, dict) or "method" not in entry:
        raise fail("methods", "a method entry is a method name or a mapping with `method:`", line)
    options = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    owned = sorted(set(options) & _CELL_OWNED)
    if owned:
        raise fail("methods", f"{owned[0]!r} is set by the sweep per cell, not by a method entry", line)
    names = {f.name for f in dataclasses.fields(SelectConfig)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise fail("methods", f"unknown option {unknown[0]!r} of method {entry['method']!r}", line)
    try:
        probe = SelectConfig(name="spec-check", method=str(entry["method"]), **options, ratio=0.5)
    except ThresherError as exc:
        # Threshold methods (dedup) take no ratio: check them without one.
        if "takes no --ratio" not in str(exc):
            raise fail("methods", str(exc), line) from None
        try:
            probe = SelectConfig(name="spec-check", method=str(entry["method"]), **options)
        except ThresherError as inner:
            raise fail("methods", str(inner), line) from None
    seeds = entry.get("seeds")
    if seeds is not None and not _seed_list(seeds):
        raise fail("methods", f"a method's seeds must be a non-empty list of integers in [0, {SEED_BOUNDS[1]}]",
                   line)  # fmt: skip
    if "label" in entry and not isinstance(entry["label"], str):
        raise fail("methods", "a method's label must be text", line)
    for flag in ("inverse", "middle"):
        if not isinstance(entry.get(flag, False), bool):
            raise fail("methods", f"{flag} must be true or false", line)
    if entry.get("middle") and not probe.score_method.takes_count:
        raise fail("methods", f"{probe.method} keeps what its threshold decides: it has no middle", line)
    label = entry.get("label") or "-".join(
        [str(entry["method"]), *(str(options[k]) for k in ("balance", "keep") if options.get(k))]
    )
    return MethodSpec(
        method=str(entry["method"]),
        label=str(label),
        options=options,
        inverse=bool(entry.get("inverse", False)),
        middle=bool(entry.get("middle", False)),
        seeds=None if seeds is None else list(seeds),
        line=line,
    )


def _check_fields(
    data: dict[str, Any],
    key: str,
    module: str,
    cls_name: str,
    fail,
    owned: set[str],
    probe: dict | None = None,
    inherited: dict | None = None,
) -> None:
    """A nested block must name fields of its config dataclass (and not those the sweep sets per cell);
    ``inherited``: settings the block takes from another where it sets none (checked with it)."""
    import importlib

    value = data.get(key)
    if value is None and not inherited:
        return
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise fail(key, f"{key} must be a mapping of {cls_name} settings")
    cls = getattr(importlib.import_module(module), cls_name)
    names = {f.name for f in dataclasses.fields(cls)} - owned
    unknown = sorted(set(value) - names)
    if unknown:
        raise fail(key, f"unknown {key} setting {unknown[0]!r}; {key} settings: {', '.join(sorted(names))}")
    try:
        cls(**{**(inherited or {}), **value}, **(probe or {}))  # the dataclass checks its own values
    except (ThresherError, TypeError, ValueError) as exc:
        raise fail(key, f"{key}: {exc}") from None


def _check_train(data: dict[str, Any], fail) -> None:
    """``train:`` holds `TrainConfig` fields and the data settings of `thresher train` (RUN_DATA_KEYS),
    not what the sweep sets per cell (steps, seed); each part is checked by its own dataclass."""
    from thresher.train.config import TrainConfig, TrainRunConfig

    value = data.get("train")
    if value is None:
        return
    if not isinstance(value, dict):
        raise fail("train", "train must be a mapping of TrainConfig settings")
    names = ({f.name for f in dataclasses.fields(TrainConfig)} - {"steps", "seed"}) | set(RUN_DATA_KEYS)
    unknown = sorted(set(value) - names)
    if unknown:
        raise fail(
            "train", f"unknown train setting {unknown[0]!r}; train settings: {', '.join(sorted(names))}"
        )
    model = {k: v for k, v in value.items() if k not in RUN_DATA_KEYS}
    try:
        train = TrainConfig(**model)
        TrainRunConfig(
            dataset="spec-check", train=train, **{k: value[k] for k in RUN_DATA_KEYS if k in value}
        )
    except (ThresherError, TypeError, ValueError) as exc:
        raise fail("train", f"train: {exc}") from None
