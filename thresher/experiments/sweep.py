"""`thresher sweep`: run a research grid (:mod:`thresher.experiments.sweep_spec`) cell by cell, resumably.

Prerequisites first, each found again by its settings when it exists: the sources (built-ins are ingested),
the embeddings, one clustering and, for the gradient methods, one pretraining. Then every cell of this
shard (:mod:`thresher.experiments.sweep_cells`): select the subset (named by its selection key), train
(run id from the training key; a run killed mid-way resumes from its newest complete checkpoint), evaluate,
draw ``noise_grid`` samples from the sweep's shared initial noise, and record the cell. A cell already
recorded is skipped, so rerunning a sweep, resuming a killed one and running a second sweep that shares
cells all do only the work that is missing.

Work every cell shares (ingest, embedding, clustering, pretraining, the source's autoencoder and latent
store, the evaluation classifier) is done or found once; its time is recorded apart (``one_time`` in the
seconds of the first cell this process records), never in that cell's own time.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thresher.catalog.runs import finished_runs, run_exists
from thresher.catalog.subsets import first_version
from thresher.catalog.sweeps import (
    claim_cell,
    finished_cell,
    record_cell,
    record_sweep,
    release_cell,
    sweep_row,
)
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError
from thresher.executors.slurm import Submission
from thresher.experiments.sweep_cells import Cell, SweepContext, chosen_cells, expand, shard_cells
from thresher.experiments.sweep_config import SweepRunConfig
from thresher.experiments.sweep_context import CLUSTER_IDENTITY, cluster_settings, preflight, spec_record
from thresher.experiments.sweep_spec import SweepSpec
from thresher.progress import note, task

# One initial noise for every cell's grid samples, so a method's row of images across ratios differs only
# by the model (the paper's Figure 2/3).
NOISE_SEED = 20241119
NOISE_FILE = "sweep-noise.npy"


@dataclass
class SweepOutcome:
    name: str
    total: int  # cells in the whole sweep
    mine: int  # cells of this shard
    ran: int
    skipped: int
    seconds: float
    clustering: str | None = None  # the clustering run the sweep's selections (and conditioning) used
    prepared: bool = False  # --prerequisites-only: what the cells need is ready, no cell ran
    held: dict[str, str] = field(default_factory=dict)  # cell → the live process running it, left to it

    def lines(self) -> list[str]:
        if self.prepared:
            return [f"sweep {self.name}: prerequisites of {self.mine} cells ready ({self.seconds:.0f}s)"]
        out = [
            f"sweep {self.name}: {self.ran} cells run, {self.skipped} already done, of {self.mine} in this shard "
            f"({self.total} in the sweep), {self.seconds / 60:.1f} min"
        ]
        if self.held:
            holders = ", ".join(sorted(set(self.held.values())))
            out.append(
                f"{len(self.held)} cells were being run by another process ({holders}) and were left to it: "
                "run the sweep again once it ends to fill in any it did not finish"
            )
        return [*out, f"report: thresher report --sweep {self.name}"]


def run_sweep(ws: Workspace, config: SweepRunConfig) -> SweepOutcome | Submission:
    """Run (or resume) the sweep ``config.spec``, or this process's shard of it; with ``--executor slurm``
    submit its pending cells as a job array instead (:mod:`thresher.experiments.sweep_slurm`)."""
    from thresher.experiments.sweep_presets import spec_for

    spec = spec_for(config.spec)
    if config.executor.on_slurm:
        from thresher.experiments.sweep_slurm import submit_sweep

        return submit_sweep(ws, spec, config)
    return run_spec(
        ws, spec, config.shard_range, config.cell_indices, config.prerequisites_only, config.max_cells
    )


def run_spec(
    ws: Workspace,
    spec: SweepSpec,
    shard: tuple[int, int] | None = None,
    cell_indices: list[int] | None = None,
    prerequisites_only: bool = False,
    max_cells: int = SweepRunConfig.max_cells,
) -> SweepOutcome:
    started = time.perf_counter()
    preflight(ws, spec, max_cells)  # everything checkable is checked before the first thing runs
    # An array task (--cells) of a sweep whose prepare job recorded this very spec: its built-in sources
    # were ingested and checked there, so they are looked up rather than loaded again (half of a task's
    # start on 2 cores), and the sweep's members are not rewritten by every task.
    recorded = sweep_row(ws, spec.name) if cell_indices is not None else None
    prepared = recorded is not None and recorded["spec"] == json.loads(
        json.dumps(spec_record(spec), default=str)
    )
    prerequisites = _Prerequisites.prepare(ws, spec, ingested=prepared)
    cells = expand(spec, prerequisites.context)
    if not prepared:
        record_sweep(ws, spec.name, spec_record(spec), spec.path, [c.key for c in cells])
    mine = chosen_cells(shard_cells(cells, shard), cell_indices)
    if prerequisites_only:
        _prepare_cells(ws, spec, mine, prerequisites)
        return SweepOutcome(spec.name, len(cells), len(mine), 0, 0, time.perf_counter() - started,
                            prerequisites.clustering, prepared=True)  # fmt: skip
    todo = [c for c in mine if finished_cell(ws, c.key) is None]
    note(f"sweep {spec.name}: {len(cells)} cells, {len(mine)} in this shard, {len(todo)} to run")
    one_time: dict[str, float] = dict(prerequisites.seconds) if todo else {}
    if todo and not prepared:  # (an array task's prepare job made them: its cells only read them)
        step = time.perf_counter()
        _prepare_training_data(ws, spec, prerequisites)
        one_time["autoencoder and latent store"] = time.perf_counter() - step
    ran, held = 0, {}
    with task(f"sweep {spec.name}", len(mine), unit="cell", initial=len(mine) - len(todo)) as bar:
        for cell in todo:
            label = f"{cell.series} r={cell.ratio:g} seed {cell.seed}"
            bar.describe(label)
            # One owner per cell: another sweep process sharing it (a second sweep, or this one run twice
            # without --shard) is left to run it, and this one moves on (docs/architecture.md, 'Sweeps').
            claim = claim_cell(ws, cell.key)
            if not claim.taken:
                if claim.holder is not None:
                    held[label] = claim.holder
                    note(f"  {label}: being run by {claim.holder}; left to it")
                bar.advance()
                continue
            try:
                seconds = _run_cell(ws, spec, cell, prerequisites, one_time)
            finally:
                release_cell(ws, cell.key)
            one_time = {}  # recorded with the first cell, once
            ran += 1
            note(f"  {label}: {seconds['total']:.0f}s")
            bar.advance()
    return SweepOutcome(
        spec.name,
        len(cells),
        len(mine),
        ran,
        len(mine) - ran - len(held),
        time.perf_counter() - started,
        prerequisites.clustering,
        held=held,
    )


def _prepare_cells(ws: Workspace, spec: SweepSpec, cells: list[Cell], pre: _Prerequisites) -> None:
    """What cells running at once would otherwise each make for themselves: every cell's subset (two
    cells of one selection key share it; a gradient method's score run is computed once) and the
    source's autoencoder and image store, which every cell's training reads."""
    for cell in cells:
        if cell.select is not None and finished_cell(ws, cell.key) is None:
            _subset(ws, cell, pre)
    _prepare_training_data(ws, spec, pre)
    note(f"sweep {spec.name}: prerequisites of {len(cells)} cells ready")


def _prepare_training_data(ws: Workspace, spec: SweepSpec, pre: _Prerequisites) -> None:
    """The source's autoencoder and latent store, trained and encoded once (found again when they exist)."""
    from thresher.dataset_resolution import resolve_dataset
    from thresher.images import parse_background
    from thresher.train.train_run import prepare_training_data

    run = _train_config(spec, pre.source, None, pre, cell=None, n_rows=pre.n_source)
    prepare_training_data(
        ws, resolve_dataset(ws, pre.source), image_size=run.image_size, vae=run.vae,
        autoencoder=run.autoencoder, model_size=None, device=run.train.device, unconditional=True,
        background=parse_background(run.background), resize=run.resize, num_workers=run.train.num_workers,
    )  # fmt: skip


@dataclass
class _Prerequisites:
    source: str
    reference: str
    n_source: int
    clustering: str
    pretrain: str | None
    context: SweepContext
    seconds: dict[str, float]  # what finding or making each prerequisite took, in this process

    @classmethod
    def prepare(cls, ws: Workspace, spec: SweepSpec, ingested: bool = False) -> _Prerequisites:
        from thresher.curate.config import EmbedRunConfig
        from thresher.curate.embed_run import run_embed

        step = time.perf_counter()
        seconds: dict[str, float] = {}

        def took(what: str) -> None:
            nonlocal step
            seconds[what] = time.perf_counter() - step
            step = time.perf_counter()

        source = _ingested(ws, spec.source, spec.seed, ingested)
        reference = _ingested(ws, spec.reference, spec.seed, ingested)
        took("ingest")
        embedded = run_embed(
            ws, EmbedRunConfig(embedder=spec.embedder, source=source, num_workers=0, seed=spec.seed)
        )
        took("embedding")
        clustering, cluster_identity = _clustering(ws, spec, source, embedded.final_embedder)
        took("clustering")
        # (planned_context computes the same identities from the settings alone; a test keeps them equal)
        pretrain, pretrain_identity = None, None
        if spec.needs_pretrain:
            from thresher.train.config import PretrainConfig
            from thresher.train.pretrain import run_pretrain

            config = PretrainConfig(source=source, **spec.pretrain_settings)
            pretrain = run_pretrain(ws, config).run_id
            pretrain_identity = config.identity()
            took("pretraining")
        row = ws.source_row(source)
        context = SweepContext(source, row["revision"], cluster_identity, pretrain_identity)
        return cls(source, reference, int(row["n_ok"]), clustering, pretrain, context, seconds)


def _ingested(ws: Workspace, source: str, seed: int, done: bool = False) -> str:
    if not source.startswith("builtin:"):
        return source
    if done:  # ingested by the run that recorded the sweep; a built-in's id is its name
        return source.removeprefix("builtin:")
    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest

    return ingest(ws, IngestConfig(source=source, seed=seed)).source_id


def _clustering(ws: Workspace, spec: SweepSpec, source: str, embedder: str) -> tuple[str, dict[str, Any]]:
    """The sweep's clustering: a finished run with the same settings, else a new one."""
    from thresher.curate.cluster_run import run_cluster

    config, identity = cluster_settings(spec, source, embedder)
    for run in finished_runs(ws, source, "cluster"):
        if all(run["config"].get(key) == identity[key] for key in CLUSTER_IDENTITY):
            return run["id"], identity
    return run_cluster(ws, config).run_id, identity


def _run_cell(
    ws: Workspace, spec: SweepSpec, cell: Cell, pre: _Prerequisites, one_time: dict[str, float]
) -> dict[str, Any]:
    """Select, train, evaluate and record one cell; ``one_time`` (work shared by every cell, done before
    it) is recorded with it but apart from its own time, as is the evaluation classifier when this cell's
    evaluation trained it."""
    one_time = dict(one_time)
    seconds: dict[str, Any] = {}
    start = time.perf_counter()
    dataset, n_rows = _subset(ws, cell, pre)
    seconds["select"] = time.perf_counter() - start

    step = time.perf_counter()
    _train(ws, spec, cell, pre, dataset, n_rows)
    seconds["train"] = time.perf_counter() - step

    step = time.perf_counter()
    from thresher.evaluate.config import EvalRunConfig
    from thresher.evaluate.eval_run import evaluate_run

    settings = dict(spec.evaluate)
    if "cfg_interval" in settings:  # YAML has lists, the sampler takes a (start, end) pair
        settings["cfg_interval"] = tuple(settings["cfg_interval"])
    evaluation = EvalRunConfig(run=cell.run_id, against=pre.reference, seed=cell.seed, **settings)
    outcome = evaluate_run(ws, evaluation)
    seconds["evaluate"] = time.perf_counter() - step
    if outcome.metrics.get("classifier_trained"):  # the first evaluation of this reference trains it
        classifier = float(outcome.metrics.get("seconds_extractor") or 0.0)
        one_time["evaluation classifier"] = classifier
        seconds["evaluate"] -= classifier

    if spec.noise_grid:
        from thresher.train.sampling import generate

        images = generate(
            ws.run_dir(cell.run_id), spec.noise_grid, seed=NOISE_SEED, steps=evaluation.steps,
            sampler=evaluation.sampler, cfg_scale=evaluation.cfg_scale, cfg_interval=evaluation.cfg_interval,
            device=evaluation.device,
        )  # fmt: skip
        np.save(ws.run_dir(cell.run_id) / NOISE_FILE, images)
    seconds["total"] = time.perf_counter() - start - one_time.get("evaluation classifier", 0.0)
    if one_time:
        seconds["one_time"] = one_time
    description = {**cell.describe(), "n_rows": n_rows, "dataset": dataset}
    record_cell(ws, cell.key, description, dataset if cell.select else None, cell.run_id, outcome.id, seconds)
    return seconds


def _subset(ws: Workspace, cell: Cell, pre: _Prerequisites) -> tuple[str, int]:
    """The cell's training set: the whole source, or its subset (selected once, found again by name)."""
    if cell.select is None:
        return pre.source, pre.n_source
    from thresher.curate.config import SelectConfig
    from thresher.curate.select import select

    found = first_version(ws, cell.subset_name)
    if found:
        return f"{cell.subset_name}@v{found[0]}", found[1]
    options = dict(cell.select)
    config = SelectConfig(
        name=cell.subset_name,
        source=pre.source,
        clustering=pre.clustering,
        pretrain=pre.pretrain if "pretrain" in _needs(options["method"]) else None,
        **options,
    )
    try:
        result = select(ws, config)
    except ThresherError:
        # Cells of other seeds share a deterministic selection: another sweep process running one of them
        # may have committed it while this one selected (select then refuses to make a second v1).
        found = first_version(ws, cell.subset_name)
        if found:
            return f"{cell.subset_name}@v{found[0]}", found[1]
        raise
    return result.ref, result.n


def _needs(method: str) -> frozenset[str]:
    from thresher.curate.scores.registry import get_method

    return get_method(method).needs


def _train(
    ws: Workspace, spec: SweepSpec, cell: Cell, pre: _Prerequisites, dataset: str, n_rows: int
) -> None:
    from thresher.train.checkpoints import has_checkpoint
    from thresher.train.train_run import run_training

    if run_exists(ws, cell.run_id):
        return
    run_dir = ws.run_dir(cell.run_id)
    resume = has_checkpoint(run_dir)
    if not resume and run_dir.exists():
        # The sweep's own run (its id is the training key), killed before its first checkpoint: start over.
        shutil.rmtree(run_dir)
    run_training(ws, _train_config(spec, dataset, cell.run_id, pre, cell, n_rows, resume))


def _train_config(
    spec: SweepSpec,
    dataset: str,
    run: str | None,
    pre: _Prerequisites,
    cell: Cell | None,
    n_rows: int,
    resume: bool = False,
):  # -> TrainRunConfig
    """The training of a cell (or, without a cell, the settings every cell shares: its data)."""
    from thresher.train.autoencoder import AutoencoderConfig
    from thresher.train.config import TrainConfig, TrainRunConfig

    base = TrainConfig(**spec.model_settings)
    steps = (
        spec.steps if spec.budget == "steps" else max(1, round(float(spec.epochs) * n_rows / base.batch_size))
    )
    # Four checkpoints per run at most: enough to resume a killed cell without losing much of it.
    checkpoint_every = max(1, min(steps, max(50, steps // 4)))
    seed = cell.seed if cell is not None else base.seed
    train = TrainConfig(
        **{**asdict(base), "steps": steps, "seed": seed, "checkpoint_every": checkpoint_every}
    )
    if "sample_count" not in spec.train:
        train.sample_count = 0  # the sweep draws its own grids
    return TrainRunConfig(
        dataset=dataset,
        train=train,
        vae=spec.vae,
        autoencoder=AutoencoderConfig(steps=spec.autoencoder_steps, seed=spec.seed),
        clusters=pre.clustering if spec.cluster_conditioning else None,
        run=run,
        resume=resume,
        **spec.data_settings,
    )


def noise_images(ws: Workspace, run: str) -> np.ndarray | None:
    path = Path(ws.run_dir(run)) / NOISE_FILE
    return np.load(path) if path.is_file() else None
