"""The house's layer rules, checked on every run: no import cycles between modules or packages, no SQL
outside catalog/, no stage importing what sits above it (benchmarks/import_graph.py prints the graph)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_graph_keeps_the_layer_rules():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "import_graph.py"), "--root", str(ROOT / "thresher")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    tail = done.stdout[done.stdout.index("module import cycles") :]
    assert done.returncode == 0, tail
    assert "SQL outside catalog/: none" in tail and "package import cycles: none" in tail
