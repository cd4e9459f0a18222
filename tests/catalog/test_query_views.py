"""The views `thresher query` adds answer what users ask first (hardening item 12): a sample's file and
class name, a score's source."""

from __future__ import annotations

from tests.conftest import fake_clustering
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.query import run_query


def test_samples_name_their_file_and_class(workspace, image_folder):
    source = ingest(workspace, IngestConfig(source=str(image_folder))).source_id
    rows = run_query(
        workspace, f"SELECT file, label, label_name FROM samples WHERE source = '{source}' ORDER BY file"
    ).rows
    files = sorted(str(p.relative_to(image_folder)) for p in image_folder.rglob("*.png"))
    assert [r[0] for r in rows] == files
    assert all(r[2] == r[0].split("/")[0] for r in rows)  # the class is the file's folder


def test_scores_carry_their_source(mnist_lt):
    fake_clustering(mnist_lt, "mnist-lt")
    rows = run_query(mnist_lt, "SELECT DISTINCT source FROM scores").rows
    assert rows == [("mnist-lt",)]
    sizes = run_query(mnist_lt, "SELECT sum(size) FROM clusters").rows
    assert sizes == [(1703,)]
