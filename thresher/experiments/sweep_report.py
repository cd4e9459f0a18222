"""`thresher report --sweep NAME`: a sweep's figures and tables, as PNGs, one self-contained HTML page and
Markdown (the paper's Figure 1/5, Table 1, Table 2, Figure 2/3 and the cost of each cell), with the five
claims checked against the seeds' spread (:mod:`thresher.experiments.sweep_claims`).

Reads only the catalog (cells finished by any shard of any process) and the runs' noise-grid samples.
Cells are labelled as this sweep's spec labels them, also those it shares with another sweep. Every ratio
is the pruning ratio, the fraction removed (as ``select --ratio``). A poor evaluation classifier's warning
(:mod:`thresher.evaluate.classifier_caveat`) heads the page, and one-time work (ingest, embedding,
autoencoder, classifier, …) is a table of its own, not part of the cell that happened to do it first.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from thresher.cards.markdown import md_alt, md_link, md_text
from thresher.catalog.sweeps import sweep_cells, sweep_names, sweep_row  # noqa: E402
from thresher.catalog.workspace import Workspace  # noqa: E402
from thresher.errors import ThresherError  # noqa: E402
from thresher.evaluate.classifier_caveat import classifier_warning, poor_classifier_accuracy  # noqa: E402
from thresher.evaluate.report import ReportFiles  # noqa: E402
from thresher.experiments.sweep_claims import (  # noqa: E402
    BASELINE,
    NO_VERDICT,
    check_claims,
    rare_classes_of,
    rare_share,
    values,
)
from thresher.experiments.sweep_context import grid_labels, own_series  # noqa: E402
from thresher.experiments.sweep_report_tables import (  # noqa: E402
    PLOTTED,
    balance_table,
    cell_label,
    memorization_table,
    one_time_table,
    summary_table,
    time_table,
)


def write_sweep_report(ws: Workspace, name: str, out_dir: Path | None = None) -> ReportFiles:
    row = sweep_row(ws, name)
    if row is None:
        known = ", ".join(sweep_names(ws)) or "none (run `thresher sweep SPEC`)"
        raise ThresherError(f"unknown sweep {name!r}; known: {known}")
    total, cells = sweep_cells(ws, name)
    if not cells:
        raise ThresherError(f"sweep {name!r} has no finished cell yet (0 of {total}): run `thresher sweep`")
    out = Path(out_dir) if out_dir else ws.reports_dir(f"sweep-{name}")
    out.mkdir(parents=True, exist_ok=True)
    spec = row["spec"]
    labels = grid_labels(spec)
    records = [_record(c, labels) for c in cells]
    rare = rare_classes_of(records)
    blocks: list[tuple] = [("h1", f"thresher sweep: {name}")]
    notes = _notes(records)
    blocks += [("strong", note) for note in notes]
    budget = f"{spec['steps']} steps" if spec["budget"] == "steps" else f"{spec['epochs']} epochs"
    blocks.append(("p", f"{len(cells)} of {total} cells finished. Source {spec['source']}, reference "
                        f"{spec['reference']}, embedder {spec['embedder']}, k={spec['k']}; every cell trains "
                        f"{budget} ({spec['budget']} budget); seeds {spec['seeds']}. Ratio = pruning ratio, "
                        "the fraction of the source removed; error bars and ± are the std over seeds."))  # fmt: skip

    figures = []
    fig_path = out / "metrics_vs_ratio.png"
    if _metrics_figure(records, fig_path):
        figures.append(fig_path)
        blocks += [
            ("h2", "Metrics against pruning ratio (fraction removed)"),
            ("img", fig_path, "metrics vs ratio"),
        ]
    blocks += [("h2", "Summary (mean ± std over seeds)"), summary_table(records)]
    blocks += [("h2", "Memorization: nearest-training-sample distance (Table 1)"),
               ("p", "Mean distance (evaluation features) from each generated sample, and from held-out "
                     "reference images, to its nearest training sample; a ratio below 1 means generated "
                     "samples sit closer to the training set than unseen data does."),
               memorization_table(records)]  # fmt: skip
    if rare:
        blocks += [("h2", "Balanced vs proportional selection (Table 2)"),
                   ("p", f"Rare classes: {rare} (the rarest third of the full data's classes). Shares of "
                         "the training subset and of the generated samples (classified by the evaluation "
                         "classifier)."),
                   balance_table(records, rare)]  # fmt: skip
        bal_path = out / "rare_share.png"
        if _balance_figure(records, rare, bal_path):
            figures.append(bal_path)
            blocks.append(("img", bal_path, "rare share vs ratio"))
    grids = _noise_grids(ws, records, out)
    if grids:
        blocks += [("h2", "Samples from the same initial noise across ratios (Figure 2/3)"),
                   ("p", "Each row is one training set (full data first, then increasing pruning ratio, "
                         "the fraction removed), "
                         f"seed {records[0]['seed']}; every row starts from the same noise.")]  # fmt: skip
        for series, path in grids:
            figures.append(path)
            blocks += [("h3", series), ("img", path, series)]
    blocks += [
        ("h2", "Claims of the paper, checked"),
        (
            "p",
            "A difference holds only when it exceeds the spread (sum of the two stds over seeds); "
            f"where either side has one seed there is no spread to judge by: {NO_VERDICT}.",
        ),
    ]
    claims = check_claims(records, rare)
    for claim in claims:
        blocks.append(("h3", f"({claim.number}) {claim.statement}: {claim.verdict}"))
        if claim.note:
            blocks.append(("p", claim.note))
        if claim.comparisons:
            blocks.append(("table", ["comparison", "a", "b", "spread", "verdict"],
                           [[c.what, f"{c.a:.3g}", f"{c.b:.3g}", f"{c.spread:.3g}", c.verdict]
                            for c in claim.comparisons]))  # fmt: skip
    blocks += [("h2", "Wall time per cell (seconds)"), time_table(records)]
    one_time = one_time_table(records)
    if one_time is not None:
        blocks += [("h2", "One-time work (seconds, in no cell's time)"),
                   ("p", "Work every cell shares, done once by each process that ran cells, before its first "
                         "cell (the evaluation classifier: in the first evaluation of the reference). "
                         "Work a Slurm prepare job did is not recorded."),
                   one_time]  # fmt: skip

    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(_markdown(blocks, out))
    page.write_text(_html(blocks, f"thresher sweep {name}"))
    (out / "report.json").write_text(
        json.dumps(
            {
                "sweep": name,
                "cells": len(cells),
                "total": total,
                "records": records,
                "claims": [
                    {
                        "number": c.number,
                        "statement": c.statement,
                        "verdict": c.verdict,
                        "note": c.note,
                        "comparisons": [vars(x) for x in c.comparisons],
                    }
                    for c in claims
                ],
            },
            indent=1,
            default=str,
        )  # fmt: skip
    )
    return ReportFiles(markdown=markdown, html=page, figures=figures, notes=notes)


def _record(cell: dict[str, Any], labels: list[tuple[str, float, int]] | None) -> dict[str, Any]:
    """A finished cell as the report shows it, under this sweep's label (its row may carry the label of
    another sweep that shares it and ran it first)."""
    d = cell["description"]
    return {
        "series": own_series(cell, labels),
        "ratio": float(d["ratio"]),
        "seed": int(d["seed"]),
        "n_rows": d.get("n_rows"),
        "dataset": d.get("dataset"),
        "run": cell["run"],
        "seconds": cell["seconds"] or {},
        "metrics": cell.get("metrics") or {},
    }


def _notes(records: list[dict[str, Any]]) -> list[str]:
    """Warnings for the top of the page: cells evaluated with a poor classifier."""
    poor = {
        cell_label(r): accuracy
        for r in records
        if (accuracy := poor_classifier_accuracy(r["metrics"])) is not None
    }
    warning = classifier_warning(poor)
    return [warning] if warning else []


def _series(records: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["series"] for r in records if r["series"] != BASELINE))


def _metrics_figure(records: list[dict[str, Any]], path: Path) -> bool:
    metrics = [m for m in PLOTTED if values(records, m)]
    if not metrics:
        return False
    cols = 3
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.3 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        label, lower = PLOTTED[metric]
        by = values(records, metric)
        base = by.get((BASELINE, 0.0))
        if base:
            mean, std = float(np.mean(base)), float(np.std(base))
            ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=BASELINE)
            if std > 0:
                ax.axhspan(mean - std, mean + std, color="black", alpha=0.08)
        for series in _series(records):
            xs = sorted(r for (s, r) in by if s == series)
            if not xs:
                continue
            means = [float(np.mean(by[(series, x)])) for x in xs]
            stds = [float(np.std(by[(series, x)])) for x in xs]
            style = "--" if "inverse" in series else "-"
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, linestyle=style, label=series)
        ax.set_title(f"{label} ({'lower' if lower else 'higher'} is better)", fontsize=9)
        ax.set_xlabel("pruning ratio (fraction removed)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _balance_figure(records: list[dict[str, Any]], rare: list[int], path: Path) -> bool:
    share = rare_share(records, rare)
    series = [s for s in _series(records) if "equal" in s or "proportional" in s]
    if not series:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), sharey=True)
    for ax, kind in zip(axes, ("train", "generated"), strict=True):
        base = share.get((BASELINE, 0.0, kind))
        if base:
            ax.axhline(100 * np.mean(base), color="black", linestyle="--", linewidth=1, label=BASELINE)
        for s in series:
            xs = sorted(r for (name, r, k) in share if name == s and k == kind)
            ax.errorbar(xs, [100 * np.mean(share[(s, x, kind)]) for x in xs],
                        yerr=[100 * np.std(share[(s, x, kind)]) for x in xs], marker="o", capsize=3, label=s)  # fmt: skip
        ax.set_title(f"rare classes {rare}: share of the {'training subset' if kind == 'train' else 'generated samples'}",
                     fontsize=9)  # fmt: skip
        ax.set_xlabel("pruning ratio (fraction removed)")
        ax.set_ylabel("%")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _noise_grids(ws: Workspace, records: list[dict[str, Any]], out: Path) -> list[tuple[str, Path]]:
    """Per method series: one row of same-noise samples per ratio (full data first), first seed only."""
    from thresher.experiments.sweep import noise_images

    seed = min(r["seed"] for r in records)
    rows_of: dict[str, dict[float, np.ndarray]] = defaultdict(dict)
    base = None
    for r in records:
        if r["seed"] != seed:
            continue
        images = noise_images(ws, r["run"])
        if images is None:
            continue
        if r["series"] == BASELINE:
            base = images
        else:
            rows_of[r["series"]][r["ratio"]] = images
    grids = []
    for index, (series, by_ratio) in enumerate(rows_of.items()):
        rows = ([(BASELINE, base)] if base is not None else []) + [
            (f"{ratio:g} removed", by_ratio[ratio]) for ratio in sorted(by_ratio)
        ]
        fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 * rows[0][1].shape[0] + 1.5, 1.1 * len(rows)),
                                 squeeze=False)  # fmt: skip
        for ax, (label, images) in zip(axes[:, 0], rows, strict=True):
            strip = np.concatenate(list(images), axis=1)
            ax.imshow(strip.squeeze(-1) if strip.shape[-1] == 1 else strip, cmap="gray", vmin=0, vmax=255)
            ax.set_yticks([])
            ax.set_xticks([])
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        fig.suptitle(series, fontsize=9)
        fig.tight_layout()
        path = out / f"noise_grid_{index:02d}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        grids.append((series, path))
    return grids


def _markdown(blocks: list[tuple], out: Path) -> str:
    """The report as Markdown; every text is escaped (series labels, sources and class names are data)."""
    lines: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            lines += ["", "#" * int(kind[1]) + " " + md_text(block[1]), ""]
        elif kind == "p":
            lines += [md_text(block[1]), ""]
        elif kind == "strong":
            lines += [f"**{md_text(block[1])}**", ""]
        elif kind == "img":
            lines += [f"![{md_alt(block[2])}]({md_link(Path(block[1]).relative_to(out).as_posix())})", ""]
        elif kind == "table":
            header, rows = block[1], block[2]
            lines += ["| " + " | ".join(md_text(h) for h in header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows] + [""]
    return "\n".join(lines).lstrip() + "\n"


def _html(blocks: list[tuple], title: str) -> str:
    esc = html.escape
    body = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{esc(block[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{esc(block[1])}</p>")
        elif kind == "strong":
            body.append(f"<p><strong>{esc(block[1])}</strong></p>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode()
            body.append(f'<img alt="{esc(block[2])}" src="data:image/png;base64,{data}">')
        elif kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block[2])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}"
        "img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{style}</style>"
        f"</head><body>{''.join(body)}</body></html>\n"
    )
