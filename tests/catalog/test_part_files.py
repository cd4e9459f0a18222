"""Part files: atomic writes with size-checked markers, and positioned reads of rows."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.catalog.part_files import ArrayFile, part_done, part_files, write_part
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
