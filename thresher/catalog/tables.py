"""Named-column access to catalog tables.

Inserts name their columns, so a migration that adds a column (with a default or NULL) never shifts the
values of an existing insert; values always travel as parameters, never pasted into SQL text.
"""

from __future__ import annotations

from typing import Any

import duckdb

from thresher.errors import ThresherError

# The tables thresher writes, so that a column or table name can never come from user input.
TABLES = (
    "meta", "sources", "samples", "runs", "embeddings", "subsets", "evaluations",
    "sweeps", "sweep_members", "sweep_cells", "cell_leases",
)  # fmt: skip


def insert_row(con: duckdb.DuckDBPyConnection, table: str, values: dict[str, Any]) -> None:
    """``INSERT INTO table (col, …) VALUES (?, …)`` with the given column → value mapping."""
    if table not in TABLES:
        raise ThresherError(f"unknown catalog table {table!r}")
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join("?" for _ in values)
    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))


def rows_as_dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The remaining rows of a cursor as dicts keyed by column name."""
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
