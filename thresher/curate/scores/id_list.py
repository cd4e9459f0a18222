"""The score run of ``select --method ids``: 0 for every ok row the ids file lists, 1 for the others.

A listed id that is not an ok row of the source (unknown, or a row ingest skipped) refuses the selection
with one line counting them, and an empty list is refused too: a subset of nothing, or of rows that
cannot be read, is never made. The run is keyed by the ids themselves (their hash), the polygon and the
layout, so the same lasso saved twice shares one run; its config records how many ids and the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thresher.catalog.embeddings import ids_fingerprint
from thresher.catalog.id_lists import read_id_list
from thresher.catalog.names import config_hash
from thresher.catalog.runs import run_exists
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.catalog.workspace import Workspace
from thresher.curate.scores.methods.ids import IdsOptions, parse_polygon
from thresher.curate.scores.registry import ScoreContext
from thresher.errors import ThresherError


def id_list_scores(ws: Workspace, context: ScoreContext) -> str:
    options: IdsOptions = context.options
    assert options.ids_file is not None  # IdsOptions refuses a missing --ids
    path = Path(options.ids_file).expanduser().absolute()
    wanted = read_id_list(path)
    if len(wanted) == 0:
        raise ThresherError(f"--ids {options.ids_file} lists no sample ids: a subset of nothing is not made")
    ok = ok_sample_ids(ws, context.source)
    unknown = np.setdiff1d(wanted, ok, assume_unique=True)
    if len(unknown):
        shown = ", ".join(str(i) for i in unknown[:3]) + (", …" if len(unknown) > 3 else "")
        raise ThresherError(
            f"--ids {options.ids_file}: {len(unknown)} of {len(wanted)} ids are not ok rows of "
            f"{context.source!r} (unknown, or rows ingest skipped): {shown}"
        )
    identity = {
        "source": context.source,
        "ids_sha1": ids_fingerprint(wanted),
        "polygon": None if options.polygon is None else parse_polygon(options.polygon),
        "layout": options.layout,
    }
    run_id = f"ids-{context.source[:60]}-{config_hash(identity)[:12]}"
    if run_exists(ws, run_id):
        return run_id
    config = {**identity, "n_ids": len(wanted), "ids_file": ws.to_stored(path)}
    score = np.where(np.isin(ok, wanted, assume_unique=True), 0.0, 1.0)
    with score_run(ws, run_id, "ids", context.source, config) as folder:
        write_score_part(folder, score_table(ok, "ids", score=score))
    return run_id
