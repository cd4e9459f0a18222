"""A training run's checkpoints (docs/architecture.md, "Training and evaluation"): where they live
(``checkpoints/step-NNNNNNN/``, written aside and renamed into place), which one a resume starts from (the
newest that reads whole), and the checks a resume must pass first (a checkpoint exists, the model is the
same, the steps asked are not fewer than those done)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import yaml
from accelerate import Accelerator

from thresher.errors import ThresherError

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / CHECKPOINTS).glob("step-*"))


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``train(..., resume=True)`` can continue the run in ``run_dir`` (a complete checkpoint)."""
    return bool(checkpoint_dirs(run_dir))


def steps_done(run_dir: Path) -> int | None:
    """The step of the run's newest checkpoint (from its folder name), None without one."""
    checkpoints = checkpoint_dirs(run_dir)
    return int(checkpoints[-1].name.removeprefix("step-")) if checkpoints else None


def check_resume_steps(run_dir: Path, steps: int) -> None:
    """Refuse to resume a run to fewer steps than it has done: it would end at once, and its outputs and
    config would claim a length the weights do not have (hardening item 26)."""
    done = steps_done(run_dir)
    if done is not None and steps < done:
        raise ThresherError(
            f"cannot resume {run_dir.name!r} to --steps {steps}: it has done {done} steps; "
            f"pass --steps {done} or more"
        )


def check_run_dir(run_dir: Path, resolved: dict, resume: bool) -> Path | None:
    """The checkpoint to resume from (None for a fresh run), after checking the run folder fits the request."""
    checkpoints = checkpoint_dirs(run_dir)
    if resume and not checkpoints:
        raise ThresherError(f"cannot resume: {run_dir / CHECKPOINTS} holds no checkpoint")
    if not resume and checkpoints:
        raise ThresherError(f"{run_dir} already holds checkpoints; resume it or pick a new run folder")
    if resume:
        check_resume_steps(run_dir, resolved["steps"])
    config_path = run_dir / "config.yaml"
    if resume and config_path.is_file():
        previous = yaml.safe_load(config_path.read_text())
        if previous.get("model") != resolved["model"]:
            raise ThresherError(
                f"cannot resume {run_dir}: its model {previous.get('model')} differs from this one"
            )
    return checkpoints[-1] if resume else None


def load_newest_readable(accelerator: Accelerator, run_dir: Path) -> Path:
    """Load the newest checkpoint that reads whole; one damaged by a bad disk or copy (a kill mid-save
    cannot: checkpoints are renamed into place) is skipped with a warning, and the run resumes from the
    one before it, redoing the steps in between exactly (per-step randomness is seeded by step)."""
    checkpoints = checkpoint_dirs(run_dir)
    for checkpoint in reversed(checkpoints):
        try:
            accelerator.load_state(str(checkpoint))
        except Exception as error:  # noqa: BLE001 - any unreadable file means this checkpoint cannot serve
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            log.warning(
                "checkpoint %s cannot be read (%s): resuming from the one before it", checkpoint, reason
            )
            continue
        return checkpoint
    raise ThresherError(
        f"cannot resume {run_dir.name!r}: none of its {len(checkpoints)} checkpoints can be read "
        "(truncated or changed); start a new run"
    )


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop log lines written after the checkpoint we resume from, so the curve has no duplicates."""
    if path.is_file():
        lines = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= last_step]
        path.write_text("".join(line + "\n" for line in lines))


def save_checkpoint(accelerator: Accelerator, run_dir: Path, step: int, keep: int) -> None:
    """Write the checkpoint aside and rename it into place, so a kill mid-save never leaves a half
    ``step-N`` that resume would take for the newest checkpoint."""
    final = run_dir / CHECKPOINTS / f"step-{step:07d}"
    staging = run_dir / CHECKPOINTS / f".step-{step:07d}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for old in checkpoint_dirs(run_dir)[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
