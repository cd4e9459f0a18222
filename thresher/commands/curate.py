"""`thresher` curate commands: ingest, embed, cluster, select, publish, query, status."""

from __future__ import annotations

import os

import click

from thresher.catalog.workspace import Workspace


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected an integer or a comma-separated list of integers, got {text!r}"
        ) from None


# -- curate ----------------------------------------------------------------------------------------
@click.command()
@click.argument("source")
@click.option("--name", help="Source id in the workspace (default: derived from SOURCE).")
@click.option("--config", "config_name", help="Hub dataset configuration.")
@click.option("--split", help="Split to ingest (default: train).")
@click.option("--revision", help="Hub revision (branch, tag or commit) to pin.")
@click.option(
    "--label-column", help="Column holding class labels (default: label/labels/class when present)."
)
@click.option("--image-column", help="Column holding images (default: the first Image feature).")
@click.option(
    "--trust-remote-code", is_flag=True, help="Allow a Hub dataset's loading script to run (off by default)."
)
@click.option(
    "--max-pixels", type=int, default=None, help="Images with more pixels are skipped (decompression bombs)."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for generated built-in sources (mnist-lt)."
)
@click.pass_obj
def ingest(
    ws: Workspace,
    source: str,
    name,
    config_name,
    split,
    revision,
    label_column,
    image_column,
    trust_remote_code,
    max_pixels,
    seed,
) -> None:
    """Register SOURCE: a Hub id, an image folder, Parquet file/glob, a save_to_disk folder, or builtin:mnist|mnist-lt|digits."""
    from thresher.curate.ingest import DEFAULT_MAX_PIXELS, IngestConfig
    from thresher.curate.ingest import ingest as run_ingest

    result = run_ingest(
        ws,
        IngestConfig(
            source=source,
            name=name,
            config=config_name,
            split=split,
            revision=revision,
            label_column=label_column,
            image_column=image_column,
            trust_remote_code=trust_remote_code,
            seed=seed,
            max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        ),
    )
    if result.already:
        click.echo(f"{result.source_id}: already ingested ({result.n_ok}/{result.n_rows} rows ok)")
        return
    click.echo(f"{result.source_id}: {result.n_rows} rows, {result.n_ok} ok, {result.n_skipped} skipped")
    for reason, count in sorted(result.skipped.items()):
        click.echo(f"  skipped {count} × {reason}")


@click.command()
@click.option(
    "--embedder",
    "-e",
    default="pixels",
    show_default=True,
    help="clip:<arch>/<pretrained>, dino:<timm-name>, or pixels[:<side>:<dim>].",
)
@click.option("--source", help="Source id (default: the workspace's only source).")
@click.option("--reduce", "reduce_spec", help="Also reduce the embeddings, e.g. umap:10.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--num-workers", type=int, default=None, help="DataLoader workers (default: CPU count, max 8).")
@click.option("--device", help="cpu, cuda, cuda:1, mps (default: CUDA when present).")
@click.option(
    "--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="auto", show_default=True
)
@click.option(
    "--normalize/--no-normalize", default=True, show_default=True, help="L2-normalize the embeddings."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def embed(
    ws: Workspace, embedder, source, reduce_spec, batch_size, num_workers, device, precision, normalize, seed
) -> None:
    """Embed every ok row of a source (sharded; an interrupted run resumes)."""
    from thresher.curate.embed_run import EmbedRunConfig, run_embed

    result = run_embed(
        ws,
        EmbedRunConfig(
            embedder=embedder,
            source=source,
            reduce=reduce_spec,
            batch_size=batch_size,
            num_workers=num_workers,
            device=device,
            precision=precision,
            normalize=normalize,
            seed=seed,
        ),
    )
    for line in result.lines():
        click.echo(line)


@click.command()
@click.option(
    "--k", "k_text", required=True, help="Number of clusters, or a comma-separated list to compare."
)
@click.option("--embedder", "-e", help="Which embeddings (default: the source's latest).")
@click.option("--source", help="Source id (default: the workspace's only source).")
@click.option(
    "--spherical/--euclidean",
    default=None,
    help="Cosine (spherical) or L2 k-means (default: cosine for normalized embeddings, L2 for UMAP outputs).",
)
@click.option("--init", type=click.Choice(["kmeans++", "random"]), default="kmeans++", show_default=True)
@click.option("--restarts", type=int, default=1, show_default=True)
@click.option("--niter", type=int, default=25, show_default=True)
@click.option(
    "--max-train", type=int, default=None, help="Train on at most this many rows (default: 256 per centroid)."
)
@click.option("--device", help="cpu or cuda (default: GPU faiss when present).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def cluster(
    ws: Workspace, k_text, embedder, source, spherical, init, restarts, niter, max_train, device, seed
) -> None:
    """k-means (faiss) on a source's embeddings; with several k, an inertia table and elbow plot."""
    from thresher.curate.cluster_run import ClusterRunConfig, run_cluster

    ks = int_list(k_text)
    if not ks:
        raise click.BadParameter("give at least one k", param_hint="--k")
    result = run_cluster(
        ws,
        ClusterRunConfig(
            ks=ks,
            embedder=embedder,
            source=source,
            spherical=spherical,
            init=init,
            restarts=restarts,
            niter=niter,
            max_train=max_train,
            device=device,
            seed=seed,
        ),
    )
    for line in result.lines():
        click.echo(line)


@click.command("select")
@click.option("--name", required=True, help="Subset name; each selection becomes its next version.")
@click.option("--method", required=True, help="random, cluster or dedup.")
@click.option("--source", help="Source id (default: the workspace's only source).")
@click.option("--ratio", type=float, help="Fraction of the source to prune, in [0, 1).")
@click.option("--keep-count", type=int, help="Number of samples to keep (instead of --ratio).")
@click.option("--keep", default="nearest", show_default=True, help="cluster: nearest, middle or furthest.")
@click.option("--balance", help="proportional or equal (per cluster).")
@click.option(
    "--epsilon", type=float, default=0.05, show_default=True, help="dedup: drop above similarity 1-ε."
)
@click.option("--inverse", is_flag=True, help="Keep the other end of the ranking.")
@click.option("--clustering", help="Cluster run to use (default: the source's latest).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def select_cmd(
    ws: Workspace, name, method, source, ratio, keep_count, keep, balance, epsilon, inverse, clustering, seed
) -> None:
    """Select a subset with a method and store it as NAME@vN."""
    from thresher.curate.select import SelectConfig, select

    result = select(
        ws,
        SelectConfig(
            name=name,
            method=method,
            source=source,
            ratio=ratio,
            keep_count=keep_count,
            keep=keep,
            balance=balance,
            epsilon=epsilon,
            inverse=inverse,
            seed=seed,
            clustering=clustering,
        ),
    )
    click.echo(
        f"{result.ref}: kept {result.n} of {result.n_source} ({100 * result.n / result.n_source:.1f}%) "
        f"→ {result.path}"
    )


@click.command()
@click.argument("ref")
@click.option("--to", "dest", required=True, help="A local folder or hf://datasets/<owner>/<repo>.")
@click.option("--materialize", is_flag=True, help="Also copy the kept rows as Parquet shards.")
@click.option("--private", is_flag=True, help="Create the Hub repo as private.")
@click.pass_obj
def publish(ws: Workspace, ref, dest, materialize, private) -> None:
    """Publish subset REF (NAME or NAME@vN) with its card, ids, scores and plots."""
    from thresher.curate.publish import PublishConfig
    from thresher.curate.publish import publish as run_publish

    result = run_publish(
        ws,
        PublishConfig(
            ref=ref, to=dest, materialize=materialize, private=private, token=os.environ.get("HF_TOKEN")
        ),
    )
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
