"""Sweep cells: the grid's size and order, what the keys share, and shards that partition the grid."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from thresher.errors import ThresherError
from thresher.experiments.sweep_cells import BASELINE, SweepContext, expand, parse_shard, shard_cells
from thresher.experiments.sweep_spec import load_spec

CONTEXT = SweepContext("mnist-lt", "rev-1", {"k": 10, "embedder": "hog"}, {"epochs": 2})


def _spec(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nsource: builtin:mnist-lt\nreference: builtin:mnist\n"
        "methods: [random, {method: cluster, inverse: true}, {method: el2n}]\n"
        "ratios: [0, 0.5, 0.9, 0.5]\nseeds: [0, 1]\nsteps: 10\n"
    )
    return load_spec(str(path))


def test_grid_size_order_and_baseline(tmp_path: Path) -> None:
    cells = expand(_spec(tmp_path), CONTEXT)
    # ratio 0 is the baseline and a repeated ratio counts once: 2 seeds × (1 + 4 series × 2 ratios)
    assert len(cells) == 2 + 4 * 2 * 2
    assert [c.series for c in cells[:2]] == [BASELINE, BASELINE] and all(c.is_baseline for c in cells[:2])
    assert len({c.key for c in cells}) == len(cells)
    assert {c.series for c in cells} == {BASELINE, "random", "cluster", "cluster (inverse)", "el2n"}


def test_seeded_methods_share_nothing_deterministic_ones_share_the_subset(tmp_path: Path) -> None:
    cells = expand(_spec(tmp_path), CONTEXT)
    by = {(c.series, c.ratio, c.seed): c for c in cells}
    assert by[("random", 0.5, 0)].selection_key != by[("random", 0.5, 1)].selection_key
    assert by[("cluster", 0.5, 0)].selection_key == by[("cluster", 0.5, 1)].selection_key
    assert by[("cluster", 0.5, 0)].run_id != by[("cluster", 0.5, 1)].run_id  # training seeds differ
    assert by[("cluster", 0.5, 0)].selection_key != by[("cluster (inverse)", 0.5, 0)].selection_key


def test_keys_follow_what_determines_them(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    cells = {c.key: c for c in expand(spec, CONTEXT)}
    # Another evaluation: same selections and trainings, new cells.
    other_eval = expand(replace(spec, evaluate={"n": 7}), CONTEXT)
    assert {c.training_key for c in other_eval} == {c.training_key for c in cells.values()}
    assert not {c.key for c in other_eval} & set(cells)
    # More steps: same subsets, new runs.
    more = expand(replace(spec, steps=20), CONTEXT)
    assert {c.selection_key for c in more} == {c.selection_key for c in cells.values()}
    assert not {c.training_key for c in more} & {c.training_key for c in cells.values()}
    # Another revision of the source changes everything.
    moved = expand(spec, replace(CONTEXT, revision="rev-2"))
    assert not {c.key for c in moved} & set(cells)
    # The pretraining enters only the gradient methods' selections.
    repre = {(c.series, c.ratio, c.seed): c for c in expand(spec, replace(CONTEXT, pretrain={"epochs": 3}))}
    for c in cells.values():
        same = repre[(c.series, c.ratio, c.seed)].key == c.key
        assert same == (c.series != "el2n")


def test_subset_names_are_valid_and_distinct(tmp_path: Path) -> None:
    from thresher.catalog.names import check_name

    cells = expand(_spec(tmp_path), CONTEXT)
    names = {c.subset_name for c in cells if not c.is_baseline}
    for name in names:
        check_name(name)
    assert len(names) == len({c.selection_key for c in cells if not c.is_baseline})


def test_shards_partition_the_grid(tmp_path: Path) -> None:
    cells = expand(_spec(tmp_path), CONTEXT)
    shards = [shard_cells(cells, (i, 3)) for i in (1, 2, 3)]
    assert sorted(c.key for s in shards for c in s) == sorted(c.key for c in cells)
    assert shards[1][0] is cells[1]
    assert parse_shard("2 / 3") == (2, 3) and parse_shard(None) is None
    for bad in ("3/2", "0/1", "1/0", "a/b", "1"):
        with pytest.raises(ThresherError, match="--shard"):
            parse_shard(bad)
