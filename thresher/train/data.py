"""From `--dataset` to a :class:`TrainingSet`: subsets, published folders, the Hub, or a whole source.

``--dataset`` accepts, in this order:

1. ``hf://datasets/<owner>/<repo>@vN``: the published version is downloaded (`snapshot_download` at
   tag ``vN``) and read like a local folder;
2. a published folder (``…/vN`` with ``ids.parquet`` and a card): its card names the source and revision;
   the source is ingested into the workspace if it is not there yet, and must match the revision;
3. ``name`` or ``name@vN``: a subset in the workspace registry;
4. a source id: every ok row (the unpruned baseline runs through the same code).

The rows are exactly the subset's ids; images come from the workspace's copy of the source at the
pinned revision, so latents cached per source serve every subset of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from thresher.curate.ingest import IngestConfig, ingest, load_images, ok_sample_ids
from thresher.curate.subset_refs import parse_subset_ref, subset_row
from thresher.errors import ThresherError
from thresher.train.conditioning import cluster_condition, cluster_labels, resolve_clustering
from thresher.train.training_set import TrainingSet
from thresher.workspace import Workspace, fetch_source


@dataclass
class ResolvedDataset:
    spec: str
    kind: str  # subset | published | source
    source: str
    revision: str
    sample_ids: np.ndarray
    clusters: np.ndarray | None = None  # per kept row, when the subset came from a clustering

    @property
    def n(self) -> int:
        return len(self.sample_ids)


def resolve_dataset(ws: Workspace, spec: str) -> ResolvedDataset:
    if spec.startswith("hf://"):
        return _resolve_published(ws, _download_published(spec), spec)
    path = Path(spec).expanduser()
    if (path / "ids.parquet").is_file():
        return _resolve_published(ws, path, spec)
    if ws.exists:
        name = spec.partition("@")[0]
        with ws.connect(read_only=True) as con:
            is_subset = con.execute("SELECT count(*) FROM subsets WHERE name = ?", [name]).fetchone()[0] > 0
            is_source = con.execute("SELECT count(*) FROM sources WHERE id = ?", [spec]).fetchone()[0] > 0
        if is_subset:
            row = subset_row(ws, parse_subset_ref(spec))
            ids_path = ws.subset_dir(row["name"], int(row["version"])) / "ids.parquet"
            ids, clusters = _read_ids(ids_path)
            _check_revision(ws, row["source"], row["revision"], spec)
            return ResolvedDataset(
                f"{row['name']}@v{row['version']}", "subset", row["source"], row["revision"], ids, clusters
            )
        if is_source:
            with ws.connect(read_only=True) as con:
                revision = fetch_source(con, spec)["revision"]
            return ResolvedDataset(spec, "source", spec, revision, ok_sample_ids(ws, spec))
    raise ThresherError(
        f"dataset {spec!r} does not resolve: not a subset or source in {ws.root}, "
        "a published folder, or hf://datasets/<owner>/<repo>@vN"
    )


def _read_ids(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    table = pq.read_table(path)
    ids = table.column("sample_id").to_numpy().astype(np.int64)
    clusters = None
    if "cluster" in table.column_names and table.column("cluster").null_count == 0:
        clusters = table.column("cluster").to_numpy().astype(np.int64)
    return ids, clusters


def _check_revision(ws: Workspace, source: str, revision: str | None, spec: str) -> None:
    with ws.connect(read_only=True) as con:
        current = fetch_source(con, source)["revision"]
    if revision is not None and current != revision:
        raise ThresherError(
            f"{spec} was selected from {source} at revision {revision}, but the workspace has revision {current}"
        )


def _download_published(spec: str) -> Path:
    from huggingface_hub import snapshot_download

    from thresher.curate.hub import parse_hub_target

    target_text, _, version = spec.partition("@")
    target = parse_hub_target(target_text)
    if target is None or not version:
        raise ThresherError(f"a Hub dataset needs a version: hf://datasets/<owner>/<repo>@vN, got {spec!r}")
    try:
        return Path(
            snapshot_download(
                target.repo_id,
                repo_type="dataset",
                revision=version,
                allow_patterns=["README.md", "ids.parquet", "stats.json"],
            )
        )
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ThresherError(f"cannot download {spec}: {reason}") from None


def _resolve_published(ws: Workspace, folder: Path, spec: str) -> ResolvedDataset:
    from huggingface_hub import DatasetCard

    try:
        meta = DatasetCard.load(folder / "README.md").data.to_dict()["thresher"]
    except Exception:
        raise ThresherError(
            f"{folder} has no thresher dataset card (README.md with a `thresher:` block)"
        ) from None
    source_id = _find_or_ingest(ws, meta)
    _check_revision(ws, source_id, meta["source_revision"], spec)
    ids, clusters = _read_ids(folder / "ids.parquet")
    return ResolvedDataset(spec, "published", source_id, meta["source_revision"], ids, clusters)


def _find_or_ingest(ws: Workspace, meta: dict) -> str:
    if ws.exists:
        with ws.connect(read_only=True) as con:
            row = con.execute(
                "SELECT id FROM sources WHERE uri = ? AND revision = ?",
                [meta["source"], meta["source_revision"]],
            ).fetchone()
        if row:
            return row[0]
    hub_revision = None if str(meta["source"]).startswith("builtin:") else meta["source_revision"]
    result = ingest(
        ws,
        IngestConfig(
            source=meta["source"],
            config=meta.get("source_config"),
            split=meta.get("source_split"),
            revision=hub_revision,
        ),
    )
    return result.source_id


def load_training_set(
    ws: Workspace,
    resolved: ResolvedDataset,
    *,
    image_size: int | None = None,
    unconditional: bool = False,
    weights: str | None = None,
    clusters: str | None = None,
) -> TrainingSet:
    """Decode the resolved rows into a pixel :class:`TrainingSet` (latents are made from it by the caller).

    Labels are the catalog's classes, or with ``clusters`` (a clustering run id) each row's k-means cluster.
    """
    labels, num_classes, condition = None, None, "label"
    if clusters is not None:
        if unconditional:
            raise ThresherError("a model conditioned on clusters is not unconditional; drop one of the two")
        clusters = resolve_clustering(ws, clusters, resolved.source)
        labels, num_classes = cluster_labels(ws, clusters, resolved.source, resolved.sample_ids)
        condition = cluster_condition(clusters)
    elif not unconditional:
        labels, num_classes = _labels(ws, resolved)
    # Decoded after the labels, so a bad --clusters fails before the slowest step.
    images = load_images(ws, resolved.source, resolved.sample_ids, size=image_size)
    return TrainingSet(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        labels=labels,
        sample_ids=torch.from_numpy(resolved.sample_ids),
        weights=None if weights is None else torch.from_numpy(sample_weights(ws, resolved, weights)),
        num_classes=num_classes,
        name=resolved.spec,
        condition=condition,
    )


def _labels(ws: Workspace, resolved: ResolvedDataset) -> tuple[torch.Tensor | None, int | None]:
    with ws.connect(read_only=True) as con:
        source = fetch_source(con, resolved.source)
        rows = con.execute(
            "SELECT sample_id, label FROM samples WHERE source = ?", [resolved.source]
        ).fetchall()
    lookup = dict(rows)
    labels = [lookup.get(int(i)) for i in resolved.sample_ids]
    if any(v is None for v in labels):
        return None, None  # unlabeled rows: the model is trained unconditionally
    names = json.loads(source["label_names"]) if source["label_names"] else None
    num_classes = len(names) if names else int(max(labels)) + 1
    return torch.tensor(labels, dtype=torch.int64), num_classes


def sample_weights(ws: Workspace, resolved: ResolvedDataset, spec: str) -> np.ndarray:
    """Per-row weights from a score run id (its ``score`` column) or a Parquet file with ``weight`` and one of
    ``sample_id`` (per sample), ``label`` (per class) or ``cluster`` (per cluster, e.g. DRO group weights)."""
    from thresher.curate.score_runs import score_files

    path = Path(spec)
    if path.is_file():
        table = pq.read_table(path).to_pandas()
        value = "weight"
    else:
        table = pq.read_table(score_files(ws, spec)).to_pandas()
        value = "score"
    if value not in table:
        raise ThresherError(f"weights {spec!r} have no {value!r} column")
    if "sample_id" in table and table["sample_id"].notna().all():
        keys, by = resolved.sample_ids, "sample_id"
    elif "cluster" in table and resolved.clusters is not None:
        keys, by = resolved.clusters, "cluster"
    elif "label" in table:
        with ws.connect(read_only=True) as con:
            lookup = dict(
                con.execute(
                    "SELECT sample_id, label FROM samples WHERE source = ?", [resolved.source]
                ).fetchall()
            )
        keys, by = np.array([lookup.get(int(i), -1) for i in resolved.sample_ids]), "label"
    else:
        raise ThresherError(
            f"weights {spec!r} need a sample_id, cluster (with a clustered subset) or label column"
        )
    mapping = dict(zip(table[by].astype(np.int64), table[value].astype(float), strict=True))
    missing = sum(int(k) not in mapping for k in keys)
    if missing:
        raise ThresherError(f"weights {spec!r} have no weight for {missing} of the {len(keys)} training rows")
    return np.array([mapping[int(k)] for k in keys], dtype=np.float32)
