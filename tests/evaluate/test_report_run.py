from __future__ import annotations

import json

from thresher.catalog.names import utcnow
from thresher.evaluate.report_run import evaluation_records, run_report


def test_records_from_the_evaluations_table(mnist_lt, tmp_path):
    from tests.conftest import fake_clustering
    from thresher.curate.config import SelectConfig
    from thresher.curate.select import select

    fake_clustering(mnist_lt, "mnist-lt")
    subset = select(mnist_lt, SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.5))
    metrics = {
        "fid": 12.0,
        "precision": 0.7,
        "recall": 0.4,
        "n_train": 851,
        "n_generated": 100,
        "class_ids": list(range(10)),
        "class_share_gen": [0.1] * 10,
        "class_share_train": [0.1] * 10,
    }
    with mnist_lt.connect() as con:
        for i, dataset in enumerate(["eq@v1", "mnist-lt"]):
            con.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, 'classifier', 100, ?, ?, 1.0)",
                [f"e{i}", f"r{i}", dataset, json.dumps({**metrics, "fid": 10.0 + i}), utcnow()],
            )
    records = evaluation_records(mnist_lt)
    assert [(r["method"], round(r["ratio"], 3)) for r in records] == [
        ("cluster/equal/nearest", 0.5),
        ("full", 0.0),
    ]
    # The ratio is the fraction removed, as select's --ratio: 1 - kept / source.
    assert records[0]["ratio"] == 1 - subset.n / subset.n_source
    files = run_report(mnist_lt, tmp_path / "report")
    assert files.html.is_file() and any(f.name.startswith("fid") for f in files.figures)


def test_older_records_get_the_reference_sources_class_names(mnist_lt):
    metrics = {
        "fid": 1.0,
        "n_generated": 10,
        "against": "mnist-lt",
        "class_ids": [0, 1],
        "class_share_gen": [1, 0],
    }
    with mnist_lt.connect() as con:
        con.execute(
            "INSERT INTO evaluations VALUES ('e0', 'r0', 'mnist-lt', 'classifier', 10, ?, ?, 1.0)",
            [json.dumps(metrics), utcnow()],
        )
    (record,) = evaluation_records(mnist_lt)
    assert record["metrics"]["class_names"] == ["0", "1"]
    assert (record["run"], record["method"], record["ratio"], record["images"]) == ("r0", "full", 0.0, None)
