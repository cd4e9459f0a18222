"""Which evaluations can be averaged or drawn together: those against the same reference, with the same
feature extractor and the same generated and reference sample counts. An FID of 200 samples against one
reference and one of 64 against another are different quantities; their mean (issue 27 saw FID 39 and 260
shown as "150 ± 110") is no measurement at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Comparison = tuple[Any, Any, Any, Any]


Comparison = tuple[Any, Any, Any, Any]


def comparison_of(record: Mapping[str, Any]) -> Comparison:
    """What must be equal for two evaluations' metrics to be averaged or drawn together: the reference,
    the feature extractor, and the generated and reference sample counts."""
    m = record["metrics"]
    return (m.get("against"), m.get("extractor"), m.get("n_generated"), m.get("n_reference"))


def describe_comparison(comparison: Comparison) -> str:
    against, extractor, n_generated, n_reference = comparison
    return (
        f"against {against if against is not None else '(reference not recorded)'}, "
        f"{extractor if extractor is not None else '(extractor not recorded)'} features, "
        f"{n_generated if n_generated is not None else '?'} generated vs "
        f"{n_reference if n_reference is not None else '?'} reference images"
    )


def comparable(
    records: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(the largest group of comparable records, ties going to the group of the newest record; the rest).
    Records come oldest first."""
    groups: dict[Comparison, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        groups[comparison_of(record)].append(index)
    if len(groups) <= 1:
        return list(records), []
    main = max(groups, key=lambda key: (len(groups[key]), groups[key][-1]))
    return (
        [r for r in records if comparison_of(r) == main],
        [r for r in records if comparison_of(r) != main],
    )


def left_out_note(
    drawn: Sequence[Mapping[str, Any]],
    left_out: Sequence[Mapping[str, Any]],
    name: Callable[[Mapping[str, Any]], str],
) -> str | None:
    """One line naming (by ``name``) every record left out of the figures and why, or None."""
    if not left_out:
        return None
    shown = "; ".join(f"{name(r)} ({describe_comparison(comparison_of(r))})" for r in left_out)
    return (
        f"left out of the figures: {len(left_out)} evaluation(s) not comparable with the {len(drawn)} drawn "
        f"({describe_comparison(comparison_of(drawn[0]))}): {shown}. Metrics are averaged only over the "
        "same reference, features and sample counts; the table lists every evaluation"
    )
