"""`thresher mv subset OLD NEW`: every version renamed with the same members, the old name gone, and each
refusal one line that changes nothing."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.catalog.workspace_state import catalog_rows, files, one_line_error, train_record
from thresher.catalog.config import MoveConfig, RemoveConfig
from thresher.catalog.removal import remove
from thresher.catalog.subset_rename import move
from thresher.catalog.subsets import parse_subset_ref, subset_row
from thresher.catalog.workspace import Workspace
from thresher.curate.config import SelectConfig
from thresher.curate.select import select


@pytest.fixture
def two_versions(clustered: Workspace) -> Workspace:
    select(clustered, SelectConfig(name="half", method="cluster", ratio=0.5))
    select(clustered, SelectConfig(name="half", method="cluster", ratio=0.3))
    return clustered


def _members(ws: Workspace, name: str, version: int) -> list[int]:
    row = subset_row(ws, parse_subset_ref(f"{name}@v{version}"))
    path = ws.subset_dir(row["name"], int(row["version"])) / "ids.parquet"
    return pq.read_table(path).column("sample_id").to_pylist()


def test_every_version_keeps_its_members_under_the_new_name_and_the_old_name_is_gone(two_versions):
    ws = two_versions
    before = {v: _members(ws, "half", v) for v in (1, 2)}
    result = move(ws, MoveConfig(kind="subset", old="half", new="whole"))
    assert result.lines() == ["renamed subset half to whole (v1, v2)"]
    assert {v: _members(ws, "whole", v) for v in (1, 2)} == before
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT name, version, parent FROM subsets ORDER BY version").fetchall() == [
            ("whole", 1, None), ("whole", 2, "whole@v1"),
        ]  # fmt: skip
    assert not (ws.root / "subsets" / "half").exists()
    stats = json.loads((ws.subset_dir("whole", 2) / "stats.json").read_text())
    assert (stats["name"], stats["parent"]) == ("whole", "whole@v1")  # what a card is made from


def test_a_rename_killed_after_its_commit_is_finished_by_running_it_again(two_versions):
    ws = two_versions
    before = _members(ws, "half", 2)
    move(ws, MoveConfig(kind="subset", old="half", new="whole"))
    # as if killed right after the commit: the files are still under the old name
    (ws.root / "subsets" / "whole").rename(ws.root / "subsets" / "half")
    for version in (1, 2):
        path = ws.subset_dir("half", version) / "stats.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "name": "half"}))
    lines = move(ws, MoveConfig(kind="subset", old="half", new="whole")).lines()
    assert lines[0].startswith("finished renaming subset half to whole (v1, v2)")
    assert _members(ws, "whole", 2) == before
    assert json.loads((ws.subset_dir("whole", 1) / "stats.json").read_text())["name"] == "whole"


def test_refusals_are_one_line_and_change_nothing(two_versions, tmp_path):
    ws = two_versions
    select(ws, SelectConfig(name="taken", method="cluster", ratio=0.5))
    select(ws, SelectConfig(name="gone", method="cluster", ratio=0.5))
    remove(ws, RemoveConfig(kind="subset", name="gone"))
    (ws.root / "subsets" / "stray").mkdir()
    train_record(ws, "train-a", "taken@v1", "eval-a")
    before = (catalog_rows(ws), files(ws))
    cases = [
        (("half", "taken"), "subset 'taken' exists (v1)"),
        (("half", "gone"), "had versions up to v1 (removed)"),
        (("half", "stray"), "exists but the catalog has no subset 'stray'"),
        (("taken", "other"), "subset taken is named by run train-a, evaluation eval-a"),
        (("nope", "other"), "unknown subset 'nope'"),
        (("half", "../x"), "invalid new subset name"),
        (("half", "half"), "already has that name"),
    ]
    for (old, new), words in cases:
        assert words in one_line_error(ws, "mv", "subset", old, new), (old, new)
    assert "cannot rename a 'source'" in one_line_error(ws, "mv", "source", "half", "other")
    assert (catalog_rows(ws), files(ws)) == before
