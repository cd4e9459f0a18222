"""Report: plots of metrics vs ratio, group-share bars, Markdown and self-contained HTML."""

from __future__ import annotations

import re

import matplotlib.image
import numpy as np
import pytest

from thresher.evaluate.report import (
    format_kid,
    format_metric,
    metrics_figure,
    save_sample_grid,
    shares_figure,
    write_report,
)


def _record(run: str, method: str, ratio: float, fid: float, shares: list[float] | None = None) -> dict:
    shares = shares or [0.5, 0.3, 0.2]
    metrics = {
        "fid": fid,
        "kid": fid / 1000,
        "precision": 0.8,
        "recall": ratio * 0.7,
        "vendi": 3.0,
        "n_generated": 100,
        "class_ids": [0, 1, 2],
        "class_share_gen": shares,
        "class_share_train": [1 / 3] * 3,
        "class_share_reference": [0.4, 0.4, 0.2],
        "seconds_total": 1.5,
    }
    return {"run": run, "method": method, "ratio": ratio, "metrics": metrics, "grid": None}


@pytest.fixture
def records() -> list[dict]:
    return [
        _record("full", "full", 0.0, 10.0),
        _record("r1", "random", 0.5, 14.0),
        _record("r2", "random", 0.25, 20.0),
        _record("r2b", "random", 0.25, 22.0),  # a second seed at the same ratio
        _record("c1", "cluster", 0.25, 16.0, [0.2, 0.3, 0.5]),
        _record("c2", "cluster", 0.5, 12.0),
    ]


def test_metric_lines_per_method_with_full_data_baseline(records) -> None:
    fig = metrics_figure(records, ["fid", "recall", "not_a_metric"])
    fid_ax = fig.axes[0]
    assert len([ax for ax in fig.axes if ax.get_visible() and ax.axison]) == 2  # unknown metric left out
    lines = {c.get_label(): c.lines[0] for c in fid_ax.containers}  # errorbar containers, one per method
    lines.update({line.get_label(): line for line in fid_ax.get_lines() if line.get_label() == "full data"})

    def data(label: str, axis: str) -> np.ndarray:  # errorbar keeps its data as object arrays
        return np.asarray(getattr(lines[label], f"get_{axis}data")(), dtype=float)

    np.testing.assert_allclose(data("random", "x"), [0.25, 0.5])
    np.testing.assert_allclose(data("random", "y"), [21.0, 14.0])  # two seeds at 0.25 averaged
    np.testing.assert_allclose(data("cluster", "y"), [16.0, 12.0])
    np.testing.assert_allclose(data("full data", "y"), [10.0, 10.0])


def test_share_bars_put_training_share_next_to_each_run(records) -> None:
    fig = shares_figure(records[:2], "class")
    heights = [p.get_height() for p in fig.axes[0].patches]
    # Two runs x (generated, training) x three classes.
    assert len(heights) == 12
    np.testing.assert_allclose(sorted(heights)[-1], 0.5)
    assert shares_figure(records, "cluster") is None  # no cluster shares recorded


def test_many_groups_are_drawn_as_curves() -> None:
    shares = list(np.full(50, 0.02))
    record = _record("r", "random", 0.5, 1.0)
    record["metrics"].update(
        class_ids=list(range(50)),
        class_share_gen=shares,
        class_share_train=shares,
        class_share_reference=shares,
    )
    fig = shares_figure([record], "class")
    assert not fig.axes[0].patches and len(fig.axes[0].get_lines()) >= 2


def test_sample_grid_layout(tmp_path) -> None:
    images = np.full((12, 28, 28, 1), 200, dtype=np.uint8)
    path = save_sample_grid(images, tmp_path / "grid.png", columns=5)
    grid = matplotlib.image.imread(path)
    # 3 rows x 5 columns of 28 px tiles with 2 px gaps, enlarged 3x so tiles are at least 64 px.
    assert grid.shape[:2] == (3 * 30 * 3, 5 * 30 * 3)


def test_write_report_makes_a_self_contained_page(tmp_path, records) -> None:
    records[1]["grid"] = str(
        save_sample_grid(np.zeros((4, 8, 8, 3), np.uint8), tmp_path / "grids" / "r1.png")
    )
    files = write_report(records, tmp_path / "report", title="pruning <study>")
    names = sorted(p.name for p in files.figures)
    assert names == ["class_shares.png", "fid_vs_ratio.png", "metrics_vs_ratio.png"]
    for figure in files.figures:
        assert matplotlib.image.imread(figure).ndim == 3

    page = files.html.read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "pruning &lt;study&gt;" in page

    markdown = files.markdown.read_text()
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ") and "FID" not in line]
    assert len(table_rows) == len(records)
    assert "| r2b | random | 0.25 | 100 | 22 |" in markdown
    assert "(../grids/r1.png)" in markdown and "(fid_vs_ratio.png)" in markdown


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (18.60557, "18.61"),  # once printed as 18605.57e-3
        (1.0, "1.00"),
        (1234.5, "1234.50"),
        (0.0186, "1.86e-02"),
        (0.00123456, "1.23e-03"),
        (-0.00032, "-3.20e-04"),  # the unbiased estimate can dip below 0
        (0.0, "0"),
    ],
)
def test_kid_is_plain_from_1_and_scientific_below(value: float, text: str) -> None:
    assert format_kid(value) == text
    assert format_metric(value, "kid") == text
    assert float(text) == pytest.approx(value, rel=5e-3, abs=0)  # the text still reads as the value


def test_table_cells_for_missing_and_other_metrics() -> None:
    assert format_metric(None, "kid") == "–" and format_metric(float("nan"), "kid") == "–"
    assert format_metric(0.123456, "fid") == "0.123" and format_metric(12345.6, "fid") == "12346"
    assert format_metric(100, "n") == "100"


def test_report_table_shows_kid_without_a_scaled_exponent(tmp_path, records) -> None:
    records[0]["metrics"]["kid"] = 18.60557
    markdown = write_report(records, tmp_path / "report").markdown.read_text()
    assert "e-3" not in markdown
    assert "| 18.61 |" in markdown and "| 1.40e-02 |" in markdown  # full (KID 18.6) and r1 (KID 0.014)


def test_class_shares_are_labelled_with_the_class_names() -> None:
    record = _record("r1", "random", 0.5, 14.0)
    record["metrics"]["class_names"] = ["cat", "dog", "2"]
    fig = shares_figure([record], "class")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0 (cat)", "1 (dog)", "2"]
    del record["metrics"]["class_names"]
    fig = shares_figure([record], "class")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1", "2"]


def test_an_images_record_is_labelled_by_its_path_and_stays_off_the_ratio_axes(records, tmp_path) -> None:
    images = _record("x", "x", 0.0, 99.0)
    images.update(run=None, images="gen/pngs", method=None, ratio=None, subset=None)
    fig = metrics_figure([*records, images], ["fid"])
    ax = fig.axes[0]
    full = [line for line in ax.get_lines() if line.get_label() == "full data"]
    np.testing.assert_allclose(full[0].get_ydata(), [10.0, 10.0])  # not averaged with the images' 99
    assert all(99.0 not in np.asarray(c.lines[0].get_ydata(), dtype=float) for c in ax.containers)
    assert metrics_figure([images], ["fid"]) is None
    fig = shares_figure([images], "class")
    assert "images gen/pngs" in fig.axes[0].get_legend_handles_labels()[1]
    markdown = write_report([*records, images], tmp_path / "r").markdown.read_text()
    assert "| images gen/pngs | – | – | 100 | 99 |" in markdown


def test_evaluations_of_another_reference_or_sample_count_are_not_averaged_and_are_named(tmp_path) -> None:
    # Two seeds of one cell: n=200 against mnist, and n=64 against mnist-lt (issue 27: "150 ± 110").
    a, b = _record("seed0", "random", 0.5, 39.0), _record("seed1", "random", 0.5, 260.0)
    c = _record("seed2", "random", 0.5, 41.0)
    for record, against, n in ((a, "mnist", 200), (b, "mnist-lt", 64), (c, "mnist", 200)):
        record["metrics"].update(against=against, extractor="classifier", n_generated=n, n_reference=500)
    files = write_report([a, b, c], tmp_path / "report")
    fig = metrics_figure([a, c], ["fid"])  # what the report draws: the comparable pair only
    (line,) = [c.lines[0] for c in fig.axes[0].containers]
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [40.0])
    from thresher.evaluate.comparable import comparable

    drawn, left_out = comparable([a, b, c])
    assert [r["run"] for r in drawn] == ["seed0", "seed2"] and [r["run"] for r in left_out] == ["seed1"]
    (note,) = [n for n in files.notes if n.startswith("left out of the figures")]
    assert "seed1 (against mnist-lt, classifier features, 64 generated vs 500 reference images)" in note
    assert "seed0" not in note.split(":", 2)[2]  # only the left-out one is named after the reason
    assert note in files.lines()
    markdown, page = files.markdown.read_text(), files.html.read_text()
    assert "left out of the figures" in markdown and "seed1 (against mnist-lt" in page
    assert "| reference (n) | features |" in markdown  # the table says what each row was measured against
    assert "| seed1 | random | 0.5 | 64 | mnist-lt (500) | classifier |" in markdown


def test_comparable_evaluations_leave_nothing_out(tmp_path, records) -> None:
    files = write_report(records, tmp_path / "report")
    assert not files.notes and "left out" not in files.markdown.read_text()


def test_the_ratio_is_the_fraction_removed_in_every_heading(tmp_path, records) -> None:
    files = write_report(records, tmp_path / "report")
    markdown = files.markdown.read_text()
    assert "| run | method | ratio (removed) | n |" in markdown
    assert "## FID vs pruning ratio (fraction removed)" in markdown
    fig = metrics_figure(records, ["fid"])
    assert fig.axes[0].get_xlabel() == "pruning ratio (fraction removed)"
    # The unpruned data (ratio 0) is the baseline, not a point at the axis' origin.
    assert "full data" in [line.get_label() for line in fig.axes[0].get_lines()]


def test_a_poor_evaluation_classifier_is_warned_about_in_the_report(tmp_path, records) -> None:
    records[1]["metrics"]["classifier_holdout_accuracy"] = 0.59
    records[2]["metrics"]["classifier_holdout_accuracy"] = 0.98
    files = write_report(records, tmp_path / "report")
    (warning,) = [n for n in files.notes if n.startswith("warning:")]
    assert "r1: the evaluation classifier's held-out accuracy is 0.59" in warning
    assert "precision/recall" in warning and "r2" not in warning
    assert warning in files.markdown.read_text().replace("\\", "")
    assert "held-out accuracy is 0.59" in files.html.read_text()
    records[1]["metrics"]["classifier_holdout_accuracy"] = 0.95
    assert not write_report(records, tmp_path / "again").notes
