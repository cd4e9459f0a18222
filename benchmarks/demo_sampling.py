"""Sampling settings of the demo's full-data model: guidance scale, guidance interval and Heun steps.

Reuses a finished demo workspace (run `thresher --workspace WS demo` first), takes its full-data
(mnist-lt, seed 0) run, and for each setting generates 1000 images with the cluster prior and evaluates
them against balanced MNIST with the demo's classifier. Prints mean confidence, FID, the share of the rare
digits 7/8/9, and the seconds spent sampling: the figures behind `DemoRecipe`'s sampling choices.

    uv run python benchmarks/demo_sampling.py --workspace thresher-workspace
    uv run python benchmarks/demo_sampling.py --workspace WS --settings 1:0:1:4,2:0.25:0.75:4
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from thresher.catalog.workspace import Workspace
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.eval_run import evaluate_run
from thresher.experiments.demo_config import RARE_CLASSES
from thresher.train.sampling import generate, save_images

# scale:low:high:heun steps
DEFAULT_SETTINGS = "1:0:1:4,1.5:0:1:4,1.5:0:1:5,2:0:1:4,2:0.25:1:4,2:0.25:0.75:4,3:0.25:1:4"


def full_data_run(ws: Workspace) -> Path:
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT output FROM runs WHERE kind = 'train' AND dataset = 'mnist-lt' AND status = 'done' "
            "AND CAST(json_extract(config, '$.train.seed') AS INTEGER) = 0 ORDER BY finished DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit(f"{ws.root} has no finished full-data demo run; run `thresher demo` first")
    return Path(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", required=True, help="a workspace where `thresher demo` has run")
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated scale:low:high:steps")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    ws = Workspace(Path(args.workspace))
    run_dir = full_data_run(ws)
    print(f"full-data run: {run_dir}")
    print("scale  interval     heun  confidence  FID     7/8/9   sampling s")
    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.settings.split(","):
            scale, low, high, steps = setting.split(":")
            start = time.perf_counter()
            images = generate(
                run_dir, args.n, seed=0, steps=int(steps), cfg_scale=float(scale),
                cfg_interval=(float(low), float(high)), batch_size=args.batch_size,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            path = save_images(images, Path(tmp) / "generated.parquet")
            metrics = evaluate_run(ws, EvalRunConfig(images=str(path), n=args.n, against="mnist")).metrics
            shares = dict(zip(metrics["class_ids"], metrics["class_share_gen"], strict=True))
            rare = sum(shares.get(c, 0.0) for c in RARE_CLASSES)
            print(f"{float(scale):5.2f}  [{float(low):.2f}, {float(high):.2f}]  {int(steps):4d}  "
                  f"{metrics['classifier_confidence']:10.3f}  {metrics['fid']:6.1f}  {rare:6.1%}  {seconds:9.1f}",
                  flush=True)  # fmt: skip
    print(json.dumps({"run": str(run_dir), "n": args.n}))


if __name__ == "__main__":
    main()
