"""A card of a source with hostile class names renders them as text and keeps its tables' shape; its SQL
snippet runs on the published files (hardening item 25)."""

from __future__ import annotations

import re

import duckdb
import numpy as np
from markdown_it import MarkdownIt
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.curate.config import PublishConfig, SelectConfig
from thresher.curate.publish import publish
from thresher.curate.select import select

CLASSES = ["<img src=x onerror=alert(1)>", "pipe|name", "it's `tick`", "plain"]


def test_hostile_class_names_are_text_in_the_card_and_its_sql_runs(workspace, tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for c, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{c}-{i}.png")
    source = ingest(workspace, IngestConfig(source=str(folder))).source_id
    select(workspace, SelectConfig(name="half", method="random", ratio=0.5, source=source))
    destination = tmp_path / "it's published"
    publish(workspace, PublishConfig(ref="half@v1", to=str(destination)))
    card = (destination / "v1" / "README.md").read_text()
    body = card.split("---", 2)[2]
    html = MarkdownIt("commonmark").enable("table").render(body)

    assert 'src="x"' not in html and "onerror" not in re.sub(
        r"&lt;img src=x onerror=alert\(1\)&gt;", "", html
    )
    rows = [r for r in html.split("<tr>") if "<td>" in r]
    class_rows = [r for r in rows if any(n.split()[0].replace("<", "&lt;")[:8] in r for n in CLASSES)]
    assert len(class_rows) == len(CLASSES)
    assert all(r.count("<td") == 4 for r in class_rows)  # class | before | after | kept
    text = re.sub(r"<[^>]+>", "", html)
    import html as html_lib

    shown = html_lib.unescape(text)
    for name in CLASSES:
        assert name in shown, name

    sql = re.search(r"```sql\n-- DuckDB\n(.*?)\n```", card, re.S).group(1)
    counts = duckdb.connect().execute(sql).fetchall()
    assert sum(n for _, n in counts) == 12


def test_balance_lines_become_list_items_that_show_class_names_as_text():
    import html as html_lib

    from thresher.cards.markdown import md_list

    lines = [
        "class shares, source → selection:",
        "  0 (<img src=x onerror=alert(1)>)   50.0% →  50.0%  (20 → 10)",
        "  1 (pipe|name)  50.0% → 50.0%",
        "# not a heading",
        "dropped entirely: 1 class: 2 (it's `tick`)",
    ]
    rendered = MarkdownIt("commonmark").enable("table").render(md_list(lines))
    assert "<img" not in rendered and "<h1>" not in rendered and "<table" not in rendered
    items = re.findall(r"<li>(.*?)</li>", rendered, re.S)
    shown = [html_lib.unescape(re.sub(r"<[^>]+>", "", item)) for item in items]
    assert shown == [" ".join(line.split()) for line in lines]
