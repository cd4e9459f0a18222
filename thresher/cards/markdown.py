"""Strings from data, made safe for the Markdown thresher writes (cards, reports) and the SQL it shows.

A class or folder name, a subset name or a path reaches Markdown that any CommonMark renderer turns into
HTML (the Hub's dataset page, GitHub, the service): raw, ``<img src=x onerror=…>`` becomes a live element,
a ``|`` adds a table column and a newline ends the table (hardening item 25). Each function here is for one
place in Markdown; the escapes are CommonMark's own (backslash before ASCII punctuation, character
references for ``<``, ``>`` and ``&``), so renderers show the text exactly as it was.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

# What can start markup anywhere in a line (emphasis, code, links, tables, strikethrough); ``<``, ``>`` and
# ``&`` become character references instead.
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
# What starts markup only at the beginning of a line: a heading, a list item, a quote.
_LINE_START = re.compile(r"^(#|[-+]\s)")
_ORDERED_ITEM = re.compile(r"^(\d+)([.)])(\s)")
_BACKTICKS = re.compile(r"`+")


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def md_text(value: object) -> str:
    """Inline text (a heading, a table cell, a paragraph): HTML-escaped, Markdown punctuation escaped, one
    line."""
    text = _PUNCTUATION.sub(r"\\\1", html.escape(_one_line(value), quote=False))
    if _LINE_START.match(text):
        return "\\" + text
    return _ORDERED_ITEM.sub(r"\1\\\2\3", text)  # "1. x" → "1\. x" (a backslash before a digit is no escape)


def md_code(value: object, *, in_table: bool = False) -> str:
    """A code span showing ``value`` verbatim: fenced with more backticks than any run inside it (CommonMark),
    one line; in a table a ``|`` is escaped (GFM reads ``\\|`` as a pipe even inside code)."""
    text = _one_line(value)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def md_list(lines: list[str]) -> str:
    """A bullet list with one item per line, each escaped as inline text (:func:`md_text`): lines that
    hold data (class names) and must not become markup, not even inside a code block."""
    return "\n".join(f"- {md_text(line)}" for line in lines)


def md_alt(value: object) -> str:
    """The alt text of an image, ``![…](…)``."""
    return md_text(value)


def md_link(path: object) -> str:
    """A relative link target: percent-encoded, so spaces, parentheses and quotes do not end it."""
    return quote(str(path), safe="/")


def sql_literal(value: object) -> str:
    """A SQL string literal (quotes doubled), for the queries a card or report shows."""
    return "'" + str(value).replace("'", "''") + "'"
