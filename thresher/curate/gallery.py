"""What a selection kept and removed, as pictures: per cluster a strip of kept samples nearest the centroid
beside removed ones, the score histogram with the cut, and class/cluster shares before and after. Written
into every published version (``gallery/`` next to the card, linked from it) and by ``select --preview``.

A picture never fails a publish: rows whose images cannot be read get a grey placeholder tile, a source
without labels gets no label captions, and anything else that goes wrong is reported by the caller as a
warning with no gallery.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from thresher.cards.markdown import md_alt, md_code, md_link
from thresher.catalog.workspace import Workspace  # noqa: E402
from thresher.errors import ThresherError  # noqa: E402

THUMB = 40  # thumbnail side in pixels: a version stays small
PER_SIDE = 8  # kept and removed samples shown per cluster


@dataclass
class GalleryFiles:
    folder: Path
    html: Path
    images: list[tuple[str, Path]] = field(default_factory=list)  # (caption, file)

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


def write_gallery(
    ws: Workspace,
    stats: dict[str, Any],
    kept_ids: np.ndarray,
    out: Path,
    *,
    max_clusters: int = 24,
) -> GalleryFiles:
    """The gallery of one selection (``stats`` as in stats.json, ``kept_ids`` its kept sample ids)."""
    from thresher.catalog.samples import label_names, ok_sample_ids

    out.mkdir(parents=True, exist_ok=True)
    source = stats["source"]
    pool = np.asarray(ok_sample_ids(ws, source), dtype=np.int64)
    kept = np.isin(pool, np.asarray(kept_ids, dtype=np.int64))
    cluster, distance = _clusters(ws, stats.get("params", {}).get("clustering"), pool)
    labels = _labels(ws, source, pool)
    names = label_names(ws, source) if labels is not None else None
    files = GalleryFiles(out, out / "index.html")

    score_plot = _score_histogram(ws, stats.get("score_run"), pool, kept, out / "scores.png")
    if score_plot:
        files.images.append(("selection score of kept and removed samples", score_plot))
    shares = _shares(cluster, labels, names, kept, out / "shares.png", stats.get("balance") or {})
    if shares:
        kinds = " and ".join(k for k, v in (("class", labels), ("cluster", cluster)) if v is not None)
        files.images.append((f"{kinds} shares before and after", shares))

    order = _clusters_by_size(cluster)
    shown = order[:max_clusters]
    strips = []
    for c in shown:
        members = np.flatnonzero(cluster == c) if cluster is not None else np.arange(len(pool))
        by_distance = (
            members[np.argsort(distance[members], kind="stable")] if distance is not None else members
        )
        strips.append(
            (
                c,
                members,
                by_distance[kept[by_distance]][:PER_SIDE],
                by_distance[~kept[by_distance]][:PER_SIDE],
            )
        )
    # Every thumbnail in one decoding pass (opening a source can be slow).
    needed = (
        np.unique(np.concatenate([np.concatenate([k, r]) for _, _, k, r in strips]))
        if strips
        else np.array([], int)
    )
    thumbs = dict(zip(needed.tolist(), _thumbnails(ws, source, pool[needed]), strict=True))
    for c, members, kept_rows, removed_rows in strips:
        caption = _caption(c, members, kept, labels, names)
        path = out / (f"cluster-{c:04d}.png" if cluster is not None else "all.png")
        _strip(
            [thumbs[r] for r in kept_rows.tolist()], [thumbs[r] for r in removed_rows.tolist()], caption, path
        )
        files.images.append((caption, path))
    hidden = len(order) - len(shown)
    _write_html(files, stats, hidden)
    return files


def _clusters(
    ws: Workspace, clustering: str | None, pool: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each pool row's cluster and distance to its centroid, from the clustering's scores (None without one)."""
    if not clustering:
        return None, None
    from thresher.catalog.scores import score_files

    try:
        table = pq.ParquetDataset([str(f) for f in score_files(ws, clustering)]).read(
            columns=["sample_id", "cluster", "distance"]
        )
    except (ThresherError, OSError):
        return None, None
    ids = table.column("sample_id").to_numpy()
    cluster = _by_id(ids, table.column("cluster").to_numpy(zero_copy_only=False), pool, -1, np.int64)
    distance = _by_id(ids, table.column("distance").to_numpy(zero_copy_only=False), pool, np.inf, np.float64)
    return cluster, distance


def _by_id(
    ids: np.ndarray, values: np.ndarray, wanted: np.ndarray, missing: float, dtype: type
) -> np.ndarray:
    """``values`` (one per id of ``ids``, any order) at each of ``wanted``, ``missing`` where an id has none
    (or a null value): one sort and one binary search, where a dict over 10⁶ rows cost seconds at publish."""
    order = np.argsort(ids, kind="stable")
    sorted_ids, sorted_values = ids[order], np.asarray(values)[order]
    out = np.full(len(wanted), missing, dtype=dtype)
    if len(sorted_ids) == 0:
        return out
    at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    picked = sorted_values[at].astype(np.float64)  # nulls arrive as NaN; cluster ids are exact in float64
    found = (sorted_ids[at] == wanted) & ~np.isnan(picked)
    out[found] = picked[found]
    return out
    at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    found = sorted_ids[at] == wanted
    picked = np.asarray(values, dtype=np.float64)[order][at] if dtype is np.float64 else values[order][at]
    valid = found & ~np.isnan(np.asarray(picked, dtype=np.float64))
    out[valid] = np.asarray(picked)[valid]
    return out


def _labels(ws: Workspace, source: str, pool: np.ndarray) -> np.ndarray | None:
    from thresher.catalog.samples import labels_of

    labels = labels_of(ws, source, pool)
    return None if (labels < 0).all() else labels


def _clusters_by_size(cluster: np.ndarray | None) -> list[int]:
    if cluster is None:
        return [-1]
    values, counts = np.unique(cluster[cluster >= 0], return_counts=True)
    return [int(v) for v in values[np.argsort(-counts, kind="stable")]]


def _caption(
    c: int, members: np.ndarray, kept: np.ndarray, labels: np.ndarray | None, names: list[str] | None
) -> str:
    head = f"cluster {c}" if c >= 0 else "all samples"
    text = f"{head}: {len(members)} -> {int(kept[members].sum())} kept"  # ASCII: the PNG font has no arrow
    if labels is not None:
        member_labels = labels[members]
        member_labels = member_labels[member_labels >= 0]
        if len(member_labels):
            values, counts = np.unique(member_labels, return_counts=True)
            top = int(values[np.argmax(counts)])
            name = names[top] if names and 0 <= top < len(names) else str(top)
            text += f", majority {name} ({counts.max() / len(member_labels):.0%})"
    return text


def _thumbnails(ws: Workspace, source: str, ids: np.ndarray) -> list[np.ndarray]:
    """RGB thumbnails of ``ids``; a row that cannot be read (source gone, file deleted) is a placeholder."""
    from thresher.catalog.samples import load_images

    if len(ids) == 0:
        return []
    try:
        images = load_images(ws, source, ids, size=THUMB)
        return [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im[..., :3] for im in images]
    except Exception:  # noqa: BLE001 - a missing image must never fail a publish
        return [_placeholder() for _ in ids]


def _placeholder() -> np.ndarray:
    tile = Image.new("RGB", (THUMB, THUMB), (200, 200, 200))
    draw = ImageDraw.Draw(tile)
    draw.line((4, 4, THUMB - 5, THUMB - 5), fill=(120, 120, 120), width=2)
    draw.line((4, THUMB - 5, THUMB - 5, 4), fill=(120, 120, 120), width=2)
    return np.asarray(tile)


def _strip(kept: list[np.ndarray], removed: list[np.ndarray], caption: str, path: Path) -> None:
    """Two rows of thumbnails (kept, removed), nearest the centroid first, with the caption above."""
    pad, label_width, caption_height = 2, 64, 16
    width = label_width + PER_SIDE * (THUMB + pad)
    canvas = Image.new("RGB", (width, caption_height + 2 * (THUMB + pad)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((2, 2), caption, fill=(0, 0, 0))
    for row, (name, thumbs) in enumerate((("kept", kept), ("removed", removed))):
        top = caption_height + row * (THUMB + pad)
        draw.text((2, top + THUMB // 2 - 6), name, fill=(0, 110, 0) if name == "kept" else (170, 0, 0))
        for j, thumb in enumerate(thumbs):
            canvas.paste(Image.fromarray(thumb.astype(np.uint8)), (label_width + j * (THUMB + pad), top))
    canvas.save(path, optimize=True)


def _score_histogram(
    ws: Workspace, score_run: str | None, pool: np.ndarray, kept: np.ndarray, path: Path
) -> Path | None:
    if not score_run:
        return None
    from thresher.catalog.scores import score_files

    try:
        table = pq.ParquetDataset([str(f) for f in score_files(ws, score_run)]).read(
            columns=["sample_id", "score"]
        )
    except (ThresherError, OSError):
        return None
    score = table.column("score").to_numpy(zero_copy_only=False)
    scores = _by_id(table.column("sample_id").to_numpy(), score, pool, np.nan, np.float64)
    finite = np.isfinite(scores)
    if not finite.any():
        return None
    fig, ax = plt.subplots(figsize=(5.5, 2.8))
    bins = np.histogram_bin_edges(scores[finite], bins=40)
    ax.hist(
        scores[finite & kept],
        bins=bins,
        alpha=0.6,
        color="tab:green",
        label=f"kept ({int((finite & kept).sum())})",
    )
    ax.hist(
        scores[finite & ~kept],
        bins=bins,
        alpha=0.6,
        color="tab:red",
        label=f"removed ({int((finite & ~kept).sum())})",
    )
    kept_s, removed_s = scores[finite & kept], scores[finite & ~kept]
    if len(kept_s) and len(removed_s):
        # One cut when the two sides do not overlap (a global rule); per-cluster quotas overlap and have none.
        if kept_s.max() <= removed_s.min() or removed_s.max() <= kept_s.min():
            cut = (
                (kept_s.max() + removed_s.min()) / 2
                if kept_s.max() <= removed_s.min()
                else (removed_s.max() + kept_s.min()) / 2
            )
            ax.axvline(cut, color="black", linestyle="--", linewidth=1, label=f"cut {cut:.3g}")
        else:
            ax.set_title("per-group cuts (the kept and removed ranges overlap)", fontsize=8)
    ax.set_xlabel("selection score")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# Share bars drawn per figure: above this, the commonest are drawn and the title says how many are left out.
MAX_SHARE_BARS = 80


def _shares(cluster: np.ndarray | None, labels: np.ndarray | None, names: list[str] | None, kept: np.ndarray,
            path: Path, balance: dict[str, Any]) -> Path | None:  # fmt: skip
    fig = shares_figure(cluster, labels, names, kept, balance)
    if fig is None:
        return None
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def shares_figure(cluster: np.ndarray | None, labels: np.ndarray | None, names: list[str] | None,
                  kept: np.ndarray, balance: dict[str, Any] | None = None) -> Figure | None:  # fmt: skip
    """Share of each class and cluster before and after, as horizontal bars: a name per row stays
    readable for 50 labels and more, where names under vertical bars overlap (hardening item 10). On the
    panel the balance report is about, a red x marks every group the selection dropped and the title gives
    the rarest third's share."""
    balance = balance or {}
    panels = [
        (kind, values) for kind, values in (("class", labels), ("cluster", cluster)) if values is not None
    ]
    if not panels:
        return None
    counts = [min(len(np.unique(values[values >= 0])), MAX_SHARE_BARS) for _, values in panels]
    height = max(2.8, 0.75 + 0.2 * max(counts))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), height), squeeze=False)
    for ax, (kind, values) in zip(axes[0], panels, strict=True):
        keys = np.unique(values[values >= 0])
        # Counts in one pass each (a mean per key was k passes over 10⁶ rows at publish).
        at = np.searchsorted(keys, values[values >= 0])
        before = np.bincount(at, minlength=len(keys)) / len(values)
        kept_at = np.searchsorted(keys, values[kept & (values >= 0)])
        after = np.bincount(kept_at, minlength=len(keys)) / max(int(kept.sum()), 1)
        order = np.argsort(-before, kind="stable")[:MAX_SHARE_BARS][::-1]  # commonest at the top
        y = np.arange(len(order))
        ax.barh(y + 0.2, 100 * before[order], 0.4, label="before", color="tab:gray")
        ax.barh(y - 0.2, 100 * after[order], 0.4, label="after", color="tab:blue")
        ticks = [names[k] if kind == "class" and names and k < len(names) else str(k) for k in keys[order]]
        ax.set_yticks(y, ticks, fontsize=7)
        ax.set_ylim(-0.6, len(order) - 0.4)
        ax.set_xlabel("% of rows")
        left_out = len(keys) - len(order)
        title = f"{kind} shares" + (
            f" (the {len(order)} largest; {left_out} more not drawn)" if left_out else ""
        )
        if balance.get("kind") == kind:
            gone = {g["key"] for g in balance["dropped"]}
            dropped = [row for row, k in enumerate(keys[order]) if int(k) in gone]
            if dropped:
                ax.plot(np.zeros(len(dropped)), np.array(dropped) - 0.2, "x", color="tab:red", markersize=7,
                        label=f"dropped ({len(dropped)})")  # fmt: skip
            title += (
                f"; rarest third {100 * balance['rare_share_before']:.1f}% -> "
                f"{100 * balance['rare_share_after']:.1f}%"
            )
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _write_html(files: GalleryFiles, stats: dict[str, Any], hidden: int) -> None:
    esc = html.escape
    title = f"{stats.get('name', 'selection')} v{stats.get('version', '?')}: what was kept and removed"
    body = [f"<h1>{esc(title)}</h1>",
            f"<p>{stats.get('n_kept')} of {stats.get('n_source')} rows kept by {esc(str(stats.get('method')))}.</p>"]  # fmt: skip
    balance = (stats.get("balance") or {}).get("lines") or []
    if balance:  # the lines `thresher select` printed (class names in them are data: escaped)
        body.append(f"<h2>Balance</h2><pre>{esc(chr(10).join(balance))}</pre>")
    for caption, path in files.images:
        data = base64.b64encode(path.read_bytes()).decode()
        body.append(f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(caption)}</figcaption></figure>")  # fmt: skip
    if hidden:
        body.append(f"<p>{hidden} smaller clusters are not shown (raise --gallery-clusters).</p>")
    files.html.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}figure{margin:1em 0}img{image-rendering:pixelated}"
        f"</style></head><body>{''.join(body)}</body></html>\n"
    )


def gallery_markdown(files: GalleryFiles, bundle: Path) -> str:
    """The card's section: every picture with a relative link (so it renders on the Hub's dataset page)."""
    page = files.html.relative_to(bundle).as_posix()
    lines = ["## What was kept and removed", "",
             f"Thumbnails ({THUMB}px) of kept samples nearest each cluster's centroid beside removed ones; "
             f"the whole gallery is one page: [{md_code(page)}]({md_link(page)}).", ""]  # fmt: skip
    for caption, path in files.images:  # captions hold class names: data
        lines += [f"![{md_alt(caption)}]({md_link(path.relative_to(bundle).as_posix())})", ""]
    return "\n".join(lines)
