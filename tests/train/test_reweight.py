"""`thresher reweight` (DRO group weights against a reference) and `thresher train --weights RUN`."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from tests.conftest import fake_clustering
from thresher.catalog.runs import finish_run, run_row, start_run
from thresher.catalog.samples import labels_of
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.catalog.workspace import Workspace
from thresher.cli import main
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.dataset_resolution import resolve_dataset
from thresher.errors import ThresherError
from thresher.train.config import ReweightConfig, TrainConfig, TrainRunConfig
from thresher.train.group_weights import DROConfig, GroupWeights
from thresher.train.loop import train
from thresher.train.reweight import reweight_loop, run_reweight
from thresher.train.reweight_store import GROUP_WEIGHTS_FILE, SAMPLE_WEIGHTS_FILE
from thresher.train.train_run import run_training
from thresher.train.training_data import load_training_set
from thresher.train.training_set import TrainingSet

TINY = dict(
    model_size="DiT-T/4", width=32, depth=1, heads=2, lr=1e-3, sample_count=0, checkpoint_every=1000,
    device="cpu", warmup_steps=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory, _mnist_lt_template) -> Workspace:
    """mnist-lt with a 10-per-class subset ``sub@v1`` and a tiny class-conditional reference on the full source."""
    workspace = Workspace(tmp_path_factory.mktemp("reweight") / "ws")
    shutil.copytree(_mnist_lt_template, workspace.root)
    fake_clustering(workspace, "mnist-lt")  # clusters == labels
    select(workspace, SelectConfig(name="sub", method="cluster", balance="equal", keep_count=100))
    outcome = run_training(
        workspace,
        TrainRunConfig(dataset="mnist-lt", train=TrainConfig(steps=3, batch_size=50, **TINY), run="ref"),
    )
    assert outcome.run_id == "ref"
    return workspace


# ----------------------------------------------------------------------------- the loop on synthetic data


def _two_groups() -> tuple[TrainingSet, np.ndarray, torch.Tensor]:
    """32 black 8×8 images (group 0) and 32 copies of one striped image (group 1), and that image in [-1, 1]."""
    stripes = np.zeros((1, 8, 8), dtype=np.uint8)
    stripes[:, ::2] = 255
    images = np.concatenate([np.zeros((32, 1, 8, 8), np.uint8), np.repeat(stripes[None], 32, axis=0)])
    groups = np.repeat([0, 1], 32)
    data = TrainingSet(images=torch.from_numpy(images), labels=None, sample_ids=torch.arange(64))
    return data, groups, torch.from_numpy(stripes).float() / 127.5 - 1.0


def _oracle(target: torch.Tensor):
    """The exact velocity of a point mass at ``target``: zero loss on that group, large loss elsewhere."""

    def velocity(x: torch.Tensor, t: torch.Tensor, _labels) -> torch.Tensor:
        return (target - x) / (1 - t).clamp(min=1e-4).reshape(-1, 1, 1, 1)

    return velocity


@pytest.mark.parametrize("known", [0, 1])
def test_weight_moves_to_the_group_the_proxy_fits_worse_than_the_reference(tmp_path, known):
    data, groups, stripes = _two_groups()
    target = stripes if known == 1 else torch.full_like(stripes, -1.0)
    weights = GroupWeights(2, DROConfig(eta=1.0, smoothing=1e-3))
    config = ReweightConfig(dataset="x", reference="r", groups="class", steps=12, batch_size=16, warmup_steps=0,
                            device="cpu", log_every=4)  # fmt: skip
    reweight_loop(
        config, data, groups, weights, _oracle(target), tmp_path / "run", proxy_size=("DiT-T/4", 32, 1, 2)
    )
    average = weights.average
    assert average[known] > 0.8 and abs(float(average.sum()) - 1.0) < 1e-9
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [4, 8, 12]
    # the reference fits its group exactly, the other one far worse than the proxy
    assert records[0]["reference_loss"][known] < 1e-6 < records[0]["reference_loss"][1 - known]


# ----------------------------------------------------------------------------- the run in a workspace


def test_reweight_run_writes_weights_that_train_consumes(ws):
    result = run_reweight(
        ws,
        ReweightConfig(
            dataset="sub@v1", reference="ref", groups="class", steps=4, batch_size=20, device="cpu"
        ),
    )
    assert result.steps == 4 and len(result.weights) == 10 and abs(sum(result.weights) - 1) < 1e-9
    assert result.counts == [10] * 10 and result.absent == []
    groups = pq.read_table(result.run_dir / GROUP_WEIGHTS_FILE).to_pandas()
    assert list(groups.columns[:2]) == ["label", "weight"] and np.allclose(groups["weight"], result.weights)
    per_sample = pq.read_table(result.run_dir / SAMPLE_WEIGHTS_FILE).to_pandas()
    assert len(per_sample) == 100 and abs(per_sample["weight"].mean() - 1.0) < 1e-6
    row = run_row(ws, result.run_id)
    assert row["kind"] == "reweight" and row["status"] == "done" and row["config"]["reference"] == "ref"
    assert row["config"]["proxy"]["num_classes"] == 10  # conditioned like the reference
    assert any("→" in line and result.run_id in line for line in result.lines())

    outcome = run_training(
        ws,
        TrainRunConfig(dataset="sub@v1", weights=result.run_id,
                       train=TrainConfig(steps=2, batch_size=20, weighting="sampler", **TINY)),
    )  # fmt: skip
    assert run_row(ws, outcome.run_id)["config"]["weights"] == result.run_id


def test_a_group_absent_from_the_subset_is_reported(ws):
    ids = np.asarray(resolve_dataset(ws, "mnist-lt").sample_ids)
    labels = labels_of(ws, "mnist-lt", ids)
    with score_run(ws, "k11", "cluster", "mnist-lt", {"k": 11, "embedder": "fake"}) as folder:
        write_score_part(
            folder, score_table(ids, "cluster", score=ids * 0.0, cluster=labels, distance=ids * 0.0)
        )
    result = run_reweight(
        ws, ReweightConfig(dataset="sub@v1", reference="ref", groups="cluster", clusters="k11", steps=3,
                           batch_size=20, device="cpu")
    )  # fmt: skip
    assert result.absent == [10] and result.weights[10] == 0.0 and result.counts[10] == 0
    assert any("absent from the subset" in line and "10" in line for line in result.lines())
    table = pq.read_table(result.run_dir / GROUP_WEIGHTS_FILE).to_pandas()
    assert list(table.columns[:2]) == ["cluster", "weight"] and not table["present"].iloc[10]


# ----------------------------------------------------------------------------- zero weights in `train --weights`


def _zero_weight_run(ws: Workspace, run_id: str, zero_class: int) -> str:
    """A reweight run (as `thresher reweight` writes it) whose weight of ``zero_class`` is 0."""
    resolved = resolve_dataset(ws, "sub@v1")
    labels = labels_of(ws, "mnist-lt", resolved.sample_ids)
    alpha = np.where(np.arange(10) == zero_class, 0.0, 1 / 9)
    folder = ws.run_dir(run_id)
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"label": np.arange(10), "weight": alpha, "present": np.ones(10, bool)}),
                   folder / GROUP_WEIGHTS_FILE)  # fmt: skip
    pq.write_table(pa.table({"sample_id": resolved.sample_ids, "weight": 10 * alpha[labels]}),
                   folder / SAMPLE_WEIGHTS_FILE)  # fmt: skip
    start_run(ws, run_id, "reweight", "mnist-lt", {"source": "mnist-lt", "groups": "class"}, folder)
    finish_run(ws, run_id, "done")
    return run_id


def test_sampler_never_draws_a_group_of_weight_zero(ws):
    run = _zero_weight_run(ws, "zero-sampler", zero_class=3)
    outcome = run_training(
        ws,
        TrainRunConfig(dataset="sub@v1", weights=run,
                       train=TrainConfig(steps=10, batch_size=20, weighting="sampler", **TINY)),
    )  # fmt: skip
    seen = pq.read_table(outcome.result.run_dir / "seen_ids.parquet").column(0).to_numpy()
    seen_labels = set(labels_of(ws, "mnist-lt", seen).tolist())
    assert 3 not in seen_labels and len(seen_labels) == 9  # 200 draws reach every other class


def test_loss_weighting_ignores_a_group_of_weight_zero(ws, tmp_path):
    run = _zero_weight_run(ws, "zero-loss", zero_class=5)
    resolved = resolve_dataset(ws, "sub@v1")
    data = load_training_set(ws, resolved, weights=run)
    is_five = data.labels == 5
    scrambled = data.images[:].clone()
    scrambled[is_five] = torch.randint(0, 256, scrambled[is_five].shape, dtype=torch.uint8)
    config = TrainConfig(steps=2, batch_size=100, weighting="loss", ema_decay=0.0, **TINY)

    def trained(images: torch.Tensor, name: str, weighting: str | None = "loss") -> dict[str, torch.Tensor]:
        train(replace(config, weighting=weighting), replace(data, images=images), tmp_path / name)
        return load_file(tmp_path / name / "ema.safetensors")

    a, b = trained(data.images, "a"), trained(scrambled, "b")
    assert all(torch.equal(a[k], b[k]) for k in a)  # class 5's images do not reach the gradient
    c, d = trained(data.images, "c", None), trained(scrambled, "d", None)
    assert not all(torch.equal(c[k], d[k]) for k in c)  # unweighted, they do


# ----------------------------------------------------------------------------- bad input: one line, exit 2


def _cli(ws: Workspace, *args: str):
    return CliRunner().invoke(main, ["--workspace", str(ws.root), *args])


def _runs(ws: Workspace) -> list[str]:
    with ws.connect(read_only=True) as con:
        return sorted(r[0] for r in con.execute("SELECT id FROM runs").fetchall())


@pytest.fixture(scope="module")
def unlabeled(ws, tmp_path_factory) -> Workspace:
    """Adds an unlabeled source ``nl`` (60 sklearn digits) with a subset and a tiny reference ``ref-nl``."""
    from sklearn.datasets import load_digits

    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest
    from thresher.catalog.source_loaders import arrays_to_dataset

    folder = tmp_path_factory.mktemp("nolabels") / "nl"
    arrays_to_dataset(
        (load_digits().images[:60] * (255 / 16)).round().astype(np.uint8), None, None
    ).save_to_disk(str(folder))
    ingest(ws, IngestConfig(source=str(folder), name="nl"))
    select(ws, SelectConfig(name="nl-sub", method="random", source="nl", ratio=0.5))
    run_training(
        ws, TrainRunConfig(dataset="nl", train=TrainConfig(steps=2, batch_size=20, **TINY), run="ref-nl")
    )
    return ws


@pytest.mark.parametrize(
    "args, message",
    [
        (["-d", "sub@v1", "--reference", "ref", "--groups", "class", "--eta", "0"], "--eta must be"),
        (["-d", "sub@v1", "--reference", "ref", "--groups", "class", "--eta", "-1"], "--eta must be"),
        (["-d", "sub@v1", "--reference", "ref-nl", "--groups", "class"], "trained on source 'nl'"),
        (
            ["-d", "sub@v1", "--reference", "ref", "--groups", "class", "--image-size", "16"],
            "trained at 28px",
        ),
        (["-d", "sub@v1", "--reference", "nope", "--groups", "class"], "unknown run"),
        (["-d", "nl-sub@v1", "--reference", "ref-nl", "--groups", "class"], "no class label"),
        (["-d", "nl-sub@v1", "--reference", "ref-nl", "--groups", "cluster"], "no clustering"),
        (["-d", "sub@v1", "--reference", "ref", "--groups", "class", "--clusters", "x"], "drop it"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(unlabeled, args, message):
    ws = unlabeled
    before = _runs(ws)
    runs_dir = sorted(p.name for p in (ws.root / "runs").iterdir())
    result = _cli(ws, "reweight", "--steps", "2", "--batch-size", "10", "--device", "cpu", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert _runs(ws) == before and sorted(p.name for p in (ws.root / "runs").iterdir()) == runs_dir


def test_a_training_run_is_required_as_reference(ws):
    with pytest.raises(ThresherError, match="is a done cluster run, not a finished training"):
        run_reweight(
            ws, ReweightConfig(dataset="sub@v1", reference="cluster-test", groups="class", device="cpu")
        )


def test_weights_of_another_source_are_refused(unlabeled):
    ws = unlabeled
    run = _zero_weight_run(ws, "zero-other", 0)
    with pytest.raises(ThresherError, match="weighs source 'mnist-lt'"):
        load_training_set(ws, resolve_dataset(ws, "nl-sub@v1"), unconditional=True, weights=run)
