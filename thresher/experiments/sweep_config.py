"""What `thresher sweep` and `thresher report --sweep` are asked (light: the command line reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting


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

    def __post_init__(self) -> None:
        from thresher.experiments.sweep_cells import parse_shard

        parse_shard(self.shard)  # a bad shard is refused before anything runs

    @property
    def shard_range(self) -> tuple[int, int] | None:
        from thresher.experiments.sweep_cells import parse_shard

        return parse_shard(self.shard)
