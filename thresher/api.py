"""The command table: everything thresher does, as command name → (config dataclass, function, result).

Both front ends are built from this one table (docs/architecture.md, 'Layers'): the command line makes a
click command per row, its options from the config's fields (:mod:`thresher.commands.build`); the
service accepts ``{"command": NAME, "config": {...}}``, builds the same dataclass
(:func:`thresher.config_json.config_from_json`, so the same ``__post_init__`` validates it) and queues
the function as a job. Adding a command is adding a row here; nothing in either front end names a
command. The command line's extra front-end commands (``serve``) are the only ones not in the table, and
a test keeps the two in step (as litgpt's ``PARSER_DATA`` and its assert do).

Every function takes ``(workspace, config)`` and returns a result that is plain data: a dataclass that
:func:`thresher.config_json.to_json_value` serializes and whose ``lines()`` the command line prints.
Functions are named by import path and imported on first use, so ``thresher --help`` and the service's
request validation never load torch or the models.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from thresher.catalog.config import IngestConfig, MoveConfig, QueryConfig, RemoveConfig, StatusConfig
from thresher.catalog.workspace import Workspace
from thresher.config_json import config_from_json
from thresher.curate.config import (
    ClusterRunConfig,
    EmbedRunConfig,
    LayoutConfig,
    PublishConfig,
    ScoreRunConfig,
    SelectConfig,
)
from thresher.errors import ConfigError
from thresher.evaluate.config import EvalRunConfig, ReportConfig
from thresher.experiments.demo_config import DemoConfig
from thresher.experiments.sweep_config import SweepRunConfig
from thresher.train.config import PretrainConfig, ReweightConfig, SampleConfig, StoreConfig, TrainRunConfig


@dataclass(frozen=True)
class Command:
    """One row of the table.

    ``function`` is ``"module:name"`` of a callable ``(Workspace, config) -> result``. ``arguments`` are
    the config fields the command line takes as positional arguments, in order. ``job`` says whether the
    service runs it as a queued job in its own process (what writes or computes) or answers it directly
    (the reads: ``query``, ``status``). ``help`` is the command's description in both front ends.
    """

    name: str
    config: type
    function: str
    help: str
    arguments: tuple[str, ...] = ()
    job: bool = True

    def resolve(self) -> Callable[[Workspace, Any], Any]:
        module, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def build(self, values: Mapping[str, Any] | None) -> Any:
        """The validated config from a JSON object (a one-line ConfigError naming the field if invalid)."""
        return config_from_json(self.config, values)

    def run(self, ws: Workspace, config: Any) -> Any:
        if not isinstance(config, self.config):
            raise TypeError(f"{self.name} takes a {self.config.__name__}, not {type(config).__name__}")
        return self.resolve()(ws, config)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command(
            "ingest",
            IngestConfig,
            "thresher.catalog.ingest:ingest",
            "Register SOURCE: a Hub id, an image folder, Parquet file/glob, a save_to_disk folder, or "
            "builtin:mnist|mnist-lt|digits.",
            arguments=("source",),
        ),
        Command(
            "embed",
            EmbedRunConfig,
            "thresher.curate.embed_run:run_embed",
            "Embed every ok row of a source (sharded; an interrupted run resumes).",
        ),
        Command(
            "cluster",
            ClusterRunConfig,
            "thresher.curate.cluster_run:run_cluster",
            "k-means (faiss) on a source's embeddings; with several k, an inertia table and elbow plot.",
        ),
        Command(
            "score",
            ScoreRunConfig,
            "thresher.curate.gradient_scoring:run_score",
            "Score every ok row with a gradient method from a pretraining run (resumable; reused when done).",
        ),
        Command(
            "layout",
            LayoutConfig,
            "thresher.curate.layout:run_layout",
            "A 2-D layout (UMAP or PCA) of a source's embeddings for the embedding map, stored as Parquet "
            "(reused when the same one exists).",
        ),
        Command(
            "select",
            SelectConfig,
            "thresher.curate.select:select",
            "Select a subset with a method and store it as NAME@vN.",
        ),
        Command(
            "publish",
            PublishConfig,
            "thresher.curate.publish:publish",
            "Publish subset REF (NAME or NAME@vN) with its card, ids, scores and plots.",
            arguments=("ref",),
        ),
        Command(
            "query",
            QueryConfig,
            "thresher.catalog.query:query",
            "Run read-only SQL over views samples, scores, subsets, subset_members, clusters, cluster_levels, "
            "score_runs, sources, runs, evaluations, embeddings_meta.",
            arguments=("sql",),
            job=False,
        ),
        Command(
            "status",
            StatusConfig,
            "thresher.catalog.status:workspace_status",
            "What is in the workspace.",
            job=False,
        ),
        Command(
            "rm",
            RemoveConfig,
            "thresher.catalog.removal:remove",
            "Remove a source, a subset or a run (thresher rm source|subset|run NAME; a subset NAME@vN is one "
            "version, NAME every version) with its rows and files. While anything depends on it (a source's embeddings, runs and subsets; a "
            "subset's training runs and sweep cells; a run's subsets, evaluations and the runs that name it) "
            "it refuses and lists them; --force removes them too, --dry-run lists what would go. Other "
            "versions keep their numbers and a removed number is not given again; published copies are not "
            "deleted.",
            arguments=("kind", "name"),
        ),
        Command(
            "mv",
            MoveConfig,
            "thresher.catalog.subset_rename:move",
            "Rename subset OLD to NEW (thresher mv subset OLD NEW): every version, its rows and folder. "
            "Refused if NEW is taken or was used, or while runs, evaluations or sweep cells name OLD@vN "
            "(remove them first, or keep the name); published copies keep the old name.",
            arguments=("kind", "old", "new"),
        ),
        Command(
            "pretrain",
            PretrainConfig,
            "thresher.train.pretrain:run_pretrain",
            "A short training run on a whole source that saves checkpoints and a per-epoch loss log for the "
            "gradient scores (rerun the same command to resume a killed run).",
        ),
        Command(
            "train",
            TrainRunConfig,
            "thresher.train.train_run:run_training",
            "Train a flow-matching DiT on a named (pruned) dataset.",
        ),
        Command(
            "reweight",
            ReweightConfig,
            "thresher.train.reweight:run_reweight",
            "DRO group weights of a subset (DoReMi-style): train a proxy DiT on it against a reference run, "
            "and write the mean weights as a run that `thresher train --weights RUN` reads.",
        ),
        Command(
            "store",
            StoreConfig,
            "thresher.train.store_run:build_store",
            "Build a dataset's image store ahead of training: its decoded pixels, or --vae latents (train and "
            "evaluate build what they need on first use; a rerun builds only what is missing).",
        ),
        Command(
            "sample",
            SampleConfig,
            "thresher.train.train_run:run_sampling",
            "Generate N images from a training run's EMA model.",
        ),
        Command(
            "evaluate",
            EvalRunConfig,
            "thresher.evaluate.eval_run:evaluate_run",
            "FID, KID, IS, precision/recall, density/coverage, Vendi, memorization and balance of generated "
            "images.",
        ),
        Command(
            "report",
            ReportConfig,
            "thresher.experiments.reports:write_report",
            "Plots (metrics vs pruning ratio per method, class shares, sample grids) and a page from the "
            "evaluations, or with --sweep the report of a sweep.",
        ),
        Command(
            "sweep",
            SweepRunConfig,
            "thresher.experiments.sweep:run_sweep",
            "Run the grid of SPEC (a YAML file or a preset: paper-mini, quick): methods × ratios × seeds, "
            "resumably.",
            arguments=("spec",),
        ),
        Command(
            "demo",
            DemoConfig,
            "thresher.experiments.demo:run_demo",
            "The whole loop on real long-tailed MNIST, offline: curate, publish, train, evaluate, report.",
        ),
    ]
}


def command(name: str) -> Command:
    """The table's row for ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in COMMANDS:
        raise ConfigError(f"unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", field="command")
    return COMMANDS[name]
