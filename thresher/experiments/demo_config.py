"""The demo's recipe and request: what `thresher demo` runs (light, so the command line reads its options)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from thresher.config_field import setting

if TYPE_CHECKING:
    from thresher.experiments.sweep_spec import SweepSpec

RARE_CLASSES = (7, 8, 9)  # mnist-lt's three smallest classes (49, 35 and 25 images)
MNIST_LT_ROWS = 1703
# The demo's training sets: the sweep's series label -> the name the demo's table and publish folders use.
DEMO_DATASETS = {
    "full data": "mnist-lt",
    "random": "demo-random",
    "cluster-proportional": "demo-proportional",
    "cluster-equal": "demo-equal",
}


@dataclass
class DemoRecipe:
    """The model and schedule that make recognizable digits within the demo's CPU budget (see README)."""

    model_size: str = "DiT-T/1"
    width: int = 128
    depth: int = 4
    heads: int = 4
    # Every run sees its training set this many times, so a half-size subset trains half the steps: the
    # compute that pruning saves (and the subsets compare with each other at equal steps).
    epochs: float = 12.0
    batch_size: int = 16  # measured: at equal images seen, batch 16 > 32 > 64 (more updates per second)
    lr: float = 1e-3
    warmup_steps: int = 50
    ema_decay: float = 0.995
    t_sampling: str = "logit_normal"
    image_size: int | None = None
    vae: str | None = "thresher-ae"  # the small autoencoder trained once per source
    autoencoder_steps: int = 300
    # Heun: 8 evaluations. Measured on the full set with guidance 1.5: 0.913 mean confidence at 4 steps,
    # 0.916 at 5.
    sample_steps: int = 4
    sampler: str = "heun"
    # Unconditional generation in two stages (thresher.train.conditioning): the DiT learns p(x | cluster) for
    # the demo's own k-means clusters (no labels) and samples clusters at their training frequencies, so
    # the generated mix still follows the training set. Measured on the full set (1000 samples): mean
    # confidence 0.85 against 0.77 for the plain unconditional DiT at the same steps; guidance within a
    # cluster at t in [0.25, 0.75] lifts it to 0.93. False trains the plain unconditional DiT.
    cluster_conditioning: bool = True
    cfg_scale: float = 2.0
    cfg_interval: tuple[float, float] = (0.25, 0.75)
    # Sampling batch: measured faster at 32 than at 256 on 2 cores (the activations stay in cache).
    eval_batch_size: int = 32

    def steps_for(self, n_rows: int) -> int:
        return max(1, round(self.epochs * n_rows / self.batch_size))


@dataclass
class DemoConfig:
    quick: bool = setting(False, "Smoke-test size (a few minutes): every stage runs, figures are rough.")
    seed: int = setting(0, "Seed for data, clustering and sampling.")
    # The proportional and equal runs repeat per training seed; None: (0, 1), or (0,) with quick.
    train_seeds: tuple[int, ...] | None = setting(
        None, "Training seeds for the balancing comparison [default: 0,1; with --quick: 0].", flag="--seeds"
    )
    embedder: str = setting("hog?deskew", cli=False)
    kmeans_restarts: int = setting(3, cli=False)
    prune_ratio: float = setting(0.5, cli=False)
    k: int = setting(10, cli=False)
    n_generated: int = setting(1000, cli=False)
    recipe: DemoRecipe = setting(default_factory=DemoRecipe, cli=False)
    unconditional: bool = setting(
        False,
        "Train the plain unconditional DiT instead of conditioning it on the demo's clusters "
        "(less recognizable digits; for comparison).",
    )

    def resolved(self) -> DemoConfig:
        if self.unconditional and self.recipe.cluster_conditioning:
            recipe = replace(self.recipe, cluster_conditioning=False)
            return replace(self, unconditional=False, recipe=recipe).resolved()
        if not self.quick:
            return replace(self, train_seeds=self.train_seeds or (0, 1))
        # Smoke-test size: every stage runs, figures are not meaningful.
        return replace(
            self,
            train_seeds=self.train_seeds or (0,),
            n_generated=100,
            recipe=replace(self.recipe, epochs=0.6, sample_steps=4, autoencoder_steps=30),
        )


def demo_spec(config: DemoConfig) -> SweepSpec:
    """The demo as a sweep (the ``demo`` and ``demo-quick`` presets of `thresher sweep`): one pruning ratio,
    three selections, trained at equal epochs; the balancing pair repeats per training seed, the full set
    and the random subset train once."""
    from thresher.experiments.sweep_spec import MethodSpec, SweepSpec

    config = config.resolved()
    recipe = config.recipe
    seeds = list(config.train_seeds or (0,))
    train = {
        "model_size": recipe.model_size, "width": recipe.width, "depth": recipe.depth, "heads": recipe.heads,
        "batch_size": recipe.batch_size, "lr": recipe.lr, "warmup_steps": recipe.warmup_steps,
        "ema_decay": recipe.ema_decay, "t_sampling": recipe.t_sampling,
    }  # fmt: skip
    if recipe.image_size is not None:  # (left out otherwise: the demo's cells keep their keys)
        train["image_size"] = recipe.image_size
    conditioned = recipe.cluster_conditioning
    evaluate = {
        "n": config.n_generated, "steps": recipe.sample_steps, "sampler": recipe.sampler,
        "cfg_scale": recipe.cfg_scale if conditioned else 1.0, "cfg_interval": tuple(recipe.cfg_interval),
        "batch_size": recipe.eval_batch_size,
    }  # fmt: skip
    name = "demo-quick" if config.quick else "demo"
    return SweepSpec(
        name=name + ("" if conditioned else "-unconditional"),
        description="thresher demo: does equal-per-cluster selection generate more of the rare classes?",
        source="builtin:mnist-lt",
        reference="builtin:mnist",
        methods=[
            MethodSpec("random", "random", {}),
            MethodSpec("cluster", "cluster-proportional", {"balance": "proportional"}, seeds=seeds),
            MethodSpec("cluster", "cluster-equal", {"balance": "equal"}, seeds=seeds),
        ],
        ratios=[config.prune_ratio],
        seeds=seeds[:1],
        budget="epochs",
        epochs=recipe.epochs,
        embedder=config.embedder,
        k=config.k,
        kmeans_restarts=config.kmeans_restarts,
        train=train,
        vae=recipe.vae,
        autoencoder_steps=recipe.autoencoder_steps,
        cluster_conditioning=conditioned,
        evaluate=evaluate,
        noise_grid=0,
        seed=config.seed,
        path=f"<preset {name}>",
    )
