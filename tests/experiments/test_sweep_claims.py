"""The claim checks: a difference holds only beyond the seeds' spread, in the claimed direction."""

from __future__ import annotations

from thresher.experiments.sweep_claims import BASELINE, NO_VERDICT, check_claims, compare, rare_classes_of


def _rec(series, ratio, seed, fid, memo=1.0, rare_train=0.06, rare_gen=0.05):
    return {
        "series": series, "ratio": ratio, "seed": seed,
        "metrics": {
            "fid": fid, "memorization_ratio": memo, "class_ids": [0, 1, 2],
            "class_share_train": [0.9 - rare_train, 0.1, rare_train],
            "class_share_gen": [0.9 - rare_gen, 0.1, rare_gen],
        },
    }  # fmt: skip


def test_compare_uses_the_spread() -> None:
    assert compare("x", [10, 12], [20, 22], True).verdict == "holds"  # 10 apart, spread 2
    assert compare("x", [10, 20], [14, 16], True).verdict == "not resolved"  # spread 6 > gap 0
    assert compare("x", [30, 32], [20, 22], True).verdict == "reversed"
    assert compare("x", [0.3, 0.31], [0.1, 0.11], False).verdict == "holds"
    c = compare("x", [1.0, 3.0], [5.0, 5.0], True)
    assert (c.a, c.b, c.spread) == (2.0, 5.0, 1.0)


def test_claims_on_a_constructed_grid() -> None:
    records = [_rec(BASELINE, 0.0, s, 100 + s) for s in (0, 1)]
    for s in (0, 1):
        records += [
            _rec("cluster-proportional", 0.5, s, 101 + s, rare_train=0.06),
            _rec("cluster-proportional (inverse)", 0.5, s, 150 + s),
            _rec("cluster-equal", 0.5, s, 105 + s, rare_train=0.12, rare_gen=0.10),
            _rec("random", 0.5, s, 120 + s),
            _rec("random", 0.9, s, 200 + s, memo=0.5),
            _rec("cluster-proportional", 0.9, s, 180 + s, memo=0.6),
        ]
    claims = {c.number: c for c in check_claims(records, [2])}
    assert (
        "random: 0.5" in claims[1].note and "cluster-proportional: 0.9" in claims[1].note
    )  # 101.5 is in the band
    assert claims[2].verdict.startswith("holds")  # 101.5 vs 120.5 and 180.5 vs 200.5, spread 1
    assert claims[3].verdict.startswith("holds")
    assert all(c.verdict == "holds" for c in claims[4].comparisons) and len(claims[4].comparisons) == 2
    kinds = {c.what.split(",")[0]: c.verdict for c in claims[5].comparisons}
    assert kinds == {"train rare share": "holds", "generated rare share": "holds"}
    assert rare_classes_of(records) == [2]


def test_one_seed_on_either_side_gives_no_verdict() -> None:
    # A spread of 0 would make any difference "hold" or be "reversed": one seed cannot tell.
    assert compare("x", [0.3], [0.1], False).verdict == NO_VERDICT
    assert compare("x", [10.0, 12.0], [30.0], True).verdict == NO_VERDICT
    records = [_rec(BASELINE, 0.0, 0, 100.0), _rec("random", 0.5, 0, 200.0, memo=0.5)]
    claims = {c.number: c for c in check_claims(records, [2])}
    assert [c.verdict for c in claims[1].comparisons] == [NO_VERDICT]
    assert claims[1].verdict.startswith(NO_VERDICT) and claims[4].verdict.startswith(NO_VERDICT)
