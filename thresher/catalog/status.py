"""`thresher status`: what is in the workspace — sources, embeddings, clusterings, subsets, runs, and the
Slurm jobs submitted from it with their state in the queue."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from thresher.catalog.config import StatusConfig
from thresher.catalog.image_store import list_stores
from thresher.catalog.runs import shown_status
from thresher.catalog.tables import rows_as_dicts
from thresher.catalog.workspace import Workspace
from thresher.executors.submissions import submission_status


@dataclass
class WorkspaceStatus:
    root: str
    schema_version: int | None
    sources: list[dict[str, Any]] = field(default_factory=list)
    embeddings: list[dict[str, Any]] = field(default_factory=list)
    clusterings: list[dict[str, Any]] = field(default_factory=list)
    subsets: list[dict[str, Any]] = field(default_factory=list)
    trainings: list[dict[str, Any]] = field(default_factory=list)
    pretrainings: list[dict[str, Any]] = field(default_factory=list)
    score_runs: list[dict[str, Any]] = field(default_factory=list)
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    stores: list[dict[str, Any]] = field(default_factory=list)
    evaluations: int = 0
    slurm: list[dict[str, Any]] = field(default_factory=list)  # submissions (executors/submissions.py)

    def lines(self) -> list[str]:
        return [self.render()]

    def render(self) -> str:
        if self.schema_version is None:
            return "\n".join(
                [f"workspace {self.root}: empty (run `thresher ingest SOURCE`)", *self._slurm_lines()]
            )
        out = [f"workspace {self.root} (catalog schema v{self.schema_version})"]
        out += _section("sources", [
            [s["id"], f"{s['n_ok']}/{s['n_rows']} rows ok", _source_uri(s), f"rev {s['revision']}"]
            for s in self.sources
        ])  # fmt: skip
        out += _section("embeddings", [
            [e["source"], e["embedder"], f"{e['n']} × {e['dim']}"] for e in self.embeddings
        ])  # fmt: skip
        out += _section("clusterings", [
            [c["id"], c["source"], f"k={c['k']}", f"on {c['embedder']}"] for c in self.clusterings
        ])  # fmt: skip
        out += _section("subsets (what determines each, in the flags of `thresher select`)", [
            [f"{s['name']}@v{s['version']}", f"{s['n']}/{s['n_source']}", f"from {s['source']}", s["method"],
             s["summary"] + (f"  → {s['destination']}" if s["destination"] else "")]
            for s in self.subsets
        ])  # fmt: skip
        out += _section("pretraining runs", [
            [p["id"], p["status"], f"{p['epochs']} epochs", f"on {p['source']}"] for p in self.pretrainings
        ])  # fmt: skip
        out += _section("score runs", [
            [r["id"], r["method"] or "", f"from {r['pretrain']}"] for r in self.score_runs
        ])  # fmt: skip
        out += _section(
            "training runs", [[t["id"], t["status"], f"on {t['dataset']}"] for t in self.trainings]
        )
        out += ["", f"evaluations: {self.evaluations}"]
        out += _section("sweeps", [[s["name"], f"{s['done']}/{s['cells']} cells done"] for s in self.sweeps])
        out += _section("image stores", [
            [s["source"], s["encoder"], f"{s['size']}px" if s["size"] else "native size",
             f"{s['rows']} rows in {s['parts']} part{'' if s['parts'] == 1 else 's'}",
             f"{s['bytes'] / 2**20:.1f} MiB"]
            for s in self.stores
        ])  # fmt: skip
        return "\n".join(out + self._slurm_lines())

    def _slurm_lines(self) -> list[str]:
        if not self.slurm:  # only where something was submitted: most workspaces never see a cluster
            return []
        out = ["", "slurm submissions (latest last):"]
        for sub in self.slurm:
            out.append(f"  {sub['submitted']}  {sub['name']}")
            out += [
                f"    job {j['job_id']} {j['label']}"
                + (f" ({j['tasks']} tasks)" if j["tasks"] else "")
                + f": {j['state']}"
                for j in sub["jobs"]
            ]
        return out


def _section(title: str, rows: list[list[str]]) -> list[str]:
    """A blank line, ``title:``, then ``rows`` with every column but the last padded to its widest cell."""
    if not rows:
        return ["", f"{title}:", "  none"]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  " + "  ".join([*(f"{cell!s:<{w}}" for cell, w in zip(row, widths, strict=False)), str(row[-1])])
        for row in rows
    ]
    return ["", f"{title}:", *(line.rstrip() for line in lines)]


def _source_uri(source: dict[str, Any]) -> str:
    """``kind:uri``, once: builtin uris carry their kind already."""
    uri, kind = str(source["uri"]), str(source["kind"])
    return uri if uri.startswith(kind + ":") else f"{kind}:{uri}"


def _settings_text(settings: dict[str, Any]) -> str:
    """``{"--ratio": 0.5, "--inverse": true}`` → ``--ratio 0.5 --inverse``."""
    return " ".join(flag if value is True else f"{flag} {value}" for flag, value in settings.items())


def workspace_status(ws: Workspace, _config: StatusConfig | None = None) -> WorkspaceStatus:
    if not ws.exists:
        status = WorkspaceStatus(str(ws.root), None)
        status.slurm = submission_status(ws.root)
        return status
    with ws.connect(read_only=True) as con:
        version = int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        status = WorkspaceStatus(str(ws.root), version)
        status.sources = rows_as_dicts(con.execute("SELECT * FROM sources ORDER BY created"))
        status.embeddings = rows_as_dicts(con.execute("SELECT * FROM embeddings ORDER BY created"))
        for run in rows_as_dicts(
            con.execute(
                "SELECT id, source, config FROM runs WHERE kind = 'cluster' AND status = 'done' ORDER BY finished"
            )
        ):
            cfg = json.loads(run["config"])
            status.clusterings.append(
                {"id": run["id"], "source": run["source"], "k": cfg.get("k"), "embedder": cfg.get("embedder")}
            )
        for s in rows_as_dicts(con.execute("SELECT * FROM subsets ORDER BY name, version")):
            if s.get("settings"):  # recorded by select: what decided the version (curate/subset_settings.py)
                s["summary"] = _settings_text(json.loads(s["settings"]))
            else:  # a version selected before v5 recorded it: its general parameters
                params = json.loads(s["params"]) if s["params"] else {}
                keys = ("ratio", "keep_count", "keep", "balance", "groups", "inverse")
                s["summary"] = " ".join(
                    f"{k}={params[k]}" for k in keys if params.get(k) not in (None, False)
                )
            status.subsets.append(s)
        for run in rows_as_dicts(
            con.execute(
                "SELECT id, source, status, config, pid, host FROM runs WHERE kind = 'pretrain' ORDER BY started"
            )
        ):
            cfg = json.loads(run["config"]) if run["config"] else {}
            run["status"] = shown_status(run["status"], run.pop("pid"), run.pop("host"))
            status.pretrainings.append({**run, "epochs": cfg.get("epochs")})
        for run in rows_as_dicts(
            con.execute(
                "SELECT id, config FROM runs WHERE kind = 'score' AND status = 'done' ORDER BY finished"
            )
        ):
            cfg = json.loads(run["config"]) if run["config"] else {}
            status.score_runs.append(
                {"id": run["id"], "method": cfg.get("method"), "pretrain": cfg.get("pretrain")}
            )
        status.trainings = rows_as_dicts(
            con.execute(
                "SELECT id, status, dataset, pid, host FROM runs WHERE kind = 'train' ORDER BY started"
            )
        )
        for run in status.trainings:
            run["status"] = shown_status(run["status"], run.pop("pid"), run.pop("host"))
        status.sweeps = rows_as_dicts(
            con.execute(
                """SELECT s.name, count(m.cell) AS cells, count(c.cell) AS done FROM sweeps s
                   LEFT JOIN sweep_members m ON m.sweep = s.name
                   LEFT JOIN sweep_cells c ON c.cell = m.cell AND c.status = 'done'
                   GROUP BY s.name ORDER BY s.name"""
            )
        )
        status.evaluations = con.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    status.stores = list_stores(ws)
    for store in status.stores:  # an autoencoder is named by its folder: inside the workspace, relative
        encoder = str(store["encoder"])
        if os.path.isabs(encoder):
            store["encoder"] = ws.to_stored(encoder)
    status.slurm = submission_status(ws.root)
    return status
