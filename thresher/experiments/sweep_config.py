"""What `thresher sweep` and `thresher report --sweep` are asked (light: the command line reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.errors import ThresherError
from thresher.executors.config import ExecutorConfig


@dataclass
class SweepRunConfig:
    spec: str = setting(
        help="A sweep spec (YAML) or a preset name: paper-mini, quick, demo, demo-quick.", path="read"
    )
    shard: str | None = setting(
        None,
        "Run only every n-th cell, i/n (1 ≤ i ≤ n): n machines or processes split a sweep with one command "
        "each; `thresher report --sweep NAME` merges what the catalog holds.",
    )
    cells: str | None = setting(
        None,
        "Run only these cells: their indices in the grid's fixed order, comma-separated (e.g. 0,3,5); what "
        "each task of a Slurm sweep runs.",
        metavar="I,J,…",
    )
    prerequisites_only: bool = setting(
        False,
        "Only prepare what the cells need (sources, embeddings, clustering, pretraining, the autoencoder "
        "and image store, every cell's subset), run no cell: the first job of a Slurm sweep.",
    )
    # Every cell is a training run and an evaluation (about 45 s each in paper-mini's 66 cells on 2 CPU
    # cores, minutes on a GPU at real sizes), and the grid is planned and recorded whole before the first
    # one runs: 1000 is 15 paper-minis, while a mistyped seed range (100 000 seeds) is refused at once
    # instead of after minutes of silent planning (hardening item 23).
    max_cells: int = setting(
        1000,
        "Refuse a grid of more cells than this (each is a training run; a mistyped seed list is refused at "
        "once); raise it to run a larger grid.",
    )
    executor: ExecutorConfig = setting(default_factory=ExecutorConfig)

    def __post_init__(self) -> None:
        from thresher.experiments.sweep_cells import parse_cells, parse_shard

        parse_shard(self.shard)  # a bad shard is refused before anything runs
        parse_cells(self.cells)
        if self.max_cells < 1:
            raise ThresherError(f"--max-cells must be at least 1, got {self.max_cells}")
        if self.shard is not None and self.cells is not None:
            raise ThresherError("--shard and --cells both choose cells: give one of them")
        if self.prerequisites_only and (self.cells is not None or self.executor.on_slurm):
            raise ThresherError(
                "--prerequisites-only runs no cell: it goes without --cells and --executor slurm"
            )

    @property
    def shard_range(self) -> tuple[int, int] | None:
        from thresher.experiments.sweep_cells import parse_shard

        return parse_shard(self.shard)

    @property
    def cell_indices(self) -> list[int] | None:
        from thresher.experiments.sweep_cells import parse_cells

        return parse_cells(self.cells)
