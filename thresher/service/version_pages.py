"""A subset version's card and gallery as the web app shows them, drawn once per version and cached.

The gallery is what ``publish`` writes beside a card (``curate/gallery.py``): per cluster a strip of kept
samples nearest the centroid above removed ones, the score histogram, the class and cluster shares. The
service draws it for any version, published or not, into ``.serve/versions/<name>/v<N>-<config hash>/``
(a version never changes, so it is drawn once; built aside and renamed into place, so a reader never
sees half of one). The card is the one ``publish`` would write (``cards/dataset_card.py``), its gallery
section pointing at those files, rendered to HTML with every string escaped (``service/markdown_html.py``).
Files are served only from inside that folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.catalog.subset_versions import kept_ids, version_stats
from thresher.catalog.workspace import Workspace
from thresher.errors import NotFound
from thresher.service.inline_style import style_linked
from thresher.service.markdown_html import markdown_to_html, strip_front_matter

log = logging.getLogger(__name__)

GALLERY_CLUSTERS = 24  # publish's default (--gallery-clusters)
MEDIA_TYPES = {".png": "image/png", ".html": "text/html; charset=utf-8"}
_DRAWING = threading.Lock()  # matplotlib's pyplot keeps global state: one gallery is drawn at a time


@dataclass
class Gallery:
    folder: Path  # the version's folder under .serve/versions/
    images: list[dict[str, str]] = field(default_factory=list)  # caption, path relative to ``folder``
    page: str | None = None  # the one-page gallery, relative to ``folder``
    error: str | None = None  # why there is none (a picture never fails a page)


class VersionPages:
    def __init__(self, ws: Workspace, folder: Path) -> None:
        self.ws = ws
        self.folder = folder

    def gallery(self, row: dict[str, Any]) -> Gallery:
        """The version's gallery, drawn on first use."""
        folder = self._folder(row)
        listing = folder / "gallery.json"
        if not listing.is_file():
            with _DRAWING:
                if not listing.is_file():
                    error = self._draw(row, folder)
                    if error is not None:
                        return Gallery(folder, error=error)
        saved = json.loads(listing.read_text())
        return Gallery(folder, saved["images"], saved["page"])

    def card_html(self, row: dict[str, Any], files_url: str) -> tuple[str, str]:
        """(the card's Markdown without its YAML header, that Markdown as escaped HTML)."""
        from thresher.cards.dataset_card import render_dataset_card
        from thresher.curate.gallery import GalleryFiles, gallery_markdown

        stats = version_stats(row)
        gallery = self.gallery(row)
        section = None
        if gallery.page is not None:
            files = GalleryFiles(
                gallery.folder / "gallery",
                gallery.folder / gallery.page,
                [(image["caption"], gallery.folder / image["path"]) for image in gallery.images],
            )
            section = gallery_markdown(files, gallery.folder)
        card = render_dataset_card(
            stats,
            self.ws.source_row(row["source"]),
            data_files=None,
            load_path=f"{row['name']}@v{row['version']}",
            query_path=self.ws.to_stored(row["folder"]),
            gallery=section,
        )
        markdown = strip_front_matter(str(card))
        return markdown, markdown_to_html(markdown, files_url)

    def file(self, row: dict[str, Any], relative: str) -> tuple[Path, str]:
        """A file of the version's folder by its relative path, with its media type; NotFound for any path
        that leaves the folder, is not a file or not a picture or page."""
        folder = self._folder(row).resolve()
        path = (folder / relative).resolve()
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_relative_to(folder) or not path.is_file():
            raise NotFound(f"{row['name']}@v{row['version']} has no file {relative!r}")
        return path, media_type

    def _folder(self, row: dict[str, Any]) -> Path:
        # name and version come from the catalog row of a name that passed check_name
        return self.folder / row["name"] / f"v{int(row['version'])}-{row.get('config_hash') or 'none'}"

    def _draw(self, row: dict[str, Any], folder: Path) -> str | None:
        from thresher.curate.gallery import write_gallery

        staging = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            files = write_gallery(
                self.ws, version_stats(row), kept_ids(row), staging / "gallery", max_clusters=GALLERY_CLUSTERS
            )
            page = staging / "gallery" / "index.html"
            page.write_text(style_linked(page.read_text(), "gallery.css"))
            listing = {
                "images": [
                    {"caption": caption, "path": path.relative_to(staging).as_posix()}
                    for caption, path in files.images
                ],
                "page": files.html.relative_to(staging).as_posix(),
            }
            (staging / "gallery.json").write_text(json.dumps(listing))
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(folder)
        except Exception as exc:  # noqa: BLE001 - the version's page stands without its pictures
            shutil.rmtree(staging, ignore_errors=True)
            log.warning("no gallery for %s@v%s: %s", row["name"], row["version"], exc)
            return f"no gallery: {exc}"
        return None
