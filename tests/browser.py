"""Debian's Chromium driven by Playwright, for the browser tests.

Playwright's own browser download cannot be reached from these machines, so
the system Chromium is used (``.ci/run`` installs it when missing). The tests
are never skipped in CI: without Chromium or Playwright they fail there, and
skip only on a developer's machine that lacks them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def require_browser() -> None:
    """Fail in CI, skip elsewhere, when Chromium or Playwright is missing."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} (apt-get install chromium)"
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI, but {missing} is missing")
    pytest.skip(f"{missing} is missing")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (closed on exit)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watch_errors(page: Any) -> list[str]:
    """Collect the page's console errors and uncaught exceptions as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    return errors
