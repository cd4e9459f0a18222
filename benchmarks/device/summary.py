"""The kit's figures in one file: every ``$OUT/*.json`` and the CUDA tests' outcome, plus the wall time.

python benchmarks/device/summary.py OUT --seconds N      # writes OUT/summary.json and prints it
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path


def test_outcome(junit: Path) -> dict | None:
    """Counts and the failing tests' names from pytest's JUnit XML (None when the stage wrote none)."""
    if not junit.is_file():
        return None
    cases = ET.parse(junit).getroot().iter("testcase")
    outcome: dict = {"passed": 0, "failed": [], "skipped": 0}
    for case in cases:
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome["failed"].append(name)
        elif case.find("skipped") is not None:
            outcome["skipped"] += 1
        else:
            outcome["passed"] += 1
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, required=True, help="the kit's wall time")
    args = parser.parse_args()
    figures = {path.stem: json.loads(path.read_text()) for path in sorted(args.out.glob("*.json"))
               if path.name != "summary.json"}  # fmt: skip
    summary = {"wall_seconds": args.seconds, "cuda_tests": test_outcome(args.out / "cuda_tests.xml"),
               "missing": sorted({"environment", "embed", "grand", "train", "kmeans"} - set(figures)), **figures}  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("wall_seconds", "cuda_tests", "missing")}, indent=1))


if __name__ == "__main__":
    main()
