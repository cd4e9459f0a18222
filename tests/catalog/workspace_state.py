"""What the removal and rename tests compare and record: a workspace's catalog rows and files, a training
as `train` and `evaluate` record it, and the command line's one-line errors."""

from __future__ import annotations

from click.testing import CliRunner

from thresher.catalog.names import utcnow
from thresher.catalog.runs import start_run
from thresher.catalog.tables import TABLES, insert_row
from thresher.catalog.workspace import Workspace
from thresher.cli import main


def train_record(ws: Workspace, run_id: str, dataset: str, evaluation: str) -> None:
    """A finished training on ``dataset`` with one evaluation, as `train` and `evaluate` record them."""
    start_run(ws, run_id, "train", "mnist-lt", {"dataset": dataset}, ws.run_dir(run_id), dataset=dataset,
              status="done")  # fmt: skip
    (ws.run_dir(run_id) / "evaluations").mkdir(parents=True)
    (ws.run_dir(run_id) / "ema.safetensors").write_bytes(b"weights")
    (ws.run_dir(run_id) / "evaluations" / f"{evaluation}.json").write_text("{}")
    with ws.connect() as con:
        insert_row(con, "evaluations", {"id": evaluation, "run": run_id, "dataset": dataset,
                                        "extractor": "classifier", "n": 10, "metrics": "{}",
                                        "created": utcnow(), "seconds": 1.0})  # fmt: skip


def catalog_rows(ws: Workspace) -> dict[str, list[str]]:
    with ws.connect(read_only=True) as con:
        return {t: sorted(repr(r) for r in con.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}


def files(ws: Workspace) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(ws.root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in ws.root.rglob("*")
        if p.is_file() and not p.name.startswith("catalog.duckdb")
    )


def cli(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-w", str(ws.root), *args])
    return result.exit_code, result.output.strip()


def one_line_error(ws: Workspace, *args: str) -> str:
    code, output = cli(ws, *args)
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in output, output
    return lines[0]
