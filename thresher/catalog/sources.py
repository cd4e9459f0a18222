"""Recording an ingested source: its ``sources`` row and its ``samples`` rows, in one transaction."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa

from thresher.catalog.names import utcnow
from thresher.catalog.tables import insert_row
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError


def ingested_summary(ws: Workspace, source: str) -> tuple[str | None, int, int] | None:
    """(revision, rows, ok rows) of an ingested source, None when it is not in the catalog."""
    if not ws.exists:
        return None
    with ws.connect(read_only=True) as con:
        row = con.execute("SELECT revision, n_rows, n_ok FROM sources WHERE id = ?", [source]).fetchone()
    return None if row is None else (row[0], int(row[1]), int(row[2]))


def record_source(ws: Workspace, source: dict[str, Any], samples: pa.Table) -> None:
    """Add a source and its samples, all or nothing. Two ingests of one name racing: the second to commit
    gets one line naming the winner's revision, not a constraint traceback (hardening item 21)."""
    values = {**source, "created": utcnow()}
    if values.get("label_names") is not None:
        values["label_names"] = json.dumps(values["label_names"])
    with ws.connect() as con:
        con.execute("BEGIN")
        try:
            con.register("new_samples", samples)
            con.execute("INSERT INTO samples BY NAME SELECT * FROM new_samples")
            con.unregister("new_samples")
            insert_row(con, "sources", values)
        except duckdb.ConstraintException:
            con.execute("ROLLBACK")
            raise ThresherError(
                f"source {source['id']!r} was ingested by another process meanwhile: "
                "nothing was added; rerun to use it"
            ) from None
        con.execute("COMMIT")
