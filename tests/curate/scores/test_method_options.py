"""Method options: declared once by the method, assembled into the select and score configs, refused where
they mean nothing, and recorded only for the method that takes them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from thresher.catalog.names import config_hash
from thresher.config_field import setting
from thresher.curate.config import ScoreRunConfig, SelectConfig
from thresher.curate.scores.methods.dedup import DedupOptions
from thresher.curate.scores.registry import ScoreMethod, gradient_methods, merged_options, registry
from thresher.errors import ThresherError


def test_every_registered_option_is_a_select_field_with_its_one_default():
    fields = SelectConfig.__dataclass_fields__
    for method in registry().values():
        for name in method.option_names:
            assert fields[name].default == method.options.__dataclass_fields__[name].default, name
    assert SelectConfig(name="s", method="dedup").epsilon == DedupOptions().epsilon == 0.05


def test_an_option_given_to_a_method_that_does_not_take_it_is_refused_in_one_line():
    with pytest.raises(ThresherError, match=r"^--epsilon applies to dedup only$"):
        SelectConfig(name="s", method="random", ratio=0.5, epsilon=0.2)
    with pytest.raises(ThresherError, match=r"^--params applies to grand/moso only$"):
        SelectConfig(name="s", method="el2n", ratio=0.5, params="last-block")
    with pytest.raises(ThresherError, match=r"^--shrinkage applies to gaussian only$"):
        SelectConfig(name="s", method="moderate", ratio=0.5, shrinkage="0.5")
    with pytest.raises(ThresherError, match=r"^--checkpoint applies to el2n/grand only$"):
        ScoreRunConfig(method="moso", checkpoint=0)
    # The default value of another method's option is what every request carries: not a refusal.
    SelectConfig(name="s", method="random", ratio=0.5, epsilon=0.05)


def test_method_options_are_exactly_the_methods_own():
    required = {"ids": {"ids_file": "ids.txt"}}  # the one option a method cannot do without
    options = {
        name: set(
            SelectConfig(
                name="s",
                method=name,
                ratio=0.5 if registry()[name].takes_count else None,
                **required.get(name, {}),
            ).method_options()
        )  # fmt: skip
        for name in registry()
    }
    assert options["random"] == options["cluster"] == set()
    assert options["dedup"] == {"epsilon"}
    assert options["el2n"] == {"pretrain", "checkpoint"} and options["monotonicity"] == {"pretrain"}
    assert options["grand"] == {"pretrain", "params", "checkpoint"} and options["moso"] == {
        "pretrain",
        "params",
    }
    assert options["gaussian"] == {"embedder", "shrinkage"} and options["moderate"] == {"embedder"}
    assert options["ids"] == {"ids_file", "polygon", "layout"}


def test_option_values_are_validated_by_the_method_that_takes_them():
    with pytest.raises(ThresherError, match=r"--epsilon 1.5 is outside \[0, 1\)"):
        SelectConfig(name="s", method="dedup", epsilon=1.5)
    with pytest.raises(ThresherError, match="--params 'some' names nothing; choose one of: all, last-block"):
        SelectConfig(name="s", method="grand", ratio=0.5, params="some")
    with pytest.raises(ThresherError, match="dedup keeps what --epsilon decides: it takes no --ratio"):
        SelectConfig(name="s", method="dedup", ratio=0.5)


def test_a_gradient_run_is_keyed_as_before_the_signal_was_data():
    """The score-run identity decides reuse: the same keys (so the same config hashes) as the hand-written
    method checks it replaces gave, for every gradient method."""
    for method in gradient_methods():
        config = ScoreRunConfig(method=method.name)
        before = {"method": method.name, "source": "s", "pretrain": "p"}
        if method.name in ("grand", "moso"):
            before["params"] = "all"
        if method.name in ("el2n", "grand"):
            before["checkpoint"] = -1
        assert config_hash(config.identity("s", "p")) == config_hash(before), method.name
    assert {m.name for m in gradient_methods()} == {"el2n", "grand", "monotonicity", "moso"}


def _method(name: str, options: type) -> ScoreMethod:
    return ScoreMethod(name=name, summary="", scores=lambda ws, context: "", options=options)


def test_two_methods_share_an_option_only_when_they_declare_it_identically():
    @dataclass
    class One:
        width: int = setting(3, "how wide.")

    @dataclass
    class Same:
        width: int = setting(3, "how wide.")

    @dataclass
    class Other:
        width: int = setting(4, "how wide.")

    shared = merged_options([_method("a", One), _method("b", Same)])
    assert [(o.name, o.methods) for o in shared] == [("width", ("a", "b"))]
    with pytest.raises(ValueError, match="option 'width' of score method 'c' differs from the one of 'a'"):
        merged_options([_method("a", One), _method("c", Other)])


def test_a_method_option_without_a_default_is_refused_when_declared():
    @dataclass
    class Required:
        width: int = setting(help="how wide.")

    with pytest.raises(ValueError, match="option 'width' needs a default"):
        _method("a", Required)
