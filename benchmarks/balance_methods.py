"""Which selection keeps the rare classes of a long-tailed set? Random, cluster balancing, hkmeans, labels.

Runs the real pipeline (ingest → embed → cluster / hkmeans → ``select``) on two long-tailed sets and prints
the share of the rare classes in each selection, mean ± std over seeds, at each pruning ratio (the
fraction *removed*, as ``select --ratio``):

- ``builtin:mnist-lt`` (1703 digits; rare: 7, 8, 9, 6.3% of the rows);
- ``photo-tiles-lt`` (``benchmarks/photo_tiles_lt.py``: 1798 colour tiles of 16 scikit-image
  photographs; rare: the 7 rarest, 8.0%).

Methods (a seed is the selection's ``--seed``, or the k-means seed of the clustering it uses):

- ``random``: ``--method random`` (embedder-free);
- ``class equal``: ``--method random --balance equal --groups class``, the labels' answer (embedder-free);
- ``proportional`` / ``equal``: ``--method cluster --balance proportional|equal`` (keep nearest, the
  cluster method's default) on a flat k-means with k = the number of classes;
- ``equal random``: ``--method random --balance equal`` on the same clustering (random inside a cluster,
  as hkmeans samples a leaf);
- ``hkmeans L2`` / ``hkmeans L3``: ``--method hkmeans --levels 2|3`` with the default k's and resampling
  (none at level 1, 10 steps above); with ``--resample-level1`` also ``hkmeans L2 +r1``
  (``--resampling-steps 10``: at level 1 too, as the paper's 2-level configuration does).

    uv run python benchmarks/balance_methods.py [--datasets mnist-lt,photo-tiles-lt]
        [--embedders efficientnet-lite0,hog?deskew,pixels] [--seeds 0,1,2,3] [--ratios 0.25,0.5,0.75]
        [--json benchmarks/results/balance_methods.json] [--resample-level1]

Prints a Markdown table per dataset and embedder, and writes every share (per seed) and the classes each
selection dropped entirely to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import photo_tiles_lt  # noqa: E402  (this script's folder is on the path)
import pyarrow.parquet as pq  # noqa: E402

from thresher.catalog.config import IngestConfig  # noqa: E402
from thresher.catalog.ingest import ingest  # noqa: E402
from thresher.catalog.runs import run_config  # noqa: E402
from thresher.catalog.samples import label_names  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402
from thresher.curate.cluster_run import run_cluster  # noqa: E402
from thresher.curate.config import ClusterRunConfig, EmbedRunConfig, SelectConfig  # noqa: E402
from thresher.curate.embed_run import run_embed  # noqa: E402
from thresher.curate.select import select  # noqa: E402

DATASETS = ("mnist-lt", "photo-tiles-lt")
EMBEDDERS = ("efficientnet-lite0", "hog?deskew", "pixels")
UNEMBEDDED = ("random", "class equal")
EMBEDDED = ("proportional", "equal", "equal random", "hkmeans L2", "hkmeans L3")


def load(ws: Workspace, dataset: str, tmp: Path) -> tuple[dict[int, int], set[int], int]:
    """Ingest ``dataset``: (label of every sample id, the rare labels, the number of classes)."""
    if dataset == "mnist-lt":
        ingest(ws, IngestConfig(source="builtin:mnist-lt"))
        rare_names = ("7", "8", "9")
    else:
        folder = tmp / "photo-tiles-lt"
        photo_tiles_lt.build(folder, seed=0)
        ingest(ws, IngestConfig(source=str(folder), name=dataset))
        rare_names = photo_tiles_lt.RARE
    with ws.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT sample_id, label FROM samples WHERE source = ? AND status = 'ok'", [dataset]
        ).fetchall()
    names = label_names(ws, dataset) or [str(i) for i in range(max(r[1] for r in rows) + 1)]
    rare = {names.index(name) for name in rare_names}
    return {int(i): int(label) for i, label in rows}, rare, len(names)


def kept_share(result, labels: dict[int, int], rare: set[int]) -> tuple[float, int]:
    """(rare share of the kept rows, rare classes the selection dropped entirely)."""
    ids = pq.read_table(result.path / "ids.parquet", columns=["sample_id"]).column(0).to_pylist()
    kept = [labels[int(i)] for i in ids]
    dropped = len(rare - set(kept))
    return float(np.mean([label in rare for label in kept])), dropped


def run_dataset(ws: Workspace, dataset: str, args: argparse.Namespace, tmp: Path) -> dict:
    labels, rare, n_classes = load(ws, dataset, tmp)
    full = float(np.mean([label in rare for label in labels.values()]))
    print(
        f"\n{dataset}: {len(labels)} rows, {n_classes} classes; rare share of the full data {full:.1%}",
        flush=True,
    )
    shares: dict[str, dict[str, dict[str, list]]] = {}  # block → method → ratio → [(share, dropped) per seed]

    def record(block: str, method: str, ratio: float, config: SelectConfig) -> None:
        result = select(ws, config)
        shares.setdefault(block, {}).setdefault(method, {}).setdefault(str(ratio), []).append(
            kept_share(result, labels, rare)
        )

    start = time.perf_counter()
    for seed in args.seeds:
        for ratio in args.ratios:
            common = {"source": dataset, "ratio": ratio, "seed": seed}
            record("labels", "random", ratio, SelectConfig(name="random", method="random", **common))
            record("labels", "class equal", ratio,
                   SelectConfig(name="class", method="random", balance="equal", groups="class", **common))  # fmt: skip
    seconds = {"random + class equal": round(time.perf_counter() - start, 1)}
    hierarchies: dict[str, dict[str, list]] = {}
    for embedder in args.embedders:
        start = time.perf_counter()
        name = run_embed(ws, EmbedRunConfig(embedder=embedder, source=dataset, num_workers=0)).final_embedder
        seconds[f"embed {embedder}"] = round(time.perf_counter() - start, 1)
        print(f"  {embedder}: embedded in {seconds[f'embed {embedder}']} s", flush=True)
        start = time.perf_counter()
        for seed in args.seeds:
            clustering = run_cluster(
                ws, ClusterRunConfig(ks=[n_classes], source=dataset, embedder=name, seed=seed)
            ).run_id
            for ratio in args.ratios:
                common = {"source": dataset, "ratio": ratio, "seed": seed}
                flat = {**common, "clustering": clustering}
                record(embedder, "proportional", ratio,
                       SelectConfig(name="prop", method="cluster", balance="proportional", **flat))  # fmt: skip
                record(embedder, "equal", ratio,
                       SelectConfig(name="equal", method="cluster", balance="equal", **flat))  # fmt: skip
                record(embedder, "equal random", ratio,
                       SelectConfig(name="equal-random", method="random", balance="equal", **flat))  # fmt: skip
                variants = [(2, None), (3, None)] + ([(2, [10])] if args.resample_level1 else [])
                for levels, steps in variants:
                    method = f"hkmeans L{levels}" + (" +r1" if steps else "")
                    config = SelectConfig(name=f"hk{levels}", method="hkmeans", levels=levels, embedder=name,
                                          resampling_steps=steps, **common)  # fmt: skip
                    result = select(ws, config)
                    shares.setdefault(embedder, {}).setdefault(method, {}).setdefault(str(ratio), []).append(
                        kept_share(result, labels, rare)
                    )
                    recorded = run_config(ws, result.clustering)
                    hierarchies.setdefault(embedder, {})[f"L{levels}"] = recorded["level_ks"]
        seconds[f"select {embedder}"] = round(time.perf_counter() - start, 1)
    return {
        "rows": len(labels),
        "classes": n_classes,
        "rare_classes": len(rare),
        "full_rare_share": full,
        "flat_k": n_classes,
        "hkmeans_level_ks": hierarchies,
        "shares": shares,
        "seconds": seconds,
    }


def table(dataset: str, result: dict, ratios: list[float]) -> list[str]:
    """Markdown: one row per (block, method), one column per ratio, rare share mean ± std in %."""
    head = "| features | method | " + " | ".join(f"ratio {r} (keep {1 - r:.0%})" for r in ratios) + " |"
    out = [f"### {dataset}: rare share of the full data {100 * result['full_rare_share']:.1f}%", "", head,
           "|" + "---|" * (len(ratios) + 2)]  # fmt: skip
    for block, methods in result["shares"].items():
        for method, per_ratio in methods.items():
            cells = []
            for r in ratios:
                values = np.array(per_ratio[str(r)], dtype=np.float64)
                share, dropped = 100 * values[:, 0], values[:, 1]
                cell = f"{share.mean():.1f} ± {share.std(ddof=1) if len(share) > 1 else 0:.1f}"
                if dropped.any():
                    cell += f" (drops {dropped.mean():.1f})"
                cells.append(cell)
            features = "—" if block == "labels" else block
            out.append(f"| {features} | {method} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--embedders", default=",".join(EMBEDDERS))
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--ratios", default="0.25,0.5,0.75")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--resample-level1",
        action="store_true",
        help="also hkmeans L2 with 10 resampling steps at level 1 too ('hkmeans L2 +r1'; default: none there)",
    )
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.ratios = [float(r) for r in args.ratios.split(",")]
    args.embedders = args.embedders.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            ws = Workspace(os.path.join(tmp, f"ws-{dataset}"))
            results[dataset] = run_dataset(ws, dataset, args, Path(tmp))
    print("\nrare share kept, % (mean ± std over seeds " + ",".join(map(str, args.seeds))
          + "; '(drops x)': rare classes dropped entirely, mean over seeds)")  # fmt: skip
    for dataset, result in results.items():
        print()
        print("\n".join(table(dataset, result, args.ratios)))
        print(
            f"\nhkmeans k's (finest first): {json.dumps(result['hkmeans_level_ks'])}; seconds: {result['seconds']}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"seeds": args.seeds, "ratios": args.ratios, "embedders": args.embedders}
        args.json.write_text(json.dumps({"settings": meta, "results": results}, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
