"""`thresher publish NAME[@VERSION] --to DEST`: a subset version as a self-describing dataset folder.

The bundle (same for a local folder and the Hub)::

    README.md                 dataset card (YAML metadata + the story of what was removed)
    ids.parquet               kept sample ids of the pinned source revision, with label and cluster
    scores/<run>/part-*.parquet   the scores the selection used
    stats.json                counts per class and cluster, before and after
    plots/cluster_sizes.png, plots/class_counts.png
    data/train-*.parquet      the kept rows themselves, with --materialize (loadable with datasets.load_dataset)

A materialized version is self-contained: image (and other media) cells that point at files, as an
image-folder source's do, get the files' bytes embedded and keep only the file's base name, the way
``datasets``' ``push_to_hub`` embeds them (``embed_table_storage``). Deleting the source folder
afterwards loses nothing.

Locally each version is ``DEST/vN``, built in a hidden staging folder and renamed into place, so a failed
publish leaves no visible version. Its folders and files get the usual modes under the umask (0755/0644
under umask 022), not the private 0700 of the staging folder nor the modes of the workspace files copied. On the Hub a version is one atomic commit plus the tag ``vN``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from thresher.cards.dataset_card import label_names_of, render_dataset_card
from thresher.catalog.hub import default_api, parse_hub_target, push_version
from thresher.catalog.samples import open_source
from thresher.catalog.scores import score_files
from thresher.catalog.staging import OWNER_FILE, new_temp_staging, remove_abandoned, seal
from thresher.catalog.subsets import parse_subset_ref, record_destination, subset_row
from thresher.catalog.workspace import Workspace
from thresher.curate.config import PublishConfig
from thresher.curate.subset_plots import plot_counts_before_after
from thresher.errors import ThresherError
from thresher.output_paths import writable_folder

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

ROWS_PER_SHARD = 50_000
EMBED_BATCH_ROWS = 100  # rows whose media bytes are read at once (datasets' own batch size for images)


@dataclass
class PublishResult:
    name: str
    version: int
    destination: str
    files: list[str]
    commit: str | None = None

    def lines(self) -> list[str]:
        return [f"{self.name}@v{self.version} → {self.destination} ({len(self.files)} files)"]


def publish(ws: Workspace, config: PublishConfig, api: Any | None = None) -> PublishResult:
    ref = parse_subset_ref(config.ref)
    row = subset_row(ws, ref)
    name, version = row["name"], int(row["version"])
    target = parse_hub_target(config.to)
    source = ws.source_row(row["source"])

    if target is None:
        dest_root = Path(config.to).expanduser().resolve()
        if dest_root.exists() and not dest_root.is_dir():
            raise ThresherError(f"--to {dest_root} is a file, not a folder")
        final = dest_root / f"v{version}"
        if final.exists():
            if _is_this_version(final, row) and row.get("destination") != str(final):
                # A publish killed between its rename and its catalog update: the folder is complete (it
                # appears only by rename), so the retry records it instead of refusing.
                record_destination(ws, name, version, str(final))
                return PublishResult(name, version, str(final), _listing(final))
            raise ThresherError(f"{final} already exists and holds {_what_is_in(final)}: choose another --to")
        writable_folder(dest_root, "--to")
        remove_abandoned(dest_root, ".v*.partial-*")
        staging = new_temp_staging(dest_root, f".v{version}.partial-")
        load_path, query_path = str(final), str(final)
    else:
        staging = Path(tempfile.mkdtemp(prefix="thresher-publish-"))
        load_path, query_path = f"{target.repo_id}@v{version}", f"hf://datasets/{target.repo_id}@v{version}"

    try:
        files = build_bundle(
            ws, row, source, staging, config.materialize, load_path, query_path, config.gallery_clusters
        )
        files = [f for f in files if f != OWNER_FILE]
        commit = None
        if target is None:
            seal(staging)
            _apply_umask_modes(staging)
            staging.rename(final)
            destination = str(final)
        else:
            commit = push_version(
                api or default_api(config.token), target, staging, version, private=config.private
            )
            destination = f"{target.url}@v{version}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    record_destination(ws, name, version, destination)
    return PublishResult(name, version, destination, files, commit)


def _is_this_version(folder: Path, row: dict[str, Any]) -> bool:
    try:
        stats = json.loads((folder / "stats.json").read_text())
    except (OSError, ValueError):
        return False
    return (stats.get("name"), stats.get("version"), stats.get("config_hash")) == (
        row["name"], int(row["version"]), row.get("config_hash"),
    )  # fmt: skip


def _what_is_in(folder: Path) -> str:
    """What a destination folder already holds, by its own stats.json (hardening item 9: the message used
    to name the subset being published, not the one that is there)."""
    try:
        stats = json.loads((folder / "stats.json").read_text())
        return f"{stats['name']}@v{stats['version']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "files that are not a thresher subset version"


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def build_bundle(
    ws: Workspace,
    row: dict[str, Any],
    source: dict[str, Any],
    out: Path,
    materialize: bool,
    load_path: str,
    query_path: str,
    gallery_clusters: int = 24,
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
            names=label_names_of(source),
        )
    data_files = None
    if materialize:
        shards = materialize_rows(
            ws, row["source"], out / "ids.parquet", out / "data", digest=_digest(out, source)
        )
        data_files = [p.relative_to(out).as_posix() for p in shards]

    gallery = _gallery(ws, stats, out, gallery_clusters)
    card = render_dataset_card(
        stats, source, data_files=data_files, load_path=load_path, query_path=query_path, gallery=gallery
    )
    card.save(str(out / "README.md"))
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def _gallery(ws: Workspace, stats: dict[str, Any], bundle: Path, max_clusters: int) -> str | None:
    """The version's gallery and the card section that shows it; a picture never fails a publish."""
    from thresher.curate.gallery import gallery_markdown, write_gallery

    try:
        kept = pq.read_table(bundle / "ids.parquet", columns=["sample_id"]).column(0).to_numpy()
        files = write_gallery(ws, stats, kept, bundle / "gallery", max_clusters=max_clusters)
    except Exception as exc:  # noqa: BLE001 - the version is complete without its pictures
        shutil.rmtree(bundle / "gallery", ignore_errors=True)
        log.warning("no gallery for %s@v%s: %s", stats.get("name"), stats.get("version"), exc)
        return None
    return gallery_markdown(files, bundle)


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _apply_umask_modes(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain ``mkdir``/``open`` would: 0o777 or 0o666
    less the umask (``mkdtemp`` makes 0o700, ``shutil.copy2`` copies the workspace file's mode)."""
    mask = _current_umask()
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~mask)


def _digest(bundle: Path, source: dict[str, Any]) -> str:
    """Content digest for shard names: `datasets` caches a local folder by its name and its data-file
    *names*, so two different ``v1`` folders with ``data/*.parquet`` would load each other's cached rows."""
    digest = hashlib.sha256((bundle / "ids.parquet").read_bytes())
    digest.update(f"{source['id']}@{source['revision']}".encode())
    return digest.hexdigest()[:10]


def materialize_rows(
    ws: Workspace, source_id: str, ids_path: Path, data_dir: Path, digest: str
) -> list[Path]:
    """Write the kept rows as ``train-XXXXX-of-YYYYY-<digest>.parquet`` shards with their `datasets` features,
    media files embedded (see the module docstring)."""
    dataset, _ = open_source(ws, source_id)
    ids = pq.read_table(ids_path, columns=["sample_id"]).column("sample_id").to_numpy()
    kept = dataset.select(np.asarray(ids, dtype=np.int64))
    data_dir.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, -(-len(kept) // ROWS_PER_SHARD))
    paths = []
    # the embedded shard is an Arrow file outside the bundle, so neither the workspace's nor the source's
    # cache folder collects copies
    with tempfile.TemporaryDirectory(prefix="thresher-embed-") as scratch:
        for i in range(n_shards):
            shard = kept.shard(num_shards=n_shards, index=i, contiguous=True)
            shard = embed_media(shard, Path(scratch) / f"shard-{i:05d}.arrow")
            path = data_dir / f"train-{i:05d}-of-{n_shards:05d}-{digest}.parquet"
            shard.to_parquet(str(path))
            paths.append(path)
    return paths


def embed_media(dataset: datasets.Dataset, cache_file: Path) -> datasets.Dataset:
    """``dataset`` with the bytes of every media file its cells point at embedded (paths cut to base
    names), streamed in batches into ``cache_file``; returned as is when no column can point at files."""
    # datasets is imported only here: an index-only publish (the common, fast case) does not need it
    from datasets.features.features import require_storage_embed
    from datasets.table import embed_table_storage

    if not any(require_storage_embed(feature) for feature in dataset.features.values()):
        return dataset
    embedded = dataset.with_format("arrow").map(
        embed_table_storage,
        batched=True,
        batch_size=EMBED_BATCH_ROWS,
        writer_batch_size=EMBED_BATCH_ROWS,
        cache_file_name=str(cache_file),
        load_from_cache_file=False,
        desc="embedding media",
    )
    return embedded.with_format(**dataset.format)
