"""`thresher` curate commands: ingest, embed, cluster, select, publish, query, status.

Options, defaults and help come from the config dataclasses in :mod:`thresher.curate.config`.
"""

from __future__ import annotations

import os

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options
from thresher.curate.config import (
    ClusterRunConfig,
    EmbedRunConfig,
    IngestConfig,
    PublishConfig,
    ScoreRunConfig,
    SelectConfig,
)


@click.command()
@click.argument("source")
@config_options(IngestConfig, skip=("source",))
@click.pass_obj
def ingest(ws: Workspace, source: str, **values) -> None:
    """Register SOURCE: a Hub id, an image folder, Parquet file/glob, a save_to_disk folder, or builtin:mnist|mnist-lt|digits."""
    from thresher.curate.ingest import ingest as run_ingest

    result = run_ingest(ws, IngestConfig(source=source, **values))
    if result.already:
        restored = "; its saved rows were missing and have been restored" if result.restored else ""
        click.echo(f"{result.source_id}: already ingested ({result.n_ok}/{result.n_rows} rows ok){restored}")
        return
    click.echo(f"{result.source_id}: {result.n_rows} rows, {result.n_ok} ok, {result.n_skipped} skipped")
    for reason, count in sorted(result.skipped.items()):
        click.echo(f"  skipped {count} × {reason}")


@click.command()
@config_options(EmbedRunConfig)
@click.pass_obj
def embed(ws: Workspace, **values) -> None:
    """Embed every ok row of a source (sharded; an interrupted run resumes)."""
    from thresher.curate.embed_run import run_embed

    for line in run_embed(ws, EmbedRunConfig(**values)).lines():
        click.echo(line)


@click.command()
@config_options(ClusterRunConfig)
@click.option(
    "--spherical/--euclidean",
    default=None,
    help="Cosine (spherical) or L2 k-means (default: cosine for normalized embeddings, L2 for UMAP outputs).",
)
@click.pass_obj
def cluster(ws: Workspace, **values) -> None:
    """k-means (faiss) on a source's embeddings; with several k, an inertia table and elbow plot."""
    from thresher.curate.cluster_run import run_cluster

    for line in run_cluster(ws, ClusterRunConfig(**values)).lines():
        click.echo(line)


@click.command("score")
@config_options(ScoreRunConfig)
@click.pass_obj
def score(ws: Workspace, **values) -> None:
    """Score every ok row with a gradient method from a pretraining run (resumable; reused when done)."""
    from thresher.curate.gradient_scoring import run_score

    for line in run_score(ws, ScoreRunConfig(**values)).lines():
        click.echo(line)


@click.command("select")
@config_options(SelectConfig)
@click.pass_obj
def select_cmd(ws: Workspace, **values) -> None:
    """Select a subset with a method and store it as NAME@vN."""
    from thresher.curate.select import select

    result = select(ws, SelectConfig(**values))
    for line in result.lines():
        click.echo(line)


@click.command()
@click.argument("ref")
@config_options(PublishConfig, skip=("ref",))
@click.pass_obj
def publish(ws: Workspace, ref: str, **values) -> None:
    """Publish subset REF (NAME or NAME@vN) with its card, ids, scores and plots."""
    from thresher.curate.publish import publish as run_publish

    result = run_publish(ws, PublishConfig(ref=ref, token=os.environ.get("HF_TOKEN"), **values))
    click.echo(f"{result.name}@v{result.version} → {result.destination} ({len(result.files)} files)")


@click.command()
@click.argument("sql")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@click.option("--max-rows", type=int, default=200, show_default=True, help="Rows shown in table format.")
@click.pass_obj
def query(ws: Workspace, sql, fmt, max_rows) -> None:
    """Run read-only SQL over views samples, scores, subsets, sources, runs, evaluations, embeddings_meta."""
    from thresher.catalog.query import run_query

    click.echo(run_query(ws, sql).render(fmt, max_rows))


@click.command()
@click.pass_obj
def status(ws: Workspace) -> None:
    """What is in the workspace."""
    from thresher.catalog.status import workspace_status

    click.echo(workspace_status(ws).render())
