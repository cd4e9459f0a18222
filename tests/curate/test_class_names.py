"""Class names where the source has them: the dataset card's class table and the before/after plots."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt

from thresher.cards.dataset_card import class_label, render_dataset_card
from thresher.curate.subset_plots import counts_figure, plot_counts_before_after


def _stats() -> dict:
    return {
        "name": "pets",
        "version": 1,
        "n_kept": 9,
        "n_source": 15,
        "revision": "abc",
        "method": "random",
        "params": {"ratio": 0.4},
        "class_counts_before": {"0": 10, "1": 5},
        "class_counts_after": {"0": 5, "1": 4},
    }


def _source(names: list[str] | None) -> dict:
    return {
        "id": "pets",
        "uri": "/data/pets",
        "kind": "folder",
        "split": "train",
        "label_names": json.dumps(names) if names else None,  # as the catalog stores it
        "license": None,
    }


def _card(names: list[str] | None):
    return render_dataset_card(_stats(), _source(names), data_files=None, load_path=".", query_path=".")


def test_the_card_class_table_names_the_classes_and_keeps_the_ids():
    card = _card(["cat", "dog"])
    text = str(card)
    assert "| 0 (cat) | 10 | 5 | 50.0% |" in text and "| 1 (dog) | 5 | 4 | 80.0% |" in text
    assert card.data.thresher["label_names"] == ["cat", "dog"]
    assert card.data.thresher["class_counts_before"] == {"0": 10, "1": 5}  # machine-readable: ids


def test_the_card_shows_bare_ids_without_names_or_when_the_names_are_the_ids():
    for names in (None, ["0", "1"]):
        text = str(_card(names))
        assert "| 0 | 10 | 5 | 50.0% |" in text and "(cat)" not in text


def test_class_label():
    assert class_label(3, ["a", "b", "c", "cat"]) == "3 (cat)"
    assert class_label("3", ["0", "1", "2", "3"]) == "3"
    assert class_label(7, ["a"]) == "7" and class_label(-1, ["a"]) == "-1"
    assert class_label(None, ["a"]) == "–" and class_label(2, None) == "2"


def test_before_after_plot_ticks_name_the_classes(tmp_path):
    fig = counts_figure({"0": 10, "1": 5}, {"0": 5, "1": 4}, "class", names=["cat", "dog"])
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    plt.close(fig)
    assert ticks == ["0 (cat)", "1 (dog)"]  # sorted by size before
    fig = counts_figure({"2": 3, "0": 9}, {"2": 3, "0": 1}, "cluster")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "2"]
    plt.close(fig)
    path = plot_counts_before_after({"0": 10}, {"0": 5}, "class", tmp_path / "p" / "c.png", names=["cat"])
    assert path.read_bytes().startswith(b"\x89PNG")
