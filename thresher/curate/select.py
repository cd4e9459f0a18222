"""`thresher select`: turn scores into a named, versioned subset — in DuckDB SQL over the score Parquet.

Every method reduces to a *pool* (sample_id, group, order_key) read from a score run, a per-group
*quota*, and a keep rule on each sample's position within its group:

* ``random``: order_key is a seeded uniform draw (Parquet of its own, so it is reproducible and queryable);
* ``cluster`` (Briq et al., arXiv 2411.12523): order_key is the distance to the sample's own centroid;
  keep ``nearest`` (smallest), ``furthest``, or ``middle`` (drop (n−q)/2 furthest, keep the next q);
* ``dedup`` (SemDeDup, Abbas et al. 2023): keeps samples whose max cosine similarity to an already
  kept sample of their cluster is at most 1−ε.

Groups are the clusters when ``balance`` is set (``proportional``: the kept ratio in every cluster;
``equal``: the same count from every cluster, the smallest cluster's size by default, or water-filled to a
target total), else one global group. ``inverse`` keeps the other end of the ranking: the complement of
the selection that keeps the rest, so a selection and its inverse at ratio 0.5 split the pool exactly.

The pool is never loaded into Python: only the per-group sizes (k rows) are, to compute the quotas.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from thresher.curate.score_runs import latest_run, random_scores_run, score_files
from thresher.errors import ThresherError
from thresher.workspace import Workspace, check_name, config_hash, fetch_source, utcnow

METHODS = ("random", "cluster", "dedup")
KEEP_MODES = ("nearest", "middle", "furthest")
BALANCES = ("proportional", "equal")


@dataclass
class SelectConfig:
    name: str
    method: str
    source: str | None = None
    ratio: float | None = None  # pruned fraction in [0, 1)
    keep_count: int | None = None
    keep: str = "nearest"
    balance: str | None = None
    epsilon: float = 0.05
    inverse: bool = False
    seed: int = 0
    clustering: str | None = None  # cluster run id; default: the source's latest


@dataclass
class SelectResult:
    name: str
    version: int
    n: int
    n_source: int
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


def validate(config: SelectConfig) -> None:
    check_name(config.name, "subset name")
    if config.method not in METHODS:
        raise ThresherError(f"unknown method {config.method!r}; choose one of: {', '.join(METHODS)}")
    if config.keep not in KEEP_MODES:
        raise ThresherError(f"unknown --keep {config.keep!r}; choose one of: {', '.join(KEEP_MODES)}")
    if config.balance is not None and config.balance not in BALANCES:
        raise ThresherError(f"unknown --balance {config.balance!r}; choose one of: {', '.join(BALANCES)}")
    if config.ratio is not None and not 0.0 <= config.ratio < 1.0:
        raise ThresherError(f"--ratio {config.ratio} is outside [0, 1): it is the fraction pruned")
    if config.ratio is not None and config.keep_count is not None:
        raise ThresherError("give --ratio or --keep-count, not both")
    if config.keep_count is not None and config.keep_count < 1:
        raise ThresherError("--keep-count must be at least 1")
    if config.method == "dedup":
        if config.ratio is not None or config.keep_count is not None or config.balance is not None:
            raise ThresherError(
                "dedup keeps what --epsilon decides: it takes no --ratio, --keep-count or --balance"
            )
        if not 0.0 <= config.epsilon < 1.0:
            raise ThresherError(f"--epsilon {config.epsilon} is outside [0, 1)")
    elif config.ratio is None and config.keep_count is None and config.balance != "equal":
        raise ThresherError("give --ratio (fraction pruned) or --keep-count")


def select(ws: Workspace, config: SelectConfig) -> SelectResult:
    validate(config)
    source = ws.resolve_source(config.source)
    with ws.connect(read_only=True) as con:
        revision = fetch_source(con, source)["revision"]
    # The clustering is needed by cluster/dedup/balanced selections and, when present, labels the stats.
    cluster_run = config.clustering or latest_run(ws, source, "cluster")
    if cluster_run is None and (config.method in ("cluster", "dedup") or config.balance is not None):
        raise ThresherError(f"no clustering for source {source!r} yet: run `thresher cluster --k K` first")
    score_run = _score_run_for(ws, config, source, cluster_run)

    with ws.connect() as con:
        pool_sql = _pool_sql(ws, config, source, score_run, cluster_run)
        con.execute(f"CREATE TEMP TABLE pool AS {pool_sql}")
        n_pool = con.execute("SELECT count(*) FROM pool").fetchone()[0]
        if n_pool == 0:
            raise ThresherError(f"no scored samples of {source!r} in run {score_run}")
        if config.method == "dedup":
            from thresher.curate.scores.dedup import SIMILARITY_TOLERANCE

            threshold = 1.0 - config.epsilon - SIMILARITY_TOLERANCE
            kept_sql = f"SELECT sample_id FROM pool WHERE order_key <= {threshold!r}"
            if config.inverse:
                kept_sql = f"SELECT sample_id FROM pool EXCEPT ({kept_sql})"
        else:
            n_keep = _target_count(config, n_pool)
            if config.inverse:
                # The other end of the ranking: the complement of the non-inverse selection that keeps the rest.
                if n_keep < 0:
                    raise ThresherError("--inverse with --balance equal needs --ratio or --keep-count")
                rest = n_pool - (round(n_pool * (1.0 - config.ratio)) if config.ratio is not None else n_keep)
                rest_sql = (
                    _kept_sql(con, config, rest)
                    if rest > 0
                    else "SELECT NULL::BIGINT AS sample_id WHERE false"
                )
                kept_sql = f"SELECT sample_id FROM pool EXCEPT ({rest_sql})"
            else:
                kept_sql = _kept_sql(con, config, n_keep)
        con.execute(f"CREATE TEMP TABLE kept AS {kept_sql}")
        n_kept = con.execute("SELECT count(*) FROM kept").fetchone()[0]
        if n_kept == 0:
            raise ThresherError("the selection keeps no samples: lower --ratio or raise --keep-count")
        version = (
            con.execute("SELECT max(version) FROM subsets WHERE name = ?", [config.name]).fetchone()[0] or 0
        ) + 1
        out_dir = ws.subset_dir(config.name, version)
        staging = out_dir.parent / f".v{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            con.execute(
                f"""COPY (SELECT k.sample_id, m.label, p.cluster
                    FROM kept k JOIN pool p USING (sample_id)
                    JOIN samples m ON m.source = ? AND m.sample_id = k.sample_id
                    ORDER BY k.sample_id) TO '{staging / "ids.parquet"}' (FORMAT parquet)""",
                [source],
            )
            stats = _stats(con, source, cluster_run is not None, n_pool, n_kept)
            params = {k: v for k, v in asdict(config).items() if k not in ("name", "source")}
            params["clustering"] = cluster_run
            parent = _parent(con, config.name, version)
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
                }
            )
            (staging / "stats.json").write_text(json.dumps(stats, indent=2))
            staging.rename(out_dir)
            con.execute(
                "INSERT INTO subsets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                [
                    config.name,
                    version,
                    source,
                    revision,
                    config.method,
                    json.dumps(params),
                    config_hash(params),
                    n_kept,
                    n_pool,
                    parent,
                    score_run,
                    utcnow(),
                ],
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(out_dir, ignore_errors=True)
            raise
    return SelectResult(config.name, version, n_kept, n_pool, out_dir)


def _score_run_for(ws: Workspace, config: SelectConfig, source: str, cluster_run: str | None) -> str:
    if config.method == "random":
        return random_scores_run(ws, source, config.seed)
    if config.method == "cluster":
        return cluster_run  # type: ignore[return-value]
    from thresher.curate.dedup_run import dedup_scores_run

    return dedup_scores_run(ws, source, cluster_run, config.epsilon)  # type: ignore[arg-type]


def _pool_sql(
    ws: Workspace, config: SelectConfig, source: str, score_run: str, cluster_run: str | None
) -> str:
    """SQL for the pool: (sample_id, grp, order_key, cluster) over the ok rows of ``source``."""
    files = _files_literal(score_files(ws, score_run))
    ok = f"SELECT sample_id FROM samples WHERE source = '{source}' AND status = 'ok'"
    order_key = "s.distance" if config.method == "cluster" else "s.score"
    if config.method in ("cluster", "dedup") or cluster_run is None:
        cluster, join = ("s.cluster" if cluster_run else "NULL::INTEGER"), ""
    else:
        cluster = "c.cluster"
        join = f"LEFT JOIN read_parquet({_files_literal(score_files(ws, cluster_run))}) c USING (sample_id)"
    grp = cluster if config.balance is not None else "0"
    return (
        f"SELECT s.sample_id, {grp} AS grp, {order_key} AS order_key, {cluster} AS cluster "
        f"FROM read_parquet({files}) s {join} WHERE s.sample_id IN ({ok})"
    )


def _files_literal(files: list[Path]) -> str:
    return "[" + ", ".join(f"'{f}'" for f in files) + "]"


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


def _kept_sql(con, config: SelectConfig, n_keep: int) -> str:
    sizes = con.execute("SELECT grp, count(*) FROM pool GROUP BY grp ORDER BY grp").fetchall()
    groups = np.array([g for g, _ in sizes], dtype=np.int64)
    counts = np.array([c for _, c in sizes], dtype=np.int64)
    quotas = group_quotas(counts, n_keep, config.balance)
    con.execute("DROP TABLE IF EXISTS quotas")
    con.register("quotas_arrow", pa.table({"grp": groups, "quota": quotas}))
    con.execute("CREATE TEMP TABLE quotas AS SELECT * FROM quotas_arrow")
    con.unregister("quotas_arrow")
    # Position 1 is the smallest order_key in its group; ties break on sample_id so reruns agree.
    ranked = (
        "SELECT p.sample_id, q.quota, count(*) OVER (PARTITION BY p.grp) AS size, "
        "row_number() OVER (PARTITION BY p.grp ORDER BY p.order_key, p.sample_id) AS pos "
        "FROM pool p JOIN quotas q USING (grp)"
    )
    rule = {
        "nearest": "pos <= quota",
        "furthest": "pos > size - quota",
        "middle": "pos > size - quota - (size - quota) // 2 AND pos <= size - (size - quota) // 2",
    }["nearest" if config.method == "random" else config.keep]
    return f"SELECT sample_id FROM ({ranked}) WHERE {rule}"


def group_quotas(counts: np.ndarray, n_keep: int, balance: str | None) -> np.ndarray:
    """How many samples to keep from each group so that the total is ``n_keep`` (−1: equal's default)."""
    counts = np.asarray(counts, dtype=np.int64)
    if balance is None:
        return np.minimum(counts, n_keep)
    if balance == "proportional":
        exact = counts * (n_keep / counts.sum())
        quotas = np.floor(exact).astype(np.int64)
        # Largest remainder, ties to the larger group then the lower group index: deterministic.
        order = np.lexsort((np.arange(len(counts)), -counts, -(exact - quotas)))
        quotas[order[: n_keep - quotas.sum()]] += 1
        return np.minimum(quotas, counts)
    if n_keep < 0:
        return np.full_like(counts, counts.min())
    # equal: the largest s with sum(min(count, s)) <= n_keep, then one more to the roomiest groups.
    lo, hi = 0, int(counts.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if np.minimum(counts, mid).sum() <= n_keep:
            lo = mid
        else:
            hi = mid - 1
    quotas = np.minimum(counts, lo)
    leftover = n_keep - int(quotas.sum())
    room = np.flatnonzero(counts > quotas)
    room = room[np.lexsort((room, -(counts[room] - quotas[room])))]
    quotas[room[:leftover]] += 1
    return quotas


def _stats(con, source: str, clustered: bool, n_pool: int, n_kept: int) -> dict:
    def counts(sql: str, params: list) -> dict[str, int]:
        return {str(k): int(v) for k, v in con.execute(sql, params).fetchall()}

    by_label = "SELECT m.label, count(*) FROM {t} x JOIN samples m ON m.source = ? AND m.sample_id = x.sample_id GROUP BY 1 ORDER BY 1"
    stats: dict = {
        "n_source": n_pool,
        "n_kept": n_kept,
        "class_counts_before": counts(by_label.format(t="pool"), [source]),
        "class_counts_after": counts(by_label.format(t="kept"), [source]),
    }
    if clustered:
        by_cluster = "SELECT cluster, count(*) FROM pool WHERE sample_id IN (SELECT sample_id FROM {t}) GROUP BY 1 ORDER BY 1"
        stats["cluster_counts_before"] = counts(by_cluster.format(t="pool"), [])
        stats["cluster_counts_after"] = counts(by_cluster.format(t="kept"), [])
    return stats


def _parent(con, name: str, version: int) -> str | None:
    return f"{name}@v{version - 1}" if version > 1 else None
