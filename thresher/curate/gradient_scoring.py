"""`thresher score`: a gradient method's score of every ok row, from a pretraining run.

What a method measures is its declared signal (``ScoreMethod.signal``: the loss, the gradient norm, the
pretraining's loss log or MoSo, with or without ``--params`` and ``--checkpoint``); the measures are the
functions of :mod:`thresher.curate.scores.gradient_signals` (definitions: docs/architecture.md, 'Gradient
scores'), and this module runs them over a source as a score run:

* **parts**: rows are cut into parts of ``part_size`` in sample-id order; part i goes to process
  i mod world size under ``accelerate launch``; every finished part is a file written aside and renamed, so
  a killed run redoes only the parts it had not finished. Every sample's probes depend on its id alone,
  so the scores do not depend on the number of processes or on where a run was interrupted.
* **MoSo** needs ḡ_c, the mean gradient over *all* rows, before any row's score: a first pass writes
  each part's gradient sum per checkpoint, every process then adds them in part order (an exact mean,
  identical for any process count), and a second pass takes each row's dot products.
* **reuse**: the run is keyed by the config hash of (method, source, pretraining, and the parameter subset
  and checkpoint where the signal uses them), so the same request returns the finished run.

Only the main process commits: the parts move into ``scores/<run>/`` and the run is recorded.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from thresher.catalog.names import config_hash
from thresher.catalog.runs import record_finished_run
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.scores import score_table
from thresher.catalog.workspace import Workspace
from thresher.curate.config import ScoreRunConfig
from thresher.curate.gradient_runs import SCORE_KIND, existing_score_run
from thresher.curate.scores.registry import GRADIENT_NORM, LOSS, LOSS_LOG, MOSO
from thresher.device import pick_device, process_state
from thresher.errors import ThresherError
from thresher.executors.config import task_parts
from thresher.executors.slurm import Submission

WORK = "work"  # per-part intermediate files of a run in progress (MoSo's gradient sums)


@dataclass
class ScoreRunResult:
    run_id: str
    method: str
    source: str
    pretrain: str
    n: int
    reused: bool
    seconds: float
    task: str | None = None  # --task i/n: only this array task's parts were scored, nothing committed

    def lines(self) -> list[str]:
        if self.task is not None:
            return [
                f"{self.method} of {self.source}: task {self.task} scored its parts in {self.seconds:.1f}s"
            ]
        verb = "reused" if self.reused else f"scored in {self.seconds:.1f}s"
        return [
            f"{self.run_id}: {self.method} of {self.n} rows of {self.source} from {self.pretrain} ({verb})"
        ]


def run_score(ws: Workspace, config: ScoreRunConfig) -> ScoreRunResult:
    started = time.perf_counter()
    if config.device not in (None, "", "auto"):
        pick_device(config.device)  # an unavailable device is the first thing said, before any work
    source = ws.resolve_source(config.source)
    found, pretrain, settings = existing_score_run(ws, config, source)
    identity = config.identity(source, pretrain)
    ids = ok_sample_ids(ws, source)
    if found is not None:
        return ScoreRunResult(found, config.method, source, pretrain, len(ids), True, 0.0)
    run_id = f"{config.method}-{source}-{config_hash(identity)[:10]}"
    staging = ws.scores_dir(run_id).parent / f".{run_id}.partial"
    if config.executor.on_slurm:
        return _submit(ws, config, source, staging, len(ids))
    state = process_state(config.device)
    if state.is_main_process:
        (staging / WORK).mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()

    scorer = _Scorer(ws, config, settings, pretrain, ids, staging, state.process_index, state.num_processes)
    scorer.run()
    state.wait_for_everyone()
    if config.executor.task is not None:  # an array task writes parts only; the final job commits
        seconds = time.perf_counter() - started
        return ScoreRunResult(
            run_id, config.method, source, pretrain, len(ids), False, seconds, config.executor.task
        )
    if state.is_main_process:
        shutil.rmtree(staging / WORK, ignore_errors=True)
        final = ws.scores_dir(run_id)
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        run_config = {
            **identity,
            "k_times": settings["k_times"],
            "m_noises": settings["m_noises"],
            "seed": settings["seed"],
            "checkpoints": scorer.checkpoint_names,
            "part_size": config.part_size,
            "processes": state.num_processes,
        }
        record_finished_run(ws, run_id, SCORE_KIND, source, run_config, final, identity=identity)
    state.wait_for_everyone()
    return ScoreRunResult(
        run_id, config.method, source, pretrain, len(ids), False, time.perf_counter() - started
    )


class _Scorer:
    """One process's share of a score run."""

    def __init__(
        self,
        ws: Workspace,
        config: ScoreRunConfig,
        settings: dict,
        pretrain: str,
        ids: np.ndarray,
        staging: Path,
        rank: int,
        world: int,
    ) -> None:
        from thresher.train.pretrain import snapshot_dirs

        self.ws, self.config, self.settings, self.ids = ws, config, settings, ids
        self.signal = config.signal
        self.staging, self.rank, self.world = staging, rank, world
        self.task = config.executor.task_share  # (index, count) of a Slurm array task, else None
        self.run_dir = ws.run_dir(pretrain)
        self.snapshots = snapshot_dirs(self.run_dir) if self.signal.uses_checkpoints else []
        if not self.snapshots and self.signal.uses_checkpoints:
            raise ThresherError(f"pretraining {pretrain!r} saved no checkpoints")
        if self.signal.checkpoint:
            if not -len(self.snapshots) <= config.checkpoint < len(self.snapshots):
                raise ThresherError(
                    f"--checkpoint {config.checkpoint}: pretraining {pretrain!r} has {len(self.snapshots)} "
                    "checkpoints"
                )
            self.snapshots = [self.snapshots[config.checkpoint]]
        self.checkpoint_names = [p.name for p in self.snapshots]
        n_parts = max(1, -(-len(ids) // config.part_size))
        self.parts = list(range(n_parts))
        self._data = None

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> None:
        passes = {
            LOSS: self._pointwise,
            GRADIENT_NORM: self._pointwise,
            LOSS_LOG: self._loss_log,
            MOSO: self._moso,
        }
        passes[self.signal.measure]()

    def _pointwise(self) -> None:
        """A measure of each sample at one checkpoint: parts are independent."""
        from thresher.curate.scores.gradient_signals import el2n_scores, grand_scores

        mine = [
            p
            for p in task_parts(self.parts, self.task, self.rank, self.world)
            if not self._part_file(p).is_file()
        ]
        if not mine:
            return
        from thresher.train.pretrain import load_snapshot

        model, _ = load_snapshot(self.snapshots[0])
        model = model.to(self._device())
        for part in mine:
            x, labels, ids, t, noise = self._part_inputs(part)
            if self.signal.measure == LOSS:
                scores = el2n_scores(model, x, labels, t, noise).double().numpy()
            else:
                scores = grand_scores(
                    model, x, labels, t, noise, self.config.params, chunk_size=self.config.chunk_size
                ).numpy()
            self._write_part(part, ids, scores)

    def _loss_log(self) -> None:
        """Monotonicity of the pretraining's per-epoch losses: one part, written by the main process."""
        from thresher.curate.scores.gradient_signals import monotonicity_scores
        from thresher.train.pretrain import loss_log

        # one part, written by whoever owns part 0 (rank 0, or the array task whose share holds it)
        if 0 not in task_parts(self.parts, self.task, self.rank, self.world) or self._part_file(0).is_file():
            return
        logged_ids, log = loss_log(self.run_dir)
        order = np.searchsorted(logged_ids, self.ids)
        if not np.array_equal(logged_ids[np.minimum(order, len(logged_ids) - 1)], self.ids):
            raise ThresherError(
                "the pretraining's loss log does not cover every ok row; rerun `thresher pretrain`"
            )
        scores = monotonicity_scores(log[:, order])
        self._write_part(0, self.ids, scores)

    def _moso(self) -> None:
        """Two passes per checkpoint (exact ḡ), contributions per part, then their mean over checkpoints."""
        from thresher.curate.scores.gradient_signals import gradient_sum, moso_terms
        from thresher.train.pretrain import load_snapshot

        mine = task_parts(self.parts, self.task, self.rank, self.world)
        n = len(self.ids)
        for c, snapshot in enumerate(self.snapshots):
            todo_sums = [p for p in mine if not self._work(f"c{c}-sum-{p}.pt").is_file()]
            todo_dots = [p for p in mine if not self._work(f"c{c}-score-{p}.npy").is_file()]
            model = lr = None
            if todo_sums or todo_dots:
                model, lr = load_snapshot(snapshot)
                model = model.to(self._device())
            params, chunk_size = self.config.params, self.config.chunk_size
            for part in todo_sums:
                x, labels, _, t, noise = self._part_inputs(part)
                total = gradient_sum(model, x, labels, t, noise, params, chunk_size=chunk_size)
                _atomic_torch_save(total, self._work(f"c{c}-sum-{part}.pt"))
            self._barrier()
            if self.task is not None and not self._sums_ready(c):
                continue  # an array task whose siblings are still summing: the second array takes it on
            g_bar = sum(torch.load(self._work(f"c{c}-sum-{p}.pt")) for p in self.parts) / n
            for part in todo_dots:
                x, labels, _, t, noise = self._part_inputs(part)
                terms = moso_terms(model, x, labels, t, noise, g_bar, n, lr, params, chunk_size=chunk_size)
                _atomic_np_save(terms.numpy(), self._work(f"c{c}-score-{part}.npy"))
            self._barrier()
        for part in mine:
            if self._part_file(part).is_file():
                continue
            if self.task is not None and not all(
                self._work(f"c{c}-score-{part}.npy").is_file() for c in range(len(self.snapshots))
            ):
                continue  # the second pass has not run for this part yet
            contributions = [
                np.load(self._work(f"c{c}-score-{part}.npy")) for c in range(len(self.snapshots))
            ]
            self._write_part(part, self._part_ids(part), np.mean(contributions, axis=0))

    # -- inputs and outputs ------------------------------------------------------------------------
    def _device(self) -> torch.device:
        return pick_device(self.config.device)

    def _training_set(self):
        if self._data is None:
            from thresher.train.config import PretrainConfig
            from thresher.train.pretrain import pretrain_data

            pretrain_config = PretrainConfig.from_identity(self.settings, device=self.config.device)
            data = pretrain_data(self.ws, self.settings["source"], pretrain_config)
            if not np.array_equal(data.sample_ids.numpy(), self.ids):
                raise ThresherError("the source's ok rows changed since the pretraining; pretrain again")
            self._data = data
        return self._data

    def _part_ids(self, part: int) -> np.ndarray:
        size = self.config.part_size
        return self.ids[part * size : (part + 1) * size]

    def _part_inputs(self, part: int):
        from thresher.curate.scores.gradient_signals import probe_points
        from thresher.train.pretrain import rows_of
        from thresher.train.training_set import TrainingSetDataset

        data = self._training_set()
        size = self.config.part_size
        rows = range(part * size, min((part + 1) * size, len(data)))
        conditional = data.num_classes is not None and not self.settings.get("unconditional", False)
        x, labels, ids = rows_of(TrainingSetDataset(data), rows, conditional)
        t, noise = probe_points(ids, tuple(x.shape[1:]), self.settings["k_times"], self.settings["m_noises"],
                                self.settings["seed"])  # fmt: skip
        return x, labels, ids, t, noise

    def _part_file(self, part: int) -> Path:
        return self.staging / f"part-{part:05d}.parquet"

    def _work(self, name: str) -> Path:
        return self.staging / WORK / name

    def _sums_ready(self, checkpoint: int) -> bool:
        return all(self._work(f"c{checkpoint}-sum-{p}.pt").is_file() for p in self.parts)

    def _write_part(self, part: int, ids: np.ndarray, scores: np.ndarray) -> None:
        path = self._part_file(part)
        tmp = path.with_name(f".{path.name}{_own_suffix()}")
        pq.write_table(
            score_table(np.asarray(ids, np.int64), self.config.method, score=np.asarray(scores)), tmp
        )
        tmp.replace(path)

    def _barrier(self) -> None:
        if self.world > 1:
            process_state(self.config.device).wait_for_everyone()


def _atomic_torch_save(value: torch.Tensor, path: Path) -> None:
    tmp = path.with_name(f".{path.name}{_own_suffix()}")
    torch.save(value, tmp)
    tmp.replace(path)


def _atomic_np_save(value: np.ndarray, path: Path) -> None:
    tmp = path.with_name(f".{path.name}{_own_suffix()}.npy")
    np.save(tmp, value)
    tmp.replace(path)


def _own_suffix() -> str:
    """A temporary name of this process alone: two array tasks (or a rerun beside a task still running)
    writing the same part never write into each other's file."""
    return f".{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _submit(ws: Workspace, config: ScoreRunConfig, source: str, staging: Path, n_ids: int) -> Submission:
    """The score's parts as a Slurm array and a final job that commits the run. MoSo's second pass needs
    every part's gradient sum, so its array is submitted twice (each task does what it can; the second
    array finds every sum). Monotonicity is one part."""
    from thresher.executors.stage_arrays import submit_parts

    n_parts = 1 if config.method == "monotonicity" else max(1, -(-n_ids // config.part_size))
    parts = range(n_parts)
    pending = [p for p in parts if not (staging / f"part-{p:05d}.parquet").is_file()]
    name = f"score-{config.method}-{source}"
    passes = 2 if config.method == "moso" else 1
    return submit_parts(ws.root, "score", replace(config, source=source), name, parts, pending, passes=passes)
