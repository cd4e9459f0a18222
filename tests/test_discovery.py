"""Registries find their entries: every module of a package, then the modules an environment variable
names; a named module that is missing or declares nothing is an error naming the variable."""

from __future__ import annotations

import pytest

from thresher.discovery import declarations


def test_a_named_module_declares_entries_and_bad_names_fail_loudly(tmp_path, monkeypatch):
    (tmp_path / "thresher_one_plugin.py").write_text("ITEMS = ['plugin']\n")
    (tmp_path / "thresher_empty_plugin.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("THRESHER_TEST_PLUGINS", " thresher_one_plugin , ")
    assert declarations("thresher.curate.scores.methods", "ITEMS", "THRESHER_TEST_PLUGINS") == ["plugin"]
    monkeypatch.setenv("THRESHER_TEST_PLUGINS", "thresher_no_such_plugin")
    with pytest.raises(
        ImportError, match="THRESHER_TEST_PLUGINS names 'thresher_no_such_plugin', which cannot"
    ):
        declarations("thresher.curate.scores.methods", "ITEMS", "THRESHER_TEST_PLUGINS")
    monkeypatch.setenv("THRESHER_TEST_PLUGINS", "thresher_empty_plugin")
    with pytest.raises(ImportError, match="names 'thresher_empty_plugin', which declares no ITEMS"):
        declarations("thresher.curate.scores.methods", "ITEMS", "THRESHER_TEST_PLUGINS")
