"""thresher pretrain + score: a tiny pretraining on real 8×8 digits, then every gradient score through the
catalog, checked against independent computations, reruns, kills and bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.runs import run_config
from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.cli import main
from thresher.curate.config import ScoreRunConfig, SelectConfig
from thresher.curate.gradient_scoring import _Scorer, run_score
from thresher.curate.scores.gradient_signals import el2n_scores, monotonicity_scores, probe_points
from thresher.curate.select import select
from thresher.errors import ThresherError
from thresher.train.config import PretrainConfig
from thresher.train.pretrain import load_snapshot, loss_log, pretrain_data, run_pretrain, snapshot_dirs

TINY = dict(width=32, depth=1, heads=2, epochs=3, batch_size=256, checkpoints=2, k_times=2, device="cpu")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("grad") / "ws")
    ingest(ws, IngestConfig(source="builtin:digits"))
    run_pretrain(ws, PretrainConfig(source="digits", **TINY))
    return ws


def _scores(ws: Workspace, run_id: str) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(score_files(ws, run_id)).to_pandas().sort_values("sample_id")
    return table["sample_id"].to_numpy(), table["score"].to_numpy()


def test_pretraining_saves_spread_checkpoints_and_a_loss_log_per_epoch(pretrained):
    run_id = run_pretrain(pretrained, PretrainConfig(source="digits", **TINY))
    assert run_id.reused
    assert [p.name for p in snapshot_dirs(run_id.run_dir)] == ["epoch-0002", "epoch-0003"]
    ids, log = loss_log(run_id.run_dir)
    assert log.shape == (3, len(ids)) and np.isfinite(log).all()
    # The loss log is l̄(z) of the saved network at the same probes: recompute epoch 3 independently.
    model, lr = load_snapshot(snapshot_dirs(run_id.run_dir)[-1])
    assert lr > 0
    data = pretrain_data(pretrained, "digits", PretrainConfig(source="digits", **TINY))
    x = data.images[:40].float() / 127.5 - 1.0
    t, noise = probe_points(ids[:40], tuple(x.shape[1:]), 2, 1, 0)
    expected = el2n_scores(model, x, data.labels[:40], t, noise).double().numpy()
    np.testing.assert_allclose(log[-1, :40], expected, rtol=1e-5, atol=1e-7)


def test_el2n_score_run_equals_the_probe_loss_of_the_last_checkpoint(pretrained):
    result = run_score(pretrained, ScoreRunConfig(method="el2n", source="digits", device="cpu"))
    ids, scores = _scores(pretrained, result.run_id)
    _, log = loss_log(pretrained.run_dir(result.pretrain))
    np.testing.assert_allclose(scores, log[-1], rtol=1e-5, atol=1e-7)  # same model, same probes
    config = run_config(pretrained, result.run_id)
    assert (config["k_times"], config["m_noises"], config["seed"]) == (2, 1, 0)
    assert config["checkpoints"] == ["epoch-0003"]


def test_monotonicity_scores_the_loss_log(pretrained):
    result = run_score(pretrained, ScoreRunConfig(method="monotonicity", source="digits"))
    _, scores = _scores(pretrained, result.run_id)
    _, log = loss_log(pretrained.run_dir(result.pretrain))
    np.testing.assert_array_equal(scores, monotonicity_scores(log))


def test_rerun_reuses_and_a_killed_run_resumes_to_identical_scores(pretrained, tmp_path, monkeypatch):
    config = ScoreRunConfig(
        method="grand", source="digits", params="final-layer", part_size=500, device="cpu"
    )
    first = run_score(pretrained, config)
    assert not first.reused and run_score(pretrained, config).reused
    _, expected = _scores(pretrained, first.run_id)

    copy = Workspace(tmp_path / "ws")
    shutil.copytree(pretrained.root, copy.root)
    shutil.rmtree(copy.scores_dir(first.run_id))
    with copy.connect() as con:
        con.execute("DELETE FROM runs WHERE id = ?", [first.run_id])
    original, calls = _Scorer._write_part, []

    def dies_on_the_third_part(self, part, ids, scores):
        calls.append(part)
        if len(calls) == 3:
            raise KeyboardInterrupt
        original(self, part, ids, scores)

    monkeypatch.setattr(_Scorer, "_write_part", dies_on_the_third_part)
    with pytest.raises(KeyboardInterrupt):
        run_score(copy, config)
    monkeypatch.setattr(_Scorer, "_write_part", original)
    staging = copy.root / "scores" / f".{first.run_id}.partial"
    assert sorted(p.name for p in staging.glob("part-*.parquet")) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    resumed = run_score(copy, config)
    assert resumed.run_id == first.run_id
    np.testing.assert_array_equal(_scores(copy, resumed.run_id)[1], expected)


@pytest.mark.slow  # two MoSo runs over every checkpoint: minutes on 2 cores
def test_moso_scored_in_three_parts_equals_moso_scored_in_one(pretrained, tmp_path):
    """MoSo needs ḡ over every part before any score: parts summed apart then combined must give the
    scores of one pass. Scored in a fresh copy of the workspace, so the second run cannot reuse the first."""
    one = run_score(
        pretrained,
        ScoreRunConfig(method="moso", source="digits", params="final-layer", part_size=4096, device="cpu"),
    )
    fresh = Workspace(tmp_path / "fresh")
    shutil.copytree(pretrained.root, fresh.root)
    shutil.rmtree(fresh.scores_dir(one.run_id))
    with fresh.connect() as con:
        con.execute("DELETE FROM runs WHERE id = ?", [one.run_id])
    many = run_score(
        fresh,
        ScoreRunConfig(method="moso", source="digits", params="final-layer", part_size=700, device="cpu"),
    )
    assert not many.reused and many.run_id == one.run_id  # part size is not part of the identity
    ids_one, scores_one = _scores(pretrained, one.run_id)
    ids_many, scores_many = _scores(fresh, many.run_id)
    assert len(score_files(fresh, many.run_id)) == 3 and len(score_files(pretrained, one.run_id)) == 1
    np.testing.assert_array_equal(ids_one, ids_many)
    assert scores_one.std() > 0  # not a constant that would match anything
    # float64 sums in another grouping: equal to rounding, far below the scores' spread
    np.testing.assert_allclose(scores_many, scores_one, rtol=1e-6, atol=1e-9 * np.abs(scores_one).max())


def test_selection_orders_by_the_score_and_inverse_reverses_it(pretrained):
    """The published code re-sorted (key, score) pairs by key and so ignored the score and the inverse flag."""
    result = run_score(pretrained, ScoreRunConfig(method="el2n", source="digits", device="cpu"))
    ids, scores = _scores(pretrained, result.run_id)
    by_score = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    kept = select(pretrained, SelectConfig(name="hard", method="el2n", ratio=0.75, source="digits"))
    easy = select(
        pretrained, SelectConfig(name="easy", method="el2n", ratio=0.75, inverse=True, source="digits")
    )
    hard_ids = set(pq.read_table(kept.path / "ids.parquet").column("sample_id").to_pylist())
    easy_ids = set(pq.read_table(easy.path / "ids.parquet").column("sample_id").to_pylist())
    n_keep = len(ids) - round(len(ids) * 0.75)
    assert len(hard_ids) == n_keep and not hard_ids & easy_ids
    top = set(ids[np.lexsort((ids, -scores))][:n_keep].tolist())  # highest scores (default keep: high)
    assert hard_ids == top
    assert max(by_score[i] for i in easy_ids) <= min(by_score[i] for i in hard_ids)


def test_bad_input_is_one_line_and_writes_nothing(pretrained, tmp_path):
    fresh = Workspace(tmp_path / "fresh")
    ingest(fresh, IngestConfig(source="builtin:digits"))
    with pytest.raises(ThresherError, match="no pretraining of source 'digits'"):
        run_score(fresh, ScoreRunConfig(method="el2n"))
    with pytest.raises(ThresherError, match="unknown method"):
        ScoreRunConfig(method="forgetting")
    with pytest.raises(ThresherError, match="--params 'nothing' names nothing"):
        ScoreRunConfig(method="grand", params="nothing")
    ingest(pretrained, IngestConfig(source="builtin:digits", name="digits2"))
    pretrain = run_score(pretrained, ScoreRunConfig(method="el2n", source="digits")).pretrain
    with pytest.raises(ThresherError, match="trained on source 'digits', not 'digits2'"):
        run_score(pretrained, ScoreRunConfig(method="el2n", source="digits2", pretrain=pretrain))
    runner = CliRunner()
    out = runner.invoke(main, ["--workspace", str(fresh.root), "score", "--method", "moso"])
    assert (
        out.exit_code == 2
        and out.output.startswith("error: no pretraining")
        and "Traceback" not in out.output
    )
    assert not list((fresh.root / "scores").glob("*")) if (fresh.root / "scores").exists() else True


def test_probe_noise_depends_on_the_sample_not_the_batch():
    """The published code drew (t, ε) per batch position; here a sample's probes follow it anywhere."""
    ids = np.array([5, 9, 2])
    _, alone = probe_points(ids[1:2], (1, 8, 8), 2, 1, 0)
    _, together = probe_points(ids, (1, 8, 8), 2, 1, 0)
    assert torch.equal(alone[0], together[1])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # two fresh interpreters importing torch + diffusers, twice
@pytest.mark.parametrize("method", ["grand", "moso"])
def test_two_processes_give_the_scores_of_one(pretrained, tmp_path, method):
    import subprocess
    import sys

    one = run_score(
        pretrained,
        ScoreRunConfig(method=method, source="digits", params="final-layer", part_size=400, device="cpu"),
    )
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(pretrained.root, copy.root)
    shutil.rmtree(copy.scores_dir(one.run_id))
    with copy.connect() as con:
        con.execute("DELETE FROM runs WHERE id = ?", [one.run_id])
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
        "--main_process_port", str(_free_port()), "-m", "thresher.cli", "--workspace", str(copy.root),
        "score", "--method", method, "--params", "final-layer", "--part-size", "400", "--device", "cpu",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_config(copy, one.run_id)["processes"] == 2
    np.testing.assert_allclose(
        _scores(copy, one.run_id)[1], _scores(pretrained, one.run_id)[1], rtol=1e-6, atol=1e-12
    )


def test_selecting_from_an_existing_score_run_loads_no_training_code(pretrained):
    """Hardening item 16: `select` of a gradient method whose run exists imported the whole training stack."""
    import subprocess
    import sys

    run_score(pretrained, ScoreRunConfig(method="el2n", source="digits", device="cpu"))
    program = (
        "import sys\n"
        "from thresher.catalog.workspace import Workspace\n"
        "from thresher.curate.config import SelectConfig\n"
        "from thresher.curate.select import select\n"
        f"result = select(Workspace({str(pretrained.root)!r}), "
        "SelectConfig(name='light', method='el2n', ratio=0.5, source='digits'))\n"
        "heavy = sorted(m for m in ('torch', 'thresher.train.model', 'thresher.curate.gradient_scoring') if m in sys.modules)\n"
        "print(result.n, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(1797 - round(1797 * 0.5)), "[]"]


def test_a_gradient_selection_names_its_score_run_pretraining_and_kept_end(pretrained):
    import json

    from thresher.cards.dataset_card import render_dataset_card

    pretrain = run_pretrain(pretrained, PretrainConfig(source="digits", **TINY)).run_id  # found again
    hard = select(pretrained, SelectConfig(name="named-hard", method="el2n", ratio=0.5, source="digits"))
    easy = select(
        pretrained, SelectConfig(name="named-easy", method="el2n", ratio=0.5, inverse=True, source="digits")
    )
    assert run_config(pretrained, hard.score_run)["pretrain"] == pretrain
    line = hard.lines()[0]  # the balance diagnostics follow it
    assert f"kept the highest el2n scores of score run {hard.score_run} (pretraining {pretrain})" in line
    line = easy.lines()[0]
    assert f"kept the lowest el2n scores of score run {easy.score_run} (pretraining {pretrain})" in line

    stats = json.loads((hard.path / "stats.json").read_text())
    card = str(render_dataset_card(stats, pretrained.source_row("digits"), data_files=None,
                                   load_path="p", query_path="p"))  # fmt: skip
    assert (
        f"| kept | the highest el2n scores of score run `{hard.score_run}`, pretraining `{pretrain}` |"
        in card
    )
