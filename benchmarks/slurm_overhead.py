"""What Slurm costs a thresher run, measured on a single-node Slurm (start one with .ci/start-slurm).

    uv run python benchmarks/slurm_overhead.py [--skip-sweep] [--out DIR]

1. A 6-cell sweep (tests/executors' spec: baseline, random and cluster at ratio 0.5, seeds 0 and 1), each
   from a fresh workspace: in one process (`--executor local`), and as a Slurm array with `--max-parallel 1`
   (one task at a time, as the local run: the difference is the scheduler's overhead) and 2. Wall time is
   from the command's start to the end of its last job; it also prints, per task, the time outside the
   cell itself (process start, imports, finding the prerequisites), and checks that the cells' metrics
   are the local run's.
2. Submitting a 10 000-cell sweep (random × 99 ratios × 100 seeds + 100 baselines) as an array:
   `--dry-run` (writes and prints the script), and a real `sbatch` into the partition `held` (down: jobs
   queue, never start), then cancelled. Both as a whole command (Python start and imports included) and
   the submission alone (in this process).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.executors.test_dry_run import SPEC  # noqa: E402  (the 6-cell spec the tests use)
from thresher.executors.sbatch import LIVE_STATES, queue_states  # noqa: E402

BIG = """\
name: big
source: builtin:mnist-lt
reference: builtin:mnist
embedder: hog
k: 10
methods: [random]
ratios: [{ratios}]
seeds: [{seeds}]
budget: steps
steps: 100
"""


def thresher(ws: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "thresher.cli", "--workspace", str(ws), *args],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"thresher {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done.stdout


def job_ids(output: str) -> list[str]:
    found = re.search(r"submitted job\(s\) ([\d, ]+)", output)
    return found.group(1).replace(" ", "").split(",") if found else []


def wait(ids: list[str]) -> None:
    while any(s.state in LIVE_STATES for s in queue_states(ids)):
        time.sleep(0.5)


def task_times(ids: list[str]) -> dict[str, float]:
    """Elapsed seconds of every task of these jobs, from squeue's start and end times."""
    out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(ids), "-o", "%i|%S|%e"],
                         capture_output=True, text=True).stdout  # fmt: skip
    times = {}
    for line in out.splitlines():
        job, start, end = line.split("|")
        if "T" in start and "T" in end:
            parse = lambda t: time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%S"))  # noqa: E731
            times[job] = parse(end) - parse(start)
    return times


def cells(ws: Path) -> dict[str, dict]:
    from thresher.catalog.sweeps import sweep_cells
    from thresher.catalog.workspace import Workspace

    return {c["cell"]: c for c in sweep_cells(Workspace(ws), "six")[1]}


def sweep_figures(tmp: Path) -> None:
    spec = tmp / "six.yaml"
    spec.write_text(SPEC.replace("source: mnist-lt", "source: builtin:mnist-lt").replace(
        "reference: mnist-lt", "reference: builtin:mnist-lt"))  # fmt: skip
    local_seconds, _ = thresher(tmp / "local", "sweep", str(spec))
    print(f"6-cell sweep, local executor (one process): {local_seconds:.0f} s")
    reference = cells(tmp / "local")
    for parallel in (1, 2):
        ws = tmp / f"slurm{parallel}"
        started = time.perf_counter()
        _, output = thresher(ws, "sweep", str(spec), "--executor", "slurm", "--max-parallel", str(parallel))
        ids = job_ids(output)
        wait(ids)
        wall = time.perf_counter() - started
        got = cells(ws)
        same = sorted(got) == sorted(reference) and all(
            {k: v for k, v in got[c]["metrics"].items() if not k.startswith("seconds")}
            == {k: v for k, v in reference[c]["metrics"].items() if not k.startswith("seconds")}
            for c in reference
        )
        tasks = task_times(ids)
        prepare = tasks.pop(ids[0], float("nan"))
        in_cells = sum(c["seconds"]["total"] for c in got.values())
        outside = (sum(tasks.values()) - in_cells) / max(1, len(tasks))
        print(
            f"6-cell sweep, Slurm --max-parallel {parallel}: {wall:.0f} s wall ({wall - local_seconds:+.0f} s vs "
            f"local); prepare job {prepare:.0f} s; {len(tasks)} cell tasks, {outside:.1f} s each outside "
            f"its cell (start, imports, prerequisites found again); same cells and metrics as local: {same}"
        )


def submission_figures(tmp: Path) -> None:
    spec = tmp / "big.yaml"
    spec.write_text(BIG.format(ratios=", ".join(f"{r / 100:.2f}" for r in range(1, 100)),
                               seeds=", ".join(str(s) for s in range(100))))  # fmt: skip
    ws = tmp / "big-ws"
    seconds, output = thresher(ws, "sweep", str(spec), "--executor", "slurm", "--dry-run")
    script = next(Path(p) for p in re.findall(r"^--- (\S+cells\.sbatch)$", output, flags=re.M))
    print(
        f"10 000-cell sweep, --dry-run: {seconds:.1f} s (whole command); script {script.stat().st_size / 1e3:.0f} kB, "
        f"{len(script.read_text().splitlines())} lines"
    )
    seconds, output = thresher(ws, "sweep", str(spec), "--executor", "slurm", "--partition", "held")
    ids = job_ids(output)
    states = queue_states(ids)
    print(
        f"10 000-cell sweep, real submit to a held partition: {seconds:.1f} s (whole command); "
        f"{sum(1 for s in states if s.job_id == ids[-1])} array tasks pending in squeue"
    )
    subprocess.run(["scancel", *ids], check=True)

    thresher(ws, "ingest", "builtin:mnist-lt")  # now the cells' keys are computed and looked up
    seconds, output = thresher(ws, "sweep", str(spec), "--executor", "slurm", "--dry-run")
    print(
        f"10 000-cell sweep, --dry-run with the source ingested (10 000 keys computed, one lookup): "
        f"{seconds:.1f} s (whole command)"
    )

    from thresher.catalog.workspace import Workspace
    from thresher.executors.config import ExecutorConfig, SlurmResources
    from thresher.experiments.sweep import run_sweep
    from thresher.experiments.sweep_config import SweepRunConfig

    for dry in (True, False):
        config = SweepRunConfig(spec=str(spec), executor=ExecutorConfig(
            kind="slurm", dry_run=dry, slurm=SlurmResources(partition="held")))  # fmt: skip
        started = time.perf_counter()
        submission = run_sweep(Workspace(ws), config)
        print(
            f"10 000-cell sweep, {'dry run' if dry else 'sbatch'} in-process: "
            f"{time.perf_counter() - started:.2f} s for {submission.units} cells"
        )
        if submission.job_ids:
            subprocess.run(["scancel", *submission.job_ids], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sweep", action="store_true", help="only the submission figures")
    parser.add_argument("--out", type=Path, default=None, help="keep the workspaces here")
    args = parser.parse_args()
    if shutil.which("sbatch") is None:
        raise SystemExit("no Slurm here: run .ci/start-slurm first")
    tmp = args.out or Path(tempfile.mkdtemp(prefix="slurm-bench-", dir=Path.home()))
    tmp.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"workspaces": str(tmp)}))
    submission_figures(tmp)
    if not args.skip_sweep:
        sweep_figures(tmp)


if __name__ == "__main__":
    main()
