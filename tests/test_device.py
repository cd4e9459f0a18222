"""Device and precision requests the machine cannot honour: one line, and nothing written."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import thresher.device
from thresher.cli import main
from thresher.device import usable_precision
from thresher.embedders.base import Embedder
from thresher.progress import NOTE, reporting
from thresher.train.loop import mixed_precision

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")


def _notes(events) -> list[str]:
    return [event.message for event in events if event.kind == NOTE]


@pytest.fixture
def gpu_without_bf16(monkeypatch) -> str:
    """A CUDA GPU (as far as the precision choice can tell) that has no native bf16, such as a V100."""
    monkeypatch.setattr(thresher.device, "bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100-SXM2-16GB")
    return "Tesla V100-SXM2-16GB"


def test_bf16_asked_on_a_gpu_without_it_falls_back_to_fp16_in_one_line(gpu_without_bf16) -> None:
    events = []
    with reporting(events.append):
        assert usable_precision(torch.device("cuda"), "bf16") == "fp16"
        assert mixed_precision("bf16", torch.device("cuda")) == "fp16"
        # Not asked for bf16: no line (auto picks fp16 there by itself).
        assert mixed_precision("auto", torch.device("cuda")) == "fp16"
        assert usable_precision(torch.device("cuda"), "fp32") == "fp32"
    line = f"bf16 is not supported by {gpu_without_bf16}; falling back to fp16"
    assert _notes(events) == [line, line]


def test_an_embedder_resolves_the_fallback_once_not_per_batch(gpu_without_bf16) -> None:
    class Identity(Embedder):
        preprocess = None

        def _encode(self, batch):
            return batch

    events = []
    with reporting(events.append):
        embedder = Identity("identity", 4, torch.device("cuda"), "bf16")
    assert embedder.precision == "fp16" and len(_notes(events)) == 1


def test_bf16_is_kept_where_the_gpu_has_it(monkeypatch) -> None:
    monkeypatch.setattr(thresher.device, "bf16_supported", lambda: True)
    events = []
    with reporting(events.append):
        assert usable_precision(torch.device("cuda"), "bf16") == "bf16"
        assert mixed_precision("auto", torch.device("cuda")) == "bf16"
    assert _notes(events) == []


@no_cuda
@pytest.mark.parametrize(
    "command",
    [
        ["embed", "--device", "cuda"],
        ["embed", "--device", "cuda:1"],
        ["pretrain", "--device", "cuda"],
        ["score", "--method", "el2n", "--device", "cuda"],
    ],
)
def test_device_cuda_without_cuda_is_one_line_and_writes_nothing(tmp_path, command) -> None:
    ws = tmp_path / "ws"
    assert CliRunner().invoke(main, ["-w", str(ws), "ingest", "builtin:digits"]).exit_code == 0
    before = sorted(p.relative_to(ws) for p in ws.rglob("*") if p.name != "catalog.duckdb.wal")
    result = CliRunner().invoke(main, ["-w", str(ws), *command])
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert len(lines) == 1 and "CUDA is not available" in lines[0], result.output
    after = sorted(p.relative_to(ws) for p in ws.rglob("*") if p.name != "catalog.duckdb.wal")
    assert after == before
