"""What a dedup selection says about the rows it removed: each one's kept match in duplicates.parquet, the
pairs that cross labels (most similar first), and the pairs that hold an image flagged blank at ingest."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.samples import labels_of, ok_sample_ids
from thresher.catalog.scores import score_run, score_table, write_matches, write_score_part
from thresher.curate.duplicate_report import duplicate_report


def test_removed_rows_name_their_match_and_cross_label_and_blank_pairs_are_counted(mnist_lt, tmp_path):
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    labels = labels_of(mnist_lt, "mnist-lt", ids)
    zeros, ones = ids[labels == 0], ids[labels == 1]
    same = (zeros[0], zeros[1], 0.99)  # a true duplicate
    cross = [(zeros[2], ones[0], 0.97), (ones[1], zeros[3], 0.995)]  # across labels
    blank = (zeros[4], zeros[5], 0.999)  # same label, but the removed one is blank
    kept_anyway = (zeros[6], zeros[7], 0.98)  # recorded, but the selection kept it (not removed)
    pairs = [same, *cross, blank, kept_anyway]
    with score_run(mnist_lt, "dedup-test", "dedup", "mnist-lt", {}) as folder:
        write_score_part(folder, score_table(ids, "dedup", score=np.zeros(len(ids))))
        write_matches(folder, *(np.array(column) for column in zip(*pairs, strict=True)))
    with mnist_lt.connect() as con:
        con.execute(
            "UPDATE samples SET flag = 'blank' WHERE source = 'mnist-lt' AND sample_id = ?", [int(blank[0])]
        )
    removed = {int(p[0]) for p in pairs[:-1]}
    kept = np.array([i for i in ids if int(i) not in removed])

    report = duplicate_report(mnist_lt, "mnist-lt", "dedup-test", kept, tmp_path)

    assert report is not None and (report.removed, report.cross_label, report.blank) == (4, 2, 1)
    assert [(e["sample_id"], e["match_id"]) for e in report.examples] == [
        (ones[1], zeros[3]),
        (zeros[2], ones[0]),
    ]
    assert report.examples[0]["label"] == "1" and report.examples[0]["match_label"] == "0"
    table = pq.read_table(tmp_path / "duplicates.parquet").to_pandas().set_index("sample_id")
    assert sorted(table.index) == sorted(removed)
    assert table.loc[zeros[2], "match_id"] == ones[0] and bool(table.loc[zeros[2], "cross_label"])
    assert not table.loc[zeros[0], "cross_label"] and bool(table.loc[zeros[4], "blank"])
    text = "\n".join(report.lines())
    assert "removed 4 near-duplicates" in text and "2 of them match a kept row of another label" in text
    assert "1 of the pairs hold an image flagged blank" in text


def test_a_run_without_matches_reports_nothing(clustered, tmp_path):
    assert duplicate_report(clustered, "mnist-lt", "cluster-test", np.array([0]), tmp_path) is None
    assert not (tmp_path / "duplicates.parquet").exists()
