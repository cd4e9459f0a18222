"""What a selection did to the balance of the data, said where the selection is made.

Equal selection per k-means cluster erased two rare categories of a long-tailed colour set without a
word (hardening item 7; docs/balance.md), so every ``thresher select`` (``--preview`` too) reports:

- **Groups.** When every row has a label, per class: its share of the source and of the selection, the
  classes the selection drops entirely, and the share of the rarest third of the classes (by count in
  the source, as the sweep report counts them; at least one class). Without labels, the same for the
  clusters the selection is labelled with (for ``hkmeans`` its finest level).
- **Levels.** For a hierarchical clustering, per level: its clusters' kept counts and sizes, and how
  evenly the rows spread over them before and after (the normalized entropy of the cluster shares: 1 when
  every cluster holds the same number, 0 when one holds all).
- **Sparsity.** The fraction of the selection taken from the sparsest 10% of the embedding space: a row's
  sparseness is its mean Euclidean distance to its 10 nearest neighbours in the stored embeddings (faiss,
  exact). On more than 20 000 rows it is computed on a seeded sample of 20 000, the neighbours sought
  within the sample, which ranks the rows' sparseness the same way in expectation (distances grow by a
  common factor) and keeps the cost at ~20 000² distance evaluations however large the source.
- **Hint.** When labels exist, the selection is not balanced by class, and it drops a class or keeps the
  rarest third at less than 90% of their share of the source: ``--balance equal --groups class``.

The report is data (:class:`BalanceReport`, stored in the subset's ``stats.json`` under ``balance``
with its ``lines``), which the command prints, the gallery and the card show and the service returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from thresher.errors import ThresherError

if TYPE_CHECKING:
    from thresher.catalog.workspace import Workspace

RARE_FRACTION = 1 / 3
SPARSE_QUANTILE = 0.9  # the sparsest 10%: mean neighbour distance at or above the 90th percentile
NEIGHBOURS = 10
SPARSITY_SAMPLE = 20_000
SPARSITY_SEED = 0  # one sample per source, so every selection of it is measured on the same rows
SHOWN_GROUPS = 20  # per-group lines printed; stats.json has them all
HINT_DROP = 0.9


@dataclass
class GroupShare:
    key: int
    name: str | None
    before: int  # rows in the source
    after: int  # rows kept
    share_before: float
    share_after: float

    @property
    def label(self) -> str:
        return f"{self.key} ({self.name})" if self.name and self.name != str(self.key) else str(self.key)


@dataclass
class LevelBalance:
    """One level of a hierarchical clustering: ``clusters`` with rows, the smallest and largest kept
    count and size, and the normalized entropy of the cluster shares before and after."""

    level: int
    clusters: int
    kept_min: int
    kept_max: int
    size_min: int
    size_max: int
    evenness_before: float
    evenness_after: float


@dataclass
class Sparsity:
    """``kept_fraction`` of the kept rows lie in the sparsest 10% (by ``neighbours``-NN mean distance in
    ``embedder``); 0.10 would be proportional. ``rows``: the rows it was computed on (a sample when
    ``sampled``)."""

    embedder: str
    neighbours: int
    rows: int
    sampled: bool
    kept_fraction: float


@dataclass
class BalanceReport:
    kind: str | None  # "class" or "cluster": what the groups are; None when there are neither
    groups: list[GroupShare] = field(default_factory=list)  # largest first in the source
    dropped: list[GroupShare] = field(default_factory=list)
    rare: list[int] = field(default_factory=list)  # the rarest third's keys
    rare_share_before: float | None = None
    rare_share_after: float | None = None
    levels: list[LevelBalance] = field(default_factory=list)
    sparsity: Sparsity | None = None
    hint: str | None = None

    def lines(self) -> list[str]:
        out: list[str] = []
        what = {"class": "class", "cluster": "cluster"}.get(self.kind or "")
        if what:
            out.append(f"{what} shares, source → selection:")
            shown = self.groups
            if len(shown) > SHOWN_GROUPS:  # the largest and the rarest, where balance is decided
                shown = shown[: SHOWN_GROUPS // 2] + shown[-SHOWN_GROUPS // 2 :]
            width = max(len(g.label) for g in shown)
            for i, g in enumerate(shown):
                if i == SHOWN_GROUPS // 2 and len(self.groups) > SHOWN_GROUPS:
                    out.append(f"  … {len(self.groups) - SHOWN_GROUPS} more {what}s in stats.json")
                out.append(
                    f"  {g.label:<{width}}  {100 * g.share_before:5.1f}% → {100 * g.share_after:5.1f}%"
                    f"  ({g.before} → {g.after})"
                )
            rare = ", ".join(g.label for g in self.groups if g.key in set(self.rare))
            out.append(
                f"rarest third of {what}es ({rare}): {100 * self.rare_share_before:.1f}% of the source → "
                f"{100 * self.rare_share_after:.1f}% of the selection"
                if what == "class"
                else f"rarest third of clusters ({len(self.rare)}): {100 * self.rare_share_before:.1f}% of the "
                f"source → {100 * self.rare_share_after:.1f}% of the selection"
            )
            if self.dropped:
                names = ", ".join(g.label for g in self.dropped)
                out.append(
                    f"dropped entirely: {len(self.dropped)} {what}{'es' if what == 'class' else 's'}: {names}"
                )
        for lv in self.levels:
            out.append(
                f"level {lv.level} ({lv.clusters} clusters): kept {lv.kept_min}..{lv.kept_max} per cluster "
                f"(sizes {lv.size_min}..{lv.size_max}); evenness {lv.evenness_before:.2f} → "
                f"{lv.evenness_after:.2f} (1 = every cluster the same)"
            )
        if self.sparsity is not None:
            s = self.sparsity
            on = f"a sample of {s.rows} rows" if s.sampled else f"{s.rows} rows"
            out.append(
                f"{100 * s.kept_fraction:.1f}% of the selection comes from the sparsest 10% of {s.embedder} "
                f"space ({s.neighbours}-NN mean distance, on {on}; 10% would be proportional)"
            )
        if self.hint:
            out.append(self.hint)
        return out


def group_shares(
    kind: str,
    before: dict[str, int],
    after: dict[str, int],
    names: list[str] | None = None,
    balanced_by_class: bool = False,
) -> BalanceReport:
    """The group part of the report from the counts ``select`` records (``{key: rows}`` before and
    after, keys as strings; ``names``: class names by label)."""
    n_before, n_after = sum(before.values()), sum(after.values())
    groups = []
    for key, count in before.items():
        k = int(key)
        name = names[k] if kind == "class" and names and 0 <= k < len(names) else None
        kept = int(after.get(key, 0))
        groups.append(GroupShare(k, name, int(count), kept, count / n_before, kept / max(n_after, 1)))
    groups.sort(key=lambda g: (-g.before, g.key))
    n_rare = max(1, math.floor(len(groups) * RARE_FRACTION))
    rare = sorted(groups, key=lambda g: (g.before, g.key))[:n_rare]
    report = BalanceReport(
        kind,
        groups,
        dropped=[g for g in groups if g.after == 0],
        rare=sorted(g.key for g in rare),
        rare_share_before=sum(g.before for g in rare) / n_before,
        rare_share_after=sum(g.after for g in rare) / max(n_after, 1),
    )
    fell = report.rare_share_after < HINT_DROP * report.rare_share_before
    if kind == "class" and not balanced_by_class and (report.dropped or fell):
        report.hint = "hint: the source has labels; `--balance equal --groups class` keeps the same count of every class"
    return report


def level_balance(
    sample_id: np.ndarray, level: np.ndarray, cluster: np.ndarray, pool: np.ndarray, kept: np.ndarray
) -> list[LevelBalance]:
    """Per level of a hierarchy (long form ``sample_id, level, cluster``) over the ``pool`` rows."""
    in_pool = np.isin(sample_id, pool)
    is_kept = np.isin(sample_id, kept)
    out = []
    for lv in np.unique(level):
        rows = (level == lv) & in_pool
        clusters, sizes = np.unique(cluster[rows], return_counts=True)
        kept_counts = np.array([np.count_nonzero(is_kept[rows] & (cluster[rows] == c)) for c in clusters])
        out.append(
            LevelBalance(
                int(lv),
                len(clusters),
                int(kept_counts.min()),
                int(kept_counts.max()),
                int(sizes.min()),
                int(sizes.max()),
                evenness(sizes),
                evenness(kept_counts),
            )  # fmt: skip
        )
    return out


def evenness(counts: np.ndarray) -> float:
    """Normalized entropy of the shares ``counts`` make: 1 when all are equal, 0 when one holds all."""
    counts = np.asarray(counts, dtype=np.float64)
    if len(counts) < 2 or counts.sum() == 0:
        return 1.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


def sparse_fraction(
    embedder: str,
    path: Path,
    pool: np.ndarray,
    kept: np.ndarray,
    neighbours: int = NEIGHBOURS,
    sample: int = SPARSITY_SAMPLE,
) -> Sparsity | None:
    """The sparsity part of the report, from the embedding store at ``path`` (None when it covers fewer
    than ``neighbours`` + 2 of the pool's rows)."""
    import faiss

    from thresher.catalog.embeddings import EmbeddingStore

    pool = np.asarray(pool, dtype=np.int64)
    chosen = pool
    if len(pool) > sample:
        chosen = np.sort(np.random.default_rng(SPARSITY_SEED).choice(pool, sample, replace=False))
    ids_parts, vector_parts = [], []
    for ids, vectors in EmbeddingStore(path).iter_chunks():
        wanted = np.isin(ids, chosen)
        ids_parts.append(ids[wanted])
        vector_parts.append(vectors[wanted])
    ids = np.concatenate(ids_parts) if ids_parts else np.empty(0, np.int64)
    if len(ids) < neighbours + 2:
        return None
    x = np.ascontiguousarray(np.concatenate(vector_parts), dtype=np.float32)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    squared, _ = index.search(x, neighbours + 1)  # the first neighbour is the row itself (or a copy of it)
    spread = np.sqrt(np.maximum(squared[:, 1:], 0.0)).mean(axis=1)
    sparse = spread >= np.quantile(spread, SPARSE_QUANTILE)
    is_kept = np.isin(ids, kept)
    fraction = float((sparse & is_kept).sum() / is_kept.sum()) if is_kept.any() else 0.0
    return Sparsity(embedder, neighbours, len(ids), len(pool) > sample, fraction)


@dataclass
class BalanceInputs:
    """What the report reads besides the selection, resolved before ``select`` holds the catalog for
    writing (the catalog cannot be opened a second time then): class names, the embeddings the sparsity
    is measured in, and a hierarchical clustering's levels."""

    names: list[str] | None = None
    embedder: str | None = None
    embeddings: Path | None = None
    levels: Path | None = None


def balance_inputs(
    ws: Workspace, source: str, clustering: str | None, score_config: dict[str, Any]
) -> BalanceInputs:
    """The embeddings are the score run's (``embedder`` in its config), else the clustering's, else the
    source's only ones; none when there are none (or several and nothing says which)."""
    from thresher.catalog.embeddings import embeddings_path
    from thresher.catalog.runs import run_config
    from thresher.catalog.samples import label_names
    from thresher.catalog.scores import cluster_levels_path

    embedder = score_config.get("embedder")
    if embedder is None and clustering is not None:
        embedder = run_config(ws, clustering).get("embedder")
    try:
        embedder, path = embeddings_path(ws, source, embedder)
    except ThresherError:
        embedder, path = None, None
    levels = cluster_levels_path(ws, clustering) if clustering else None
    return BalanceInputs(
        label_names(ws, source), embedder, path, levels if levels and levels.is_file() else None
    )


def balance_report(
    inputs: BalanceInputs, stats: dict[str, Any], pool: np.ndarray, kept: np.ndarray, group_kind: str | None
) -> BalanceReport:
    """The report of one selection: ``stats`` as ``select`` records them (class and cluster counts before
    and after), the pool's and the kept sample ids, and what the quotas were computed over."""
    classes = stats.get("class_counts_before") or {}
    clusters = stats.get("cluster_counts_before") or {}
    if classes and "None" not in classes:  # every row labelled
        report = group_shares(
            "class",
            classes,
            stats["class_counts_after"],
            inputs.names,
            balanced_by_class=group_kind == "class",
        )
    elif clusters and "None" not in clusters:
        report = group_shares("cluster", clusters, stats["cluster_counts_after"])
    else:
        report = BalanceReport(None)
    if inputs.levels is not None:
        table = pq.read_table(inputs.levels)
        report.levels = level_balance(
            *(table.column(c).to_numpy() for c in ("sample_id", "level", "cluster")), pool, kept
        )
    if inputs.embeddings is not None and inputs.embedder is not None:
        report.sparsity = sparse_fraction(inputs.embedder, inputs.embeddings, pool, kept)
    return report
