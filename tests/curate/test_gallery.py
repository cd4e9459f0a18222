"""Galleries (issue 16): every published version carries its pictures; select --preview shows them without
creating anything; missing images, no labels and many clusters still render."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fake_clustering
from thresher.curate.config import PublishConfig, SelectConfig
from thresher.curate.gallery import PER_SIDE, THUMB, write_gallery
from thresher.curate.publish import publish
from thresher.curate.select import select


@pytest.fixture
def chosen(mnist_lt):
    fake_clustering(mnist_lt, "mnist-lt")  # clusters = labels, 10 of them
    return mnist_lt, select(mnist_lt, SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.8))


def test_published_version_shows_kept_beside_removed_per_cluster(chosen, tmp_path):
    ws, subset = chosen
    result = publish(ws, PublishConfig(ref=subset.ref, to=str(tmp_path / "pub"), gallery_clusters=4))
    bundle = tmp_path / "pub" / "v1"
    card = (bundle / "README.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\((gallery/[^)]+\.png)\)", card)
    assert len(linked) == 2 + 4  # score histogram, shares, the 4 largest clusters
    assert all((bundle / link).is_file() for link in linked) and "gallery/index.html" in result.files
    # The largest cluster of mnist-lt's fake clustering is class 0 (500 rows): its strip is first.
    assert "cluster 0: 500 -&gt; " in card and "majority 0 (100%)" in card  # ">" as a character reference
    strip = Image.open(bundle / "gallery" / "cluster-0000.png")
    assert strip.height >= 2 * THUMB and strip.width >= PER_SIDE * THUMB
    page = (bundle / "gallery" / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 6 and "6 smaller clusters are not shown" in page
    assert sum(p.stat().st_size for p in (bundle / "gallery").iterdir()) < 600_000


def test_preview_creates_no_version(chosen):
    ws, _ = chosen
    preview = select(ws, SelectConfig(name="peek", method="random", ratio=0.5, preview=True))
    assert preview.preview and preview.path.name == "index.html" and preview.path.is_file()
    assert "not created" in preview.lines()[0]
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM subsets WHERE name = 'peek'").fetchone()[0] == 0
    assert not (ws.root / "subsets" / "peek").exists()
    made = select(ws, SelectConfig(name="peek", method="random", ratio=0.5))
    assert made.version == 1  # the preview took no version number


def test_gallery_renders_without_images_or_labels(chosen, tmp_path):
    ws, subset = chosen
    stats = {"source": "mnist-lt", "params": {"clustering": "cluster-test"}, "score_run": subset.score_run,
             "name": "eq", "version": 1, "n_kept": subset.n, "n_source": subset.n_source, "method": "cluster"}  # fmt: skip
    kept = np.arange(0, 1703, 3)
    shutil.rmtree(ws.source_dir("mnist-lt") / "dataset")  # the source's images are gone
    with ws.connect() as con:
        con.execute("UPDATE samples SET label = NULL")  # and it has no labels
    files = write_gallery(ws, stats, kept, tmp_path / "g", max_clusters=2)
    captions = [c for c, _ in files.images]
    assert len(captions) == 2 + 2 and not any("majority" in c or "class" in c for c in captions)  # no labels
    strip = np.asarray(Image.open(tmp_path / "g" / "cluster-0000.png").convert("L"))
    assert (strip == 200).mean() > 0.3  # grey placeholder tiles


def test_shares_figure_names_fifty_labels_without_overlap():
    """Hardening item 10: 16 category names overlapped on the x axis; 50 must each be readable."""
    from thresher.curate.gallery import shares_figure

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 50, 2000)
    names = [f"category-with-a-long-name-{i:02d}" for i in range(50)]
    kept = rng.random(2000) < 0.5
    fig = shares_figure(None, labels, names, kept)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    shown = [t for t in ax.get_yticklabels() if t.get_text()]
    assert sorted(t.get_text() for t in shown) == sorted(names)
    boxes = sorted((t.get_window_extent(renderer) for t in shown), key=lambda b: b.y0)
    assert all(low.y1 <= high.y0 + 0.5 for low, high in zip(boxes, boxes[1:], strict=False))
    figure_box = fig.bbox
    assert all(b.x0 >= figure_box.x0 and b.y0 >= figure_box.y0 and b.y1 <= figure_box.y1 for b in boxes)


def test_score_lookup_by_id_matches_a_dict_with_missing_ids_and_nulls():
    from thresher.curate.gallery import _by_id

    rng = np.random.default_rng(0)
    ids = rng.permutation(1000)[:600].astype(np.int64)  # any order, some ids absent
    values = rng.normal(size=600)
    values[::50] = np.nan  # a null score
    wanted = np.arange(1000, dtype=np.int64)
    expected = {int(i): v for i, v in zip(ids, values, strict=True)}
    got = _by_id(ids, values, wanted, -7.0, np.float64)
    want = [expected.get(int(i), -7.0) for i in wanted]
    want = [-7.0 if np.isnan(v) else v for v in want]
    np.testing.assert_array_equal(got, want)
    clusters = _by_id(ids, (ids % 13).astype(np.int32), wanted, -1, np.int64)
    assert clusters.dtype == np.int64
    assert [int(c) for c in clusters] == [int(i) % 13 if int(i) in expected else -1 for i in wanted]
    assert len(_by_id(np.array([], np.int64), np.array([]), wanted, -1, np.int64)) == 1000
