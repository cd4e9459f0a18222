"""Time `thresher demo` end to end against its budget (issue: default < 15 min, --quick < 3 min on 2 cores).

Runs the demo as a newcomer would (`thresher --workspace <tmp> demo [--quick]`, a fresh workspace, so the
autoencoder and the evaluation classifier are trained too), then prints the wall time including imports,
the per-stage seconds the demo reports, and the headline figures from its `report/demo.json`.

    uv run python benchmarks/demo_time.py            # default demo, budget 15 min
    uv run python benchmarks/demo_time.py --quick    # smoke-test size, budget 3 min
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_LINE = re.compile(r"^\s+(.+): (\d+(?:\.\d+)?)s$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workspace", help="keep the workspace here instead of a temporary folder")
    args = parser.parse_args()
    budget_min = 3.0 if args.quick else 15.0

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(args.workspace or Path(tmp) / "ws")
        command = ["thresher", "--workspace", str(workspace), "demo"] + (["--quick"] if args.quick else [])
        env = {**os.environ, "TQDM_DISABLE": "1"}
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"demo failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        stages = [m.groups() for m in map(STAGE_LINE.match, done.stdout.splitlines()) if m]
        summary = json.loads((workspace / "reports" / "demo" / "demo.json").read_text())

    print(f"thresher demo{' --quick' if args.quick else ''}: {wall / 60:.1f} min wall "
          f"({summary['seconds'] / 60:.1f} min inside the demo); budget {budget_min:.0f} min → "
          f"{'PASS' if wall / 60 < budget_min else 'OVER'}")  # fmt: skip
    print("\nstage seconds:")
    for name, seconds in stages:
        print(f"  {name:40s} {float(seconds):7.1f}")
    print("\nrun                          seed  rows  confidence  FID     7/8/9 gen  7/8/9 train")
    for row in summary["rows"]:
        print(f"  {row['dataset']:26s} {row['seed']:4d} {row['n_train']:5d}  {row['confidence']:.3f}     "
              f"{row['fid']:6.1f}  {row['rare_share_generated']:8.1%}  {row['rare_share_train']:8.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
