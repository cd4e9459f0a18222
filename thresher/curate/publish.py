"""`thresher publish NAME[@VERSION] --to DEST`: a subset version as a self-describing dataset folder.

The bundle (same for a local folder and the Hub)::

    README.md                 dataset card (YAML metadata + the story of what was removed)
    ids.parquet               kept sample ids of the pinned source revision, with label and cluster
    scores/<run>/part-*.parquet   the scores the selection used
    stats.json                counts per class and cluster, before and after
    plots/cluster_sizes.png, plots/class_counts.png
    data/train-*.parquet      the kept rows themselves, with --materialize (loadable with datasets.load_dataset)

Locally each version is ``DEST/vN``, built in a hidden staging folder and renamed into place, so a failed
publish leaves no visible version. On the Hub a version is one atomic commit plus the tag ``vN``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from thresher.cards.dataset_card import render_dataset_card
from thresher.curate.hub import default_api, parse_hub_target, push_version
from thresher.curate.ingest import open_source
from thresher.curate.score_runs import score_files
from thresher.curate.subset_plots import plot_counts_before_after
from thresher.curate.subset_refs import parse_subset_ref, subset_row
from thresher.errors import ThresherError
from thresher.workspace import Workspace, fetch_source

ROWS_PER_SHARD = 50_000


@dataclass
class PublishConfig:
    ref: str
    to: str
    materialize: bool = False
    private: bool = False
    token: str | None = None


@dataclass
class PublishResult:
    name: str
    version: int
    destination: str
    files: list[str]
    commit: str | None = None


def publish(ws: Workspace, config: PublishConfig, api: Any | None = None) -> PublishResult:
    ref = parse_subset_ref(config.ref)
    row = subset_row(ws, ref)
    name, version = row["name"], int(row["version"])
    target = parse_hub_target(config.to)
    with ws.connect(read_only=True) as con:
        source = fetch_source(con, row["source"])

    if target is None:
        dest_root = Path(config.to).expanduser().resolve()
        final = dest_root / f"v{version}"
        if final.exists():
            raise ThresherError(f"{final} already exists: {name}@v{version} was published there before")
        dest_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".v{version}.partial-", dir=dest_root))
        load_path, query_path = str(final), str(final)
    else:
        staging = Path(tempfile.mkdtemp(prefix="thresher-publish-"))
        load_path, query_path = f"{target.repo_id}@v{version}", f"hf://datasets/{target.repo_id}@v{version}"

    try:
        files = build_bundle(ws, row, source, staging, config.materialize, load_path, query_path)
        commit = None
        if target is None:
            staging.rename(final)
            destination = str(final)
        else:
            commit = push_version(
                api or default_api(config.token), target, staging, version, private=config.private
            )
            destination = f"{target.url}@v{version}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    with ws.connect() as con:
        con.execute(
            "UPDATE subsets SET destination = ?, card_path = ? WHERE name = ? AND version = ?",
            [destination, f"{destination}/README.md", name, version],
        )
    return PublishResult(name, version, destination, files, commit)


def build_bundle(
    ws: Workspace,
    row: dict[str, Any],
    source: dict[str, Any],
    out: Path,
    materialize: bool,
    load_path: str,
    query_path: str,
) -> list[str]:
    subset_dir = ws.subset_dir(row["name"], int(row["version"]))
    shutil.copy2(subset_dir / "ids.parquet", out / "ids.parquet")
    stats = json.loads((subset_dir / "stats.json").read_text())
    (out / "stats.json").write_text(json.dumps(stats, indent=2))

    for run in {row.get("score_run"), stats["params"].get("clustering")} - {None}:
        for f in score_files(ws, run):
            (out / "scores" / run).mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out / "scores" / run / f.name)

    if stats.get("cluster_counts_before"):
        plot_counts_before_after(
            stats["cluster_counts_before"],
            stats["cluster_counts_after"],
            "cluster",
            out / "plots" / "cluster_sizes.png",
        )
    if stats.get("class_counts_before"):
        plot_counts_before_after(
            stats["class_counts_before"],
            stats["class_counts_after"],
            "class",
            out / "plots" / "class_counts.png",
        )
    data_files = None
    if materialize:
        shards = materialize_rows(
            ws, row["source"], out / "ids.parquet", out / "data", digest=_digest(out, source)
        )
        data_files = [p.relative_to(out).as_posix() for p in shards]

    card = render_dataset_card(
        stats, source, data_files=data_files, load_path=load_path, query_path=query_path
    )
    card.save(str(out / "README.md"))
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def _digest(bundle: Path, source: dict[str, Any]) -> str:
    """Content digest for shard names: `datasets` caches a local folder by its name and its data-file
    *names*, so two different ``v1`` folders with ``data/*.parquet`` would load each other's cached rows."""
    digest = hashlib.sha256((bundle / "ids.parquet").read_bytes())
    digest.update(f"{source['id']}@{source['revision']}".encode())
    return digest.hexdigest()[:10]


def materialize_rows(
    ws: Workspace, source_id: str, ids_path: Path, data_dir: Path, digest: str
) -> list[Path]:
    """Write the kept rows as ``train-XXXXX-of-YYYYY-<digest>.parquet`` shards with their `datasets` features."""
    dataset, _ = open_source(ws, source_id)
    ids = pq.read_table(ids_path, columns=["sample_id"]).column("sample_id").to_numpy()
    kept = dataset.select(np.asarray(ids, dtype=np.int64))
    data_dir.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, -(-len(kept) // ROWS_PER_SHARD))
    paths = []
    for i in range(n_shards):
        shard = kept.shard(num_shards=n_shards, index=i, contiguous=True)
        path = data_dir / f"train-{i:05d}-of-{n_shards:05d}-{digest}.parquet"
        shard.to_parquet(str(path))
        paths.append(path)
    return paths
