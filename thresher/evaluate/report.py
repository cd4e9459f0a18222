"""Evaluation report: plots of metrics against pruning ratio, group-share bars, and a Markdown/HTML page.

Input is a list of evaluation records, one per evaluated run::

    {"run": "r12", "method": "cluster-nearest", "ratio": 0.5, "size": 2500,
     "metrics": <dict from evaluate_images>, "grid": "path/to/samples.png" or None}

``method`` (or ``subset``) groups records into lines; ``ratio`` is the pruning ratio, the fraction of the
source removed, as ``thresher select --ratio`` and ``report --sweep`` mean it (``size`` is used when no
record has a ratio). Records of the unpruned data (``ratio`` 0 or method ``full``) are drawn as a dashed
baseline, as in Fig. 1 of Briq et al. A record of generated images
evaluated without a training run carries ``"images": path`` (and neither method nor ratio): it is
labelled by that path and appears in the table and the share figures, not on the ratio axes. Class
shares are labelled with ``metrics["class_names"]`` where the source names its classes. The HTML page
embeds every image as base64, so it can be mailed or published as a single file.

Only comparable evaluations are averaged and drawn together: those against the same reference, with the
same feature extractor and the same generated and reference sample counts (an FID of n=200 against one
reference and one of n=64 against another are different quantities). The figures show the largest such
group; the page names every evaluation left out of them (the table lists all). An evaluation whose
classifier features are untrustworthy (:mod:`thresher.evaluate.classifier_caveat`) puts its warning on
the page.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window (headless servers, CI)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from thresher.cards.markdown import md_alt, md_link, md_text  # noqa: E402
from thresher.evaluate.classifier_caveat import classifier_warning, poor_classifier_accuracy  # noqa: E402
from thresher.evaluate.comparable import comparable, comparison_of, left_out_note  # noqa: E402
from thresher.evaluate.image_batches import check_images  # noqa: E402

# key -> (label, lower is better)
METRIC_LABELS: dict[str, tuple[str, bool]] = {
    "fid": ("FID", True),
    "kid": ("KID", True),
    "inception_score": ("IS", False),
    "precision": ("precision", False),
    "recall": ("recall", False),
    "f_score": ("F-score", False),
    "density": ("density", False),
    "coverage": ("coverage", False),
    "vendi": ("Vendi score", False),
    "memorization_ratio": ("memorization ratio (gen/held-out)", False),
    "class_entropy": ("class balance (norm. entropy)", False),
    "class_fid_max_over_min": ("per-class FID max/min", True),
    "cluster_entropy": ("cluster balance (norm. entropy)", False),
    "classifier_confidence": ("classifier confidence", False),
}
TABLE_COLUMNS = [
    "fid",
    "kid",
    "inception_score",
    "precision",
    "recall",
    "f_score",
    "density",
    "coverage",
    "vendi",
    "memorization_ratio",
    "class_entropy",
    "class_fid_max_over_min",
    "classifier_confidence",
    "seconds_total",
]
BASELINE_METHODS = ("full", "none", "all")
RATIO_HEADING = "ratio (removed)"  # the fraction of the source pruned, as `select --ratio` means it
MANY_GROUPS = 30  # above this, grouped bars are unreadable: draw sorted share curves instead


@dataclass
class ReportFiles:
    markdown: Path
    html: Path
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings and what was left out, also on the page

    def lines(self) -> list[str]:
        return [f"report: {self.html} ({len(self.figures)} figures)", *self.notes]


def _method(record: Mapping[str, Any]) -> str:
    """The line a record belongs to; ``–`` for images evaluated without a training run."""
    if record.get("method") or record.get("subset"):
        return str(record.get("method") or record.get("subset"))
    return "–" if _is_images(record) else str(record.get("run"))


def _is_images(record: Mapping[str, Any]) -> bool:
    return bool(record.get("images")) or (record.get("run") is None and "images" in record)


def _run_name(record: Mapping[str, Any]) -> str:
    """The run, or for an images evaluation its images path."""
    if record.get("run") is None and _is_images(record):
        return f"images {record.get('images') or '(path not recorded)'}"
    return str(record.get("run"))


def _group_names(metrics: Mapping[str, Any], kind: str) -> list[str]:
    """Tick labels of the groups: class names where known (``3 (cat)``, the bare id when the name is the
    id, as for digits), else the ids."""
    ids = list(metrics[f"{kind}_ids"])
    names = metrics.get(f"{kind}_names") if kind == "class" else None
    if not names or len(names) != len(ids):
        return [str(i) for i in ids]
    # the format of thresher.cards.dataset_card.class_label; here the names come aligned with the ids
    return [str(i) if str(n) == str(i) else f"{i} ({n})" for i, n in zip(ids, names, strict=True)]


def _is_baseline(record: Mapping[str, Any]) -> bool:
    return _method(record) in BASELINE_METHODS or record.get("ratio") == 0.0


def report_notes(
    records: Sequence[Mapping[str, Any]],
    drawn: Sequence[Mapping[str, Any]],
    left_out: Sequence[Mapping[str, Any]],
) -> list[str]:
    """The page's warnings: a poor evaluation classifier, and the evaluations left out of the figures."""
    poor = {
        _run_name(r): accuracy
        for r in records
        if (accuracy := poor_classifier_accuracy(r["metrics"])) is not None
    }
    warning = classifier_warning(poor)
    left = left_out_note(drawn, left_out, _run_name)
    return [note for note in (warning, left) if note]


def _x_key(records: Sequence[Mapping[str, Any]]) -> str:
    return "ratio" if any(r.get("ratio") is not None for r in records) else "size"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def metrics_figure(records: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> Figure | None:
    """One panel per metric: a line per method over the pruning ratio (mean ± std over repeated runs).

    Records with no place on the axis (``--images`` evaluations: no ratio, no size) are left out."""
    x_key = _x_key(records)
    records = [r for r in records if _is_baseline(r) or r.get(x_key) is not None]
    metrics = [m for m in metrics if any(_finite(r["metrics"].get(m)) for r in records)]
    if not metrics:
        return None
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        label, lower_better = METRIC_LABELS.get(metric, (metric, False))
        baseline = [
            r["metrics"][metric] for r in records if _is_baseline(r) and _finite(r["metrics"].get(metric))
        ]
        if baseline:
            ax.axhline(
                float(np.mean(baseline)), color="black", linestyle="--", linewidth=1, label="full data"
            )
        points: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in records:
            value, x = r["metrics"].get(metric), r.get(x_key)
            if not _is_baseline(r) and _finite(value) and x is not None:
                points[_method(r)][float(x)].append(float(value))
        for method in sorted(points):
            xs = sorted(points[method])
            means = [float(np.mean(points[method][x])) for x in xs]
            stds = [float(np.std(points[method][x])) for x in xs]
            ax.errorbar(xs, means, yerr=stds if any(stds) else None, marker="o", capsize=3, label=method)
        ax.set_title(f"{label} ({'lower' if lower_better else 'higher'} is better)", fontsize=9)
        ax.set_xlabel("pruning ratio (fraction removed)" if x_key == "ratio" else "training-set size")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _run_label(record: Mapping[str, Any]) -> str:
    ratio = record.get("ratio")
    suffix = f" @{ratio:g} removed" if isinstance(ratio, int | float) else ""
    method = _method(record)
    return _run_name(record) if method == "–" and not suffix else f"{_run_name(record)} ({method}{suffix})"


def shares_figure(records: Sequence[Mapping[str, Any]], kind: str = "class") -> Figure | None:
    """Share of generated samples per class/cluster for each run, its training-data share beside it."""
    records = [r for r in records if r["metrics"].get(f"{kind}_share_gen") is not None]
    if not records:
        return None
    ids = list(records[0]["metrics"][f"{kind}_ids"])
    reference = records[0]["metrics"].get(f"{kind}_share_reference")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width_in = min(24.0, max(6.0, 0.35 * len(ids) * max(1, len(records)))) if len(ids) <= MANY_GROUPS else 9.0
    fig, ax = plt.subplots(figsize=(width_in + 2.5, 3.8))
    if len(ids) > MANY_GROUPS:
        # Sort groups by the reference share so runs are comparable as curves.
        order = np.argsort(reference)[::-1] if reference is not None else np.arange(len(ids))
        for i, r in enumerate(records):
            ax.plot(
                np.asarray(r["metrics"][f"{kind}_share_gen"])[order],
                color=colors[i % len(colors)],
                label=_run_label(r),
            )
        if reference is not None:
            ax.plot(np.asarray(reference)[order], color="black", linestyle="--", label="reference")
        ax.set_xlabel(f"{kind} (sorted by reference share)")
    else:
        pos = np.arange(len(ids))
        width = 0.8 / (2 * len(records))
        for i, r in enumerate(records):
            color = colors[i % len(colors)]
            left = pos - 0.4 + 2 * i * width
            ax.bar(
                left, r["metrics"][f"{kind}_share_gen"], width, align="edge", color=color, label=_run_label(r)
            )
            train = r["metrics"].get(f"{kind}_share_train")
            if train is not None:
                ax.bar(
                    left + width,
                    train,
                    width,
                    align="edge",
                    color=color,
                    alpha=0.35,
                    hatch="//",
                    label=f"{_run_name(r)} training data",
                )
        if reference is not None:
            ax.scatter(pos, reference, marker="_", s=300, color="black", zorder=3, label="reference")
        names = _group_names(records[0]["metrics"], kind)
        ax.set_xticks(pos, names, rotation=90 if max(map(len, names)) * len(names) > 60 else 0)
        ax.set_xlabel(kind)
    ax.axhline(1.0 / len(ids), color="grey", linestyle=":", linewidth=1, label="uniform")
    ax.set_ylabel("share of samples")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never hides bars
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def save_sample_grid(images: np.ndarray, path: Path, *, columns: int = 10, min_tile: int = 64) -> Path:
    """Save a grid of uint8 images as a PNG; small images are enlarged (nearest) to ``min_tile`` pixels."""
    images = check_images(images)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + 2), columns * (w + 2), c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * (h + 2) + 1 : r * (h + 2) + 1 + h, col * (w + 2) + 1 : col * (w + 2) + 1 + w] = img
    picture = Image.fromarray(grid[..., 0] if c == 1 else grid)
    scale = max(1, math.ceil(min_tile / max(h, w)))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


def format_kid(value: float) -> str:
    """KID for a table: ``18.61`` at magnitude 1 and above (KID on unnormalized features can be large),
    ``1.23e-03`` below (Inception KIDs are 1e-4 to 1e-1; the unbiased estimate can be slightly negative),
    ``0`` for zero."""
    if value == 0:
        return "0"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.2e}"


def format_metric(value: Any, key: str) -> str:
    """A metric value as a table cell: ``–`` when missing or not finite, KID by ``format_kid``, other
    floats to 3 significant digits (whole numbers from 1000 on), anything else as ``str``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if key == "kid":
        return format_kid(float(value))
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def headline_rows(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the headline table (one row per record, sorted by method then ratio). Where the
    records are not all comparable, the reference and features of each are columns too."""
    columns = [c for c in TABLE_COLUMNS if any(r["metrics"].get(c) is not None for r in records)]
    mixed = len({comparison_of(r) for r in records}) > 1
    header = ["run", "method", RATIO_HEADING, "n"]
    header += ["reference (n)", "features"] if mixed else []
    header += [METRIC_LABELS.get(c, (c, False))[0] for c in columns]
    ordered = sorted(records, key=lambda r: (_method(r), r.get("ratio") or 0))
    rows = []
    for r in ordered:
        row = [
            _run_name(r),
            _method(r),
            format_metric(r.get("ratio"), "ratio"),
            format_metric(r["metrics"].get("n_generated"), "n"),
        ]
        if mixed:
            against, extractor, _, n_reference = comparison_of(r)
            row += [f"{against} ({format_metric(n_reference, 'n')})", str(extractor)]
        rows.append(row + [format_metric(r["metrics"].get(c), c) for c in columns])
    return header, rows


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def write_report(
    records: Sequence[Mapping[str, Any]],
    out_dir: Path,
    *,
    title: str = "thresher evaluation",
    metrics: Sequence[str] = tuple(METRIC_LABELS),
) -> ReportFiles:
    """Write PNG figures, ``report.md`` and a self-contained ``report.html`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, Path]] = []
    drawn, left_out = comparable(records)
    notes = report_notes(records, drawn, left_out)
    named = [
        ("FID vs pruning ratio (fraction removed)", "fid_vs_ratio.png", metrics_figure(drawn, ["fid"])),
        (
            "All metrics vs pruning ratio (fraction removed)",
            "metrics_vs_ratio.png",
            metrics_figure(drawn, metrics),
        ),
        ("Class shares of generated samples", "class_shares.png", shares_figure(drawn, "class")),
        ("Cluster shares of generated samples", "cluster_shares.png", shares_figure(drawn, "cluster")),
    ]
    for caption, filename, fig in named:
        if fig is not None:
            fig.savefig(out_dir / filename, dpi=110)
            plt.close(fig)
            figures.append((caption, out_dir / filename))
    grids = [(_run_label(r), Path(r["grid"])) for r in records if r.get("grid") and Path(r["grid"]).is_file()]

    header, rows = headline_rows(records)
    # Run labels, dataset and class names are data: escaped for Markdown (cards/markdown.py).
    md = [
        f"# {md_text(title)}",
        "",
        *[line for note in notes for line in (f"**{md_text(note)}**", "")],
        "| " + " | ".join(map(md_text, header)) + " |",
        "|" + "---|" * len(header),
    ]
    md += ["| " + " | ".join(map(md_text, row)) + " |" for row in rows]
    for caption, path in figures:
        md += ["", f"## {md_text(caption)}", "", f"![{md_alt(caption)}]({md_link(path.name)})"]
    if grids:
        md += ["", "## Samples"]
        for label, path in grids:
            md += [
                "",
                f"**{md_text(label)}**",
                "",
                f"![{md_alt(label)}]({md_link(os.path.relpath(path, out_dir))})",
            ]
    markdown = out_dir / "report.md"
    markdown.write_text("\n".join(md) + "\n")

    esc = html.escape
    table = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    body = [f"<h1>{esc(title)}</h1>", *[f"<p><strong>{esc(note)}</strong></p>" for note in notes]]
    body.append(f"<table>{table}</table>")
    for caption, path in figures:
        body.append(f'<h2>{esc(caption)}</h2><img alt="{esc(caption)}" src="{_data_uri(path)}">')
    if grids:
        body.append("<h2>Samples</h2>")
        for label, path in grids:
            body.append(f'<h3>{esc(label)}</h3><img alt="{esc(label)}" src="{_data_uri(path)}">')
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%}"
    )
    page = out_dir / "report.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
    return ReportFiles(markdown=markdown, html=page, figures=[p for _, p in figures], notes=notes)
