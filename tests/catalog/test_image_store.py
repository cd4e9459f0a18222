"""The image store: views equal `load_images` of the same rows; parts built once, per range, and redone
when missing, truncated or out of date; another source state or encoder is another store."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from thresher.catalog.image_store import StoreKey, check_meta
from thresher.catalog.image_store_build import open_store, pixel_rows
from thresher.catalog.part_files import marker_path, part_files
from thresher.catalog.samples import load_images, ok_sample_ids
from thresher.errors import ThresherError
from thresher.images import BLACK

from .test_load_images import BLUE, RED, ingest_pngs


def test_a_view_is_what_load_images_decodes(mnist_lt):
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    subset = np.sort(np.random.default_rng(0).choice(ids, 300, replace=False))
    view = open_store(mnist_lt, "mnist-lt", subset, size=16, part_rows=256)
    expected = load_images(mnist_lt, "mnist-lt", subset, size=16)
    assert view.shape == expected.shape
    np.testing.assert_array_equal(view.take(np.arange(len(view))), expected)
    np.testing.assert_array_equal(np.concatenate(list(view.batches(37))), expected)
    order = np.random.default_rng(1).permutation(len(view))[:50]
    np.testing.assert_array_equal(view.take(order), expected[order])
    np.testing.assert_array_equal(view.row(7), expected[7])
    # only the parts the subset falls in exist
    parts = sorted(int(p.name.split(".")[1]) for p in view.folder.glob("_SUCCESS.*"))
    assert parts == sorted(set((subset // 256).tolist()))


def test_parts_are_shared_built_once_and_redone_when_damaged(mnist_lt, caplog):
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    first = open_store(mnist_lt, "mnist-lt", ids[:500], part_rows=256)
    folder = first.folder
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("part-*.npy")}
    again = open_store(mnist_lt, "mnist-lt", ids[100:400], part_rows=256)  # inside the built parts
    assert again.folder == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("part-*.npy")} == stamps
    expected = load_images(mnist_lt, "mnist-lt", ids[:500])
    # a truncated part and a deleted part are rebuilt, and only they
    array0, _ = part_files(folder, 0)
    array0.write_bytes(array0.read_bytes()[:-100])
    array1, ids1 = part_files(folder, 1)
    array1.unlink()
    rebuilt = open_store(mnist_lt, "mnist-lt", ids[:500], part_rows=256)
    np.testing.assert_array_equal(rebuilt.take(np.arange(500)), expected)
    assert any("rebuilding part(s) 0, 1" in r.getMessage() for r in caplog.records)
    # a marker that vouches for other ids (rows changed status since) redoes the part
    marker_path(folder, 0).write_text(json.dumps({"rows": 1, "array_bytes": 1, "ids_bytes": 1}))
    assert np.array_equal(open_store(mnist_lt, "mnist-lt", ids[:10], part_rows=256).take(np.arange(10)),
                          expected[:10])  # fmt: skip


def test_another_size_background_or_source_state_is_another_store(mnist_lt):
    ids = ok_sample_ids(mnist_lt, "mnist-lt")[:50]
    plain = open_store(mnist_lt, "mnist-lt", ids)
    assert open_store(mnist_lt, "mnist-lt", ids, size=16).folder != plain.folder
    assert open_store(mnist_lt, "mnist-lt", ids, background=BLACK).folder != plain.folder
    changed = StoreKey(**{**plain.key.__dict__, "n_rows": plain.key.n_rows + 1})
    assert changed.folder_name() != plain.key.folder_name()
    # a folder whose meta describes other rows (copied by hand) is refused, never read
    with pytest.raises(ThresherError, match="holds other rows \\(n_rows differ\\)"):
        check_meta(plain.folder, changed)


def test_rows_that_are_not_ok_are_refused(image_folder, workspace):
    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest

    ingest(workspace, IngestConfig(source=str(image_folder), name="digits", max_pixels=1_000_000))
    with workspace.connect(read_only=True) as con:
        bad = con.execute("SELECT min(sample_id) FROM samples WHERE status != 'ok'").fetchone()[0]
    with pytest.raises(ThresherError, match=f"row {bad} of source 'digits' is not an ok row"):
        open_store(workspace, "digits", np.array([bad]))


def test_grey_and_colour_rows_follow_load_images(workspace, tmp_path):
    grey = [Image.new("L", (8, 8), v) for v in (0, 90, 200)]
    colour = [Image.new("RGB", (8, 8), c) for c in (RED, BLUE)]
    source = ingest_pngs(workspace, tmp_path, [grey[0], colour[0], grey[1], colour[1], grey[2]])
    for rows in ([0, 2, 4], [0, 1, 2], [1, 3], [0, 1, 2, 3, 4]):
        rows = np.array(rows)
        view = pixel_rows(workspace, source, rows)
        np.testing.assert_array_equal(view.take(np.arange(len(rows))), load_images(workspace, source, rows))
    # parts of one row each: grey parts gathered into a colour view and the other way round
    for rows in ([0, 2, 4], [0, 1, 4]):
        view = open_store(workspace, source, np.array(rows), part_rows=1)
        np.testing.assert_array_equal(view.take(np.arange(3)), load_images(workspace, source, np.array(rows)))


def test_several_sizes_need_an_image_size(workspace, tmp_path):
    source = ingest_pngs(workspace, tmp_path, [Image.new("L", (8, 8)), Image.new("L", (6, 6))])
    with pytest.raises(ThresherError, match="several sizes .*pass an image size"):
        pixel_rows(workspace, source, np.array([0, 1]))
    with pytest.raises(ThresherError, match="several sizes .*pass an image size"):
        open_store(workspace, source, np.array([0, 1]), part_rows=1)
    assert pixel_rows(workspace, source, np.array([0, 1]), size=4).shape == (2, 4, 4, 1)


def test_a_killed_build_leaves_no_temporaries_behind_after_the_next(mnist_lt):
    import os
    import socket
    import subprocess
    import sys

    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    view = open_store(mnist_lt, "mnist-lt", ids[:10], part_rows=256)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    dead = view.folder / f".part-00001.npy~{host}~{int(gone.stdout)}~ab12cd34.tmp"
    alive = view.folder / f".part-00002.npy~{host}~{os.getpid()}~ab12cd34.tmp"
    elsewhere = view.folder / f".part-00003.npy~another-host~{int(gone.stdout)}~ab12cd34.tmp"
    for path in (dead, alive, elsewhere):
        path.write_bytes(b"half a part")
    open_store(mnist_lt, "mnist-lt", ids[300:310], part_rows=256)  # builds part 1
    assert not dead.exists() and alive.exists() and elsewhere.exists()
    assert not [p for p in view.folder.iterdir() if p.name.endswith(".tmp") and p not in (alive, elsewhere)]


def test_a_part_corrupted_at_the_same_size_is_rebuilt_with_one_line(mnist_lt, caplog):
    """Hardening item 20: a part whose bytes changed in place (same size) was trained on silently."""
    ids = ok_sample_ids(mnist_lt, "mnist-lt")[:300]
    expected = load_images(mnist_lt, "mnist-lt", ids)
    folder = open_store(mnist_lt, "mnist-lt", ids, part_rows=256).folder
    caplog.clear()
    array0, _ = part_files(folder, 0)
    data = bytearray(array0.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(
        255 - b for b in data[len(data) // 2 : len(data) // 2 + 64]
    )
    array0.write_bytes(bytes(data))
    assert array0.stat().st_size == len(data)
    view = open_store(mnist_lt, "mnist-lt", ids, part_rows=256)
    np.testing.assert_array_equal(view.take(np.arange(len(ids))), expected)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("image store")]
    assert said == [f"image store {folder}: rebuilding part(s) 0 (corrupt)"]


def test_each_resize_mode_is_its_own_store_and_stretch_keeps_the_old_key(workspace, tmp_path):
    from thresher.catalog.samples import decode_row

    tall = Image.fromarray(np.random.default_rng(0).integers(0, 256, (51, 17, 3), dtype=np.uint8))
    source = ingest_pngs(workspace, tmp_path, [tall, Image.new("RGB", (9, 5), RED)])
    rows = np.array([0, 1])
    views = {
        mode: pixel_rows(workspace, source, rows, size=16, resize=mode) for mode in ("pad", "crop", "stretch")
    }
    assert len({v.folder for v in views.values()}) == 3
    for mode, view in views.items():
        # each store holds its mode's pixels: the same as a direct decode of the rows by that mode
        expected = np.stack(
            [decode_row(img, 16, resize=mode) for img in (tall, Image.new("RGB", (9, 5), RED))]
        )
        np.testing.assert_array_equal(view.take(np.arange(2)), expected)
    assert not np.array_equal(views["pad"].take(np.arange(1)), views["crop"].take(np.arange(1)))
    # the stretched store is keyed exactly as stores were before the modes, so the stores a workspace
    # already has are found again: its folder's digest is that of the meta.json fields they had
    key = views["stretch"].key
    before = {"format": 1, "source": key.source, "source_key": key.source_key, "n_rows": key.n_rows,
              "encoder": "pixels", "encoder_sha1": None, "size": 16, "background": "white",
              "part_rows": key.part_rows, "layout": "nhwc-uint8"}  # fmt: skip
    digest = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert views["stretch"].folder.name == f"pixels-16px-{digest}"
    assert json.loads((views["pad"].folder / "meta.json").read_text())["resize"] == "pad"
    # without a size the mode means nothing and is not part of the key
    assert StoreKey.resize_of(None, "pad") is None and StoreKey.resize_of(None, "crop") is None
