"""The CLI end to end on a small built-in source, and every bad input of the issue: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from thresher.cli import main


def _run(ws: Path, *args: str):
    return CliRunner().invoke(main, ["--workspace", str(ws), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def digits_ws(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("cli") / "ws"
    assert _run(ws, "ingest", "builtin:digits").exit_code == 0
    result = _run(ws, "embed", "--embedder", "pixels:8:16", "--num-workers", "0")
    assert result.exit_code == 0, result.output
    result = _run(ws, "cluster", "--k", "10")
    assert result.exit_code == 0, result.output
    return ws


def test_happy_path_select_publish_query_status(digits_ws, tmp_path):
    out = _run(
        digits_ws, "select", "--name", "eq", "--method", "cluster", "--balance", "equal", "--ratio", "0.5"
    )
    assert out.exit_code == 0 and "eq@v1: kept 899 of 1797" in out.output
    out = _run(digits_ws, "publish", "eq@v1", "--to", str(tmp_path / "pub"))
    assert out.exit_code == 0 and (tmp_path / "pub" / "v1" / "README.md").is_file()
    out = _run(
        digits_ws, "query", "SELECT count(*) AS n FROM scores WHERE method = 'cluster'", "--format", "csv"
    )
    assert out.exit_code == 0 and out.output.strip() == "n\n1797"
    out = _run(digits_ws, "status")
    assert "digits" in out.output and "eq@v1" in out.output and "k=10" in out.output


def test_cluster_sweep_reports_inertia_per_k(digits_ws):
    out = _run(digits_ws, "cluster", "--k", "4,8,16")
    assert out.exit_code == 0, out.output
    lines = [ln.split() for ln in out.output.splitlines() if ln[:1].isdigit()]
    inertia = [float(parts[1]) for parts in lines]
    assert len(inertia) == 3 and inertia[0] > inertia[1] > inertia[2]
    assert list((digits_ws / "clusterings").glob("sweep-*/elbow.png"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["select", "--name", "x", "--method", "magic", "--ratio", "0.5"], "unknown method"),
        (["select", "--name", "x", "--method", "random", "--ratio", "1.5"], "outside [0, 1)"),
        (["select", "--name", "a/b", "--method", "random", "--ratio", "0.5"], "invalid subset name"),
        (["select", "--name", "..", "--method", "random", "--ratio", "0.5"], "invalid subset name"),
        (["cluster", "--k", "5000"], "larger than the number"),
        (["embed", "--embedder", "nosuch:model"], "unknown embedder"),
        (["ingest", "someone/not-a-dataset"], "cannot load source"),
        (["publish", "missing", "--to", "/tmp/x"], "unknown subset"),
        (["query", "DROP TABLE samples"], "read-only"),
        (["train", "--dataset", "digits", "--clusters", "nope", "--steps", "1"], "no finished run"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(digits_ws, args, message):
    subsets_before = sorted((digits_ws / "subsets").glob("*")) if (digits_ws / "subsets").exists() else []
    result = CliRunner().invoke(main, ["--workspace", str(digits_ws), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    after = sorted((digits_ws / "subsets").glob("*")) if (digits_ws / "subsets").exists() else []
    assert after == subsets_before


def test_select_before_clustering_is_refused(tmp_path):
    ws = tmp_path / "ws"
    _run(ws, "ingest", "builtin:digits")
    result = CliRunner().invoke(
        main, ["--workspace", str(ws), "select", "--name", "c", "--method", "cluster", "--ratio", "0.5"]
    )
    assert result.exit_code == 2 and "no clustering" in result.output
    assert not (ws / "subsets").exists()


def test_dedup_removes_planted_duplicates_and_inverse_keeps_them(tmp_path):
    """builtin:digits plus exact copies of 40 rows, the first 10 labelled as another digit: dedup with a
    small ε drops exactly one of each pair, names each removed row's kept match, and reports the 10 planted
    pairs that cross labels."""
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.datasets import load_digits

    from thresher.catalog.source_loaders import arrays_to_dataset

    digits = load_digits()
    images = (digits.images * (255 / 16)).round().astype(np.uint8)
    doubled = np.concatenate([images, images[:40]])
    copy_labels = digits.target[:40].copy()
    copy_labels[:10] = (copy_labels[:10] + 1) % 10  # mislabelled copies: duplicates across labels
    labels = np.concatenate([digits.target, copy_labels])
    names = [f"digit {d}" for d in range(10)]
    arrays_to_dataset(doubled, labels, names).save_to_disk(str(tmp_path / "dup"))
    ws = tmp_path / "ws"
    assert _run(ws, "ingest", str(tmp_path / "dup"), "--name", "dup").exit_code == 0
    assert _run(ws, "embed", "--embedder", "pixels:8:32", "--num-workers", "0").exit_code == 0
    assert _run(ws, "cluster", "--k", "10").exit_code == 0
    out = _run(ws, "select", "--name", "d", "--method", "dedup", "--epsilon", "0.0001")
    assert out.exit_code == 0, out.output
    n_kept = int(out.output.split("kept ")[1].split()[0])
    assert len(doubled) - n_kept >= 40  # every planted copy goes (sklearn digits hold a few duplicates too)
    pairs = pq.read_table(ws / "subsets" / "d" / "v1" / "duplicates.parquet").to_pandas()
    assert len(pairs) == len(doubled) - n_kept and f"removed {len(pairs)} near-duplicates" in out.output
    planted = {frozenset((i, len(images) + i)) for i in range(10)}
    crossed = pairs[pairs.cross_label]
    crossing = {frozenset(p) for p in zip(crossed.sample_id, crossed.match_id, strict=True)}
    assert planted <= crossing
    assert f"{int(pairs.cross_label.sum())} of them match a kept row of another label" in out.output
    assert "'digit 1'" in out.output or "'digit 0'" in out.output  # examples name the labels
    out = _run(ws, "select", "--name", "d", "--method", "dedup", "--epsilon", "0.0001", "--inverse")
    assert int(out.output.split("kept ")[1].split()[0]) == len(doubled) - n_kept
    assert "near-duplicates" not in out.output  # --inverse keeps the duplicates: it removed none


def test_report_without_evaluations_is_a_one_line_error(digits_ws):
    result = CliRunner().invoke(main, ["--workspace", str(digits_ws), "report"])
    assert result.exit_code == 2 and "no evaluations" in result.output


def test_a_bad_guidance_interval_is_a_usage_error(digits_ws):
    args = ["sample", "--run", "r", "--n", "2", "--out", "/tmp/x", "--cfg-interval", "0.5"]
    result = CliRunner().invoke(main, ["--workspace", str(digits_ws), *args])
    assert result.exit_code == 2 and "expected LOW,HIGH (two numbers), got '0.5'" in result.output
