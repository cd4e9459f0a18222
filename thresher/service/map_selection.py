"""A lasso or box on the embedding map: the samples inside it, their preview, and saving them as a subset.

The region is a polygon in the layout's coordinates (a box is its four corners), rounded to 7 significant
digits first, so the polygon recorded in the subset's card is exactly the one that chose its ids. Which
points lie inside is decided here, on the stored layout, with matplotlib's point-in-path test on the
points within the polygon's bounding box. A preview is what ``select --preview`` tells (counts per class
and cluster, a gallery of the kept samples) and writes nothing; a save writes the ids to
``selections/<digest>.parquet`` and queues ``select --method ids`` with the polygon and the layout, which
the job machinery runs like any other. A region with no point in it is refused (422) and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from thresher.catalog.browse import require_score_run, require_source
from thresher.catalog.id_lists import write_id_list
from thresher.catalog.names import check_name
from thresher.catalog.point_values import run_values_at
from thresher.catalog.samples import labels_of
from thresher.catalog.workspace import Workspace
from thresher.curate.scores.methods.ids import parse_polygon
from thresher.errors import ConfigError, ThresherError
from thresher.service.map_points import Layout

GALLERY = 24  # samples the preview shows


@dataclass(frozen=True)
class Region:
    polygon: list[list[float]]

    @classmethod
    def from_request(cls, body: dict[str, Any]) -> Region:
        """The region a request body names: ``{"polygon": [[x, y], ...]}`` or ``{"box": [x0, y0, x1, y1]}``."""
        if ("polygon" in body) == ("box" in body):
            raise ConfigError(
                'give "polygon": [[x, y], ...] (a lasso) or "box": [x0, y0, x1, y1]', field="polygon"
            )
        if "box" in body:
            box = body["box"]
            if not isinstance(box, list) or len(box) != 4:
                raise ConfigError('"box" is [x0, y0, x1, y1]', field="box")
            try:
                corners = parse_polygon(
                    [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]]
                )
            except ThresherError:
                raise ConfigError('"box" is [x0, y0, x1, y1] of finite numbers', field="box") from None
            return cls([[_rounded(x), _rounded(y)] for x, y in corners])
        try:
            vertices = parse_polygon(body["polygon"])
        except ThresherError as exc:
            raise ConfigError(str(exc).replace("--polygon", '"polygon"'), field="polygon") from None
        return cls([[_rounded(x), _rounded(y)] for x, y in vertices])

    def json(self) -> str:
        return json.dumps(self.polygon, separators=(",", ":"))


def inside(layout: Layout, region: Region) -> np.ndarray:
    """Positions (into the layout's rows) of the points inside ``region``, ascending."""
    from matplotlib.path import Path  # heavy; only when a region is asked about

    vertices = np.asarray(region.polygon, dtype=np.float64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    xy = layout.xy
    near = np.flatnonzero(
        (xy[:, 0] >= low[0]) & (xy[:, 0] <= high[0]) & (xy[:, 1] >= low[1]) & (xy[:, 1] <= high[1])
    )
    if len(near) == 0:
        return near
    hits = Path(vertices).contains_points(xy[near].astype(np.float64))
    return near[hits]


def preview(ws: Workspace, layout: Layout, region: Region, clustering: str | None) -> dict[str, Any]:
    """What saving the region would keep: how many, per class and per cluster (of ``clustering``, when
    given) against the whole layout, and up to :data:`GALLERY` of its samples spread over it."""
    rows = inside(layout, region)
    ids = layout.ids
    names = require_source(ws, layout.source)["label_names"] or []
    labels = labels_of(ws, layout.source, ids)
    out: dict[str, Any] = {
        "layout": layout.id,
        "source": layout.source,
        "n": len(rows),
        "n_layout": len(ids),
        "polygon": region.polygon,
        "classes": _counts(labels, rows, lambda c: {"label": c, "name": names[c] if 0 <= c < len(names) else None}),
        "clusters": None,
        "gallery": ids[rows[np.linspace(0, len(rows) - 1, min(GALLERY, len(rows))).astype(int)]].tolist()
        if len(rows) else [],
    }  # fmt: skip
    if clustering:
        require_score_run(ws, clustering, source=layout.source, kind="cluster")
        clusters = run_values_at(ws, clustering, "cluster", ids)
        codes = np.where(np.isnan(clusters), -1, clusters).astype(np.int64)
        out["clustering"] = clustering
        out["clusters"] = _counts(codes, rows, lambda c: {"cluster": c})
    return out


def save_request(layout: Layout, region: Region, rows: np.ndarray, name: Any, inverse: Any) -> dict[str, Any]:
    """The ``select`` config a save queues (before its ids file exists); a 422 for a region of no point or
    a bad name."""
    if len(rows) == 0:
        raise ConfigError("the selection holds no points: there is nothing to save", field="polygon")
    if not isinstance(name, str):
        raise ConfigError('give the subset a "name"', field="name")
    try:
        check_name(name, "subset name")
    except ThresherError as exc:
        raise ConfigError(str(exc), field="name") from None
    if not isinstance(inverse, bool):
        raise ConfigError('"inverse" is true or false', field="inverse")
    return {
        "name": name,
        "method": "ids",
        "source": layout.source,
        "polygon": region.json(),
        "layout": layout.id,
        "inverse": inverse,
    }


def write_ids(ws: Workspace, layout: Layout, rows: np.ndarray) -> str:
    """Write the ids of ``rows`` to ``selections/``; the path as a job running in the workspace names it."""
    return ws.to_stored(write_id_list(ws, layout.ids[rows]))


def _counts(codes: np.ndarray, rows: np.ndarray, key: Any) -> list[dict[str, Any]]:
    """Per code present in the layout (−1, none, last): how many points inside, of how many in all."""
    present, everywhere = np.unique(codes, return_counts=True)
    chosen = dict(zip(*np.unique(codes[rows], return_counts=True), strict=True)) if len(rows) else {}
    order = sorted(range(len(present)), key=lambda i: (present[i] < 0, present[i]))
    return [
        {**key(int(present[i])), "n": int(chosen.get(present[i], 0)), "of": int(everywhere[i])} for i in order
    ]


def _rounded(value: float) -> float:
    return float(f"{value:.7g}")
