"""The sweep report from catalog rows alone (no training): verdicts need two seeds, one-time work is a
table of its own, a cell shared by two sweeps carries each sweep's own label, the ratio is named as the
fraction removed, and a poor evaluation classifier is warned about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thresher.catalog.names import utcnow
from thresher.catalog.sweeps import record_cell, record_sweep
from thresher.catalog.workspace import Workspace
from thresher.experiments.sweep_cells import BASELINE, SweepContext, expand
from thresher.experiments.sweep_context import spec_record
from thresher.experiments.sweep_report import write_sweep_report
from thresher.experiments.sweep_spec import load_spec

CONTEXT = SweepContext("mnist-lt", "rev-1", {"k": 4, "embedder": "hog"}, None)


def _sweep(ws: Workspace, tmp_path: Path, name: str, label: str, seeds: str = "[0]") -> list:
    """Record a sweep of the baseline and one random series (labelled ``label``) at ratio 0.5."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nsource: mnist-lt\nreference: mnist-lt\n"
        f"methods: [{{method: random, label: {label}}}]\nratios: [0.5]\nseeds: {seeds}\nsteps: 3\n"
    )
    spec = load_spec(str(path))
    cells = expand(spec, CONTEXT)
    record_sweep(ws, name, spec_record(spec), str(path), [c.key for c in cells])
    return cells


def _finish(ws: Workspace, cell, metrics: dict[str, Any], seconds: dict[str, Any] | None = None) -> None:
    evaluation = f"eval-{cell.key[:8]}"
    with ws.connect() as con:
        con.execute(
            "INSERT INTO evaluations VALUES (?, ?, ?, 'classifier', 16, ?, ?, 1.0)",
            [evaluation, cell.run_id, cell.subset_name or "mnist-lt", json.dumps(metrics), utcnow()],
        )
    n_rows = 1703 if cell.is_baseline else 852
    seconds = seconds or {"select": 1.0, "train": 5.0, "evaluate": 2.0, "total": 8.0}
    description = {**cell.describe(), "n_rows": n_rows, "dataset": cell.subset_name or "mnist-lt"}
    record_cell(ws, cell.key, description, cell.subset_name, cell.run_id, evaluation, seconds)


def _metrics(fid: float, **more: Any) -> dict[str, Any]:
    return {"fid": fid, "precision": 0.9, "recall": 0.5, "memorization_ratio": 1.0, **more}


def test_a_one_seed_sweep_gives_no_verdict(workspace: Workspace, tmp_path: Path) -> None:
    baseline, random = _sweep(workspace, tmp_path, "one", "random")
    _finish(workspace, baseline, _metrics(100.0))
    _finish(workspace, random, _metrics(200.0))  # far worse, but one seed has no spread to judge by
    files = write_sweep_report(workspace, "one", tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    (tolerance,) = [c for c in report["claims"] if c["number"] == 1]
    assert [c["verdict"] for c in tolerance["comparisons"]] == ["one seed: no verdict"]
    assert tolerance["verdict"].startswith("one seed: no verdict")
    memorization = [c for c in report["claims"] if c["number"] == 4][0]
    assert [c["verdict"] for c in memorization["comparisons"]] == ["one seed: no verdict"]
    text = files.markdown.read_text()
    assert "reversed |" not in text and "holds |" not in text
    assert "one seed: no verdict" in text


def test_two_seeds_still_give_verdicts(workspace: Workspace, tmp_path: Path) -> None:
    cells = _sweep(workspace, tmp_path, "two", "random", "[0, 1]")
    for cell in cells:
        _finish(workspace, cell, _metrics((100.0 if cell.is_baseline else 200.0) + cell.seed))
    write_sweep_report(workspace, "two", tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    (tolerance,) = [c for c in report["claims"] if c["number"] == 1]
    assert [c["verdict"] for c in tolerance["comparisons"]] == ["reversed"]  # 200.5 vs 100.5, spread 1


def test_one_time_work_is_a_table_of_its_own_not_the_first_cells_time(
    workspace: Workspace, tmp_path: Path
) -> None:
    baseline, random = _sweep(workspace, tmp_path, "costs", "random")
    one_time = {"embedding": 30.0, "autoencoder and latent store": 40.0, "evaluation classifier": 12.0}
    own = {"select": 0.0, "train": 5.0, "evaluate": 2.0, "total": 7.0}
    _finish(workspace, baseline, _metrics(100.0), {**own, "one_time": one_time})
    _finish(workspace, random, _metrics(120.0))
    text = write_sweep_report(workspace, "costs", tmp_path / "report").markdown.read_text()
    costs = text.split("## One-time work")[1]
    assert "| embedding | 30.0 | full data r=0 seed 0 |" in costs
    assert "| autoencoder and latent store | 40.0 |" in costs and "| evaluation classifier | 12.0 |" in costs
    assert "| all one-time work | 82 |" in costs
    per_cell = text.split("## Wall time per cell")[1].split("## One-time work")[0]
    assert "| full data | 0 | 0 | 1703 | 0.0 | 5.0 | 2.0 | 7.0 |" in per_cell
    assert "| all cells |  |  |  |  |  |  | 15 |" in per_cell  # 7 + 8: no one-time seconds in it


def test_a_cell_shared_by_two_sweeps_shows_each_sweeps_own_label(
    workspace: Workspace, tmp_path: Path
) -> None:
    cells_a = _sweep(workspace, tmp_path, "sweep-a", "label-from-a")
    cells_b = _sweep(workspace, tmp_path, "sweep-b", "label-from-b")
    assert [c.key for c in cells_a] == [c.key for c in cells_b]  # a label is no part of a cell's key
    for cell in cells_a:  # sweep a ran them: the rows carry its labels
        _finish(workspace, cell, _metrics(100.0))
    for name, own, other in (
        ("sweep-a", "label-from-a", "label-from-b"),
        ("sweep-b", "label-from-b", "label-from-a"),
    ):
        files = write_sweep_report(workspace, name, tmp_path / name)
        report = json.loads((tmp_path / name / "report.json").read_text())
        assert sorted({r["series"] for r in report["records"]}) == sorted([BASELINE, own])
        assert other not in files.markdown.read_text() and other not in files.html.read_text()


def test_every_ratio_heading_says_fraction_removed(workspace: Workspace, tmp_path: Path) -> None:
    baseline, random = _sweep(workspace, tmp_path, "names", "random")
    _finish(workspace, baseline, _metrics(100.0))
    _finish(workspace, random, _metrics(120.0))
    text = write_sweep_report(workspace, "names", tmp_path / "report").markdown.read_text()
    headers = [line for line in text.splitlines() if line.startswith("| training set")]
    assert headers and all("| ratio (removed) |" in h for h in headers)
    assert "## Metrics against pruning ratio (fraction removed)" in text


def test_a_poor_evaluation_classifier_is_warned_about_in_the_sweep_report(
    workspace: Workspace, tmp_path: Path
) -> None:
    baseline, random = _sweep(workspace, tmp_path, "poor", "random")
    _finish(workspace, baseline, _metrics(100.0, classifier_holdout_accuracy=0.98))
    _finish(workspace, random, _metrics(120.0, classifier_holdout_accuracy=0.59))
    files = write_sweep_report(workspace, "poor", tmp_path / "report")
    (warning,) = files.notes
    assert warning.startswith(
        "warning: random r=0.5 seed 0: the evaluation classifier's held-out accuracy is 0.59"
    )
    assert "precision/recall" in warning and warning in files.lines()
    assert "held-out accuracy is 0.59" in files.markdown.read_text()
    assert "held-out accuracy is 0.59" in files.html.read_text()
