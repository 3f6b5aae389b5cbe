"""Fixtures for real-browser tests of the sandbox chat page: the sandbox (stand-in + bot + demo
community) started in the test's event loop, and a headless Chromium driven by Playwright.

Chromium, a CJK font and a colour emoji font are required (the page shows Chinese and emoji): `make test`
installs them when it may (.ci/browser-deps: Debian's chromium, fonts-noto-cjk, fonts-noto-color-emoji).
Without them these tests fail with a clear message, unless LINLI_SKIP_BROWSER=1 is set, in which case they
are skipped."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from bot.sandbox import Sandbox

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_deps():
    """.ci/browser-deps, the one check of what the browser tests need (also run by `make test`)."""
    if "browser_deps" not in sys.modules:
        path = Path(__file__).resolve().parents[2] / ".ci" / "browser-deps"
        loader = importlib.machinery.SourceFileLoader("browser_deps", str(path))
        spec = importlib.util.spec_from_loader("browser_deps", loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["browser_deps"] = module
        loader.exec_module(module)
    return sys.modules["browser_deps"]


def _skip_browser() -> bool:
    return os.environ.get("LINLI_SKIP_BROWSER", "").strip() == "1"


def chromium_path() -> str:
    """The Chromium executable when it and the fonts are there, or fail (skip with LINLI_SKIP_BROWSER=1) with a
    clear reason."""
    deps = _browser_deps()
    found = deps.chromium()  # LINLI_CHROMIUM, /usr/bin/chromium, chromium-browser, then the PATH
    absent = deps.missing(find_chromium=lambda: found)
    if not absent and found:
        return found
    reason = (f"missing for the browser tests: {', '.join(absent)} (Chromium looked for at /usr/bin/chromium; "
              f"fonts through fc-list): run {deps.install_command()} — `make test` does it when it may — "
              "or set LINLI_SKIP_BROWSER=1 to skip the browser tests")
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
