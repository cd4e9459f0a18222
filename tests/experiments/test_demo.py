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
