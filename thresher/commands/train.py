"""`thresher` train commands: train and sample."""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace


def float_pair(_ctx: click.Context, _param: click.Parameter, text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LOW,HIGH (two numbers), got {text!r}") from None
    return low, high


cfg_interval_option = click.option(
    "--cfg-interval",
    default="0,1",
    show_default=True,
    callback=float_pair,
    help="Guide only at flow times t in LOW,HIGH (t=0 is noise, 1 is data).",
)


# -- train -----------------------------------------------------------------------------------------
@click.command("train")
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
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default="constant",
    show_default=True,
    help="After warmup: constant, or cosine decay to 0 at --steps.",
)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--ema", "ema_decay", type=float, default=0.999, show_default=True)
@click.option("--unconditional", is_flag=True, help="Ignore labels (the null class for every row).")
@click.option(
    "--clusters",
    metavar="RUN",
    help="Condition on the clusters of this `thresher cluster` run (or `latest`) instead of class labels "
    "(no labels needed); sampling then draws clusters at their training frequencies.",
)
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
    lr_schedule,
    weight_decay,
    ema_decay,
    unconditional,
    clusters,
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
        lr_schedule=lr_schedule,
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
            clusters=clusters,
            run=run_name,
            resume=resume,
        ),
    )
    for line in outcome.lines():
        click.echo(line)


@click.command("sample")
@click.option("--run", "run", required=True, help="Run id or run folder.")
@click.option("--n", "n", type=int, required=True, help="Number of images.")
@click.option("--out", required=True, help="A folder (PNGs) or a .parquet file.")
@click.option(
    "--labels",
    default="auto",
    show_default=True,
    help="uniform (every class equally), prior (at the training frequencies), none, or comma-separated "
    "class ids; auto is prior for a model conditioned on --clusters, uniform otherwise.",
)
@click.option("--steps", type=int, default=50, show_default=True)
@click.option("--sampler", type=click.Choice(["euler", "heun"]), default="heun", show_default=True)
@click.option("--cfg-scale", type=float, default=1.0, show_default=True)
@cfg_interval_option
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--device")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def sample_cmd(
    ws: Workspace, run, n, out, labels, steps, sampler, cfg_scale, cfg_interval, batch_size, device, seed
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
            cfg_interval=cfg_interval,
            batch_size=batch_size,
            device=device,
        ),
    )
    click.echo(f"{n} images → {dest}")
