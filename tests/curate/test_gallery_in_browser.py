"""The gallery page in a real browser (issue 16.4): headless Chromium (Debian's ``chromium`` package, which
.ci/install-browser installs; nothing is downloaded at run time) loads the published page, every image in
it decodes, and a screenshot is saved. Skipped where Chromium is absent, unless THRESHER_REQUIRE_BROWSER=1
(CI) makes that a failure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import fake_clustering
from thresher.curate.config import PublishConfig, SelectConfig
from thresher.curate.publish import publish
from thresher.curate.select import select

# Appended to a copy of the page: on load, the title says how many images decoded.
PROBE = (
    "<script>window.addEventListener('load', () => { const all = [...document.images]; document.title = "
    "'images:' + all.filter(i => i.complete && i.naturalWidth > 0).length + '/' + all.length; });</script>"
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("THRESHER_REQUIRE_BROWSER") == "1":
            pytest.fail("THRESHER_REQUIRE_BROWSER=1 but no chromium: run .ci/install-browser")
        pytest.skip("no chromium (Debian package `chromium`; .ci/install-browser installs it)")
    return found


def _browse(chromium: str, *args: str) -> str:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=5000",
    ]
    done = subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120)
    return done.stdout


def test_every_gallery_image_loads_in_chromium(mnist_lt, tmp_path):
    chromium = _chromium()
    fake_clustering(mnist_lt, "mnist-lt")
    subset = select(mnist_lt, SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.8))
    publish(mnist_lt, PublishConfig(ref=subset.ref, to=str(tmp_path / "pub")))
    page = tmp_path / "pub" / "v1" / "gallery" / "index.html"
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = _browse(chromium, "--dump-dom", probe.as_uri())
    loaded, total = map(int, re.search(r"<title>images:(\d+)/(\d+)</title>", dom).groups())
    assert total == 2 + 10 and loaded == total  # histogram, shares and the 10 clusters' strips
    shot = tmp_path / "gallery.png"
    _browse(chromium, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000
