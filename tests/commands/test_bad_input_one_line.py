"""Inputs that used to end in a traceback (issue 17.7): each is now one line on stderr and exit 2."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from thresher.cli import main


def _cli(ws, *args: str):
    result = CliRunner().invoke(main, ["-w", str(ws.root), *args])
    return result.exit_code, result.output.strip()


def _one_line_error(ws, *args: str) -> str:
    code, output = _cli(ws, *args)
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def _parquet(path, labels) -> str:
    def png(v: int) -> dict:
        buffer = io.BytesIO()
        Image.fromarray(np.full((8, 8), v, np.uint8)).save(buffer, format="PNG")
        return {"bytes": buffer.getvalue(), "path": None}

    pq.write_table(pa.table({"image": [png(10 * i) for i in range(len(labels))], "label": labels}), path)
    return str(path)


def test_text_labels_become_class_ids_and_bad_labels_are_one_line(workspace, tmp_path):
    code, output = _cli(workspace, "ingest", _parquet(tmp_path / "s.parquet", ["b", "a", "b", "c"]),
                        "--label-column", "label")  # fmt: skip
    assert code == 0, output
    with workspace.connect(read_only=True) as con:
        assert (
            con.execute("SELECT label_names FROM sources WHERE id = 's'").fetchone()[0] == '["a", "b", "c"]'
        )
        labels = [
            r[0] for r in con.execute("SELECT label FROM samples WHERE source = 's' ORDER BY row").fetchall()
        ]
    assert labels == [1, 0, 1, 2]
    nan = _parquet(tmp_path / "nan.parquet", [1.0, float("nan"), 0.0])
    assert "holds nan at row 1" in _one_line_error(workspace, "ingest", nan, "--label-column", "label")
    big = _parquet(tmp_path / "big.parquet", [1, 2**62, 0])
    assert "below 2^31" in _one_line_error(workspace, "ingest", big, "--label-column", "label")
    half = _parquet(tmp_path / "half.parquet", [1.5, 0.0, 1.0])
    assert "integer class ids" in _one_line_error(workspace, "ingest", half, "--label-column", "label")


@pytest.fixture
def selected(mnist_lt):
    from tests.conftest import fake_clustering

    fake_clustering(mnist_lt, "mnist-lt")
    assert _cli(mnist_lt, "select", "--name", "half", "--method", "random", "--ratio", "0.5")[0] == 0
    return mnist_lt


def test_publish_to_a_file_or_under_one(selected, tmp_path):
    (tmp_path / "afile").write_text("x")
    assert "is a file" in _one_line_error(selected, "publish", "half", "--to", str(tmp_path / "afile"))
    assert "which is a file" in _one_line_error(
        selected, "publish", "half", "--to", str(tmp_path / "afile" / "sub")
    )
    assert (tmp_path / "afile").read_text() == "x"


def test_deleted_rows_and_subset_folders_are_named_and_repairable(selected):
    shutil.rmtree(selected.subset_dir("half", 1))
    assert "files of subset half@v1 are gone" in _one_line_error(selected, "publish", "half", "--to", "x")
    assert "files of subset half@v1 are gone" in _one_line_error(
        selected, "train", "-d", "half", "--steps", "1"
    )
    shutil.rmtree(selected.source_dir("mnist-lt") / "dataset")
    tiny = (
        "--steps",
        "1",
        "--model",
        "DiT-T/4",
        "--width",
        "32",
        "--depth",
        "1",
        "--heads",
        "2",
        "--grid-steps",
        "1",
    )
    message = _one_line_error(selected, "train", "-d", "mnist-lt", *tiny)
    assert "saved rows of source 'mnist-lt'" in message and "thresher ingest builtin:mnist-lt" in message
    code, output = _cli(selected, "ingest", "builtin:mnist-lt")
    assert code == 0 and "restored" in output
    assert _cli(selected, "train", "-d", "mnist-lt", *tiny)[0] == 0


def test_sample_out_an_existing_file(selected, tmp_path):
    code, output = _cli(selected, "train", "-d", "half", "--steps", "1", "--model", "DiT-T/4", "--width", "32",
                        "--depth", "1", "--heads", "2", "--run", "tiny", "--grid-steps", "1")  # fmt: skip
    assert code == 0, output
    (tmp_path / "taken.parquet").write_bytes(b"keep")
    (tmp_path / "afile").write_text("keep")
    for out, words in ((tmp_path / "taken.parquet", "already exists"), (tmp_path / "afile", "is a file")):
        assert words in _one_line_error(selected, "sample", "--run", "tiny", "--n", "2", "--out", str(out))
    assert (tmp_path / "taken.parquet").read_bytes() == b"keep"


def test_options_that_do_not_apply_are_refused(workspace, tmp_path):
    """Issue 17.12: --split/--config on sources without them, and 0 meaning "default", are refused."""
    parquet = _parquet(tmp_path / "p.parquet", [0, 1])
    saved = tmp_path / "saved"
    import datasets

    datasets.load_dataset("parquet", data_files=[parquet], split="train").save_to_disk(str(saved))
    cases = [
        (("ingest", "builtin:digits", "--split", "test"), "--split does not apply to a built-in"),
        (("ingest", "builtin:digits", "--config", "x"), "--config does not apply"),
        (("ingest", "builtin:digits", "--revision", "main"), "--revision does not apply"),
        (("ingest", parquet, "--split", "test"), "--split does not apply to Parquet"),
        (("ingest", str(saved), "--split", "test"), "saved dataset without splits"),
        (("ingest", parquet, "--max-pixels", "0"), "--max-pixels must be positive"),
        (("train", "-d", "x", "--width", "0"), "--width must be at least 1"),
        (("pretrain", "--depth", "0"), "--depth must be at least 1"),
    ]
    for args, words in cases:
        assert words in _one_line_error(workspace, *args), args
    assert not workspace.exists  # nothing was ingested under a misleading name
    code, output = _cli(workspace, "ingest", "builtin:digits", "--split", "train")  # what it has: fine
    assert code == 0, output


def test_select_on_a_source_without_ok_rows_records_nothing(workspace, tmp_path):
    """Issue 17.15: the error comes before any score run is written."""
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"image": [{"bytes": b"junk", "path": None}] * 3, "label": [0, 1, 0]}), path)
    assert _cli(workspace, "ingest", str(path))[0] == 0
    message = _one_line_error(workspace, "select", "--name", "z", "--method", "random", "--ratio", "0.5")
    assert "no decodable rows" in message
    with workspace.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert not (workspace.root / "scores").exists() or not any((workspace.root / "scores").iterdir())
