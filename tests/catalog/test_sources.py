"""Recording a source: all or nothing, and a lost race with another ingest of the same name is one line."""

from __future__ import annotations

import pyarrow as pa
import pytest

from thresher.catalog.sources import ingested_summary, record_source
from thresher.errors import ThresherError


def _samples(source: str, n: int) -> pa.Table:
    return pa.table(
        {
            "source": [source] * n,
            "row": list(range(n)),
            "sample_id": list(range(n)),
            "label": [0] * n,
            "width": [8] * n,
            "height": [8] * n,
            "status": ["ok"] * n,
            "error": [None] * n,
            "file": [f"{i}.png" for i in range(n)],
        }
    )


def _row(source: str, revision: str, n: int) -> dict:
    return {
        "id": source,
        "uri": "folder",
        "kind": "imagefolder",
        "revision": revision,
        "n_rows": n,
        "n_ok": n,
    }


def test_the_second_ingest_of_one_name_adds_nothing_and_says_so_in_one_line(workspace):
    record_source(workspace, _row("cats", "r1", 3), _samples("cats", 3))
    with pytest.raises(ThresherError, match="'cats' was ingested by another process meanwhile"):
        record_source(workspace, _row("cats", "r2", 5), _samples("cats", 5))
    assert ingested_summary(workspace, "cats") == ("r1", 3, 3)
    with workspace.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM samples WHERE source = 'cats'").fetchone()[0] == 3
