"""What the catalog says of a pretraining run, read without loading torch or the model code: a `select`
of an existing gradient score run needs no more than this (hardening item 16)."""

from __future__ import annotations

import json

from thresher.catalog.runs import run_row
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

PRETRAIN_KIND = "pretrain"


def pretrain_settings(ws: Workspace, run_id: str) -> dict:
    """The recorded config of a pretraining run (one-line error for anything else)."""
    row = run_row(ws, run_id)
    if row["kind"] != PRETRAIN_KIND:
        raise ThresherError(f"run {run_id!r} is a {row['kind']} run, not a pretraining (`thresher pretrain`)")
    if row["status"] != "done":
        raise ThresherError(
            f"pretraining {run_id!r} is {row['status']}: rerun `thresher pretrain` to finish it"
        )
    return json.loads(json.dumps(row["config"]))
