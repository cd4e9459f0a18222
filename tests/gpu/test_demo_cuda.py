"""``thresher demo --quick`` end to end on CUDA: every stage runs there and the report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.cuda


def test_demo_quick_runs_end_to_end_on_the_gpu(tmp_path, device) -> None:
    ws = tmp_path / "ws"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0")}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a dry run: the demo's automatic device is then the CPU
    done = subprocess.run(
        [sys.executable, "-m", "thresher.cli", "--workspace", str(ws), "demo", "--quick"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    configs = sorted((ws / "runs").glob("*/config.yaml"))
    trained = [yaml.safe_load(path.read_text()) for path in configs]
    trained = [c for c in trained if isinstance(c, dict) and "mixed_precision" in c]
    assert trained, "the demo trained no model"
    expected = "bf16" if device == "cuda" else "no"
    assert {c["mixed_precision"] for c in trained} == {expected}
    report = json.loads((ws / "reports" / "demo" / "demo.json").read_text())
    assert report["rows"] and all(row["run"] for row in report["rows"])
