"""Pages other commands write with an inline stylesheet (the gallery, a sweep's report), served by the
service with the same rules from the app's static files instead: the service's Content-Security-Policy
allows no inline style, and a page it blocks renders unstyled (a published page keeps its own)."""

from __future__ import annotations

import re

_STYLE = re.compile(r"<style>.*?</style>", re.DOTALL)


def style_linked(page: str, stylesheet: str) -> str:
    """``page`` with its first ``<style>`` block replaced by links to ``/static/<stylesheet>`` and the icon."""
    head = f'<link rel="icon" href="/static/favicon.svg"><link rel="stylesheet" href="/static/{stylesheet}">'
    return _STYLE.sub(lambda _match: head, page, count=1)
