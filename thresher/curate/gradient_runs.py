"""Which gradient score run a request means, found in the catalog without loading torch: `select` of a
gradient method whose run exists costs a catalog read, not the training stack (hardening item 16; it took
24.7 s on a loaded machine). Computing a missing run is :mod:`thresher.curate.gradient_scoring`'s."""

from __future__ import annotations

import dataclasses

from thresher.catalog.runs import latest_run, run_by_config_hash
from thresher.catalog.workspace import Workspace
from thresher.curate.config import ScoreRunConfig
from thresher.curate.scores.registry import ScoreContext
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


def gradient_scores(ws: Workspace, context: ScoreContext) -> str:
    """A gradient method's score run for a selection (``ScoreMethod.scores``): the run ``thresher score``
    makes with the same options, computed only when it does not exist yet."""
    options = dataclasses.asdict(context.options)
    config = ScoreRunConfig(method=context.method, source=context.source, **options)
    found, _, _ = existing_score_run(ws, config, context.source)
    if found is not None:
        return found
    from thresher.curate.gradient_scoring import run_score

    return run_score(ws, config).run_id
