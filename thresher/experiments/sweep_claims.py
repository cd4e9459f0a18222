"""The first paper's five claims, checked against a sweep's cells with the seeds' spread as the yardstick.

Each comparison is between two means over seeds; the *spread* is the sum of the two standard deviations
over seeds (population std, so with two seeds it is half their range each). A difference counts as
holding only when it exceeds that spread in the claimed direction; within the spread it is "not resolved"
(the seeds cannot tell), and beyond it in the other direction "reversed". With one seed on either side
there is no spread to measure against (its std is 0, so any difference would "hold" or be "reversed"):
such a comparison's verdict is "one seed: no verdict".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BASELINE = "full data"
NO_VERDICT = "one seed: no verdict"
VERDICTS = ("holds", "not resolved", "reversed", NO_VERDICT)


@dataclass
class Comparison:
    what: str
    a: float
    b: float
    spread: float
    verdict: str  # holds | not resolved | reversed | one seed: no verdict

    def line(self, fmt: str = ".3g") -> str:
        return f"{self.what}: {self.a:{fmt}} vs {self.b:{fmt}} (spread {self.spread:{fmt}}) → {self.verdict}"


@dataclass
class Claim:
    number: int
    statement: str
    verdict: str
    comparisons: list[Comparison]
    note: str = ""


def values(records: Sequence[dict[str, Any]], metric: str) -> dict[tuple[str, float], list[float]]:
    """(series, ratio) → the metric's values over seeds."""
    out: dict[tuple[str, float], list[float]] = defaultdict(list)
    for r in records:
        v = r["metrics"].get(metric)
        if isinstance(v, int | float) and np.isfinite(v):
            out[(r["series"], r["ratio"])].append(float(v))
    return out


def compare(what: str, a: list[float], b: list[float], a_better_when_lower: bool) -> Comparison:
    """Is ``a`` better than ``b`` beyond the seeds' spread? No verdict where either side has one seed."""
    mean_a, mean_b = float(np.mean(a)), float(np.mean(b))
    spread = float(np.std(a) + np.std(b))
    gain = (mean_b - mean_a) if a_better_when_lower else (mean_a - mean_b)
    if min(len(a), len(b)) < 2:
        verdict = NO_VERDICT
    else:
        verdict = "holds" if gain > spread else ("reversed" if gain < -spread else "not resolved")
    return Comparison(what, mean_a, mean_b, spread, verdict)


def _summary(comparisons: list[Comparison]) -> str:
    if not comparisons:
        return "not measured"
    counts = {v: sum(c.verdict == v for c in comparisons) for v in VERDICTS}
    if counts[NO_VERDICT] == len(comparisons):
        return f"{NO_VERDICT} ({len(comparisons)} comparisons; run two seeds or more)"
    if counts["holds"] == len(comparisons):
        return f"holds ({len(comparisons)}/{len(comparisons)} comparisons)"
    text = (
        f"holds in {counts['holds']}/{len(comparisons)}, not resolved in {counts['not resolved']}, "
        f"reversed in {counts['reversed']}"
    )
    return text + (f", {NO_VERDICT} in {counts[NO_VERDICT]}" if counts[NO_VERDICT] else "")


def check_claims(records: Sequence[dict[str, Any]], rare_classes: Sequence[int] | None) -> list[Claim]:
    fid = values(records, "fid")
    series = sorted({r["series"] for r in records if r["series"] != BASELINE})
    ratios = sorted({r["ratio"] for r in records if r["series"] != BASELINE})
    baseline = fid.get((BASELINE, 0.0), [])
    claims = []

    # (1) Tolerance to pruning: the first ratio at which a method's FID leaves the baseline's band.
    comps = []
    note = ""
    if baseline:
        band_hi = float(np.mean(baseline) + 2 * np.std(baseline))
        leaves = []
        for s in series:
            for ratio in ratios:
                if (s, ratio) in fid:
                    comps.append(
                        compare(f"{s} at ratio {ratio:g} vs full data", fid[(s, ratio)], baseline, True)
                    )
            out = [r for r in ratios if (s, r) in fid and np.mean(fid[(s, r)]) > band_hi]
            leaves.append(f"{s}: {'never' if not out else f'{out[0]:g}'}")
        note = (
            f"baseline FID {np.mean(baseline):.1f} ± {np.std(baseline):.1f}; band upper edge (mean + 2 std) "
            f"{band_hi:.1f}. First ratio at which the mean FID leaves the band: " + "; ".join(leaves)
        )
        judged = [c for c in comps if c.verdict != NO_VERDICT]
        within = sum(c.verdict != "reversed" for c in judged)
        if comps and not judged:
            verdict = f"{NO_VERDICT} ({len(comps)} (method, ratio) cells; run two seeds or more)"
        else:
            verdict = (
                f"{within}/{len(judged)} (method, ratio) cells are not worse than the full data beyond the spread"
            ) + (f"; {NO_VERDICT} for {len(comps) - len(judged)}" if len(judged) < len(comps) else "")
    else:
        verdict = "not measured (no baseline cell)"
    claims.append(Claim(1, "diffusion models tolerate heavy pruning", verdict, comps, note))

    # (2) cluster-nearest beats random and the gradient methods.
    cluster = [s for s in series if s.startswith("cluster") and "inverse" not in s and "middle" not in s
               and "equal" not in s]  # fmt: skip
    rivals = [s for s in series if s.startswith(("random", "el2n", "grand", "monotonicity", "moso"))
              and "inverse" not in s and "middle" not in s]  # fmt: skip
    comps = [
        compare(f"{c} vs {r} at {ratio:g}", fid[(c, ratio)], fid[(r, ratio)], True)
        for c in cluster for r in rivals for ratio in ratios if (c, ratio) in fid and (r, ratio) in fid
    ]  # fmt: skip
    claims.append(
        Claim(2, "cluster-nearest beats random and the gradient methods (FID)", _summary(comps), comps)
    )

    # (3) each method's inverse is worse than the method.
    comps = [
        compare(f"{s} vs its inverse at {ratio:g}", fid[(s, ratio)], fid[(f"{s} (inverse)", ratio)], True)
        for s in series for ratio in ratios if (s, ratio) in fid and (f"{s} (inverse)", ratio) in fid
    ]  # fmt: skip
    claims.append(Claim(3, "each method beats its inverse (FID)", _summary(comps), comps))

    # (4) memorization rises at the highest ratio: generated samples sit closer to their nearest training
    # sample, relative to held-out data (memorization_ratio = gen→train / held-out→train, lower = closer).
    memo = values(records, "memorization_ratio")
    top = ratios[-1] if ratios else None
    comps = [
        compare(f"{s} at {top:g} vs full data", memo[(s, top)], memo[(BASELINE, 0.0)], True)
        for s in series if top is not None and (s, top) in memo and (BASELINE, 0.0) in memo
    ]  # fmt: skip
    claims.append(
        Claim(4, "memorization rises at the highest pruning ratio (NN ratio falls)", _summary(comps), comps)
    )

    # (5) balanced (equal) selection raises the rare classes' share over proportional.
    comps = []
    if rare_classes:
        share = rare_share(records, rare_classes)
        for s in series:
            if "equal" not in s:
                continue
            partner = s.replace("equal", "proportional")
            for ratio in ratios:
                for kind in ("train", "generated"):
                    a, b = share.get((s, ratio, kind)), share.get((partner, ratio, kind))
                    if a and b:
                        comps.append(
                            compare(f"{kind} rare share, {s} vs {partner} at {ratio:g}", a, b, False)
                        )
    claims.append(Claim(5, "balanced selection raises the rare classes' share", _summary(comps), comps))
    return claims


def rare_share(
    records: Sequence[dict[str, Any]], rare_classes: Sequence[int]
) -> dict[tuple[str, float, str], list[float]]:
    """(series, ratio, train|generated) → the rare classes' share over seeds."""
    out: dict[tuple[str, float, str], list[float]] = defaultdict(list)
    for r in records:
        m = r["metrics"]
        ids = [int(i) for i in m.get("class_ids") or []]
        for kind, key in (("train", "class_share_train"), ("generated", "class_share_gen")):
            shares = dict(zip(ids, m.get(key) or [], strict=False))
            if shares:
                out[(r["series"], r["ratio"], kind)].append(
                    sum(shares.get(c, 0.0) or 0.0 for c in rare_classes)
                )
    return out


def rare_classes_of(records: Sequence[dict[str, Any]]) -> list[int] | None:
    """The rarest third of the classes in the full data's training set (mnist-lt: 7, 8, 9)."""
    for r in records:
        if r["series"] == BASELINE:
            ids = [int(i) for i in r["metrics"].get("class_ids") or []]
            shares = r["metrics"].get("class_share_train") or []
            if ids and len(shares) == len(ids):
                order = sorted(zip(shares, ids, strict=True))
                return sorted(i for _, i in order[: max(1, len(ids) // 3)])
    return None
