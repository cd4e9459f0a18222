"""Catalog reads are answered from a cache kept per catalog snapshot: repeated reads hit it, a commit
invalidates it, and nothing that follows other files is cached."""

from __future__ import annotations

from tests.service.conftest import make_client
from thresher.curate.config import SelectConfig
from thresher.curate.select import select


def _cache(client):
    app = client.app  # the guard
    return app.app  # the read cache in front of the routes


def test_a_repeated_read_is_served_from_the_cache_until_the_catalog_changes(mnist_lt):
    with make_client(mnist_lt.root) as client:
        cache = _cache(client)
        first = client.get("/api/subsets").json()
        assert client.get("/api/subsets").json() == first == []
        assert cache.hits >= 1
        select(mnist_lt, SelectConfig(name="fresh", method="random", ratio=0.5))  # a commit by another writer
        import time

        time.sleep(0.3)  # the snapshot's stamp is looked at every 0.2 s
        after = client.get("/api/subsets").json()
        assert [s["name"] for s in after] == ["fresh"]


def test_job_reads_are_never_cached(mnist_lt):
    with make_client(mnist_lt.root) as client:
        cache = _cache(client)
        before = (cache.hits, cache.misses)
        client.get("/api/jobs")
        client.get("/api/jobs")
        assert (cache.hits, cache.misses) == before
