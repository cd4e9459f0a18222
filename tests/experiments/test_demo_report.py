from __future__ import annotations

from thresher.experiments.demo_config import DemoConfig
from thresher.experiments.demo_report import balancing_verdict, write_demo_report


def _row(dataset, seed, rare):
    return {
        "dataset": dataset,
        "seed": seed,
        "run": f"r-{dataset}",
        "n_train": 852,
        "fid": 10.0,
        "precision": 0.8,
        "recall": 0.5,
        "vendi": 3.0,
        "memorization": 1.0,
        "memorization_heldout": 1.1,
        "confidence": 0.9,
        "rare_share_generated": rare,
        "rare_share_train": 0.06,
        "class_share_gen": {7: rare, 0: 1 - rare},
        "class_share_train": {},
        "grid": "/nonexistent.png",
        "evaluation": "/x.json",
    }


def test_verdict_compares_equal_and_proportional_per_seed(tmp_path):
    rows = [
        _row("demo-equal", 0, 0.12),
        _row("demo-proportional", 0, 0.05),
        _row("demo-equal", 1, 0.04),
        _row("demo-proportional", 1, 0.07),
        _row("mnist-lt", 0, 0.06),
    ]
    verdict = balancing_verdict(rows)
    assert [(v["seed"], v["holds"]) for v in verdict] == [(0, True), (1, False)]
    index = write_demo_report(tmp_path, rows, config=DemoConfig(quick=True), cluster_table=[])
    page = index.read_text()
    assert "does not hold" in page and "holds" in page and "<table>" in page
    assert (tmp_path / "rare_share.png").is_file() and (tmp_path / "README.md").is_file()


def test_report_says_how_the_models_were_conditioned(tmp_path):
    from thresher.experiments.demo_config import DemoConfig, DemoRecipe

    rows = [_row("demo-equal", 0, 0.12), _row("demo-proportional", 0, 0.05)]
    page = write_demo_report(tmp_path, rows, config=DemoConfig(), cluster_table=[]).read_text()
    assert (
        "conditioned on the demo&#x27;s 10 k-means clusters" in page
        and "guidance 2 at flow times 0.25–0.75" in page
    )
    plain = DemoConfig(recipe=DemoRecipe(cluster_conditioning=False))
    page = write_demo_report(tmp_path, rows, config=plain, cluster_table=[]).read_text()
    assert "trained unconditionally" in page and "guidance" not in page
