"""Two CPU processes over gloo (`accelerate launch --num_processes 2`) build a source's pixel and latent
stores: the same files as one process (the latents' floats within rounding), the parts dealt to the ranks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.part_folders import assert_same_parts
from tests.two_processes import launch_two
from thresher.catalog.image_store_build import open_store
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.workspace import Workspace
from thresher.train.latents import VaeEncoder

DRIVER = Path(__file__).with_name("store_driver.py")


@pytest.mark.slow  # two fresh interpreters importing torch + diffusers: ~1 min on 2 shared cores
def test_two_processes_build_the_stores_one_process_builds(mnist_lt, tmp_path, tiny_vae_path):
    import json

    two = Workspace(tmp_path / "two")
    shutil.copytree(mnist_lt.root, two.root)
    launch_two(str(DRIVER), "--workspace", str(two.root), "--vae", str(tiny_vae_path), "--out", str(tmp_path))
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    for name in ("pixels", "latents"):  # the 7 parts were dealt to the ranks in turn ...
        assert ranks[0][name].pop("written") == [0, 2, 4, 6] and ranks[1][name].pop("written") == [1, 3, 5]
    assert ranks[0] == ranks[1]  # ... and both processes then read every row, the same rows
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    for name, encoder in (("pixels", None), ("latents", VaeEncoder(str(tiny_vae_path), "cpu"))):
        one = open_store(mnist_lt, "mnist-lt", ids, size=16, encoder=encoder, part_rows=256, device="cpu")
        built = Path(ranks[0][name]["folder"])
        assert built.name == one.folder.name
        # Pixels byte for byte, markers included; the autoencoder's latents within float32 rounding, as an
        # accelerate rank runs on fewer threads and sums in another order on some CPUs (tests/part_folders.py).
        assert_same_parts(built, one.folder, exact=encoder is None)
        assert len(list(built.glob("part-*.npy"))) == -(-int(ids.max() + 1) // 256)
