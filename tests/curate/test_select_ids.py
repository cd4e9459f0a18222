"""`thresher select --method ids --ids FILE`: exactly the listed sample ids (or, with --inverse, the rest),
from Parquet or text; every bad list is one line, and nothing is made."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.conftest import fake_clustering
from thresher.cards.dataset_card import render_dataset_card
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.samples import ok_sample_ids
from thresher.cli import main


@pytest.fixture
def digits(workspace):
    ingest(workspace, IngestConfig(source="builtin:digits"))
    return workspace


def _select(ws, *args: str):
    result = CliRunner().invoke(main, ["-w", str(ws.root), "select", "--method", "ids", *args])
    return result.exit_code, result.output.strip()


def _kept(ws, name: str, version: int = 1) -> np.ndarray:
    return pq.read_table(ws.subset_dir(name, version) / "ids.parquet").column("sample_id").to_numpy()


def test_the_cli_keeps_exactly_the_ids_of_a_text_file_and_inverse_keeps_the_rest(digits, tmp_path):
    wanted = np.array([3, 14, 15, 92, 653, 1796])
    listing = tmp_path / "ids.csv"
    listing.write_text(
        "sample_id,note\n# chosen by hand\n" + "\n".join(f"{i},x" for i in wanted[::-1]) + "\n\n15\n"
    )
    code, output = _select(digits, "--name", "hand", "--ids", str(listing))
    assert code == 0 and output.startswith("hand@v1: kept 6 of 1797"), output
    assert np.array_equal(_kept(digits, "hand"), wanted)
    code, output = _select(digits, "--name", "rest", "--ids", str(listing), "--inverse")
    assert code == 0, output
    assert np.array_equal(_kept(digits, "rest"), np.setdiff1d(ok_sample_ids(digits, "digits"), wanted))


def test_a_parquet_list_with_its_polygon_is_recorded_in_the_stats_and_the_card(digits, tmp_path):
    fake_clustering(digits, "digits")  # labels the stats by cluster, as a lasso's subset is
    wanted = np.arange(100, 160)
    listing = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"label": np.zeros(60, np.int64), "sample_id": wanted}), listing)
    polygon = "[[0, 0], [2.5, 0], [1, 3]]"
    code, output = _select(digits, "--name", "lasso", "--ids", str(listing), "--polygon", polygon,
                           "--layout", "layout-digits-pca-0123")  # fmt: skip
    assert code == 0, output
    assert np.array_equal(_kept(digits, "lasso"), wanted)
    stats = json.loads((digits.subset_dir("lasso", 1) / "stats.json").read_text())
    assert stats["params"]["polygon"] == [[0.0, 0.0], [2.5, 0.0], [1.0, 3.0]]
    assert stats["params"]["layout"] == "layout-digits-pca-0123"
    assert stats["score_config"]["n_ids"] == 60 and stats["score_config"]["ids_file"] == str(listing)
    assert sum(stats["cluster_counts_after"].values()) == 60
    card = str(render_dataset_card(stats, digits.source_row("digits"), data_files=None, load_path="x",
                                   query_path="x"))  # fmt: skip
    assert "n_ids=60" in card and "polygon=[[0.0, 0.0], [2.5, 0.0], [1.0, 3.0]]" in card
    assert "layout=layout-digits-pca-0123" in card


@pytest.mark.parametrize(
    ("content", "extra", "words"),
    [
        ("1\n2\n5000\n6000\n", (), "2 of 4 ids are not ok rows of 'digits' (unknown, or rows ingest skipped): 5000, 6000"),
        ("sample_id\n", (), "lists no sample ids: a subset of nothing is not made"),
        ("1\ntwo\n", (), "line 2: 'two' is not a sample id"),
        ("-1\n", (), "sample ids are row numbers, but it holds -1"),
        ("1\n", ("--ratio", "0.5"), "it takes no --ratio, --keep-count or --balance"),
        ("1\n", ("--keep-count", "1"), "it takes no --ratio, --keep-count or --balance"),
        ("1\n", ("--polygon", "[[0,0],[1,1],[1,0]]"), "--polygon and --layout go together"),
        ("1\n", ("--polygon", "[[0,0],[1,1]]", "--layout", "l"), "--polygon needs 3 to 10000 vertices, got 2"),
        ("1\n", ("--polygon", "a lasso", "--layout", "l"), "--polygon must be JSON"),
    ],
)  # fmt: skip
def test_a_bad_list_is_one_line_and_makes_nothing(digits, tmp_path, content, extra, words):
    listing = tmp_path / "ids.txt"
    listing.write_text(content)
    code, output = _select(digits, "--name", "bad", "--ids", str(listing), *extra)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and words in errors[0] and "Traceback" not in output, output
    assert not (digits.root / "subsets" / "bad").exists()
    with digits.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM subsets").fetchone()[0] == 0


def test_ids_is_required_and_a_missing_file_is_one_line(digits, tmp_path):
    code, output = _select(digits, "--name", "bad")
    assert code == 2 and "error: --method ids needs --ids FILE" in output, output
    code, output = _select(digits, "--name", "bad", "--ids", str(tmp_path / "none.txt"))
    assert code == 2 and "none.txt: no such file" in output, output
