from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.samples import load_images, ok_sample_ids
from thresher.catalog.source_loaders import long_tail_rows
from thresher.errors import ThresherError


def test_builtin_mnist_lt_is_long_tailed_real_mnist(workspace):
    result = ingest(workspace, IngestConfig(source="builtin:mnist-lt"))
    assert result.source_id == "mnist-lt" and result.n_ok == result.n_rows
    with workspace.connect(read_only=True) as con:
        counts = dict(con.execute("SELECT label, count(*) FROM samples GROUP BY 1").fetchall())
    assert counts[0] == 500 and counts[9] == 25
    assert max(counts.values()) / min(counts.values()) >= 20
    assert all(counts[c] >= counts[c + 1] for c in range(9))
    images = load_images(workspace, "mnist-lt", ok_sample_ids(workspace, "mnist-lt")[:5])
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8 and images.max() > 200


def test_ingest_twice_is_idempotent(workspace):
    ingest(workspace, IngestConfig(source="builtin:digits"))
    again = ingest(workspace, IngestConfig(source="builtin:digits"))
    assert again.already and again.n_rows == 1797


def test_long_tail_is_seeded_and_geometric():
    labels = np.repeat(np.arange(10), 500)
    a, b = long_tail_rows(labels, 20.0, 0), long_tail_rows(labels, 20.0, 0)
    assert np.array_equal(a, b)
    sizes = np.bincount(labels[a])
    assert sizes[0] == 500 and sizes[-1] == 25
    assert not np.array_equal(a, long_tail_rows(labels, 20.0, 1))


def test_image_folder_with_corrupt_files_is_ingested_and_bad_rows_recorded(workspace, image_folder):
    result = ingest(workspace, IngestConfig(source=str(image_folder), name="folder", max_pixels=1_000_000))
    assert result.n_rows == 28 and result.n_ok == 24
    assert set(result.skipped) == {"empty", "not-an-image", "corrupt", "too-large"}
    with workspace.connect(read_only=True) as con:
        bad = dict(con.execute("SELECT status, count(*) FROM samples GROUP BY 1").fetchall())
        labels = con.execute("SELECT DISTINCT label FROM samples WHERE status='ok' ORDER BY 1").fetchall()
    assert bad == {"ok": 24, "skipped": 4}
    assert [r[0] for r in labels] == [0, 1]  # imagefolder labels come from the subfolder names
    assert load_images(workspace, "folder", ok_sample_ids(workspace, "folder")).shape == (24, 28, 28, 1)


@pytest.mark.parametrize(
    "source, message",
    [
        ("builtin:nope", "unknown built-in source"),
        ("/definitely/not/here", "does not exist"),
        ("/tmp/none-*.parquet", "no Parquet files"),
        ("someone/no-such-dataset", "cannot load source"),
    ],
)
def test_unloadable_sources_fail_with_one_line(workspace, source, message):
    with pytest.raises(ThresherError, match=message):
        ingest(workspace, IngestConfig(source=source))
    assert not workspace.exists or not list((workspace.root / "sources").glob("*"))


def test_parquet_and_saved_dataset_sources(workspace, tmp_path):
    from thresher.catalog.source_loaders import arrays_to_dataset

    images = np.random.default_rng(0).integers(0, 255, size=(6, 8, 8), dtype=np.uint8)
    ds = arrays_to_dataset(images, np.arange(6) % 2, ["a", "b"])
    ds.to_parquet(str(tmp_path / "rows.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    assert ingest(workspace, IngestConfig(source=str(tmp_path / "rows.parquet"), name="pq")).n_ok == 6
    assert ingest(workspace, IngestConfig(source=str(tmp_path / "saved"), name="disk")).n_ok == 6
    assert np.array_equal(load_images(workspace, "pq", np.arange(6))[..., 0], images)


def test_bad_source_name_is_refused(workspace):
    with pytest.raises(ThresherError, match="invalid source name"):
        ingest(workspace, IngestConfig(source="builtin:digits", name="../escape"))


def test_ingest_in_two_processes_records_exactly_what_one_does(tmp_path, image_folder):
    """Issue 15.3: --num-proc splits the decode check across processes; every per-row record is the same."""
    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest
    from thresher.catalog.workspace import Workspace

    tables = []
    for procs in (1, 2):
        ws = Workspace(tmp_path / f"ws{procs}")
        for source in ("builtin:mnist-lt", str(image_folder)):
            ingest(ws, IngestConfig(source=source, num_proc=procs))
        with ws.connect(read_only=True) as con:
            tables.append(con.execute("SELECT * FROM samples ORDER BY source, row").fetchall())
    assert tables[0] == tables[1] and len(tables[0]) > 1703
    assert any(row[6] == "skipped" for row in tables[0])  # the folder's corrupt files, recorded in both


def _class_folders(root, counts: dict[str, int]) -> set[str]:
    """``counts[name]`` distinct 8×8 PNGs in ``root/name`` for each name; returns the paths written."""
    rng = np.random.default_rng(0)
    written = set()
    for name, count in counts.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).mkdir(exist_ok=True)
        for j in range(count):
            path = root / name / f"{j}.png"
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)
            written.add(str(path))
    return written


def _rows_with_label_names(ws, source_id: str) -> list[tuple[str, str]]:
    """(file path, label name) of every row, from the re-opened source and the catalog's labels."""
    import json

    import datasets

    from thresher.catalog.samples import open_source

    dataset, _ = open_source(ws, source_id)
    paths = [cell["path"] for cell in dataset.cast_column("image", datasets.Image(decode=False))["image"]]
    with ws.connect(read_only=True) as con:
        names = json.loads(
            con.execute("SELECT label_names FROM sources WHERE id = ?", [source_id]).fetchone()[0]
        )
        labels = [
            r[0]
            for r in con.execute(
                "SELECT label FROM samples WHERE source = ? ORDER BY row", [source_id]
            ).fetchall()
        ]
    return [(path, names[label]) for path, label in zip(paths, labels, strict=True)]


def test_image_named_like_a_split_is_a_row_of_its_class_folder(workspace, tmp_path):
    """Hardening item 1: datasets read `dogs/toy_train.png` as a split and ingested that one file as the whole
    source (1 row, no labels); every image is a row labelled by its folder, whatever its name."""
    root = tmp_path / "pets"
    files = _class_folders(root, {"cats": 5, "dogs": 5})
    Image.new("RGB", (8, 8), "white").save(root / "dogs" / "toy_train.png")
    files.add(str(root / "dogs" / "toy_train.png"))
    result = ingest(workspace, IngestConfig(source=str(root), name="pets"))
    assert (result.n_rows, result.n_ok, result.n_skipped) == (11, 11, 0)
    rows = _rows_with_label_names(workspace, "pets")
    assert {path for path, _ in rows} == files
    assert all(label == Path(path).parent.name for path, label in rows)


def test_dot_named_folders_and_files_are_counted_as_skipped(workspace, tmp_path):
    """Hardening item 26: a class folder named `.hidden` lost its images while ingest said "0 skipped"; hidden
    files stay out of the rows (like .git, .ipynb_checkpoints), but every one is reported with its reason."""
    root = tmp_path / "pets"
    files = _class_folders(root, {"cats": 5, "dogs": 5})
    _class_folders(root, {".hidden": 4, "dogs/.ipynb_checkpoints": 2})
    (root / "dogs" / ".DS_Store").write_bytes(b"\0" * 10)
    (root / "notes.txt").write_text("where the photos came from")
    result = ingest(workspace, IngestConfig(source=str(root), name="pets"))
    assert (result.n_rows, result.n_ok) == (10, 10)
    assert result.skipped == {"hidden": 7, "not-an-image-type": 1} and result.n_skipped == 8
    assert {path for path, _ in _rows_with_label_names(workspace, "pets")} == files


def test_loader_returning_fewer_rows_than_image_files_fails_with_one_line(workspace, tmp_path, monkeypatch):
    import datasets

    root = tmp_path / "pets"
    _class_folders(root, {"cats": 3, "dogs": 3})
    real_load = datasets.load_dataset

    def losing_load(*args, **kwargs):
        dataset = real_load(*args, **kwargs)
        return dataset.select(range(len(dataset) - 1))

    monkeypatch.setattr(datasets, "load_dataset", losing_load)
    with pytest.raises(ThresherError, match=r"returned 5 rows for 6 image files") as caught:
        ingest(workspace, IngestConfig(source=str(root), name="pets"))
    assert "\n" not in str(caught.value)
    assert not workspace.exists or not list((workspace.root / "sources").glob("*"))


def test_split_folders_give_one_split_each(workspace, tmp_path):
    """A folder whose subfolders are train/ and test/ is split by them; class folders sit inside."""
    root = tmp_path / "pets"
    train = _class_folders(root, {"train/cats": 3, "train/dogs": 2})
    test = _class_folders(root, {"test/cats": 1, "test/dogs": 1})
    assert ingest(workspace, IngestConfig(source=str(root), name="tr")).n_rows == 5
    assert ingest(workspace, IngestConfig(source=str(root), name="te", split="test")).n_rows == 2
    for source_id, files in (("tr", train), ("te", test)):
        rows = _rows_with_label_names(workspace, source_id)
        assert {path for path, _ in rows} == files
        assert all(label == Path(path).parent.name for path, label in rows)
    with pytest.raises(ThresherError, match="split 'validation' not in"):
        ingest(workspace, IngestConfig(source=str(root), name="va", split="validation"))


def test_images_blank_on_the_white_background_are_flagged_kept_and_counted(workspace, tmp_path):
    """Hardening item 17: a white-on-transparent drawing is a white square on the white background (and a
    'duplicate' of every other one): ingest flags it, keeps it and says how to list them."""
    rng = np.random.default_rng(0)
    shape = np.zeros((32, 32, 4), np.uint8)
    shape[8:24, 8:24] = 255  # an opaque square ...
    white_on_clear = shape.copy()  # ... white, on transparency
    dark_on_clear = shape.copy()
    dark_on_clear[..., :3] = np.where(shape[..., 3:] > 0, 20, 0)  # the same square, dark
    images = {
        "bolts/white_on_clear.png": Image.fromarray(white_on_clear, "RGBA"),
        "bolts/dark_on_clear.png": Image.fromarray(dark_on_clear, "RGBA"),
        "flat/grey.png": Image.new("RGB", (32, 32), (128, 128, 128)),
        "flat/noise.png": Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)),
    }
    for name, image in images.items():
        (tmp_path / "folder" / name).parent.mkdir(parents=True, exist_ok=True)
        image.save(tmp_path / "folder" / name)
    result = ingest(workspace, IngestConfig(source=str(tmp_path / "folder"), name="clipart"))
    assert (result.n_ok, result.blank) == (4, 2)
    assert any("flagged 2 blank" in line and "flag = 'blank'" in line for line in result.lines())
    with workspace.connect(read_only=True) as con:
        flags = dict(con.execute("SELECT file, flag FROM samples WHERE source = 'clipart'").fetchall())
    assert flags == {
        "bolts/white_on_clear.png": "blank",
        "bolts/dark_on_clear.png": None,
        "flat/grey.png": "blank",
        "flat/noise.png": None,
    }
