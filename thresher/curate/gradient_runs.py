"""Which gradient score run a request means, found in the catalog without loading torch: `select` of a
gradient method whose run exists costs a catalog read, not the training stack (hardening item 16; it took
24.7 s on a loaded machine). Computing a missing run is :mod:`thresher.curate.gradient_scoring`'s; the gradient methods
(:mod:`thresher.curate.scores.methods.gradient`) call it only when this finds none."""

from __future__ import annotations

from thresher.catalog.runs import latest_run, run_by_config_hash
from thresher.catalog.workspace import Workspace
from thresher.curate.config import ScoreRunConfig
from thresher.errors import ThresherError
from thresher.train.pretrain_record import PRETRAIN_KIND, pretrain_settings

SCORE_KIND = "score"


def resolve_pretrain(ws: Workspace, source: str, pretrain: str | None) -> tuple[str, dict]:
    """The pretraining run to score with and its recorded settings (one-line errors otherwise)."""
    run_id = pretrain or latest_run(ws, source, PRETRAIN_KIND)
    if run_id is None:
        raise ThresherError(
            f"no pretraining of source {source!r}: run `thresher pretrain --source {source}` first"
        )
    settings = pretrain_settings(ws, run_id)
    if settings.get("source") != source:
        raise ThresherError(
            f"pretraining {run_id!r} trained on source {settings.get('source')!r}, not {source!r}"
        )
    return run_id, settings


def existing_score_run(ws: Workspace, config: ScoreRunConfig, source: str) -> tuple[str | None, str, dict]:
    """(the finished run for this request or None, the pretraining run, its settings)."""
    pretrain, settings = resolve_pretrain(ws, source, config.pretrain)
    return run_by_config_hash(ws, SCORE_KIND, config.identity(source, pretrain)), pretrain, settings
