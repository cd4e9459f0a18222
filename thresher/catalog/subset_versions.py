"""Subset versions for the curator's pages: the list, one version's stats and kept samples, and the diff of
two versions (counts per class and cluster, the samples only one of them keeps).

A version is a view (docs/architecture.md, 'Workspace'): ``subsets/<name>/v<N>/ids.parquet`` holds the kept
sample ids with their label and cluster, ``stats.json`` the counts before and after. Files are found from
the catalog row of a version whose name passed :func:`~thresher.catalog.names.check_name`; an unknown
name or version is :class:`~thresher.errors.NotFound`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.browse import check_page
from thresher.catalog.subsets import SubsetRef, parse_subset_ref, versions_of
from thresher.catalog.tables import rows_as_dicts
from thresher.catalog.workspace import Workspace
from thresher.errors import ConfigError, NotFound, ThresherError

KEPT_FILTERS = ("label", "cluster")


def list_subsets(ws: Workspace) -> list[dict[str, Any]]:
    """Every subset with its versions (oldest first): version, source, method, n, n_source, created,
    parent, destination."""
    if not ws.exists:
        return []
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                "SELECT name, version, source, method, n, n_source, created, parent, destination, score_run "
                "FROM subsets ORDER BY name, version"
            )
        )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row["name"], {"name": row["name"], "versions": []})["versions"].append(
            {k: v for k, v in row.items() if k != "name"}
        )
    return list(out.values())


def parse_ref(text: str) -> SubsetRef:
    """``NAME``, ``NAME@vN`` or ``NAME@N`` as a reference; a malformed one is a 422 naming it."""
    try:
        return parse_subset_ref(text)
    except ThresherError as exc:
        raise ConfigError(str(exc)) from None


def require_version(ws: Workspace, ref: SubsetRef) -> dict[str, Any]:
    """The catalog row of a subset version (the latest when ``ref`` names none), params decoded, with the
    folder of its files; NotFound for an unknown name or version or a version whose files are gone."""
    versions: list[int] = []
    if ws.exists:
        with ws.connect(read_only=True) as con:
            versions = versions_of(con, ref.name)
    if not versions:
        raise NotFound(f"unknown subset {ref.name!r}")
    version = ref.version or versions[-1]
    if version not in versions:
        raise NotFound(
            f"subset {ref.name!r} has no version v{version}; it has {', '.join(f'v{v}' for v in versions)}"
        )
    with ws.connect(read_only=True) as con:
        row = rows_as_dicts(
            con.execute("SELECT * FROM subsets WHERE name = ? AND version = ?", [ref.name, version])
        )[0]
    row["params"] = json.loads(row["params"]) if row["params"] else {}
    folder = ws.subset_dir(ref.name, version)
    if not (folder / "ids.parquet").is_file():
        raise NotFound(f"the files of subset {ref.name}@v{version} are gone")
    row["folder"] = folder
    return row


def version_stats(row: dict[str, Any]) -> dict[str, Any]:
    """The version's stats.json (counts per class and cluster, before and after)."""
    path: Path = row["folder"] / "stats.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise NotFound(f"subset {row['name']}@v{row['version']} has no readable stats.json") from None


def kept_ids(row: dict[str, Any]) -> np.ndarray:
    """Every sample id the version keeps (int64, ascending as written)."""
    table = pq.read_table(row["folder"] / "ids.parquet", columns=["sample_id"])
    return table.column("sample_id").to_numpy().astype(np.int64, copy=False)


def kept_page(
    ws: Workspace, row: dict[str, Any], offset: int, limit: int, *, label: int | None = None,
    cluster: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A page of the version's kept samples by sample id (sample_id, label, cluster), optionally of one
    label or cluster; ``total`` counts those that pass."""
    check_page(offset, limit)
    conditions, params = ["true"], []
    for column, value in (("label", label), ("cluster", cluster)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    ids = str(row["folder"] / "ids.parquet")
    where = " AND ".join(conditions)
    with ws.connect(read_only=True) as con:
        total = con.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {where}", [ids, *params]).fetchone()[
            0
        ]
        rows = rows_as_dicts(
            con.execute(
                f"SELECT sample_id, label, cluster FROM read_parquet(?) WHERE {where} "
                "ORDER BY sample_id LIMIT ? OFFSET ?",
                [ids, *params, limit, offset],
            )
        )
    return {"total": int(total), "offset": offset, "limit": limit, "rows": rows}


def diff_versions(
    ws: Workspace, a: dict[str, Any], b: dict[str, Any], offset: int = 0, limit: int = 60
) -> dict[str, Any]:
    """What two versions of one source keep: counts per class and per cluster in each, how many samples
    both keep, and a page (``offset``, ``limit``) of the sample ids only A keeps and only B keeps.

    Clusters are each version's own (its ``ids.parquet``); ``same_clustering`` says whether the two were
    selected over the same clustering, without which cluster numbers of A and B are not comparable."""
    check_page(offset, limit)
    if a["source"] != b["source"]:
        raise ConfigError(
            f"{a['name']}@v{a['version']} is a subset of {a['source']!r} and {b['name']}@v{b['version']} "
            f"of {b['source']!r}: a diff compares versions of one source"
        )
    files = [str(a["folder"] / "ids.parquet"), str(b["folder"] / "ids.parquet")]
    with ws.connect(read_only=True) as con:

        def counts(column: str) -> list[dict[str, Any]]:
            rows = con.execute(
                f"""SELECT {column} AS key,
                       count(*) FILTER (WHERE side = 'a') AS a, count(*) FILTER (WHERE side = 'b') AS b
                FROM (SELECT {column}, 'a' AS side FROM read_parquet(?)
                      UNION ALL SELECT {column}, 'b' FROM read_parquet(?))
                GROUP BY key ORDER BY key NULLS LAST""",
                files,
            ).fetchall()
            return [{"key": key, "a": int(n_a), "b": int(n_b)} for key, n_a, n_b in rows]

        def only(first: str, second: str) -> dict[str, Any]:
            body = "FROM read_parquet(?) x ANTI JOIN read_parquet(?) y USING (sample_id)"
            total = con.execute(f"SELECT count(*) {body}", [first, second]).fetchone()[0]
            rows = rows_as_dicts(
                con.execute(
                    f"SELECT x.sample_id, x.label, x.cluster {body} ORDER BY x.sample_id LIMIT ? OFFSET ?",
                    [first, second, limit, offset],
                )
            )
            return {"total": int(total), "rows": rows}

        both = con.execute(
            "SELECT count(*) FROM read_parquet(?) x SEMI JOIN read_parquet(?) y USING (sample_id)", files
        ).fetchone()[0]
        classes, clusters = counts("label"), counts("cluster")
        only_a, only_b = only(*files), only(files[1], files[0])
    return {
        "source": a["source"],
        "a": _side(a),
        "b": _side(b),
        "same_clustering": a["params"].get("clustering") == b["params"].get("clustering"),
        "both": int(both),
        "classes": classes,
        "clusters": clusters,
        "offset": offset,
        "limit": limit,
        "only_a": only_a,
        "only_b": only_b,
    }


def _side(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": f"{row['name']}@v{row['version']}",
        "name": row["name"],
        "version": int(row["version"]),
        "n": int(row["n"]),
        "method": row["method"],
        "clustering": row["params"].get("clustering"),
    }
