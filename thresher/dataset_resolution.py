"""From `--dataset` to a :class:`TrainingSet`: subsets, published folders, the Hub, or a whole source.

``--dataset`` accepts, in this order:

1. ``hf://datasets/<owner>/<repo>@vN``: the published version is downloaded (`snapshot_download` at
   tag ``vN``) and read like a local folder;
2. a published folder (``…/vN`` with ``ids.parquet`` and a card): its card names the source and revision;
   the source is ingested into the workspace if it is not there yet, and must match the revision;
3. ``name`` or ``name@vN``: a subset in the workspace registry;
4. a source id: every ok row (the unpruned baseline runs through the same code).

The rows are exactly the subset's ids; images come from the workspace's copy of the source at the
pinned revision, so latents cached per source serve every subset of it. This is the one module that turns
a dataset name into rows: training, evaluation and the experiments all call it, and it may ingest a
published subset's source, which is why it sits above curate rather than inside the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.subsets import parse_subset_ref, subset_exists, subset_row
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError


@dataclass
class ResolvedDataset:
    spec: str
    kind: str  # subset | published | source
    source: str
    revision: str
    sample_ids: np.ndarray
    clusters: np.ndarray | None = None  # per kept row, when the subset came from a clustering
    clustering: str | None = None  # the clustering run the subset was selected with, when known

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
        is_subset, is_source = subset_exists(ws, name), ws.has_source(spec)
        if is_subset:
            row = subset_row(ws, parse_subset_ref(spec))
            ids_path = ws.subset_dir(row["name"], int(row["version"])) / "ids.parquet"
            ids, clusters = _read_ids(ids_path)
            _check_revision(ws, row["source"], row["revision"], spec)
            return ResolvedDataset(
                f"{row['name']}@v{row['version']}",
                "subset",
                row["source"],
                row["revision"],
                ids,
                clusters,
                row["params"].get("clustering"),
            )
        if is_source:
            revision = ws.source_row(spec)["revision"]
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
    current = ws.source_row(source)["revision"]
    if revision is not None and current != revision:
        raise ThresherError(
            f"{spec} was selected from {source} at revision {revision}, but the workspace has revision {current}"
        )


def _download_published(spec: str) -> Path:
    from huggingface_hub import snapshot_download

    from thresher.catalog.hub import parse_hub_target

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
    clustering = (meta.get("params") or {}).get("clustering")
    return ResolvedDataset(spec, "published", source_id, meta["source_revision"], ids, clusters, clustering)


def _find_or_ingest(ws: Workspace, meta: dict) -> str:
    found = ws.source_with_uri(meta["source"], meta["source_revision"])
    if found is not None:
        return found
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
