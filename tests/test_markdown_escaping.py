"""Strings from data in thresher's Markdown render as the same text in a CommonMark renderer, and the SQL
a card shows parses to the path it names (hardening item 25)."""

from __future__ import annotations

import duckdb
import pytest
from markdown_it import MarkdownIt

from thresher.cards.markdown import md_code, md_text, sql_literal

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "a|b|c",
    "line\nbreak",
    "*bold* _it_ `code` [link](http://x) ~~s~~",
    "# heading",
    "- item",
    "1. first",
    "&amp; back\\slash",
]


def _render(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(markdown)


def _text_of(html: str) -> str:
    import html as html_lib
    import re

    return html_lib.unescape(re.sub(r"<[^>]+>", "", html)).strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_text_renders_as_itself_and_never_as_markup(value):
    rendered = _render(md_text(value))
    assert rendered.startswith("<p>") and rendered.count("<") == 2  # one paragraph, no other element
    assert _text_of(rendered) == " ".join(value.split())


@pytest.mark.parametrize("value", HOSTILE + ["``two`` ticks", "`edge`"])
def test_code_spans_show_the_value_verbatim(value):
    rendered = _render(md_code(value))
    assert "<img" not in rendered and rendered.count("<code>") == 1
    assert _text_of(rendered) == " ".join(value.split())


def test_table_cells_keep_the_table_shape():
    row = "| " + " | ".join([md_text("a|b"), md_code("x|y", in_table=True), md_text("c\nd")]) + " |"
    table = _render("| one | two | three |\n|---|---|---|\n" + row + "\n")
    assert table.count("<td>") == 3 and "<img" not in table
    cells = [_text_of(c) for c in table.split("<td>")[1:]]
    assert cells == ["a|b", "x|y", "c d"]


def test_a_sql_literal_parses_to_the_path_it_quotes():
    path = '/data/it\'s a "folder"/ids.parquet'
    assert duckdb.connect().execute(f"SELECT {sql_literal(path)}").fetchone()[0] == path
