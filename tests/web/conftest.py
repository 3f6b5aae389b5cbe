"""Fixtures for real-browser tests of the sandbox chat page: the sandbox (stand-in + bot + demo
community) started in the test's event loop, and a headless Chromium driven by Playwright.

Chromium is required: CI installs it (Debian package, /usr/bin/chromium). Without it these tests
fail with a clear message, unless LINLI_SKIP_BROWSER=1 is set, in which case they are skipped."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from bot.sandbox import Sandbox

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _skip_browser() -> bool:
    return os.environ.get("LINLI_SKIP_BROWSER", "").strip() == "1"


def chromium_path() -> str:
    """The Chromium executable, or fail (skip with LINLI_SKIP_BROWSER=1) with a clear reason."""
    explicit = os.environ.get("LINLI_CHROMIUM", "")
    for candidate in ((explicit,) if explicit else ()) + CHROMIUM_CANDIDATES:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = ("Chromium not found (looked for /usr/bin/chromium): install it (apt-get install chromium "
              "fonts-noto-cjk) or set LINLI_SKIP_BROWSER=1 to skip the browser tests")
    if _skip_browser():
        pytest.skip(f"LINLI_SKIP_BROWSER=1: {reason}")
    pytest.fail(reason, pytrace=False)


@pytest.fixture
def chromium_executable() -> str:
    if _skip_browser():
        pytest.skip("LINLI_SKIP_BROWSER=1: browser tests skipped")
    return chromium_path()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The sandbox (stand-in, demo community, bot) running in this test's event loop."""
    from bot.config import Settings
    from bot.sandbox import Sandbox

    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db", secret_key="x" * 32)
    sb = Sandbox(settings, port=0)
    await sb.start()
    try:
        yield sb
    finally:
        await sb.stop()  # the stand-in releases the page's pending long-polls itself


@pytest.fixture
def sandbox_url(sandbox: Sandbox) -> str:
    return sandbox.url.rstrip("/")


@pytest.fixture
async def browser(chromium_executable: str, sandbox: Sandbox) -> AsyncIterator[Browser]:
    """Headless Chromium. Depends on ``sandbox`` so that it is closed before the sandbox stops."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        if _skip_browser():
            pytest.skip("LINLI_SKIP_BROWSER=1: playwright is not installed")
        pytest.fail("playwright is not installed (pip install -e '.[test]')", pytrace=False)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
