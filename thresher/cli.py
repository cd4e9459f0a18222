"""The `thresher` command line: a thin layer that parses options into config dataclasses and calls the library.

Any :class:`ThresherError` becomes ``error: <one line>`` on stderr and exit code 2; click's own usage
errors also exit 2. Commands import their library modules lazily so ``thresher --help`` stays fast.
"""

from __future__ import annotations

import os
import sys

import click

from thresher.errors import ThresherError
from thresher.workspace import Workspace


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except ThresherError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: finished parts are kept; run the same command again to resume", err=True)
            ctx.exit(130)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected an integer or a comma-separated list of integers, got {text!r}"
        ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    envvar="THRESHER_WORKSPACE",
    default="thresher-workspace",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Workspace folder (also THRESHER_WORKSPACE).",
)
@click.version_option(package_name="thresher")
@click.pass_context
def main(ctx: click.Context, workspace: str) -> None:
    """thresher: curate, prune, publish, train on and evaluate image datasets for generative models."""
    ctx.obj = Workspace(workspace)


# -- curate ----------------------------------------------------------------------------------------
@main.command()
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


@main.command()
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


@main.command()
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

    ks = _int_list(k_text)
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


@main.command("select")
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


@main.command()
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


@main.command()
@click.argument("sql")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@click.option("--max-rows", type=int, default=200, show_default=True, help="Rows shown in table format.")
@click.pass_obj
def query(ws: Workspace, sql, fmt, max_rows) -> None:
    """Run read-only SQL over views samples, scores, subsets, sources, runs, evaluations, embeddings_meta."""
    from thresher.query import run_query

    click.echo(run_query(ws, sql).render(fmt, max_rows))


@main.command()
@click.pass_obj
def status(ws: Workspace) -> None:
    """What is in the workspace."""
    from thresher.status import workspace_status

    click.echo(workspace_status(ws).render())


# -- train -----------------------------------------------------------------------------------------
@main.command("train")
@click.option(
    "--dataset",
    "-d",
    required=True,
    help="NAME[@vN] subset, a source id, a published folder, or hf://datasets/<owner>/<repo>@vN.",
)
@click.option("--run", "run_name", help="Run name (default: a fresh id); with --resume, the run to continue.")
@click.option("--resume", is_flag=True, help="Continue the run from its latest checkpoint.")
@click.option("--model", "model_size", default="DiT-T/4", show_default=True, help="DiT-T|S|B|L|XL / 2|4|8.")
@click.option("--width", type=int, help="Override the size's width.")
@click.option("--depth", type=int, help="Override the size's depth.")
@click.option("--heads", type=int, help="Override the size's attention heads.")
@click.option("--steps", type=int, default=1000, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--warmup", "warmup_steps", type=int, default=50, show_default=True)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--ema", "ema_decay", type=float, default=0.999, show_default=True)
@click.option("--unconditional", is_flag=True, help="Ignore labels (the null class for every row).")
@click.option("--label-dropout", type=float, default=0.1, show_default=True)
@click.option(
    "--t-sampling", type=click.Choice(["uniform", "logit_normal"]), default="uniform", show_default=True
)
@click.option("--image-size", type=int, help="Resize images to this side first.")
@click.option("--vae", help="Train in the latent space of this diffusers AutoencoderKL (Hub id or path).")
@click.option(
    "--weights", help="Per-sample/group weights: a score run id or a Parquet file with a weight column."
)
@click.option("--weighting", type=click.Choice(["loss", "sampler"]), help="How weights apply.")
@click.option("--checkpoint-every", type=int, default=500, show_default=True)
@click.option("--device", help="cpu, cuda, … (default: accelerate's choice).")
@click.option(
    "--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def train_cmd(
    ws: Workspace,
    dataset,
    run_name,
    resume,
    model_size,
    width,
    depth,
    heads,
    steps,
    batch_size,
    lr,
    warmup_steps,
    weight_decay,
    ema_decay,
    unconditional,
    label_dropout,
    t_sampling,
    image_size,
    vae,
    weights,
    weighting,
    checkpoint_every,
    device,
    precision,
    seed,
) -> None:
    """Train a flow-matching DiT on a named (pruned) dataset."""
    from thresher.train.loop import TrainConfig
    from thresher.train.run import TrainRunConfig, run_training

    if weighting and not weights:
        raise click.BadParameter("--weighting needs --weights", param_hint="--weighting")
    train_config = TrainConfig(
        model_size=model_size,
        width=width,
        depth=depth,
        heads=heads,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup_steps=warmup_steps,
        weight_decay=weight_decay,
        ema_decay=ema_decay,
        unconditional=unconditional,
        label_dropout=label_dropout,
        t_sampling=t_sampling,
        weighting=weighting or ("loss" if weights else None),
        checkpoint_every=checkpoint_every,
        device=device,
        precision=precision,
        seed=seed,
    )
    outcome = run_training(
        ws,
        TrainRunConfig(
            dataset=dataset,
            train=train_config,
            image_size=image_size,
            vae=vae,
            weights=weights,
            run=run_name,
            resume=resume,
        ),
    )
    for line in outcome.lines():
        click.echo(line)


@main.command("sample")
@click.option("--run", "run", required=True, help="Run id or run folder.")
@click.option("--n", "n", type=int, required=True, help="Number of images.")
@click.option("--out", required=True, help="A folder (PNGs) or a .parquet file.")
@click.option(
    "--labels", default="uniform", show_default=True, help="uniform, none, or comma-separated class ids."
)
@click.option("--steps", type=int, default=50, show_default=True)
@click.option("--sampler", type=click.Choice(["euler", "heun"]), default="heun", show_default=True)
@click.option("--cfg-scale", type=float, default=1.0, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--device")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def sample_cmd(
    ws: Workspace, run, n, out, labels, steps, sampler, cfg_scale, batch_size, device, seed
) -> None:
    """Generate N images from a training run's EMA model."""
    from thresher.train.run import SampleConfig, run_sampling

    dest = run_sampling(
        ws,
        SampleConfig(
            run=run,
            n=n,
            out=out,
            seed=seed,
            labels=labels,
            steps=steps,
            sampler=sampler,
            cfg_scale=cfg_scale,
            batch_size=batch_size,
            device=device,
        ),
    )
    click.echo(f"{n} images → {dest}")


# -- evaluate --------------------------------------------------------------------------------------
@main.command("evaluate")
@click.option("--run", "run", help="Training run to sample from and evaluate.")
@click.option("--images", help="Evaluate these generated images instead (folder of PNGs or .parquet).")
@click.option("--n", "n", type=int, default=1000, show_default=True, help="Images to generate.")
@click.option(
    "--against", help="Reference: a subset, source or published dataset (default: the run's source)."
)
@click.option(
    "--features",
    default="classifier",
    show_default=True,
    help="inception, clip:<arch>/<pretrained>, dino:<name> or classifier.",
)
@click.option("--weights", help="Local Inception-v3 FID weights (for --features inception offline).")
@click.option("--steps", type=int, default=50, show_default=True, help="ODE steps when sampling.")
@click.option("--sampler", type=click.Choice(["euler", "heun"]), default="heun", show_default=True)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--device")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def evaluate_cmd(
    ws: Workspace, run, images, n, against, features, weights, steps, sampler, batch_size, device, seed
) -> None:
    """FID, KID, IS, precision/recall, density/coverage, Vendi, memorization and balance of generated images."""
    from thresher.evaluate.run_eval import EvalRunConfig, evaluate_run

    outcome = evaluate_run(
        ws,
        EvalRunConfig(
            run=run,
            images=images,
            n=n,
            against=against,
            features=features,
            weights=weights,
            steps=steps,
            sampler=sampler,
            seed=seed,
            batch_size=batch_size,
            device=device,
        ),
    )
    for line in outcome.lines():
        click.echo(line)


@main.command("report")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the page and figures.")
@click.option("--run", "runs", multiple=True, help="Only these runs (repeatable; default: every evaluation).")
@click.pass_obj
def report_cmd(ws: Workspace, out, runs) -> None:
    """Plots (metrics vs pruning ratio per method, class shares, sample grids) and a page from the evaluations."""
    from pathlib import Path

    from thresher.evaluate.report_run import run_report

    files = run_report(ws, Path(out) if out else None, list(runs) or None)
    click.echo(f"report: {files.html} ({len(files.figures)} figures)")


# -- demo ------------------------------------------------------------------------------------------
@main.command("demo")
@click.option(
    "--quick", is_flag=True, help="Smoke-test size (a few minutes): every stage runs, figures are rough."
)
@click.option(
    "--seeds", default="0", show_default=True, help="Training seeds for the balancing comparison, e.g. 0,1."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for data, clustering and sampling."
)
@click.pass_obj
def demo_cmd(ws: Workspace, quick, seeds, seed) -> None:
    """The whole loop on real long-tailed MNIST, offline: curate, publish, train, evaluate, report."""
    from thresher.demo import DemoConfig, run_demo

    result = run_demo(ws, DemoConfig(quick=quick, seed=seed, train_seeds=tuple(_int_list(seeds))))
    click.echo(f"\ndemo finished in {result.seconds / 60:.1f} min; report: {result.report}")


def run() -> None:
    """Entry point that also keeps click from printing a traceback for broken pipes (e.g. `| head`)."""
    try:
        main(standalone_mode=True)
    except BrokenPipeError:
        sys.exit(0)
