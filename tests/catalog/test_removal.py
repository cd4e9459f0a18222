"""`thresher rm`: refusals name every dependent, --force removes rows and files, --dry-run changes nothing,
removed numbers are never given again, and a broken source stops forcing --source once removed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.catalog.workspace_state import catalog_rows, cli, files, one_line_error, train_record
from tests.conftest import fake_clustering
from thresher.catalog.config import RemoveConfig
from thresher.catalog.removal import remove
from thresher.catalog.runs import start_run
from thresher.catalog.sweeps import record_cell, record_sweep
from thresher.catalog.tables import insert_row
from thresher.catalog.workspace import Workspace
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.errors import ThresherError


@pytest.fixture
def curated(clustered: Workspace) -> Workspace:
    """half@v1 (trained on, evaluated, a sweep cell) and half@v2 (nothing uses it), both from one clustering."""
    for _ in range(2):
        select(clustered, SelectConfig(name="half", method="cluster", ratio=0.5))
    train_record(clustered, "train-a", "half@v1", "eval-a")
    record_sweep(clustered, "grid", {}, "grid.yaml", ["cell-a", "cell-b"])
    record_cell(clustered, "cell-a", {}, "half@v1", "train-a", "eval-a", {})
    return clustered


def test_a_used_subset_version_is_refused_in_one_line_naming_each_dependent_and_nothing_changes(curated):
    before = (catalog_rows(curated), files(curated))
    line = one_line_error(curated, "rm", "subset", "half@v1")
    for dependent in ("run train-a", "evaluation eval-a", "sweep cell cell-a", "--force"):
        assert dependent in line, line
    assert "half@v2" not in line  # the later version reads nothing of v1
    assert (catalog_rows(curated), files(curated)) == before


def test_force_removes_the_version_and_what_depends_on_it_from_the_catalog_and_the_disk(curated, tmp_path):
    ids_v2 = (curated.subset_dir("half", 2) / "ids.parquet").read_bytes()
    published = tmp_path / "published" / "v1"
    published.mkdir(parents=True)
    (published / "README.md").write_text("card")
    with curated.connect() as con:
        con.execute("UPDATE subsets SET destination = ? WHERE version = 1", [str(published)])
    result = remove(curated, RemoveConfig(kind="subset", name="half@v1", force=True))
    assert [line.split(" (")[0] for line in result.lines()] == [
        "removed subset half@v1", "removed run train-a", "removed evaluation eval-a", "removed sweep cell cell-a",
        f"published copy not deleted: {published}",
    ]  # fmt: skip
    assert (published / "README.md").read_text() == "card"
    with curated.connect(read_only=True) as con:
        assert con.execute("SELECT name, version FROM subsets").fetchall() == [("half", 2)]
        assert con.execute("SELECT count(*) FROM runs WHERE id = 'train-a'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM sweep_cells").fetchone()[0] == 0
        # the sweep still lists the cell: not finished any more, its next run computes it again
        assert con.execute("SELECT cell FROM sweep_members ORDER BY position").fetchall() == [
            ("cell-a",), ("cell-b",),
        ]  # fmt: skip
    assert not curated.subset_dir("half", 1).exists() and not curated.run_dir("train-a").exists()
    assert (curated.subset_dir("half", 2) / "ids.parquet").read_bytes() == ids_v2  # kept, same number
    assert not [p for p in (curated.root / "subsets" / "half").iterdir() if p.name.startswith(".")]


def test_a_dry_run_lists_exactly_what_force_removes_and_changes_nothing(curated):
    before = (catalog_rows(curated), files(curated))
    config = {"kind": "run", "name": "cluster-test"}
    planned = remove(curated, RemoveConfig(**config, dry_run=True)).lines()
    assert (catalog_rows(curated), files(curated)) == before
    assert planned[-1] == "dry run: nothing was changed"
    done = remove(curated, RemoveConfig(**config, force=True)).lines()
    assert [line.replace("would remove", "removed") for line in planned[:-1]] == done
    # the clustering, both versions selected with it, and the training and cell on v1
    assert len(done) == 6 and done[0].startswith("removed run cluster-test")
    assert not curated.scores_dir("cluster-test").exists()
    with curated.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM subsets").fetchone()[0] == 0
    assert not (curated.root / "subsets" / "half").exists()


def test_a_removed_number_is_never_given_again_and_the_next_version_follows_the_latest(curated):
    remove(curated, RemoveConfig(kind="subset", name="half@v2"))  # nothing depends on v2: no --force needed
    made = select(curated, SelectConfig(name="half", method="cluster", ratio=0.5))
    assert made.version == 3
    with curated.connect(read_only=True) as con:
        assert con.execute("SELECT parent FROM subsets WHERE version = 3").fetchone()[0] == "half@v1"


def test_a_source_is_refused_while_anything_uses_it_and_force_removes_all_of_it_but_nothing_else(
    clustered, tmp_path
):
    ws = clustered
    shutil.copytree(ws.source_dir("mnist-lt"), ws.source_dir("other"))  # a second source that must stay
    with ws.connect() as con:
        con.execute("INSERT INTO sources SELECT * REPLACE ('other' AS id) FROM sources WHERE id = 'mnist-lt'")
        con.execute(
            "INSERT INTO samples SELECT * REPLACE ('other' AS source) FROM samples WHERE source = 'mnist-lt'"
        )
        insert_row(con, "embeddings", {"source": "mnist-lt", "embedder": "pixels:8:16", "dim": 16, "n": 1,
                                       "path": str(tmp_path / "elsewhere"), "normalized": True})  # fmt: skip
    (tmp_path / "elsewhere").mkdir()
    fake_clustering(ws, "other", "cluster-other")
    select(
        ws,
        SelectConfig(name="half", method="cluster", ratio=0.5, source="mnist-lt", clustering="cluster-test"),
    )
    (ws.root / "cache" / "stores" / "mnist-lt").mkdir(parents=True)
    with ws.connect(read_only=True) as con:
        other_before = con.execute("SELECT count(*) FROM samples WHERE source = 'other'").fetchone()[0]

    line = one_line_error(ws, "rm", "source", "mnist-lt")
    for dependent in ("embeddings pixels:8:16 of mnist-lt", "subset half@v1", "run cluster-test"):
        assert dependent in line, line
    code, output = cli(ws, "rm", "source", "mnist-lt", "--force")
    assert code == 0, output
    assert f"left in place (outside the workspace): {tmp_path / 'elsewhere'}" in output
    with ws.connect(read_only=True) as con:
        for table, column in [("sources", "id"), ("samples", "source"), ("runs", "source"),
                              ("subsets", "source"), ("embeddings", "source")]:  # fmt: skip
            assert con.execute(f"SELECT count(*) FROM {table} WHERE {column} = 'mnist-lt'").fetchone()[0] == 0
        assert (
            con.execute("SELECT count(*) FROM samples WHERE source = 'other'").fetchone()[0] == other_before
        )
        assert con.execute("SELECT id FROM runs").fetchall() == [("cluster-other",)]
    for gone in ("sources/mnist-lt", "scores/cluster-test", "subsets/half", "cache/stores/mnist-lt"):
        assert not (ws.root / gone).exists(), gone
    assert (ws.root / "sources" / "other").is_dir() and ws.scores_dir("cluster-other").is_dir()
    assert (tmp_path / "elsewhere").is_dir()


def _image_folder(root: Path) -> Path:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((8, 8), 25 * i + (label == "b") * 20, np.uint8)).save(
                root / label / f"{i}.png"
            )
    return root


def test_once_a_broken_source_is_removed_commands_default_to_the_only_source_again(workspace, tmp_path):
    for name in ("good", "broken"):
        code, output = cli(workspace, "ingest", str(_image_folder(tmp_path / name)))
        assert code == 0, output
    shutil.rmtree(tmp_path / "broken")  # its images are gone for good
    pick = ("select", "--name", "some", "--method", "random", "--ratio", "0.5")
    assert "pass --source" in one_line_error(workspace, *pick)
    code, output = cli(workspace, "rm", "source", "broken")
    assert code == 0 and output.startswith("removed source broken (10 rows"), output
    code, output = cli(workspace, *pick)
    assert code == 0 and output.startswith("some@v1: kept 5 of 10"), output
    assert workspace.resolve_source(None) == "good"


def test_a_run_whose_process_is_alive_is_never_removed(clustered):
    start_run(
        clustered, "train-live", "train", "mnist-lt", {}, clustered.run_dir("train-live")
    )  # this process
    with pytest.raises(ThresherError, match="run train-live is still running"):
        remove(clustered, RemoveConfig(kind="source", name="mnist-lt", force=True))
    assert clustered.source_row("mnist-lt")["id"] == "mnist-lt"


def test_runs_named_by_another_runs_config_go_with_it(clustered):
    start_run(
        clustered, "pretrain-a", "pretrain", "mnist-lt", {}, clustered.run_dir("pretrain-a"), status="done"
    )
    start_run(clustered, "score-a", "score", "mnist-lt", {"pretrain": "pretrain-a"}, None, status="done")
    line = one_line_error(clustered, "rm", "run", "pretrain-a")
    assert "needed by run score-a:" in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("rm", "table", "x"), "cannot remove a 'table'"),
        (("rm", "subset", "../x"), "invalid subset name"),
        (("rm", "subset", "half@v0"), "invalid version"),
        (("rm", "run", "no-such-run"), "unknown run 'no-such-run'"),
        (("rm", "subset", "half@v9"), "has no version v9"),
        (("rm", "source", "nope"), "unknown source 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(curated, args, words):
    before = (catalog_rows(curated), files(curated))
    assert words in one_line_error(curated, *args)
    assert (catalog_rows(curated), files(curated)) == before


def test_rm_in_an_empty_folder_creates_no_workspace(tmp_path):
    ws = Workspace(tmp_path / "none")
    assert "is empty" in one_line_error(ws, "rm", "source", "x")
    assert not os.path.exists(ws.root)
