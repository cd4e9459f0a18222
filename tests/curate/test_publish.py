from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.samples import open_source
from thresher.curate.config import PublishConfig, SelectConfig
from thresher.curate.publish import publish
from thresher.curate.select import select
from thresher.errors import ThresherError


class RecordingHfApi:
    """A stand-in for huggingface_hub.HfApi that records calls and can fail at a chosen step."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail_on = fail_on
        self.files: dict[str, bytes] = {}
        self.tags: list[str] = []

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))
        if self.fail_on == name:
            raise RuntimeError(f"simulated {name} failure")

    def create_repo(self, repo_id, **kwargs):
        self._record("create_repo", repo_id=repo_id, **kwargs)

    def list_repo_refs(self, repo_id, **kwargs):
        self._record("list_repo_refs", repo_id=repo_id, **kwargs)
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags])

    def list_repo_files(self, repo_id, **kwargs):
        self._record("list_repo_files", repo_id=repo_id, **kwargs)
        return list(self.files)

    def create_commit(self, repo_id, operations, **kwargs):
        self._record("create_commit", repo_id=repo_id, operations=operations, **kwargs)
        for op in operations:
            if hasattr(op, "path_or_fileobj"):
                self.files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
            else:
                self.files.pop(op.path_in_repo, None)
        return SimpleNamespace(oid="abc123" * 6)

    def create_tag(self, repo_id, **kwargs):
        self._record("create_tag", repo_id=repo_id, **kwargs)
        self.tags.append(kwargs["tag"])


@pytest.fixture
def subset(clustered):
    select(clustered, SelectConfig(name="bal", method="cluster", balance="equal"))
    return clustered


def test_local_publish_writes_card_ids_scores_plots_and_loads_back(subset, tmp_path):
    result = publish(subset, PublishConfig(ref="bal@v1", to=str(tmp_path / "out"), materialize=True))
    root = tmp_path / "out" / "v1"
    assert result.destination == str(root)
    for f in ("README.md", "ids.parquet", "stats.json", "plots/cluster_sizes.png", "plots/class_counts.png"):
        assert (root / f).is_file(), f
    assert list((root / "scores").glob("*/part-*.parquet"))
    card = DatasetCard.load(root / "README.md")
    meta = card.data.thresher
    assert meta["n_kept"] == 250 and meta["method"] == "cluster"
    assert meta["class_counts_after"] == {str(c): 25 for c in range(10)}
    assert meta["class_counts_before"]["0"] == 500 and card.data.license == "cc-by-sa-3.0"
    rows = datasets.load_dataset(str(root), split="train")
    assert len(rows) == 250 and isinstance(rows.features["image"], datasets.Image)
    ids = pq.read_table(root / "ids.parquet").column("sample_id").to_pylist()
    assert len(set(ids)) == 250
    with subset.connect(read_only=True) as con:
        assert con.execute("SELECT destination FROM subsets").fetchone()[0] == str(root)


def test_publishing_the_same_version_twice_is_refused(subset, tmp_path):
    publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out")))
    with pytest.raises(ThresherError, match="already exists"):
        publish(subset, PublishConfig(ref="bal@v1", to=str(tmp_path / "out")))


def test_a_folder_taken_by_another_subset_names_that_subset(subset, tmp_path):
    """Hardening item 9: publishing B where A@v1 lives said "B@v1 was published there before"."""
    select(subset, SelectConfig(name="other", method="random", ratio=0.5))
    publish(subset, PublishConfig(ref="bal@v1", to=str(tmp_path / "out")))
    with pytest.raises(ThresherError, match=r"already exists and holds bal@v1: choose another --to"):
        publish(subset, PublishConfig(ref="other@v1", to=str(tmp_path / "out")))


def test_failed_local_publish_leaves_no_version(subset, tmp_path, monkeypatch):
    import thresher.curate.publish as publish_module

    def broken_card(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish_module, "render_dataset_card", broken_card)
    with pytest.raises(OSError):
        publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out")))
    assert list((tmp_path / "out").iterdir()) == []


def test_hub_publish_is_one_commit_plus_tag(subset):
    api = RecordingHfApi()
    result = publish(subset, PublishConfig(ref="bal@v1", to="hf://datasets/me/balanced"), api=api)
    names = [c[0] for c in api.calls]
    assert names == ["create_repo", "list_repo_refs", "list_repo_files", "create_commit", "create_tag"]
    assert api.calls[0][1]["repo_type"] == "dataset" and api.calls[-1][1]["tag"] == "v1"
    assert {"README.md", "ids.parquet", "stats.json"} <= set(api.files)
    assert result.destination == "hf://datasets/me/balanced@v1"
    card = api.files["README.md"].decode()
    assert "hf://datasets/me/balanced@v1" in card


@pytest.mark.parametrize("step", ["create_repo", "create_commit", "create_tag"])
def test_hub_failure_leaves_no_visible_version(subset, step):
    api = RecordingHfApi(fail_on=step)
    with pytest.raises(ThresherError, match="publish|tag"):
        publish(subset, PublishConfig(ref="bal", to="hf://datasets/me/balanced"), api=api)
    assert api.tags == []
    with subset.connect(read_only=True) as con:
        assert con.execute("SELECT destination FROM subsets").fetchone()[0] is None


@pytest.mark.parametrize("dest", ["hf://models/me/x", "hf://datasets/only-owner", "hf://datasets/a/../b"])
def test_bad_hub_destinations(subset, dest):
    with pytest.raises(ThresherError, match="hf://datasets"):
        publish(subset, PublishConfig(ref="bal", to=dest), api=RecordingHfApi())


def test_unknown_subset_or_version(subset, tmp_path):
    with pytest.raises(ThresherError, match="unknown subset"):
        publish(subset, PublishConfig(ref="nope", to=str(tmp_path)))
    with pytest.raises(ThresherError, match="no version v7"):
        publish(subset, PublishConfig(ref="bal@v7", to=str(tmp_path)))


def _write_folder(root: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Class subfolders of distinct RGB PNGs; returns the pixels written, by file name."""
    written = {}
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for j in range(10):
            pixels = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{label}{j:02d}.png")
            written[f"{label}{j:02d}.png"] = pixels
    return written


@pytest.mark.parametrize("kind", ["imagefolder", "parquet-of-paths"])
def test_materialized_version_is_self_contained(workspace, tmp_path, kind):
    folder = tmp_path / "pictures"
    written = _write_folder(folder, np.random.default_rng(0))
    source = str(folder)
    if kind == "parquet-of-paths":  # a Parquet source whose image cells point at files, bytes None
        files = sorted(folder.rglob("*.png"))
        table = datasets.Dataset.from_dict(
            {"image": [str(f) for f in files], "label": [int(f.parent.name == "dog") for f in files]},
            features=datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")}),
        )
        table.to_parquet(str(tmp_path / "rows.parquet"))
        assert pq.read_table(tmp_path / "rows.parquet").column("image")[0]["bytes"].as_py() is None
        source = str(tmp_path / "rows.parquet")
    ingest(workspace, IngestConfig(source=source, name="pics"))
    select(workspace, SelectConfig(name="half", method="random", ratio=0.5, source="pics"))
    publish(workspace, PublishConfig(ref="half", to=str(tmp_path / "out"), materialize=True))
    root = tmp_path / "out" / "v1"
    ids = pq.read_table(root / "ids.parquet").column("sample_id").to_pylist()
    source_rows = open_source(workspace, "pics")[0].cast_column("image", datasets.Image(decode=False))
    selected = [Path(source_rows[i]["image"]["path"]).name for i in ids]
    shutil.rmtree(folder)  # the published version must not need the original files any more

    shards = sorted((root / "data").glob("*.parquet"))
    cells = pq.read_table(shards, columns=["image"]).column("image").to_pylist()
    assert len(cells) == 10 and all(cell["bytes"] for cell in cells)
    assert all(cell["path"] is None or "/" not in cell["path"] for cell in cells)  # no paths into the source
    rows = datasets.load_dataset(str(root), split="train")
    names = [cell["path"] for cell in cells]
    assert names == selected  # the rows selected, in ids.parquet order
    for name, row in zip(names, rows, strict=True):
        assert np.array_equal(np.asarray(row["image"]), written[name]), name
        assert row["label"] == int(name.startswith("dog"))
    by_data_files = datasets.load_dataset("parquet", data_files=[str(p) for p in shards], split="train")
    assert all(
        np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
        for a, b in zip(rows, by_data_files, strict=True)
    )


def test_published_version_has_normal_permissions(subset, tmp_path):
    old = os.umask(0o022)
    try:
        publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out"), materialize=True))
    finally:
        os.umask(old)
    root = tmp_path / "out" / "v1"
    entries = [root, *root.rglob("*")]
    assert any(p.is_dir() and p != root for p in entries) and any(p.is_file() for p in entries)
    for p in entries:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode == (0o755 if p.is_dir() else 0o644), (p, oct(mode))


def test_published_permissions_follow_the_umask(subset, tmp_path):
    old = os.umask(0o027)
    try:
        publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out")))
    finally:
        os.umask(old)
    root = tmp_path / "out" / "v1"
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(root / "README.md").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(root / "ids.parquet").st_mode) == 0o640


def test_a_publish_killed_before_its_catalog_update_is_completed_by_the_retry(subset, tmp_path, monkeypatch):
    """The version folder appears only by rename, so a folder of this very version with no catalog record is a
    finished publish whose process died before the catalog update: the retry records it (issue 17.4)."""
    import thresher.curate.publish as publish_module

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # dies after the rename, before the catalog update

    monkeypatch.setattr(publish_module, "record_destination", killed)
    with pytest.raises(KeyboardInterrupt):
        publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out")))
    monkeypatch.undo()
    before = {p: p.read_bytes() for p in (tmp_path / "out" / "v1").rglob("*") if p.is_file()}
    result = publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out")))
    assert result.destination == str(tmp_path / "out" / "v1") and "README.md" in result.files
    assert {p: p.read_bytes() for p in (tmp_path / "out" / "v1").rglob("*") if p.is_file()} == before
    with subset.connect(read_only=True) as con:
        assert con.execute("SELECT destination FROM subsets").fetchone()[0] == str(tmp_path / "out" / "v1")
    with pytest.raises(ThresherError, match="already exists"):  # once recorded, a retry is refused again
        publish(subset, PublishConfig(ref="bal", to=str(tmp_path / "out")))


def test_abandoned_staging_folders_are_removed_only_when_provably_abandoned(subset, tmp_path):
    import json
    import socket
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)  # fmt: skip
    owners = {
        ".v1.partial-dead": {"pid": dead, "host": socket.gethostname()},
        ".v1.partial-alive": {"pid": os.getpid(), "host": socket.gethostname()},
        ".v1.partial-elsewhere": {"pid": dead, "host": "another-host"},
    }
    for folder, owner in owners.items():
        (out / folder).mkdir()
        (out / folder / ".thresher-owner.json").write_text(json.dumps(owner))
    (out / ".v1.partial-unknown").mkdir()  # no owner record: maybe not ours
    (out / "notes").mkdir()
    publish(subset, PublishConfig(ref="bal", to=str(out)))
    assert sorted(p.name for p in out.iterdir()) == [
        ".v1.partial-alive", ".v1.partial-elsewhere", ".v1.partial-unknown", "notes", "v1",
    ]  # fmt: skip
    assert not (out / "v1" / ".thresher-owner.json").exists()
