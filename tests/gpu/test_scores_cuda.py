"""Pretraining and the four gradient scores on CUDA against the CPU, on the 1,797 real 8×8 digits.

Tolerances (stated here because bit equality cannot hold across devices):

* the same pretrained network scored on the GPU and on the CPU: every score within 1% of the largest score
  of its method (|gpu − cpu| ≤ 0.01 · max|cpu|). The GPU computes in fp32 but its convolutions may use TF32
  (10-bit mantissa, ~1e-3 relative), and MoSo is a difference of dot products, so the bound is relative to
  the method's scale rather than to each score;
* a pretraining run on the GPU (bf16 autocast) against the same run on the CPU (fp32): the networks part a
  little with every step, so the scores are compared by rank: Spearman correlation ≥ 0.95 per method.
"""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.curate.config import ScoreRunConfig
from thresher.curate.gradient_scoring import run_score
from thresher.train.config import PretrainConfig
from thresher.train.pretrain import run_pretrain

pytestmark = pytest.mark.cuda

METHODS = ("el2n", "grand", "monotonicity", "moso")
TINY = dict(width=32, depth=1, heads=2, epochs=3, batch_size=256, checkpoints=2, k_times=2)


def _pretrained(root, device: str) -> Workspace:
    ws = Workspace(root / "ws")
    ingest(ws, IngestConfig(source="builtin:digits"))
    run_pretrain(ws, PretrainConfig(source="digits", device=device, **TINY))
    return ws


def _all_scores(ws: Workspace, device: str) -> dict[str, np.ndarray]:
    out = {}
    for method in METHODS:
        result = run_score(ws, ScoreRunConfig(method=method, source="digits", device=device))
        table = pq.read_table(score_files(ws, result.run_id)).to_pandas().sort_values("sample_id")
        out[method] = table["score"].to_numpy()
    return out


@pytest.fixture(scope="module")
def cpu_pretrained(tmp_path_factory) -> Workspace:
    return _pretrained(tmp_path_factory.mktemp("cpu"), "cpu")


@pytest.fixture(scope="module")
def cpu_scores(cpu_pretrained) -> dict[str, np.ndarray]:
    return _all_scores(cpu_pretrained, "cpu")


def test_the_four_scores_of_one_network_on_cuda_equal_the_cpu_scores(
    cpu_pretrained, cpu_scores, tmp_path, device
) -> None:
    # A copy of the workspace: a score run's identity leaves the device out, so the same workspace would
    # reuse the CPU runs.
    ws = Workspace(shutil.copytree(cpu_pretrained.root, tmp_path / "ws"))
    gpu_scores = _all_scores(ws, device)
    for method in METHODS:
        cpu, gpu = cpu_scores[method], gpu_scores[method]
        assert np.isfinite(gpu).all() and gpu.shape == cpu.shape, method
        scale = np.abs(cpu).max()
        assert np.abs(gpu - cpu).max() <= 0.01 * scale, (method, np.abs(gpu - cpu).max(), scale)


def test_pretraining_on_cuda_ranks_samples_like_pretraining_on_the_cpu(cpu_scores, tmp_path, device) -> None:
    gpu_scores = _all_scores(_pretrained(tmp_path, device), device)
    for method in METHODS:
        assert np.isfinite(gpu_scores[method]).all(), method
        rho = spearmanr(cpu_scores[method], gpu_scores[method]).statistic
        assert rho >= 0.95, (method, rho)
