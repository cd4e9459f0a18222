"""The cells of a sweep and their keys.

A cell is one (method series, pruning ratio, seed) — or the unpruned baseline for a seed — trained at the
spec's budget and evaluated. Its key is the config hash of everything that determines it, in three
nested parts, so what two cells (or two sweeps) share is computed once:

- the **selection key**: source and revision, the clustering's and the pretraining's settings, the
  method's options, the ratio and (for seeded methods only) the seed. It names the subset.
- the **training key**: the selection key plus the training settings and budget. It names the run.
- the **cell key**: the training key plus the evaluation settings. It names the catalog row.

A rerun finds each part by its key and skips it; a killed training run resumes from its checkpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from thresher.catalog.names import config_hash
from thresher.experiments.sweep_spec import SweepSpec

BASELINE = "full data"


@dataclass(frozen=True)
class SweepContext:
    """What the prerequisites resolved: identities that enter every key (not run ids, which differ
    between workspaces and reruns)."""

    source: str
    revision: str | None
    clustering: dict[str, Any]  # the clustering's settings
    pretrain: dict[str, Any] | None  # the pretraining's settings, when a gradient method needs one


@dataclass(frozen=True)
class Cell:
    series: str  # the method's label and variant, or BASELINE
    method: str | None  # `thresher select` method; None for the baseline
    ratio: float  # nominal fraction pruned (0 for the baseline)
    seed: int
    select: dict[str, Any] | None  # select options (method included) of this cell; None: the whole source
    selection_key: str | None
    training_key: str
    key: str

    @property
    def is_baseline(self) -> bool:
        return self.select is None

    @property
    def subset_name(self) -> str | None:
        if self.selection_key is None:
            return None
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.series).strip("-").lower()[:40]
        return f"sw-{slug}-r{round(self.ratio * 100):02d}-{self.selection_key[:10]}"

    @property
    def run_id(self) -> str:
        return f"sweep-{self.training_key[:16]}"

    def describe(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "method": self.method,
            "ratio": self.ratio,
            "seed": self.seed,
            "select": self.select,
            "subset": self.subset_name,
            "run": self.run_id,
        }


def expand(spec: SweepSpec, context: SweepContext) -> list[Cell]:
    """Every cell of the grid, in a fixed order (baseline first, then method × variant × ratio × seed):
    ``--shard i/n`` takes every n-th of this list."""
    from thresher.curate.scores.registry import get_method

    training = _training_identity(spec)
    evaluation = _evaluation_identity(spec)
    source = {"source": context.source, "revision": context.revision}
    cells = [
        _cell(BASELINE, None, 0.0, seed, None, None, source, training, evaluation) for seed in spec.seeds
    ]
    ratios = [r for r in dict.fromkeys(spec.ratios) if r > 0.0]  # ratio 0 is the baseline itself
    for method in spec.methods:
        score_method = get_method(method.method)
        needs = score_method.needs
        for series, options in method.variants():
            selection_base = {
                **source,
                "method": method.method,
                "options": dict(sorted(options.items())),
                "clustering": context.clustering,
                "pretrain": context.pretrain if "pretrain" in needs else None,
            }
            # Threshold methods (dedup) keep what their threshold decides: one cell per seed, no ratio axis.
            method_ratios = ratios if score_method.takes_count else [None]
            for ratio in method_ratios:
                for seed in method.seeds or spec.seeds:
                    selection = {
                        **selection_base,
                        "ratio": ratio,
                        "seed": seed if score_method.seeded else 0,
                    }
                    select = {"method": method.method, **options, "ratio": ratio, "seed": selection["seed"]}
                    if ratio is None:
                        select.pop("ratio")
                    cells.append(
                        _cell(
                            series,
                            method.method,
                            ratio or 0.0,
                            seed,
                            select,
                            selection,
                            source,
                            training,
                            evaluation,
                        )
                    )
    return cells


def cell_count(spec: SweepSpec) -> int:
    """len(expand(spec, …)), by arithmetic: nothing is hashed, so a huge grid costs nothing to count."""
    from thresher.curate.scores.registry import get_method

    ratios = len([r for r in dict.fromkeys(spec.ratios) if r > 0.0])
    count = len(spec.seeds)
    for method in spec.methods:
        per_variant = ratios if get_method(method.method).takes_count else 1
        count += len(method.variants()) * per_variant * len(method.seeds or spec.seeds)
    return count


def check_cell_count(spec: SweepSpec, max_cells: int) -> None:
    """Refuse a grid of more than ``max_cells`` cells, saying how it adds up."""
    count = cell_count(spec)
    if count > max_cells:
        raise spec.error(
            "seeds",
            f"the sweep has {count} cells (from {sum(len(m.variants()) for m in spec.methods)} method series, "
            f"{len(set(spec.ratios))} ratios and {len(spec.seeds)} seeds), more than the limit of {max_cells}: "
            f"pass --max-cells {count} to run them all",
        )


def _cell(
    series: str,
    method: str | None,
    ratio: float,
    seed: int,
    select: dict[str, Any] | None,
    selection: dict[str, Any] | None,
    source: dict[str, Any],
    training: dict[str, Any],
    evaluation: dict[str, Any],
) -> Cell:
    selection_key = config_hash(selection) if selection is not None else None
    training_key = config_hash({"data": selection_key or source, "train": training, "seed": seed})
    key = config_hash({"training": training_key, "evaluate": evaluation, "seed": seed})
    return Cell(series, method, ratio, seed, select, selection_key, training_key, key)


def _training_identity(spec: SweepSpec) -> dict[str, Any]:
    budget = {"budget": spec.budget, "steps": spec.steps} if spec.budget == "steps" else {
        "budget": spec.budget, "epochs": spec.epochs,
    }  # fmt: skip
    return {
        **budget,
        "train": dict(sorted(spec.train_settings.items())),
        "vae": spec.vae,
        "autoencoder_steps": spec.autoencoder_steps,
        "cluster_conditioning": spec.cluster_conditioning,
    }


def _evaluation_identity(spec: SweepSpec) -> dict[str, Any]:
    return {"reference": spec.reference, **dict(sorted(spec.evaluate.items())), "noise_grid": spec.noise_grid}


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``i/n`` (1 ≤ i ≤ n): this process runs cells i-1, i-1+n, i-1+2n, … of the sweep."""
    from thresher.errors import ThresherError

    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ThresherError(
            f"--shard {text!r} must be i/n with 1 ≤ i ≤ n (e.g. 1/2 and 2/2 for two machines)"
        )
    return int(match.group(1)), int(match.group(2))


def shard_cells(cells: list[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    if shard is None:
        return cells
    index, count = shard
    return cells[index - 1 :: count]


def parse_cells(text: str | None) -> list[int] | None:
    """``3`` or ``0,3,5``: indices of cells in the grid's fixed order (duplicates dropped, order kept)."""
    from thresher.errors import ThresherError

    if text is None:
        return None
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words or not all(w.isdigit() for w in words):
        raise ThresherError(f"--cells {text!r} must be cell indices, e.g. 0,3,5")
    return list(dict.fromkeys(int(w) for w in words))


def chosen_cells(cells: list[Cell], indices: list[int] | None) -> list[Cell]:
    """The cells at ``indices`` of the grid (all of them for None); an index past the grid is refused."""
    from thresher.errors import ThresherError

    if indices is None:
        return cells
    beyond = [i for i in indices if i >= len(cells)]
    if beyond:
        raise ThresherError(f"--cells {beyond[0]}: the sweep has {len(cells)} cells (0..{len(cells) - 1})")
    return [cells[i] for i in indices]
