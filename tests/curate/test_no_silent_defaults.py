"""Issue: silent defaults. With several clusterings or embeddings and none named, thresher refuses to
guess and lists them; with one it uses it and says which."""

from __future__ import annotations

import pytest

from tests.conftest import fake_clustering
from thresher.catalog.embeddings import embeddings_path, register_embeddings
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.errors import ThresherError


def test_select_refuses_to_guess_between_clusterings(clustered):
    fake_clustering(clustered, "mnist-lt", run_id="cluster-other", seed=3)
    with pytest.raises(
        ThresherError,
        match=r"2 cluster runs \(cluster-test \(embedder=fake k=10\), cluster-other \(embedder=fake k=10\)\): "
        r"pass --clustering",
    ):
        select(clustered, SelectConfig(name="a", method="cluster", ratio=0.5))
    chosen = select(
        clustered, SelectConfig(name="a", method="cluster", ratio=0.5, clustering="cluster-other")
    )
    assert chosen.clustering == "cluster-other"
    assert "clustering cluster-other: k=10 on fake" in chosen.lines()[0]
    # A selection that needs no clusters does not fail; it just labels no clusters in its stats.
    plain = select(clustered, SelectConfig(name="r", method="random", ratio=0.5))
    assert plain.clustering is None


def test_one_clustering_is_used_and_named(clustered):
    result = select(clustered, SelectConfig(name="a", method="cluster", ratio=0.5))
    assert result.clustering == "cluster-test" and "k=10" in result.lines()[0]


def test_embeddings_are_not_guessed_when_there_are_several(mnist_lt, tmp_path):
    for name in ("pixels", "hog"):
        register_embeddings(mnist_lt, "mnist-lt", name, tmp_path / name, 4, 10, True, None)
    with pytest.raises(ThresherError, match=r"several embeddings \(pixels, hog\): pass --embedder"):
        embeddings_path(mnist_lt, "mnist-lt", None)
    assert embeddings_path(mnist_lt, "mnist-lt", "hog")[0] == "hog"


@pytest.mark.parametrize(("command", "option"), [("cluster", "--embedder"), ("select", "--clustering")])
def test_help_says_the_default_is_the_only_run_not_the_latest(tmp_path, command, option):
    """Hardening item 13: the help said "the source's latest" where the command refuses to guess."""
    from click.testing import CliRunner

    from thresher.cli import main

    shown = CliRunner().invoke(
        main, ["--workspace", str(tmp_path / "ws"), command, "--help"], terminal_width=300
    )
    line = next(line for line in shown.output.splitlines() if option in line)
    assert "only one" in line and "latest" not in line, line
