"""`thresher store`: a dataset's image store built ahead of training, reused by training, bad input one line."""

from __future__ import annotations

from click.testing import CliRunner

from thresher.catalog.part_files import part_files
from thresher.cli import main
from thresher.dataset_resolution import resolve_dataset
from thresher.train.train_run import prepare_training_data


def _cli(ws, *args: str):
    result = CliRunner().invoke(main, ["-w", str(ws.root), *args])
    return result.exit_code, result.output


def test_store_builds_once_and_training_reads_it(mnist_lt, tiny_vae_path):
    code, out = _cli(mnist_lt, "store", "-d", "mnist-lt", "--image-size", "16", "--num-workers", "0")
    assert code == 0, out
    assert "mnist-lt: 1703 rows of 16×16×1 pixel in 1 parts" in out
    folder = next((mnist_lt.root / "cache" / "stores" / "mnist-lt").iterdir())
    array, _ = part_files(folder, 0)
    stamp = array.stat().st_mtime_ns
    data = prepare_training_data(mnist_lt, resolve_dataset(mnist_lt, "mnist-lt"), image_size=16, vae=None,
                                 autoencoder=None, model_size="DiT-T/2", device="cpu")  # fmt: skip
    assert data.images.view.folder == folder and array.stat().st_mtime_ns == stamp  # reused, not rebuilt
    code, out = _cli(mnist_lt, "store", "-d", "mnist-lt", "--image-size", "16", "--vae", str(tiny_vae_path))
    assert code == 0 and "1703 rows of 4×8×8 latent" in out, out


def test_bad_store_requests_are_one_line(mnist_lt, tmp_path):
    for args, message in (
        (("-d", "nope"), "error: "),
        (("-d", "mnist-lt", "--vae", str(tmp_path / "missing")), "error: cannot load the VAE"),
        (("-d", "mnist-lt", "--image-size", "0"), "error: --image-size must be at least 1"),
    ):
        code, out = _cli(mnist_lt, "store", *args)
        assert code == 2 and "Traceback" not in out, out
        assert [line for line in out.splitlines() if line.startswith("error:")][0].startswith(message)


def test_status_lists_the_stores(mnist_lt):
    assert "image stores:\n  none" in _cli(mnist_lt, "status")[1]
    _cli(mnist_lt, "store", "-d", "mnist-lt", "--image-size", "16", "--num-workers", "0")
    line = _cli(mnist_lt, "status")[1].split("image stores:\n")[1].splitlines()[0]
    assert line.split()[:3] == ["mnist-lt", "pixels", "16px"] and "1703 rows in 1 part " in line
