"""Comparing two folders of parts (an embedding or image store) written by different process layouts.

A deterministic computation (HOG, pixels, a store's decoded rows) must come out byte for byte the same
whatever the processes. A network's float output need not: a process with fewer cores (a Slurm task
confined to one CPU) sums in another order, so its embeddings differ in the last bits on some CPUs
(AVX2 against AVX-512). There every file but the arrays and their checksums must still be identical, and
the arrays equal within float32 rounding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def assert_same_parts(ours: Path, theirs: Path, *, exact: bool = True) -> None:
    """``ours`` holds what ``theirs`` holds: byte for byte, or (``exact=False``) with the ``part-*.npy``
    arrays equal within float32 rounding and the markers equal but for the arrays' checksums."""
    a, b = files(ours), files(theirs)
    assert sorted(a) == sorted(b)
    if exact:
        assert a == b
        return
    for name in a:
        if name.endswith(".npy"):
            x, y = np.load(ours / name), np.load(theirs / name)
            assert x.shape == y.shape and x.dtype == y.dtype, name
            np.testing.assert_allclose(
                x, y, rtol=1e-4, atol=1e-5 * float(np.abs(y).max() or 1.0), err_msg=name
            )
        elif name.startswith("_SUCCESS"):
            marker_a, marker_b = json.loads(a[name]), json.loads(b[name])
            marker_a.pop("array_xxh3_128", None)
            marker_b.pop("array_xxh3_128", None)
            assert marker_a == marker_b, name
        else:
            assert a[name] == b[name], name
