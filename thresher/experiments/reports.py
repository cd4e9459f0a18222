"""`thresher report`: the page of the evaluations (``evaluate/report_run.py``), or with ``--sweep`` the
report of one sweep (``experiments/sweep_report.py``). It sits here because the sweep's report is an
experiment's, and experiments may use every stage."""

from __future__ import annotations

from pathlib import Path

from thresher.catalog.workspace import Workspace
from thresher.evaluate.config import ReportConfig
from thresher.evaluate.report import ReportFiles


def write_report(ws: Workspace, config: ReportConfig) -> ReportFiles:
    out = Path(config.out) if config.out else None
    if config.sweep:
        from thresher.experiments.sweep_report import write_sweep_report

        return write_sweep_report(ws, config.sweep, out)
    from thresher.evaluate.report_run import run_report

    return run_report(ws, out, list(config.runs) or None)
