"""`thresher evaluate`: metrics of a training run (or a folder of generated images) against real data.

The generated images come from the run's EMA model (or ``--images``); the reference is ``--against``
(a subset, source or published dataset; default: the run's whole source), capped at ``--max-reference``
rows by a seeded sample, and held in memory; the training rows are the run's dataset, for memorization,
read a batch at a time (``thresher.catalog.image_store.pixel_rows``) so memory does not grow with their
number; held-out real images are the reference rows that are not training rows (matched by pixel
content, so it works across sources), the baseline for memorization.
Every evaluation is a row of the catalog's ``evaluations`` table and a JSON file in the run folder.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thresher.catalog.evaluations import record_evaluation
from thresher.catalog.image_store_build import pixel_rows
from thresher.catalog.names import new_run_id
from thresher.catalog.runs import run_row
from thresher.catalog.samples import label_names, labels_of
from thresher.catalog.workspace import Workspace
from thresher.dataset_resolution import resolve_dataset
from thresher.errors import ThresherError
from thresher.evaluate.classifier_caveat import classifier_warning, poor_classifier_accuracy
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.report import TABLE_COLUMNS
from thresher.image_rows import ImageRows, read_all
from thresher.images import LEGACY_RESIZE, RGB, WHITE, background_name, parse_background
from thresher.progress import track
from thresher.train.train_run import find_run_dir

# The capped reference is one fixed sample of the reference, not one per --seed: evaluations of
# different seeds (a sweep's cells) are then measured against the same rows and share one classifier.
REFERENCE_SAMPLE_SEED = 0


@dataclass
class EvalOutcome:
    id: str
    run: str | None
    metrics: dict[str, Any]
    path: Path

    def lines(self) -> list[str]:
        m = self.metrics
        keys = [k for k in TABLE_COLUMNS if k != "seconds_total"] + [
            "memorization_mean",
            "memorization_heldout_mean",
        ]
        shown = [f"{k}={m[k]:.4g}" for k in keys if isinstance(m.get(k), int | float)]
        seconds = m.get("seconds_total")
        total, used = m.get("n_reference_total"), m.get("n_reference")
        capped = isinstance(total, int) and isinstance(used, int) and total > used
        sampled = f" (a sample of {total})" if capped else ""
        out = [
            f"{self.id}: {m.get('n_generated')} generated vs {m.get('n_reference')} reference{sampled} "
            f"({m.get('extractor')})" + (f", {seconds:.1f}s" if isinstance(seconds, int | float) else ""),
            "  " + "  ".join(shown),
        ]
        accuracy = m.get("classifier_holdout_accuracy")
        if isinstance(accuracy, int | float):
            out.append(f"  evaluation classifier: held-out accuracy {accuracy:.3f}")
            poor = poor_classifier_accuracy(m)
            if poor is not None:
                out.append(str(classifier_warning({self.id: poor})))
        return [*out, f"  → {self.path}"]


def evaluate_run(ws: Workspace, config: EvalRunConfig) -> EvalOutcome:
    from thresher.evaluate.config import EvalConfig
    from thresher.evaluate.evaluator import evaluate_images
    from thresher.evaluate.features import build_extractor

    started = time.perf_counter()
    run_dir, run_info = (
        (find_run_dir(ws, config.run), _run_info(ws, config.run)) if config.run else (None, {})
    )

    train = resolve_dataset(ws, run_info["dataset"]) if run_info.get("dataset") else None
    against = config.against or (train.source if train else None)
    if against is None:
        raise ThresherError("--against is needed when the images do not come from a run of this workspace")
    reference = resolve_dataset(ws, against)
    size = run_info.get("image_size")
    resize = run_info.get("resize") or LEGACY_RESIZE  # a run recorded before the modes was stretched
    # The run's own background by default, so real images are decoded as the model saw them.
    background = parse_background(config.background or run_info.get("background") or "white")
    ref_ids = reference_sample(reference.sample_ids, config.max_reference, REFERENCE_SAMPLE_SEED)
    train_rows = (
        pixel_rows(ws, train.source, train.sample_ids, size=size, background=background, resize=resize)
        if train
        else None
    )
    # Evaluating against the training set itself (a run's default): its rows are read once and passed as
    # the reference object too, which evaluate_images takes as "extract once" (nothing is held out then).
    if (
        train is not None
        and train_rows is not None
        and train.source == reference.source
        and np.array_equal(train.sample_ids, ref_ids)
    ):
        ref_images = read_all(train_rows, config.batch_size)
        train_images: np.ndarray | ImageRows | None = ref_images
        heldout = None
    else:
        rows = pixel_rows(ws, reference.source, ref_ids, size=size, background=background, resize=resize)
        ref_images = read_all(rows, config.batch_size)
        train_images = train_rows
        heldout = _heldout(ref_images, train_rows, config.batch_size)
    ref_labels = _labels(ws, reference.source, ref_ids)
    train_labels = _labels(ws, train.source, train.sample_ids) if train else None
    timings = {"seconds_load_real": time.perf_counter() - started}

    step = time.perf_counter()
    if config.images:
        generated = _read_generated(Path(config.images), background)
    else:
        from thresher.train.sampling import generate

        generated = generate(
            run_dir,
            config.n,
            seed=config.seed,
            steps=config.steps,
            sampler=config.sampler,
            cfg_scale=config.cfg_scale,
            cfg_interval=config.cfg_interval,
            batch_size=config.batch_size,
            device=config.device,
        )
    timings["seconds_generate"] = time.perf_counter() - step
    step = time.perf_counter()
    extractor = build_extractor(
        config.features,
        weights=config.weights,
        cache_dir=ws.cache_dir("evaluate"),
        reference=(ref_images, ref_labels) if ref_labels is not None else None,
        device=config.device,
        batch_size=config.batch_size,
    )
    timings["seconds_extractor"] = time.perf_counter() - step  # the classifier is trained here (or loaded)
    # Whether seconds_extractor paid for training the classifier (once per reference) or only loaded it.
    classifier_trained = bool(getattr(extractor, "trained_here", False))
    metrics = evaluate_images(
        generated,
        ref_images,
        train_images,
        heldout,
        extractor,
        EvalConfig(seed=config.seed, batch_size=config.batch_size),
        reference_labels=ref_labels,
        train_labels=train_labels,
    )
    metrics.update(
        {
            "n_generated": len(generated),
            "n_reference": len(ref_images),
            "n_reference_total": len(reference.sample_ids),
            "n_train": None if train_rows is None else len(train_rows),
            "n_heldout": None if heldout is None else len(heldout),
            "extractor": config.features,
            "against": reference.spec,
            "dataset": train.spec if train else None,
            "images": config.images,
            "sample_steps": config.steps,
            "sampler": config.sampler,
            "cfg_scale": config.cfg_scale,
            "cfg_interval": list(config.cfg_interval),
            "seed": config.seed,
            "background": background_name(background),
            "classifier_trained": classifier_trained,
        }
    )
    names = label_names(ws, reference.source)
    if names and metrics.get("class_ids") is not None:
        metrics["class_names"] = [
            names[i] if isinstance(i, int) and 0 <= i < len(names) else str(i) for i in metrics["class_ids"]
        ]
    # evaluate_images times only the metrics; the whole evaluation also decodes the real images, samples
    # (or reads --images) and trains or loads the classifier, which usually dominate
    metrics["seconds_metrics"] = metrics.pop("seconds_total", None)
    metrics.update(timings)
    seconds = time.perf_counter() - started
    metrics["seconds_total"] = seconds
    eval_id = new_run_id("eval")
    folder = (run_dir or ws.root / "evaluations") / "evaluations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{eval_id}.json"
    path.write_text(
        json.dumps({"id": eval_id, "run": config.run, "seconds": seconds, **metrics}, indent=1, default=str)
    )
    _save_grid(generated, folder / f"{eval_id}-grid.png")
    record_evaluation(ws, eval_id, run=config.run, dataset=metrics["dataset"], extractor=config.features,
                      n=len(generated), metrics=metrics, seconds=seconds)  # fmt: skip
    return EvalOutcome(eval_id, config.run, metrics, path)


def _run_info(ws: Workspace, run: str) -> dict[str, Any]:
    """The recorded config of training run ``run``; empty for a run folder the catalog does not know."""
    try:
        row = run_row(ws, run)
    except ThresherError:
        return {}
    return row["config"] if row["kind"] == "train" else {}


def reference_sample(sample_ids: np.ndarray, max_reference: int, seed: int) -> np.ndarray:
    """The reference rows an evaluation uses: all of them when there are at most ``max_reference``
    (0: no cap), else a ``seed``-ed sample of that many, in the reference's own order."""
    ids = np.asarray(sample_ids)
    if max_reference == 0 or len(ids) <= max_reference:
        return ids
    keep = np.random.default_rng(seed).choice(len(ids), max_reference, replace=False)
    return ids[np.sort(keep)]


def _labels(ws: Workspace, source: str, sample_ids: np.ndarray) -> np.ndarray | None:
    """The rows' class labels, or None when any row has none (the classifier then predicts them)."""
    labels = labels_of(ws, source, sample_ids)
    return None if (labels < 0).any() else labels


def _digest(image: np.ndarray) -> bytes:
    """A hash of an image's pixel content: a grey image hashes the same as one channel or as three equal
    ones, since a set of rows is one channel only when all its rows are grey (the capped reference and the
    training rows can differ there)."""
    if image.shape[-1] == 3 and (image == image[..., :1]).all():
        image = image[..., :1]
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()


def _heldout(reference: np.ndarray, train: ImageRows | None, batch_size: int) -> np.ndarray | None:
    """Reference images whose pixels match no training image: real images the model never saw.

    The training rows are hashed a batch at a time, so only their 16-byte digests are held.
    """
    if train is None:
        return None
    seen: set[bytes] = set()
    total = -(-len(train) // batch_size)
    for batch in track(
        train.batches(batch_size), "hashing training rows", total=total, unit="batch", transient=True
    ):
        seen.update(_digest(img) for img in batch)
    keep = np.array([_digest(img) not in seen for img in reference], dtype=bool)
    return reference[keep] if keep.sum() >= 2 else None


def _read_generated(path: Path, background: RGB = WHITE) -> np.ndarray:
    """``--images``: a folder of PNG/JPEG/WebP files or a Parquet file with an ``image`` column, as one uint8
    N×H×W×C batch of one mode (``thresher.images.uniform_batch``: transparency composited onto
    ``background``, greyscale and colour mixed become RGB)."""
    from thresher.evaluate.image_batches import check_images, load_image_files

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
        if not files:
            raise ThresherError(f"no images in {path}")
        images = load_image_files(files, background)
    elif path.suffix == ".parquet":
        import datasets

        rows = datasets.Dataset.from_parquet(str(path))
        if "image" not in rows.column_names:
            raise ThresherError(f"{path} has no 'image' column (columns: {', '.join(rows.column_names)})")
        if len(rows) == 0:
            raise ThresherError(f"no images in {path}")
        images = check_images(list(rows["image"]), background=background)
    else:
        raise ThresherError(f"--images {path} is neither a folder of images nor a .parquet file")
    return images


def _save_grid(images: np.ndarray, path: Path, n: int = 64) -> None:
    import torch

    from thresher.train.sampling import save_grid

    save_grid(torch.from_numpy(np.ascontiguousarray(images[:n])).permute(0, 3, 1, 2), path)
