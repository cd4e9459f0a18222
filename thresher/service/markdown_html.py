"""Markdown (dataset cards, sweep reports) as HTML the web app can show: every string escaped.

markdown-it-py with raw HTML off: a class folder named ``<img src=x onerror=alert(1)>`` in a card's table
becomes text, never an element; links keep only the schemes markdown-it validates (no ``javascript:``).
Relative links and images (a card's ``gallery/…png``) are pointed at the API route that serves the files of
the page they belong to; table alignment becomes a class, since the Content-Security-Policy forbids inline
style.
"""

from __future__ import annotations

from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

_ALIGN_CLASSES = {"text-align:right": "right", "text-align:center": "center", "text-align:left": "left"}


def markdown_to_html(text: str, files_url: str) -> str:
    """``text`` rendered; relative URLs resolved against ``files_url`` (ending with ``/``)."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for token in _walk(tokens):
        for attribute in ("src", "href"):
            url = token.attrGet(attribute)
            if isinstance(url, str) and _relative(url):
                token.attrSet(attribute, files_url + url.removeprefix("./"))
        style = token.attrGet("style")
        if style is not None:
            del token.attrs["style"]
            if style in _ALIGN_CLASSES:
                token.attrSet("class", _ALIGN_CLASSES[style])
    return md.renderer.render(tokens, md.options, {})


def strip_front_matter(text: str) -> str:
    """A card without its YAML header (the metadata the Hub reads; the page shows the stats instead)."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end >= 0:
            return text[end + 5 :]
    return text


def _relative(url: str) -> bool:
    return bool(url) and ":" not in url.split("/", 1)[0] and not url.startswith(("/", "#", "?"))


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)
