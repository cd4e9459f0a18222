"""Two CPU processes over gloo (`accelerate launch --num_processes 2 thresher embed`): the same store as one
process, parts dealt to the ranks, one catalog row."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.part_folders import assert_same_parts
from tests.two_processes import launch_two
from thresher.catalog.workspace import Workspace


@pytest.mark.slow
def test_two_processes_embed_what_one_process_embeds(mnist_lt, tmp_path):
    two = Workspace(tmp_path / "two")
    shutil.copytree(mnist_lt.root, two.root)
    args = ("embed", "--embedder", "hog", "--part-size", "400", "--num-workers", "0", "--device", "cpu")
    launch_two("-m", "thresher.cli", "--workspace", str(two.root), *args)
    one = subprocess.run([sys.executable, "-m", "thresher.cli", "--workspace", str(mnist_lt.root), *args],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert one.returncode == 0, one.stderr[-2000:]
    folders = [ws.root / "embeddings" / "mnist-lt" / "hog" for ws in (mnist_lt, two)]
    assert len(list(folders[0].glob("part-*.npy"))) == 5  # 1703 rows in parts of 400
    assert_same_parts(folders[1], folders[0])  # HOG is deterministic: byte for byte
    with two.connect(read_only=True) as con:  # only the main process registered them
        assert con.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 1
