"""Debian's Chromium for the browser tests, driven by Playwright (no `playwright install`: it
downloads browsers). Tests skip with a reason only where no Chromium is found, never in CI
(`.ci/run` installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SHOTS = Path(__file__).parents[1] / "runs" / "test-screenshots"


def chromium() -> str | None:
    return os.environ.get("FUGATO_CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)


if chromium() is None and os.environ.get("CI"):
    raise RuntimeError("CI must run the browser tests: .ci/run installs Chromium")
needs_chromium = pytest.mark.skipif(chromium() is None,
                                    reason="no Chromium found (apt-get install chromium)")


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium (as root it needs --no-sandbox; audio may start without a click)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
