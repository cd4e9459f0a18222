"""Driving the web app in a real Chromium (Debian's ``chromium``, never a downloaded one) with Playwright:
launching it, waiting for a page, queueing a job from the dashboard's form and following it to its end.
Shared by the browser tests and ``benchmarks/service_screenshots.py``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_or_skip() -> Path:
    """Debian's Chromium; without it the test is skipped, or fails when THRESHER_REQUIRE_BROWSER=1 (CI)."""
    import pytest

    if not CHROMIUM.exists():
        if os.environ.get("THRESHER_REQUIRE_BROWSER") == "1":
            pytest.fail("THRESHER_REQUIRE_BROWSER=1 but no /usr/bin/chromium: run .ci/install-browser")
        pytest.skip("no /usr/bin/chromium (Debian package `chromium`; .ci/install-browser installs it)")
    return CHROMIUM


def launch(playwright: Any):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_page(page: Any, base: str, route: str, timeout: float = 60_000) -> None:
    """Go to ``#/route`` and wait until the app has rendered it (``main[data-ready]`` names the route)."""
    page.goto(f"{base}/#/{route}")
    page.locator(f'main[data-ready="#/{route}"]').wait_for(timeout=timeout)


def queue_job(page: Any, command: str, fields: dict[str, str]) -> str:
    """Fill the dashboard's new-job form for ``command`` and submit it; returns the job's id."""
    page.select_option("#job-command", command)
    for name, value in fields.items():
        if "." in name:  # a field of a nested config: open its group first
            group = page.locator(f'#job-form details[data-field="{name.split(".")[0]}"]')
            if group.get_attribute("open") is None:
                group.locator("summary").click()
        control = page.locator(f'#job-form [name="{name}"]')
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.click("#job-submit")
    message = page.locator("#job-form .form-message")
    message.filter(has_text="queued").or_(message.filter(has_text="error")).wait_for()
    text = message.text_content() or ""
    assert text.startswith("queued "), text
    return text.removeprefix("queued ").strip()


def wait_for_job(page: Any, job_id: str, timeout: float = 180_000) -> Any:
    """Wait until the dashboard shows the job finished; returns its list item."""
    item = page.locator(f'li.job[data-job="{job_id}"]')
    finished = (
        ":is([data-state=succeeded], [data-state=failed], [data-state=cancelled], [data-state=interrupted])"
    )
    page.locator(f'li.job[data-job="{job_id}"]{finished}').wait_for(timeout=timeout)
    state = item.get_attribute("data-state")
    assert state == "succeeded", f"{job_id}: {state}: {item.text_content()}"
    return item
