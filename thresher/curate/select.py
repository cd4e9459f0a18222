"""`thresher select`: turn scores into a named, versioned subset — in DuckDB SQL over the score Parquet.

Every method (see :mod:`thresher.curate.scores.registry`) reduces to a *pool* (sample_id, group,
order_key) read from its score run, a per-group *quota*, and a keep rule on each sample's position within
its group: ``low`` (``nearest`` for the clustering method) keeps the smallest order keys, ``high``
(``furthest``) the largest, ``middle`` drops (n−q)/2 from each end. A method with a threshold (SemDeDup)
keeps every sample at or below it instead of a count.

Groups are the clusters when ``balance`` is set (``proportional``: the kept ratio in every cluster;
``equal``: the same count from every cluster, the smallest cluster's size by default, or water-filled to a
target total), else one global group. ``--groups class`` balances over the catalog's classes instead. A
method whose scores are per group (``ScoreMethod.grouped``: gaussian, moderate) balances over its own
groups, proportionally unless ``--balance`` says otherwise, since its scores do not compare across groups
(:mod:`thresher.curate.groups`). ``inverse`` keeps the other end of the ranking: the complement of
the selection that keeps the rest, so a selection and its inverse at ratio 0.5 split the pool exactly.

The pool is never loaded into Python: only the per-group sizes (k rows) are, to compute the quotas.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.names import config_hash
from thresher.catalog.runs import finished_runs, only_finished_run, run_config
from thresher.catalog.scores import score_files
from thresher.catalog.selection_pool import SelectionPool
from thresher.catalog.staging import new_staging, remove_abandoned, seal
from thresher.catalog.subsets import commit_version, planned_version
from thresher.catalog.workspace import Workspace
from thresher.config_json import to_json_value
from thresher.curate.balance_report import BalanceReport, balance_inputs, balance_report
from thresher.curate.config import SelectConfig
from thresher.curate.duplicate_report import DuplicateReport, duplicate_report
from thresher.curate.groups import resolve_groups
from thresher.curate.scores.registry import ScoreContext, ScoreMethod, keep_rule, kept_end
from thresher.curate.select_quotas import group_quotas
from thresher.curate.subset_settings import determining_settings
from thresher.errors import ThresherError


@dataclass
class SelectResult:
    name: str
    version: int
    n: int
    n_source: int
    path: Path
    clustering: str | None = None
    score_run: str | None = None

    embedder: str | None = None
    k: int | None = None
    groups: str | None = None  # what the quotas were computed over: class, cluster, or None (one group)
    preview: bool = False  # --preview: nothing was created; ``path`` is the gallery page
    balance: BalanceReport | None = None  # what the selection did to the classes' or clusters' shares

    # dedup: which kept row each removed one matched (curate/duplicate_report.py)
    duplicates: DuplicateReport | None = None

    @property
    def report_lines(self) -> list[str]:
        """What the selection did to the groups' shares, and for dedup what the removed rows matched."""
        return [
            *(self.balance.lines() if self.balance is not None else []),
            *(self.duplicates.lines() if self.duplicates is not None else []),
        ]

    # A gradient selection: which scores it kept, of which pretraining (as cluster ones name the clustering)
    scores: str | None = None  # the method whose scores ranked the samples
    pretrain: str | None = None
    kept: str | None = None  # which end of the ranking: highest, lowest, middle, …

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    def lines(self) -> list[str]:
        if self.preview:
            return [
                f"preview of {self.ref} (not created): would keep {self.n} of {self.n_source} "
                f"({100 * self.n / self.n_source:.1f}%); gallery: {self.path}",
                *self.report_lines,
                "run the same command without --preview to create it",
            ]
        made_from = ""
        if self.clustering:
            made_from = f" (clustering {self.clustering}: k={self.k} on {self.embedder})"
        if self.groups:
            made_from += f", per {self.groups}"
        if self.pretrain:
            made_from += (
                f"; kept the {self.kept} {self.scores} scores of score run {self.score_run} "
                f"(pretraining {self.pretrain})"
            )
        return [
            f"{self.ref}: kept {self.n} of {self.n_source} ({100 * self.n / self.n_source:.1f}%){made_from} "
            f"→ {self.path}",
            *self.report_lines,
        ]


def select(ws: Workspace, config: SelectConfig) -> SelectResult:
    method = config.score_method
    source = ws.resolve_source(config.source)
    revision = ws.source_row(source)["revision"]
    # The clustering is needed by cluster/dedup/cluster-balanced selections and, when present, labels the stats.
    cluster_run = config.clustering or _default_clustering(ws, config, method, source)
    group_kind, balance = _grouping(ws, config, method, source, cluster_run)
    if cluster_run is None and ("clusters" in method.needs or group_kind == "cluster"):
        raise ThresherError(f"no clustering for source {source!r} yet: run `thresher cluster --k K` first")
    options = config.method_config()
    context = ScoreContext(config.method, source, config.seed, cluster_run, options, config.groups)
    score_run = method.score_run(ws, context)
    score_config = {k: v for k, v in run_config(ws, score_run).items() if k != "result"}
    # A method that makes its own clustering (hkmeans: its hierarchy) names it in its score run's config;
    # its clusters, not the source's, are what the selection is labelled and reported with.
    cluster_run = score_config.get("clustering") or cluster_run
    balance_in = balance_inputs(ws, source, cluster_run, score_config)  # before the catalog is held

    with _pool(ws, config, source, score_run, cluster_run, group_kind) as pool:
        n_pool = pool.size()
        if n_pool == 0:
            raise ThresherError(f"no scored samples of {source!r} in run {score_run}")
        if method.threshold is not None:
            n_kept = pool.keep_at_most(method.threshold(options), inverse=config.inverse)
        else:
            rule = keep_rule(method, config.keep)
            n_keep = _target_count(config, n_pool)
            groups, sizes = pool.group_sizes()
            if config.inverse:
                # The other end of the ranking: the complement of the non-inverse selection that keeps the rest.
                if n_keep < 0:
                    raise ThresherError("--inverse with --balance equal needs --ratio or --keep-count")
                rest = n_pool - (round(n_pool * (1.0 - config.ratio)) if config.ratio is not None else n_keep)
                quotas = group_quotas(sizes, rest, balance) if rest > 0 else np.zeros_like(sizes)
                n_kept = pool.keep_quotas(groups, quotas, rule, complement=True)
            else:
                n_kept = pool.keep_quotas(
                    groups, group_quotas(sizes, n_keep, balance), rule, complement=False
                )
        if n_kept == 0:
            raise ThresherError("the selection keeps no samples: lower --ratio or raise --keep-count")
        kept_rows = pool.kept_rows()
        stats = {"n_source": n_pool, "n_kept": n_kept, **pool.counts(cluster_run is not None)}
        pool_ids = pool.pool_ids()
    kept_ids = kept_rows.column("sample_id").to_numpy()
    report = balance_report(balance_in, stats, pool_ids, kept_ids, group_kind)
    stats["balance"] = {**to_json_value(report), "lines": report.lines()}
    params = _params(config, method, cluster_run, balance, group_kind, score_config)
    version, parent = planned_version(ws, config.name)
    stats.update(
        {
            "name": config.name,
            "version": version,
            "source": source,
            "revision": revision,
            "method": config.method,
            "params": params,
            "config_hash": config_hash(params),
            "parent": parent,
            "score_run": score_run,
            "score_config": score_config,
            **_gradient_provenance(method, config, score_config),
        }
    )
    out_dir = ws.subset_dir(config.name, version)
    if out_dir.exists() and remove_abandoned(out_dir.parent, out_dir.name):
        pass  # a select killed between its rename and its catalog row: its owner is gone, redo it
    if out_dir.exists():
        # Not in the catalog and not provably ours: another name that is this one on a case-insensitive
        # filesystem, or a folder someone put there. Never delete it; say what to do.
        raise ThresherError(
            f"{out_dir} exists but the catalog has no {config.name}@v{version} (a select killed before "
            "it finished, or a name differing only in case): move it away or choose another --name"
        )
    # The owner record stays in the version folder until its catalog row is committed, so a select
    # killed in between leaves a folder that the next one can prove abandoned.
    staging = new_staging(out_dir.parent / f".v{version}.partial")
    try:
        pq.write_table(kept_rows, staging / "ids.parquet")
        duplicates = duplicate_report(ws, source, score_run, kept_ids, staging)
        if duplicates is not None:
            stats["duplicates"] = asdict(duplicates)
        (staging / "stats.json").write_text(json.dumps(stats, indent=2))
        if config.preview:
            try:
                return _preview(ws, config, stats, kept_ids, report, staging, n_pool, duplicates)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                # the subset's folder, made for the staging, if it is still empty
                with contextlib.suppress(OSError):
                    staging.parent.rmdir()
        # The catalog's write lock is held only here: the rename and the row (docs/architecture.md, 'Workspace').
        commit_version(
            ws,
            staging,
            out_dir,
            {
                "name": config.name,
                "version": version,
                "source": source,
                "revision": revision,
                "method": config.method,
                "params": json.dumps(params),
                "config_hash": config_hash(params),
                "n": n_kept,
                "n_source": n_pool,
                "parent": parent,
                "score_run": score_run,
                "settings": json.dumps(determining_settings(config, method, params, group_kind)),
            },
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seal(out_dir)
    clustering = run_config(ws, cluster_run) if cluster_run else {}
    return SelectResult(
        config.name,
        version,
        n_kept,
        n_pool,
        out_dir,
        cluster_run,
        score_run,
        clustering.get("embedder"),
        clustering.get("k"),
        group_kind,
        balance=report,
        duplicates=duplicates,
        **_gradient_provenance(method, config, score_config),
    )


def _gradient_provenance(method: ScoreMethod, config: SelectConfig, score_config: dict) -> dict[str, Any]:
    """For a selection by a gradient score (one needing a pretraining): its method, the pretraining its
    score run used and which end it kept; for stats.json (so the card says it) and the printed lines."""
    if "pretrain" not in method.needs or method.threshold is not None:
        return {}
    kept = kept_end(keep_rule(method, config.keep), config.inverse)
    return {"scores": config.method, "pretrain": score_config.get("pretrain"), "kept": kept}


def _preview(
    ws: Workspace,
    config: SelectConfig,
    stats: dict,
    kept: np.ndarray,
    balance: BalanceReport,
    staging: Path,
    n_pool: int,
    duplicates: DuplicateReport | None,
) -> SelectResult:
    """``--preview``: the selection's gallery and counts in ``previews/<name>/``; no version, no catalog row."""
    from thresher.curate.gallery import write_gallery

    folder = ws.root / "previews" / config.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    write_gallery(ws, stats, kept, staging / "gallery", max_clusters=config.gallery_clusters)
    seal(staging).rename(folder)
    return SelectResult(
        config.name, int(stats["version"]), len(kept), n_pool, folder / "gallery" / "index.html",
        stats["params"].get("clustering"), stats.get("score_run"), preview=True, balance=balance,
        duplicates=duplicates,
    )  # fmt: skip


def _params(
    config: SelectConfig,
    method: ScoreMethod,
    cluster_run: str | None,
    balance: str | None,
    group_kind: str | None,
    score_config: dict[str, Any],
) -> dict[str, Any]:
    """What the selection is (its card's parameters and config hash), not how it is shown: the general
    settings but --preview and the gallery size, and the method's own options only, each as its score run
    resolved it where the run records it (the embedder a surrogate score used, the pretraining)."""
    left_out = {"name", "source", "preview", "gallery_clusters", "groups", *config.method_option_fields}
    params = {k: v for k, v in asdict(config).items() if k not in left_out}
    params.update({k: score_config.get(k, v) for k, v in config.method_options().items()})
    params["keep"] = config.keep or method.default_keep
    params["clustering"] = cluster_run
    params["balance"] = balance
    if (
        group_kind is not None
    ):  # what the quotas were computed over, resolved; absent where none played a part
        params["groups"] = group_kind
    return params


def _default_clustering(ws: Workspace, config: SelectConfig, method: ScoreMethod, source: str) -> str | None:
    """The clustering to use without ``--clustering``: the source's only one. When the selection needs
    clusters and there are several, a one-line error lists them (never a silent "latest"); when it only
    labels the stats with them, several mean none."""
    needs_clusters = "clusters" in method.needs or (
        config.balance is not None and config.groups in ("auto", "cluster")
    )
    if needs_clusters:
        return only_finished_run(ws, source, "cluster", "--clustering")
    runs = finished_runs(ws, source, "cluster")
    return runs[0]["id"] if len(runs) == 1 else None


def _grouping(
    ws: Workspace, config: SelectConfig, method: ScoreMethod, source: str, cluster_run: str | None
) -> tuple[str | None, str | None]:
    """(what the quotas are computed over: ``class``, ``cluster`` or None for one group; the balance rule).

    A method that scores within groups (``grouped``) selects within the same groups,
    proportionally by default. For the other methods groups matter only with ``--balance``: ``auto`` means
    the clusters there, ``class`` the catalog's labels."""
    if method.grouped:
        kind = resolve_groups(ws, source, config.groups, cluster_run)
        if kind == "none":
            if config.balance is not None:
                raise ThresherError(
                    f"--balance needs groups, but {source!r} has neither labels nor a clustering"
                )
            return None, None
        return kind, config.balance or "proportional"
    if config.balance is None:
        return None, None
    if config.groups == "auto":
        return "cluster", config.balance
    return resolve_groups(ws, source, config.groups, cluster_run), config.balance


def _pool(
    ws: Workspace,
    config: SelectConfig,
    source: str,
    score_run: str,
    cluster_run: str | None,
    group_kind: str | None,
) -> SelectionPool:
    """The pool over the ok rows of ``source``: the score run's order key, grouped by cluster, class
    label or nothing as ``group_kind`` says; the clusters from the score run itself when it carries them."""
    method = config.score_method
    in_scores = cluster_run is not None and (score_run == cluster_run or "clusters" in method.needs)
    return SelectionPool(
        ws,
        source,
        score_files(ws, score_run),
        method.order_column,
        clusters_in_scores=in_scores,
        cluster_files=None if in_scores or cluster_run is None else score_files(ws, cluster_run),
        group_kind=group_kind,
    )


def _target_count(config: SelectConfig, n_pool: int) -> int:
    if config.keep_count is not None:
        if config.keep_count > n_pool:
            raise ThresherError(
                f"--keep-count {config.keep_count} is more than the {n_pool} samples available"
            )
        return config.keep_count
    if config.ratio is None:  # equal balance with its default: the smallest cluster's size per cluster
        return -1
    # The pruned count is what rounds, so that a selection at ratio r and its inverse at ratio r
    # (which keeps round(n·(1−r))) add up to the pool at r = 0.5 for any pool size.
    return max(1, n_pool - round(n_pool * config.ratio))
