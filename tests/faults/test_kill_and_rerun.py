"""Fault injection (issue 17): SIGKILL each writing command at several points — the moment each file it
writes appears, and after a delay — rerun it, and compare with an uninterrupted run. The outcome of every
case is "identical" (same bytes or same rows as the uninterrupted run) or "clear error" (a one-line
`error:` and exit 2 that says what to do); anything else fails the test. A concurrency test runs readers
in a loop while writers work: no tracebacks, no failed writers.

Run with ``pytest -m slow tests/faults -s`` to see the table of cases and outcomes.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

OUTCOMES: list[tuple[str, str, str, bool]] = []  # (command, fault, outcome, whether the kill happened)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def cli(
    ws: Path, *args: str, kill_when: str | float | None = None, timeout: float = 300
) -> tuple[int, str, bool]:
    """Run ``thresher -w ws ARGS``; with ``kill_when`` a glob (relative to ``ws``), SIGKILL the moment a
    matching path appears; with a number, after that many seconds. Returns (exit code, output, killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "thresher.cli", "-w", str(ws), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
    )  # fmt: skip
    killed = False
    if kill_when is not None:
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() < deadline:
            if isinstance(kill_when, str):
                hit = bool(glob.glob(str(ws / kill_when)))
            else:
                hit = time.monotonic() - started >= kill_when
            if hit:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    output, _ = proc.communicate(timeout=timeout)
    return proc.returncode, output, killed


def clear_error(code: int, output: str) -> bool:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    return code == 2 and len(lines) == 1 and "Traceback" not in output


def record(command: str, fault: str, outcome: str, killed: bool) -> None:
    OUTCOMES.append((command, fault, outcome, killed))
    print(f"  {command:<8} kill at {fault:<55} {'killed' if killed else 'not reached':<12} → {outcome}")
    assert outcome in ("identical", "clear error"), (command, fault, outcome)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """An ingested, embedded and clustered mnist-lt workspace every case copies."""
    ws = tmp_path_factory.mktemp("faults") / "base"
    for args in (("ingest", "builtin:mnist-lt"), ("embed", "--embedder", "hog", "--num-workers", "0"),
                 ("cluster", "--k", "6")):  # fmt: skip
        code, output, _ = cli(ws, *args)
        assert code == 0, output
    return ws


def _copy(base: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(base, target)
    return target


def _table(path: Path, sort: str = "sample_id"):
    return pq.read_table(path).sort_by(sort)


def _scores_of(ws: Path, kind: str):
    code, output, _ = cli(ws, "query", f"SELECT id FROM runs WHERE kind = '{kind}' AND status = 'done'",
                          "--format", "csv")  # fmt: skip
    assert code == 0, output
    runs = output.strip().splitlines()[1:]
    return runs


def test_kill_embed_cluster_select_publish_train_store(base: Path, tmp_path: Path) -> None:
    TINY = ("--model", "DiT-T/4", "--width", "32", "--depth", "1", "--heads", "2", "--batch-size", "32",
            "--grid-steps", "1", "--unconditional")  # fmt: skip

    # --- embed (pixels: a second embedding of the source) ----------------------------------------
    reference = _copy(base, tmp_path, "embed-ref")
    embed = ("embed", "--embedder", "pixels:16:8", "--num-workers", "0")
    assert cli(reference, *embed)[0] == 0
    ref_store = next((reference / "embeddings" / "mnist-lt").glob("pixels*"))
    for fault in ("embeddings/mnist-lt/pixels*/meta.json", "embeddings/mnist-lt/pixels*/part-00000.npy",
                  "embeddings/mnist-lt/pixels*/_SUCCESS.00000", 4.0):  # fmt: skip
        ws = _copy(base, tmp_path, f"embed-{len(OUTCOMES)}")
        killed = cli(ws, *embed, kill_when=fault)[2]
        code, output, _ = cli(ws, *embed)
        store = next((ws / "embeddings" / "mnist-lt").glob("pixels*"))
        same = code == 0 and all(
            np.array_equal(np.load(store / f.name), np.load(f)) for f in ref_store.glob("part-*.npy")
        )
        record(
            "embed",
            str(fault),
            "identical" if same else ("clear error" if clear_error(code, output) else output[-300:]),
            killed,
        )

    # --- cluster --------------------------------------------------------------------------------------
    reference_runs = _scores_of(base, "cluster")
    ref_scores = _table(next((base / "scores" / reference_runs[0]).glob("part-*.parquet")))
    for fault in ("clusterings/.*.partial", "scores/.*.partial/part-00000.parquet", "scores/cluster-*", 6.0):
        ws = _copy(base, tmp_path, f"cluster-{len(OUTCOMES)}")
        killed = cli(ws, "cluster", "--k", "6", kill_when=fault)[2]
        code, output, _ = cli(ws, "query", "SELECT count(*) FROM scores")  # readers survive the kill
        assert code == 0, output
        code, output, _ = cli(ws, "cluster", "--k", "6")
        runs = _scores_of(ws, "cluster")
        newest = sorted(set(runs) - set(reference_runs))
        same = (
            code == 0
            and newest
            and all(
                _table(next((ws / "scores" / run).glob("part-*.parquet"))).equals(ref_scores)
                for run in newest
            )
        )
        visible = [p.name for p in (ws / "clusterings").iterdir() if not p.name.startswith(".")]
        same = same and sorted(visible) == sorted(runs)  # no folder without its run
        record(
            "cluster",
            str(fault),
            "identical" if same else ("clear error" if clear_error(code, output) else output[-300:]),
            killed,
        )

    # --- select -------------------------------------------------------------------------------------------
    clustering = reference_runs[0]
    select = ("select", "--name", "half", "--method", "cluster", "--balance", "equal", "--ratio", "0.5",
              "--clustering", clustering)  # fmt: skip
    reference = _copy(base, tmp_path, "select-ref")
    assert cli(reference, *select)[0] == 0
    ref_ids = _table(reference / "subsets" / "half" / "v1" / "ids.parquet")
    for fault in ("subsets/half/.v1.partial", "subsets/half/.v1.partial/ids.parquet", "subsets/half/v1", 3.0):
        ws = _copy(base, tmp_path, f"select-{len(OUTCOMES)}")
        killed = cli(ws, *select, kill_when=fault)[2]
        code, output, _ = cli(ws, *select)
        ids = ws / "subsets" / "half" / "v1" / "ids.parquet"
        same = code == 0 and _table(ids).equals(ref_ids)
        record(
            "select",
            str(fault),
            "identical" if same else ("clear error" if clear_error(code, output) else output[-300:]),
            killed,
        )

    # --- publish ------------------------------------------------------------------------------------------
    published = _copy(reference, tmp_path, "publish-base")
    assert cli(published, "publish", "half", "--to", str(tmp_path / "ref-dest"))[0] == 0
    ref_bundle = tmp_path / "ref-dest" / "v1"
    for fault in ("../dest-{n}/.v1.partial-*", "../dest-{n}/.v1.partial-*/README.md", "../dest-{n}/v1", 2.5):
        n = len(OUTCOMES)
        ws = _copy(reference, tmp_path, f"publish-{n}")
        dest = tmp_path / f"dest-{n}"
        point = fault.format(n=n) if isinstance(fault, str) else fault
        killed = cli(ws, "publish", "half", "--to", str(dest), kill_when=point)[2]
        code, output, _ = cli(ws, "publish", "half", "--to", str(dest))
        same = (
            code == 0
            and all(
                (dest / "v1" / name).read_bytes() == (ref_bundle / name).read_bytes()
                for name in ("ids.parquet", "stats.json")
            )
            and not list(dest.glob(".v*"))
        )
        record(
            "publish",
            str(fault).replace("-{n}", ""),
            "identical" if same else ("clear error" if clear_error(code, output) else output[-300:]),
            killed,
        )

    # --- train ----------------------------------------------------------------------------------------------
    train = ("train", "-d", "half", "--steps", "40", "--checkpoint-every", "10", "--run", "t", *TINY)
    reference_train = _copy(reference, tmp_path, "train-ref")
    assert cli(reference_train, *train)[0] == 0
    ref_weights = (reference_train / "runs" / "t" / "ema.safetensors").read_bytes()
    for fault in ("runs/t/checkpoints/.step-*.partial", "runs/t/checkpoints/step-0000010",
                  "runs/t/checkpoints/step-0000030", "runs/t/config.yaml", 12.0):  # fmt: skip
        ws = _copy(reference, tmp_path, f"train-{len(OUTCOMES)}")
        killed = cli(ws, *train, kill_when=fault)[2]
        code, output, _ = cli(ws, *train, "--resume")
        weights = ws / "runs" / "t" / "ema.safetensors"
        same = code == 0 and weights.is_file() and weights.read_bytes() == ref_weights
        code_status, status, _ = cli(ws, "status")
        same = same and code_status == 0 and "interrupted" not in status
        record(
            "train",
            str(fault),
            "identical" if same else ("clear error" if clear_error(code, output) else output[-300:]),
            killed,
        )

    # --- store (the image store train and evaluate read) ------------------------------------------------
    store = ("store", "-d", "half", "--image-size", "16", "--num-workers", "0")
    reference_store = _copy(reference, tmp_path, "store-ref")
    assert cli(reference_store, *store)[0] == 0
    (ref_folder,) = (reference_store / "cache" / "stores").glob("*/*")
    ref_files = {p.name: p.read_bytes() for p in ref_folder.iterdir()}
    for fault in ("cache/stores/*/*/.part-00000.npy~*", "cache/stores/*/*/part-00000.npy",
                  "cache/stores/*/*/_SUCCESS.00000", 2.0):  # fmt: skip
        ws = _copy(reference, tmp_path, f"store-{len(OUTCOMES)}")
        killed = cli(ws, *store, kill_when=fault)[2]
        code, output, _ = cli(ws, *store)
        folders = list((ws / "cache" / "stores").glob("*/*"))
        files = {p.name: p.read_bytes() for p in folders[0].iterdir()} if len(folders) == 1 else None
        record(
            "store",
            str(fault),
            "identical" if code == 0 and files == ref_files else
            ("clear error" if clear_error(code, output) else output[-300:]),
            killed,
        )  # fmt: skip

    table = Counter((c, o) for c, _, o, _ in OUTCOMES)
    print("\ncommand  cases  identical  clear error  other")
    for command in dict.fromkeys(c for c, _, _, _ in OUTCOMES):
        cases = sum(n for (c, _), n in table.items() if c == command)
        print(f"{command:<8} {cases:>5}  {table[(command, 'identical')]:>9}  {table[(command, 'clear error')]:>11}  "
              f"{cases - table[(command, 'identical')] - table[(command, 'clear error')]:>5}")  # fmt: skip


def test_readers_in_a_loop_never_crash_writers(base: Path, tmp_path: Path) -> None:
    """`status` and `query` polled while select, cluster and a training run commit: zero tracebacks, zero
    failed writers (issue 17.4)."""
    ws = _copy(base, tmp_path, "concurrent")
    writers = [
        ("select", "--name", "a", "--method", "random", "--ratio", "0.5"),
        ("cluster", "--k", "4"),
        ("select", "--name", "b", "--method", "random", "--ratio", "0.7"),
        ("train", "-d", "a", "--steps", "20", "--checkpoint-every", "5", "--model", "DiT-T/4", "--width", "32",
         "--depth", "1", "--heads", "2", "--batch-size", "32", "--grid-steps", "1", "--unconditional"),
    ]  # fmt: skip
    reader_outputs = []
    for args in writers:
        proc = subprocess.Popen([sys.executable, "-m", "thresher.cli", "-w", str(ws), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)  # fmt: skip
        while proc.poll() is None:
            for reader in (("status",), ("query", "SELECT count(*) FROM runs")):
                reader_outputs.append(cli(ws, *reader))
        output = proc.communicate()[0]
        assert proc.returncode == 0, output
    assert reader_outputs
    bad = [o for code, o, _ in reader_outputs if code != 0 or "Traceback" in o]
    assert not bad, bad[:2]
    print(f"\n{len(reader_outputs)} reader calls during {len(writers)} writers: 0 failures")
