"""``ids``: keep exactly the sample ids a file lists, such as a lasso drawn on the embedding map
(docs/architecture.md, 'The embedding map'); ``--inverse`` keeps every other ok row.

The file decides what is kept, as ε does for dedup, so the method takes no ``--ratio``, ``--keep-count``
or ``--balance``. ``--polygon`` and ``--layout`` record where the ids came from (the lasso's vertices in
the layout's coordinates, and that layout); they go into the subset's parameters and card, and decide
nothing. The score run (:mod:`thresher.curate.scores.id_list`) scores a listed row 0 and every other ok
row 1, and the threshold keeps the zeros.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from thresher.catalog.names import check_name
from thresher.config_field import setting
from thresher.curate.scores.registry import ScoreMethod
from thresher.errors import ThresherError

MAX_POLYGON_VERTICES = 10_000


@dataclass
class IdsOptions:
    """The file of ids, and the lasso they were drawn with."""

    ids_file: str | None = setting(
        None,
        "the sample ids to keep: a Parquet file (a sample_id column) or text/CSV (one id per line).",
        flag="--ids",
        metavar="FILE",
        path="read",
    )
    polygon: str | None = setting(
        None, "the lasso the ids were drawn with, recorded in the card: JSON [[x, y], ...] on --layout."
    )
    layout: str | None = setting(None, "the layout (a `thresher layout` run) --polygon was drawn on.")

    def __post_init__(self) -> None:
        if self.ids_file is None:
            raise ThresherError("--method ids needs --ids FILE: the sample ids to keep")
        if (self.polygon is None) != (self.layout is None):
            raise ThresherError(
                "--polygon and --layout go together: a polygon means something only on its layout"
            )
        if self.polygon is not None:
            parse_polygon(self.polygon)
        if self.layout is not None:
            check_name(self.layout, "layout id")


def parse_polygon(text: str | list) -> list[list[float]]:
    """A polygon's vertices from JSON ``[[x, y], ...]`` (or the list itself): at least three, finite, at
    most :data:`MAX_POLYGON_VERTICES`; a one-line error otherwise."""
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except ValueError:
            raise ThresherError("--polygon must be JSON: [[x, y], [x, y], [x, y], ...]") from None
    else:
        value = text
    if not isinstance(value, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(_is_number(c) for c in p) for p in value
    ):
        raise ThresherError("--polygon must be a list of [x, y] pairs of finite numbers")
    if not 3 <= len(value) <= MAX_POLYGON_VERTICES:
        raise ThresherError(f"--polygon needs 3 to {MAX_POLYGON_VERTICES} vertices, got {len(value)}")
    return [[float(x), float(y)] for x, y in value]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _threshold(_options: IdsOptions) -> float:
    return 0.5  # listed rows score 0, the others 1


METHODS = [
    ScoreMethod(
        name="ids",
        summary="exactly the sample ids of a file (a lasso on the embedding map); --inverse keeps the rest",
        scores="thresher.curate.scores.id_list:id_list_scores",
        default_keep="low",
        threshold=_threshold,
        options=IdsOptions,
        recorded_only=frozenset({"polygon", "layout"}),
    )
]
