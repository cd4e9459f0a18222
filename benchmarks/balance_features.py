"""Which offline embedder lets equal-per-cluster selection balance long-tailed MNIST? (docs/architecture.md, "Granularity matters for balance")

Runs the real pipeline (ingest builtin:mnist-lt → embed → cluster k → select proportional and equal at
ratio 0.5, keep nearest) for each embedder and clustering seed, and prints per run the 10-NN purity of
the three rarest digits (7, 8, 9) in the embedding and the share of those digits kept by each selection.
The full set holds 6.3% rare digits; balancing works when equal keeps clearly more than proportional.

    uv run python benchmarks/balance_features.py [--embedders hog?deskew,pixels] [--seeds 0,1,2] [--k 10]

Seeds vary the clustering (k-means++ seeding); embeddings are computed once per embedder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from thresher.catalog.config import IngestConfig  # noqa: E402
from thresher.catalog.embeddings import EmbeddingStore  # noqa: E402
from thresher.catalog.ingest import ingest  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402
from thresher.curate.cluster_run import run_cluster  # noqa: E402
from thresher.curate.config import ClusterRunConfig, EmbedRunConfig, SelectConfig  # noqa: E402
from thresher.curate.embed_run import run_embed  # noqa: E402
from thresher.curate.select import select  # noqa: E402

RARE = (7, 8, 9)
EMBEDDERS = {  # label → (embedder, reduction)
    "pixels": ("pixels:28:64", None),
    "pixels+umap10": ("pixels:28:64", "umap:10"),
    "hog": ("hog", None),
    "hog?deskew": ("hog?deskew", None),
}


def labels_by_id(ws: Workspace) -> dict[int, int]:
    with ws.connect(read_only=True) as con:
        rows = con.execute("SELECT sample_id, label FROM samples WHERE source = 'mnist-lt'").fetchall()
    return {int(i): int(label) for i, label in rows}


def rare_purity(ws: Workspace, embedder: str, labels: dict[int, int], k: int = 10) -> list[float]:
    """Mean share of each rare digit's k nearest neighbours (Euclidean, in the stored embedding) of its class."""
    with ws.connect(read_only=True) as con:
        (path,) = con.execute(
            "SELECT path FROM embeddings WHERE source = 'mnist-lt' AND embedder = ?", [embedder]
        ).fetchone()
    ids, vectors = EmbeddingStore(path).load()
    y = np.array([labels[int(i)] for i in ids])
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    _, neighbours = index.search(x, k + 1)
    same = (y[neighbours[:, 1:]] == y[:, None]).mean(axis=1)
    return [float(same[y == c].mean()) for c in RARE]


def rare_share(path: Path, labels: dict[int, int]) -> float:
    ids = pq.read_table(path, columns=["sample_id"]).column(0).to_pylist()
    return float(np.mean([labels[int(i)] in RARE for i in ids]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedders", default=",".join(EMBEDDERS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--restarts", type=int, default=1, help="k-means restarts (best inertia kept)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(os.path.join(tmp, "ws"))
        ingest(ws, IngestConfig(source="builtin:mnist-lt"))
        labels = labels_by_id(ws)
        full = np.mean([label in RARE for label in labels.values()])
        print(
            f"mnist-lt: {len(labels)} rows, rare digits {RARE} = {full:.1%}; k={args.k}, restarts {args.restarts}, ratio 0.5"
        )
        print(f"{'embedder':16s} {'seed':>4s} {'proportional':>12s} {'equal':>7s} {'cluster+select s':>16s}")
        summary: dict[str, list[tuple[float, float]]] = {}
        for label in args.embedders.split(","):
            embedder, reduction = EMBEDDERS.get(label, (label, None))
            start = time.perf_counter()
            embedded = run_embed(
                ws, EmbedRunConfig(embedder=embedder, source="mnist-lt", reduce=reduction, num_workers=0)
            )
            embed_seconds = time.perf_counter() - start
            purity = rare_purity(ws, embedded.final_embedder, labels)
            print(
                f"{label:16s} embedded in {embed_seconds:.1f}s; 10-NN purity of 7/8/9: "
                + " ".join(f"{p:.2f}" for p in purity)
            )
            for seed in seeds:
                start = time.perf_counter()
                run_cluster(
                    ws,
                    ClusterRunConfig(
                        ks=[args.k],
                        source="mnist-lt",
                        embedder=embedded.final_embedder,
                        seed=seed,
                        restarts=args.restarts,
                    ),
                )
                shares = []
                for balance in ("proportional", "equal"):
                    name = f"b-{balance}"
                    result = select(
                        ws,
                        SelectConfig(
                            name=name, method="cluster", balance=balance, ratio=0.5, source="mnist-lt"
                        ),
                    )
                    shares.append(rare_share(result.path / "ids.parquet", labels))
                seconds = time.perf_counter() - start
                summary.setdefault(label, []).append((shares[0], shares[1]))
                print(f"{label:16s} {seed:4d} {shares[0]:12.1%} {shares[1]:7.1%} {seconds:16.1f}", flush=True)
        print("\nmean over seeds (proportional → equal):")
        for label, pairs in summary.items():
            prop, equal = np.mean(pairs, axis=0)
            wins = sum(e > p for p, e in pairs)
            print(
                f"  {label:16s} {prop:6.1%} → {equal:6.1%}   equal > proportional in {wins}/{len(pairs)} seeds"
            )


if __name__ == "__main__":
    main()
