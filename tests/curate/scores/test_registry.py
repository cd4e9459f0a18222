"""The score-method registry: every module under curate/scores that defines METHODS is found."""

from __future__ import annotations

import pkgutil

import pytest

import thresher.curate.scores.methods as methods_package
from thresher.curate.scores.registry import KEEP_ALIASES, get_method, keep_rule, registry
from thresher.errors import ThresherError


def test_every_methods_module_is_registered_and_nothing_else():
    expected = set()
    for info in pkgutil.iter_modules(methods_package.__path__):
        module = __import__(f"{methods_package.__name__}.{info.name}", fromlist=["METHODS"])
        expected.update(m.name for m in module.METHODS)
    assert set(registry()) == expected
    assert {"random", "cluster", "dedup", "el2n", "grand", "monotonicity", "moso", "gaussian"} <= expected


def test_declarations_are_consistent():
    for method in registry().values():
        assert method.default_keep in KEEP_ALIASES
        assert method.order_column in ("score", "distance")
        assert callable(method.scorer)  # a "module:function" that names a function
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


def test_select_options_and_method_lookups_stay_light():
    """Building the command line (the registry, every method's options) imports neither torch nor
    scikit-learn: the method modules import their computation when they score."""
    import subprocess
    import sys

    probe = ("import sys; import thresher.cli; from thresher.curate.scores.registry import get_method; "
             "get_method('cluster'); "
             "print(sorted(m for m in ('torch', 'sklearn', 'scipy.linalg', 'faiss') if m in sys.modules))")  # fmt: skip
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"
    )
