"""`thresher status`: each subset shows what determined it (in select's flags) and nothing that played no
part; every section's columns line up; a store whose first build failed is not there to be listed."""

from __future__ import annotations

import pytest

from thresher.catalog.image_store import list_stores
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.status import workspace_status
from thresher.curate.config import SelectConfig
from thresher.curate.select import select


def _subset_lines(ws) -> dict[str, str]:
    text = workspace_status(ws).render().splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith("subsets"))
    lines = []
    for line in text[start + 1 :]:
        if not line.strip():
            break
        lines.append(line)
    return {line.split()[0]: line for line in lines}


@pytest.fixture
def selected(clustered, tmp_path):
    for groups in ("cluster", "class"):
        select(clustered, SelectConfig(name=f"eq-{groups}", method="cluster", balance="equal", groups=groups))
    select(clustered, SelectConfig(name="plain", method="cluster", ratio=0.5))
    select(clustered, SelectConfig(name="rand", method="random", ratio=0.5, seed=7))
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(str(i) for i in ok_sample_ids(clustered, "mnist-lt")[:5]))
    select(clustered, SelectConfig(name="lasso", method="ids", ids_file=str(ids_file),
                                   polygon="[[0, 0], [1, 0], [0, 1]]", layout="layout-x"))  # fmt: skip
    return clustered


def test_subsets_that_differ_only_in_groups_print_differently(selected):
    lines = _subset_lines(selected)
    assert lines["eq-cluster@v1"].split("cluster", 1)[1] != lines["eq-class@v1"].split("cluster", 1)[1]
    assert "--groups cluster" in lines["eq-cluster@v1"] and "--groups class" in lines["eq-class@v1"]
    assert "--balance equal" in lines["eq-class@v1"]


def test_status_hides_settings_that_decide_nothing(selected):
    lines = _subset_lines(selected)
    assert "--ratio 0.5" in lines["rand@v1"] and "--seed 7" in lines["rand@v1"]
    assert "--keep" not in lines["rand@v1"]  # either end of a random order is a uniform draw
    assert "--keep nearest" in lines["plain@v1"] and "--seed" not in lines["plain@v1"]
    assert "--groups" not in lines["plain@v1"] and "--balance" not in lines["plain@v1"]
    assert "--ids" in lines["lasso@v1"]  # the file decides; the lasso only records where it came from
    for absent in ("--ratio", "--keep", "--epsilon", "--polygon", "--layout"):
        assert absent not in lines["lasso@v1"], absent
    for line in lines.values():
        assert "epsilon" not in line


def test_subset_columns_line_up(selected):
    lines = list(_subset_lines(selected).values())
    source_column = {line.index(" from ") for line in lines}
    after_source = [line[line.index(" from mnist-lt") + len(" from mnist-lt") :] for line in lines]
    method_column = {len(rest) - len(rest.lstrip()) for rest in after_source}
    assert len(lines) == 5 and len(source_column) == 1 and len(method_column) == 1, lines


def test_a_failed_first_store_build_leaves_no_store(mnist_lt, monkeypatch):
    import thresher.catalog.image_store_build as build

    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    build.open_store(mnist_lt, "mnist-lt", ids[:10], part_rows=256)  # one store with a part

    def broken(*args, **kwargs):
        raise RuntimeError("decoder crashed")

    monkeypatch.setattr(build, "_build", broken)
    for size in (16, None):  # a new store, then the existing one
        with pytest.raises(RuntimeError):
            build.open_store(mnist_lt, "mnist-lt", ids[300:310] if size is None else ids[:10], size=size,
                             part_rows=256)  # fmt: skip
    stores = list_stores(mnist_lt)
    assert [(s["size"], s["parts"]) for s in stores] == [(None, 1)]
    assert (
        "image stores:\n  mnist-lt  pixels  native size  256 rows in 1 part  "
        in workspace_status(mnist_lt).render()
    )
