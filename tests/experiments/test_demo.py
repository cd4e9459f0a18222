"""The demo's configuration: seeds per mode and equal-epoch step counts (the whole loop runs in .ci/run)."""

from __future__ import annotations

from thresher.experiments.demo_config import DemoConfig, DemoRecipe


def test_default_runs_two_seeds_and_quick_one() -> None:
    assert DemoConfig().resolved().train_seeds == (0, 1)
    assert DemoConfig(quick=True).resolved().train_seeds == (0,)
    assert DemoConfig(quick=True, train_seeds=(3, 4)).resolved().train_seeds == (3, 4)


def test_runs_train_for_equal_epochs() -> None:
    recipe = DemoRecipe(epochs=15.0, batch_size=32)
    full, half = recipe.steps_for(1703), recipe.steps_for(851)
    assert full == round(15 * 1703 / 32)
    assert abs(full - 2 * half) <= 2  # a half-size subset trains half the steps
    assert DemoRecipe(epochs=0.001).steps_for(10) == 1


def test_every_demo_cell_gets_a_dataset_name_from_the_demos_own_grid() -> None:
    """The demo names its published subsets by its own labels (by grid position), never by the label a row
    carries from another sweep that shared the cell and ran it first."""
    from thresher.experiments.demo_config import DEMO_DATASETS, demo_spec
    from thresher.experiments.sweep_context import grid_labels, own_series, spec_record

    for quick in (True, False):
        labels = grid_labels(spec_record(demo_spec(DemoConfig(quick=quick).resolved())))
        assert labels and all(series in DEMO_DATASETS for series, _, _ in labels)
        for position, (series, ratio, seed) in enumerate(labels):
            borrowed = {"description": {"series": "someone else's label", "ratio": ratio, "seed": seed},
                        "position": position}  # fmt: skip
            assert own_series(borrowed, labels) == series
        moved = {"description": {"series": "kept", "ratio": 0.123, "seed": 99}, "position": 0}
        assert own_series(moved, labels) == "kept"  # a position that is not this cell: the row's own label
        assert own_series(moved, None) == "kept"
