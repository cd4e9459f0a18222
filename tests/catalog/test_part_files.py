"""Part files: atomic writes with size- and checksum-checked markers, and positioned reads of rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thresher.catalog.part_files import (
    CORRUPT,
    RESIZED,
    ArrayFile,
    marker_path,
    part_done,
    part_files,
    part_problem,
    write_part,
)
from thresher.errors import ThresherError


@pytest.mark.parametrize(
    "dtype, shape", [(np.uint8, (50, 5, 4, 3)), (np.float32, (37, 4, 2, 2)), (np.float16, (9, 7))]
)
def test_positioned_reads_equal_numpy_indexing(tmp_path, dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.random(shape) * 200).astype(dtype)
    write_part(tmp_path, 3, np.arange(shape[0]) * 2, array, grey=np.zeros(shape[0], bool))
    assert part_done(tmp_path, 3)
    stored = ArrayFile.open(part_files(tmp_path, 3)[0])
    assert stored.shape == shape and stored.dtype == np.dtype(dtype)
    n = shape[0]
    for rows in (
        np.arange(n),
        np.array([n - 1, 0, 5, 5, 6, 7, 2]),
        rng.integers(0, n, 40),
        np.array([], int),
    ):
        np.testing.assert_array_equal(stored.read_rows(rows), array[rows])
    with pytest.raises(ThresherError, match="rows outside"):
        stored.read_rows(np.array([n]))


def test_a_part_cut_short_is_not_done_and_reads_say_so(tmp_path):
    write_part(tmp_path, 0, np.arange(10), np.ones((10, 8), np.uint8))
    stored = ArrayFile.open(part_files(tmp_path, 0)[0])
    array_file, _ = part_files(tmp_path, 0)
    array_file.write_bytes(array_file.read_bytes()[:-20])
    assert not part_done(tmp_path, 0)
    with pytest.raises(ThresherError, match="shorter than its header says"):
        stored.read_rows(np.array([9]))


def _flip_byte(path, position: int) -> None:
    """Change one byte in place: the file keeps its size (a bad disk or a bad copy, not a truncation)."""
    data = bytearray(path.read_bytes())
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("which", [0, 1])  # the array file, the ids file
def test_a_byte_changed_at_the_same_size_makes_the_part_corrupt(tmp_path, which):
    """Hardening item 20: markers recorded sizes only, so a part whose bytes changed in place was read."""
    write_part(tmp_path, 0, np.arange(10), np.arange(80, dtype=np.uint8).reshape(10, 8))
    path = part_files(tmp_path, 0)[which]
    size = path.stat().st_size
    _flip_byte(path, size - 9)
    assert path.stat().st_size == size
    assert part_problem(tmp_path, 0) == CORRUPT and not part_done(tmp_path, 0)
    assert part_problem(tmp_path, 0, check_contents=False) is None  # sizes alone cannot tell


def test_the_checksums_recorded_are_xxh3_of_the_files(tmp_path):
    import xxhash

    write_part(tmp_path, 2, np.arange(5), np.ones((5, 3), np.float32))
    recorded = json.loads(marker_path(tmp_path, 2).read_text())
    array, ids = part_files(tmp_path, 2)
    assert recorded["array_xxh3_128"] == xxhash.xxh3_128(array.read_bytes()).hexdigest()
    assert recorded["ids_xxh3_128"] == xxhash.xxh3_128(ids.read_bytes()).hexdigest()


def test_a_marker_without_checksums_is_still_read_by_sizes(tmp_path):
    """Stores written before checksums were recorded stay readable (sizes checked, bytes not)."""
    write_part(tmp_path, 0, np.arange(10), np.ones((10, 8), np.uint8))
    marker = marker_path(tmp_path, 0)
    recorded = json.loads(marker.read_text())
    marker.write_text(json.dumps({k: recorded[k] for k in ("rows", "array_bytes", "ids_bytes")}))
    assert part_done(tmp_path, 0)
    array, _ = part_files(tmp_path, 0)
    array.write_bytes(array.read_bytes()[:-1])
    assert part_problem(tmp_path, 0) == RESIZED
