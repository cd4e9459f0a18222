"""The score-method registry: every module under curate/scores that defines METHODS is found."""

from __future__ import annotations

import pkgutil

import pytest

import thresher.curate.scores as scores_package
from thresher.curate.scores.registry import KEEP_ALIASES, get_method, keep_rule, registry
from thresher.errors import ThresherError


def test_every_methods_module_is_registered_and_nothing_else():
    expected = set()
    for info in pkgutil.iter_modules(scores_package.__path__):
        module = __import__(f"thresher.curate.scores.{info.name}", fromlist=["METHODS"])
        expected.update(m.name for m in getattr(module, "METHODS", []))
    assert set(registry()) == expected
    assert {"random", "cluster", "dedup"} <= expected


def test_declarations_are_consistent():
    for method in registry().values():
        assert method.default_keep in KEEP_ALIASES
        assert method.order_column in ("score", "distance")
        assert callable(method.scores)
    assert get_method("cluster").needs == {"clusters"}
    assert get_method("dedup").threshold is not None and not get_method("dedup").takes_count
    assert get_method("random").takes_count


def test_keep_rules_and_their_aliases():
    cluster = get_method("cluster")
    assert keep_rule(cluster, None) == "low"  # nearest to the centroid
    assert keep_rule(cluster, "furthest") == "high" and keep_rule(cluster, "middle") == "middle"
    with pytest.raises(ThresherError, match="unknown --keep"):
        keep_rule(cluster, "sideways")


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ThresherError, match="unknown method 'nope'; choose one of: .*cluster"):
        get_method("nope")


def test_every_module_that_defines_methods_is_a_family_and_lookups_stay_light():
    import importlib
    import pkgutil
    import subprocess
    import sys

    import thresher.curate.scores as package
    from thresher.curate.scores.registry import FAMILIES

    defining = {
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if hasattr(importlib.import_module(f"{package.__name__}.{info.name}"), "METHODS")
    }
    assert defining == set(FAMILIES)
    # a method lookup (what `select --method cluster` does first) imports neither torch nor scikit-learn
    probe = ("import sys; from thresher.curate.scores.registry import get_method; get_method('cluster'); "
             "print(sorted(m for m in ('torch', 'sklearn', 'scipy.linalg') if m in sys.modules))")  # fmt: skip
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"
    )
