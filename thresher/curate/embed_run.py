"""`thresher embed`: embed a source's ok rows into the workspace and register them in the catalog.

The heavy lifting (batching, sharding, resume) is :func:`thresher.curate.embed.embed_dataset`; this
module picks the rows and folder, runs an optional reduction (``--reduce umap:10``, stored as its own
embedding ``<embedder>+umap10``), and records each embedding in the ``embeddings`` table. Under
``accelerate launch`` every process embeds its parts and only the main process writes the catalog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from thresher.catalog.embeddings import EmbeddingStore, register_embeddings
from thresher.catalog.part_files import part_done
from thresher.catalog.samples import ok_sample_ids, open_source
from thresher.catalog.workspace import Workspace
from thresher.curate.config import EmbedRunConfig
from thresher.curate.embed import EmbedConfig, embed_dataset
from thresher.device import process_state
from thresher.embedders import with_background
from thresher.errors import ThresherError
from thresher.executors.slurm import Submission
from thresher.executors.stage_arrays import submit_parts


@dataclass
class EmbedRunResult:
    source: str
    embedder: str
    n: int
    dim: int
    path: Path
    reduced: tuple[str, int, Path] | None = None
    task: str | None = None  # --task i/n: only this array task's parts were embedded, nothing committed
    parts: list[int] | None = None  # with --task: the parts this task wrote

    @property
    def final_embedder(self) -> str:
        return self.reduced[0] if self.reduced else self.embedder

    def lines(self) -> list[str]:
        if self.task is not None:
            return [
                f"{self.source}: task {self.task} embedded parts {', '.join(map(str, self.parts or [])) or 'none'} "
                f"with {self.embedder} → {self.path} (the final job registers the embeddings)"
            ]
        out = [f"{self.source}: {self.n} rows embedded with {self.embedder} (dim {self.dim}) → {self.path}"]
        if self.reduced:
            out.append(
                f"{self.source}: reduced to {self.reduced[0]} (dim {self.reduced[1]}) → {self.reduced[2]}"
            )
        return out


def reduced_name(embedder: str, spec: str) -> str:
    return f"{embedder}+{spec.replace(':', '')}"


def run_embed(ws: Workspace, config: EmbedRunConfig) -> EmbedRunResult | Submission:
    """Embed the source (this process's share under ``accelerate launch``, one array task's share with
    ``--task``), or with ``--executor slurm`` submit the parts as a job array and a final job that
    registers them (docs/architecture.md, 'Executors')."""
    source = ws.resolve_source(config.source)
    ids = ok_sample_ids(ws, source)
    if len(ids) == 0:
        raise ThresherError(f"source {source!r} has no decodable rows to embed")
    # A non-white background is part of the name, so its embeddings get their own folder and catalog row.
    name = with_background(config.embedder, config.background)
    out = ws.embeddings_dir(source, name)
    if config.executor.on_slurm:
        parts = range(math.ceil(len(ids) / config.part_size))
        return submit_parts(
            ws.root, "embed", replace(config, source=source), f"embed-{source}-{name}", parts,
            [p for p in parts if not part_done(out, p)],
        )  # fmt: skip
    dataset, _ = open_source(ws, source)
    info = embed_dataset(
        dataset,
        ids,
        out,
        EmbedConfig(
            embedder=name,
            batch_size=config.batch_size,
            num_workers=config.resolved_num_workers,
            part_size=config.part_size,
            device=config.device,
            precision=config.precision,
            normalize=config.normalize,
            seed=config.seed,
            task=config.executor.task_share,
        ),
    )
    state = process_state(config.device)
    if config.executor.task is not None:  # an array task writes parts only; the final job commits
        state.wait_for_everyone()
        return EmbedRunResult(source, name, 0, info.dim, out, task=config.executor.task, parts=info.written)
    state.wait_for_everyone()
    store = EmbeddingStore(out)
    result = EmbedRunResult(source, name, len(store.ids()), info.dim, out)
    if state.is_main_process:
        register_embeddings(ws, source, name, out, info.dim, result.n, config.normalize, None)
        if config.reduce:
            from thresher.curate.reduce import reduce_embeddings

            reduced = reduced_name(name, config.reduce)
            reduced_dir = ws.embeddings_dir(source, reduced)
            reduced_store = reduce_embeddings(store, reduced_dir, spec=config.reduce, seed=config.seed)
            dim = int(config.reduce.split(":", 1)[1])
            register_embeddings(ws, source, reduced, reduced_dir, dim, result.n, False, name)
            result.reduced = (reduced, dim, reduced_dir)
            del reduced_store
    state.wait_for_everyone()
    return result
