"""`thresher train` glue: a named subset trains on exactly its rows; bad datasets are one-line errors."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from tests.conftest import fake_clustering
from thresher.curate.config import PublishConfig, SelectConfig
from thresher.curate.publish import publish
from thresher.curate.select import select
from thresher.dataset_resolution import resolve_dataset
from thresher.errors import ThresherError
from thresher.train.config import SampleConfig, TrainConfig, TrainRunConfig
from thresher.train.train_run import run_sampling, run_training

TINY = dict(
    model_size="DiT-T/4",
    width=32,
    depth=1,
    heads=2,
    lr=1e-3,
    unconditional=True,
    sample_count=0,
    checkpoint_every=1000,
)


@pytest.fixture
def subset(mnist_lt):
    fake_clustering(mnist_lt, "mnist-lt")
    select(mnist_lt, SelectConfig(name="eq", method="cluster", balance="equal"))  # 25 per class: 250 rows
    return mnist_lt


def test_training_on_a_subset_sees_exactly_its_rows(subset, tmp_path):
    config = TrainRunConfig(dataset="eq@v1", train=TrainConfig(steps=5, batch_size=50, **TINY))
    outcome = run_training(subset, config)
    assert outcome.n_rows == 250 and outcome.result.distinct_samples_seen == 250
    seen = set(pq.read_table(outcome.result.run_dir / "seen_ids.parquet").column(0).to_pylist())
    kept = set(pq.read_table(subset.subset_dir("eq", 1) / "ids.parquet").column("sample_id").to_pylist())
    assert seen == kept
    with subset.connect(read_only=True) as con:
        assert con.execute("SELECT dataset, status FROM runs WHERE kind='train'").fetchone() == (
            "eq@v1",
            "done",
        )
    out = run_sampling(subset, SampleConfig(run=outcome.run_id, n=6, out=str(tmp_path / "gen"), steps=2))
    assert len(list(out.destination.glob("*.png"))) == 6


def test_published_folder_resolves_to_the_same_rows(subset, tmp_path):
    publish(subset, PublishConfig(ref="eq@v1", to=str(tmp_path / "pub")))
    from_folder = resolve_dataset(subset, str(tmp_path / "pub" / "v1"))
    from_name = resolve_dataset(subset, "eq@v1")
    assert from_folder.source == "mnist-lt" and (from_folder.sample_ids == from_name.sample_ids).all()
    assert resolve_dataset(subset, "mnist-lt").n == 1703  # a plain source is the unpruned baseline


@pytest.mark.parametrize("spec, message", [("nope", "does not resolve"), ("eq@v9", "no version v9")])
def test_bad_dataset_specs(subset, spec, message):
    with pytest.raises(ThresherError, match=message):
        resolve_dataset(subset, spec)


def test_resume_without_checkpoint_is_refused(subset):
    config = TrainRunConfig(
        dataset="eq@v1", train=TrainConfig(steps=2, batch_size=50, **TINY), run="r1", resume=True
    )
    with pytest.raises(ThresherError, match="cannot resume 'r1'"):
        run_training(subset, config)


def test_resume_refuses_other_settings_and_touches_nothing(subset):
    from dataclasses import replace

    from thresher.catalog.runs import run_row

    train = TrainConfig(steps=2, batch_size=50, **{**TINY, "checkpoint_every": 2})
    run_training(subset, TrainRunConfig(dataset="eq@v1", train=train, run="r2"))
    before = run_row(subset, "r2")
    checkpoints = sorted((subset.run_dir("r2") / "checkpoints").iterdir())
    for changed, words in [
        (TrainRunConfig(dataset="mnist-lt", train=train, run="r2", resume=True), "dataset was 'eq@v1', now 'mnist-lt'"),
        (TrainRunConfig(dataset="eq@v1", train=replace(train, seed=1), run="r2", resume=True), "train.seed was 0, now 1"),
        (TrainRunConfig(dataset="eq@v1", train=replace(train, lr=0.5), run="r2", resume=True), "train.lr"),
    ]:  # fmt: skip
        with pytest.raises(ThresherError, match=words.replace("(", r"\(")):
            run_training(subset, changed)
        after = run_row(subset, "r2")
        assert (after["status"], after["config"], after["finished"]) == (
            before["status"], before["config"], before["finished"],
        )  # fmt: skip
        assert sorted((subset.run_dir("r2") / "checkpoints").iterdir()) == checkpoints
    # The same settings with more steps continue the run.
    longer = run_training(
        subset, TrainRunConfig(dataset="eq@v1", train=replace(train, steps=4), run="r2", resume=True)
    )
    assert longer.result.steps == 4 and longer.result.resumed_from == 2


def test_resuming_a_run_another_live_process_trains_is_refused_and_touches_nothing(subset):
    """Hardening item 21: `train --run X --resume` while X still trains was accepted, and both wrote one
    folder. The run's row names its owner (pid, host): a live owner on this host refuses the second."""
    import socket
    import subprocess
    import sys

    from thresher.catalog.runs import run_row, start_run

    train = TrainConfig(steps=2, batch_size=50, **{**TINY, "checkpoint_every": 2})
    run_training(subset, TrainRunConfig(dataset="eq@v1", train=train, run="r3"))
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with subset.connect() as con:  # as if that process were training r3 now
            con.execute(
                "UPDATE runs SET status = 'running', pid = ?, host = ? WHERE id = 'r3'",
                [owner.pid, socket.gethostname()],
            )
        files_before = sorted(p.relative_to(subset.run_dir("r3")) for p in subset.run_dir("r3").rglob("*"))
        resume = TrainRunConfig(dataset="eq@v1", train=replace_steps(train, 4), run="r3", resume=True)
        with pytest.raises(ThresherError, match=rf"run 'r3' is still running \(process {owner.pid} on "):
            run_training(subset, resume)
        with pytest.raises(ThresherError, match="is still running"):  # the lease, checked where it is taken
            start_run(subset, "r3", "train", "mnist-lt", {}, None, exclusive=True)
        assert run_row(subset, "r3")["pid"] == owner.pid
        assert (
            sorted(p.relative_to(subset.run_dir("r3")) for p in subset.run_dir("r3").rglob("*"))
            == files_before
        )
    finally:
        owner.kill()
        owner.wait()
    # Its owner gone, the same row reads "interrupted" and the resume goes ahead.
    assert run_training(subset, resume).result.steps == 4


def replace_steps(train: TrainConfig, steps: int) -> TrainConfig:
    from dataclasses import replace

    return replace(train, steps=steps)
