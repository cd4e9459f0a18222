"""Dataset cards for published subsets (`huggingface_hub.DatasetCard`, template shipped as package data)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from thresher.cards.markdown import md_code, md_list, md_text, sql_literal

TEMPLATE = files("thresher.cards") / "templates" / "dataset_card.md"


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return label
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def _rows(
    before: dict[str, int], after: dict[str, int], names: list[str] | None = None
) -> list[dict[str, Any]]:
    rows = []
    for key, count in before.items():
        kept = after.get(key, 0)
        rows.append(
            {
                "key": md_text(class_label(key, names)),
                "before": count,
                "after": kept,
                "percent": round(100 * kept / max(count, 1), 1),
            }
        )
    return rows


def label_names_of(source: dict[str, Any]) -> list[str] | None:
    """The class names of a catalog source row (index = label), when its features name them."""
    names = source.get("label_names")
    if isinstance(names, str):
        names = json.loads(names)
    return list(names) if names else None


def class_label(key: int | str | None, names: Sequence[str] | None) -> str:
    """A class for people: ``3 (cat)`` when ``names`` (index = label) names class ``key``; the bare id when
    there are no names or the name is the id (as for digits); ``–`` for no class."""
    if key is None:
        return "–"
    text = str(key)
    if names and text.isdigit() and int(text) < len(names) and str(names[int(text)]) != text:
        return f"{text} ({names[int(text)]})"
    return text


def render_dataset_card(
    stats: dict[str, Any],
    source: dict[str, Any],
    *,
    data_files: list[str] | None,
    load_path: str,
    query_path: str,
    gallery: str | None = None,
) -> DatasetCard:
    """Card for one subset version; ``stats`` is the subset's stats.json, ``source`` its catalog row.

    ``data_files`` are the materialized shards (None when only ids are published); they are listed by
    name, not by glob, because `datasets` keys its cache of a local folder on the data-file patterns.
    """
    materialized = data_files is not None
    n_kept, n_source = int(stats["n_kept"]), int(stats["n_source"])
    data_path = data_files if data_files else "ids.parquet"
    thresher_meta = {
        "source": source["uri"],
        "source_config": source.get("config"),
        "source_split": source.get("split"),
        "source_revision": stats["revision"],
        "method": stats["method"],
        "params": stats["params"],
        "config_hash": stats.get("config_hash"),
        "version": f"v{stats['version']}",
        "parent": stats.get("parent"),
        "score_run": stats.get("score_run"),
        "score_config": stats.get("score_config") or {},
        "n_source": n_source,
        "n_kept": n_kept,
        "label_names": label_names_of(source),
        "class_counts_before": stats.get("class_counts_before", {}),
        "class_counts_after": stats.get("class_counts_after", {}),
        "cluster_counts_before": stats.get("cluster_counts_before", {}),
        "cluster_counts_after": stats.get("cluster_counts_after", {}),
    }
    card_data = DatasetCardData(
        license=source.get("license") or "other",
        pretty_name=f"{stats['name']} v{stats['version']}",
        tags=["thresher", "data-pruning", f"pruning-method:{stats['method']}"],
        size_categories=[_size_category(n_kept)],
        source_datasets=[source["uri"]] if source.get("kind") == "hub" else None,
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": data_path}]}],
        thresher=thresher_meta,
    )
    cluster_after = list(stats.get("cluster_counts_after", {}).values())
    # Every value from data is escaped for the place it takes in the Markdown (cards/markdown.py): the
    # template writes them as they come.
    params = {k: v for k, v in stats["params"].items() if v is not None}
    score_config = {k: v for k, v in (stats.get("score_config") or {}).items() if v is not None}
    kept = None
    if stats.get("kept"):  # a gradient selection: which end of which scores, of which pretraining
        what = f"the {stats['kept']} {stats.get('scores')} scores of score run"
        kept = (
            f"{md_text(what)} {md_code(stats.get('score_run'), in_table=True)}, pretraining "
            f"{md_code(stats.get('pretrain'), in_table=True)}"
        )
    return DatasetCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        pretty_name=md_text(f"{stats['name']} v{stats['version']}"),
        source_uri=md_text(source["uri"]),
        source_code=md_code(source["uri"], in_table=True),
        source_config=md_code(source["config"], in_table=True) if source.get("config") else None,
        split=md_code(source.get("split") or "train", in_table=True),
        revision=md_code(stats["revision"]),
        revision_cell=md_code(stats["revision"], in_table=True),
        n_kept=n_kept,
        n_source=n_source,
        kept_percent=round(100 * n_kept / max(n_source, 1), 1),
        method=md_code(stats["method"]),
        method_cell=md_code(stats["method"], in_table=True),
        params=" ".join(md_code(f"{k}={v}", in_table=True) for k, v in params.items()),
        config_hash=md_code(stats.get("config_hash"), in_table=True),
        version=stats["version"],
        parent=md_code(stats["parent"], in_table=True) if stats.get("parent") else None,
        score_run=md_code(stats.get("score_run"), in_table=True),
        score_config=" ".join(md_code(f"{k}={v}", in_table=True) for k, v in score_config.items()),
        kept=kept,
        class_rows=_rows(
            stats.get("class_counts_before", {}), stats.get("class_counts_after", {}), label_names_of(source)
        ),
        cluster_rows=_rows(stats.get("cluster_counts_before", {}), stats.get("cluster_counts_after", {})),
        cluster_min_after=min(cluster_after) if cluster_after else 0,
        cluster_max_after=max(cluster_after) if cluster_after else 0,
        materialized=materialized,
        load_call=md_code(f"datasets.load_dataset({load_path!r})"),
        query_literal=sql_literal(f"{query_path}/ids.parquet"),
        gallery=gallery,
        balance=md_list((stats.get("balance") or {}).get("lines") or []),
    )
