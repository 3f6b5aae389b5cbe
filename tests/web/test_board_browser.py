"""Issue #14, the public board in a real (headless) Chromium, on a phone (390×844) and a desktop: every page of
the demo's year loads without console errors or failed requests, its pictures load, and its Chinese and emoji
are drawn with real CJK and emoji fonts (Chromium says which fonts drew a node's text), not as empty boxes.

Screenshots of each page go to the test run's artifacts directory: $LINLI_TEST_ARTIFACTS/board, or
<pytest's base temporary directory>/artifacts/board (printed at the end of the run with -s)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("LINLI_SKIP_BROWSER", "").strip() == "1":
    pytest.importorskip("playwright", reason="LINLI_SKIP_BROWSER=1 and playwright is not installed")
from playwright.async_api import Browser, Page, async_playwright  # noqa: E402

from bot.config import Settings  # noqa: E402
from flows.clock import FixedClock  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.web.board_world import NOW, Demo, jpeg, seed  # noqa: E402
from tests.web.conftest import CHROMIUM_ARGS  # noqa: E402
from web.app import WebServer  # noqa: E402
from web.board import PublicBoard  # noqa: E402
from web.media import MediaCache  # noqa: E402

pytestmark = pytest.mark.timeout(120)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("LINLI_TEST_ARTIFACTS", "")
    where = (Path(base) if base else tmp_path_factory.getbasetemp() / "artifacts") / "board"
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
async def board_site(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[tuple[str, Demo]]:
    path = tmp_path / "board.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    demo = await seed(db)
    colours = [(46, 157, 79), (214, 69, 65), (224, 168, 0)]

    async def fetch(file_id: str) -> bytes:
        return jpeg(colours[len(file_id) % 3], (1600, 1200))

    board = PublicBoard(db, FixedClock(NOW), MediaCache(tmp_path / "media", fetch))
    server = WebServer(Settings(_env_file=None), board=board, port=0)  # type: ignore[call-arg]
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", demo
    finally:
        await server.stop()
        await db.dispose()


@pytest.fixture
async def chromium(chromium_executable: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def fonts_of(page: Page, selector: str) -> set[str]:
    """The font families Chromium drew the first `selector` node's text with."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root = (await cdp.send("DOM.getDocument", {"depth": -1}))["root"]["nodeId"]
    node = (await cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector}))["nodeId"]
    assert node, selector
    found: dict[str, Any] = await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})
    await cdp.detach()
    return {f["familyName"] for f in found["fonts"] if f["glyphCount"] > 0}


async def visit(browser: Browser, url: str, viewport: dict[str, int], shot: Path) -> Page:
    context = await browser.new_context(viewport=viewport, locale="zh-CN",
                                        device_scale_factor=1, is_mobile=viewport is PHONE)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    response = await page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200, url
    # every picture is loaded and drawn
    broken = await page.eval_on_selector_all("img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
                                                     ".map(i => i.src)")
    assert broken == [], broken
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5000
    assert problems == [], problems
    page.linli_problems = problems  # type: ignore[attr-defined]
    return page


async def test_item6_every_page_on_a_phone_and_a_desktop(chromium: Browser, board_site: tuple[str, Demo],
                                                         artifacts: Path) -> None:
    url, demo = board_site
    pages = {"index": "/", "district": "/district", "community": f"/c/{demo.slug}",
             "project": f"/c/{demo.slug}/p/1", "print": f"/c/{demo.slug}/print",
             "community-en": f"/c/{demo.slug}?lang=en"}
    for device, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for name, path in pages.items():
            page = await visit(chromium, url + path, viewport, artifacts / f"{name}-{device}.png")
            if name == "community":
                cjk = await fonts_of(page, "h1")
                assert any("CJK" in f or "Hei" in f or "Song" in f for f in cjk), cjk
                assert "Noto Color Emoji" in await fonts_of(page, ".dot.green"), "emoji not drawn in colour"
                # phone first: nothing wider than the screen
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], (device, width)
            if name == "project":
                shown = await page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.naturalWidth)")
                assert shown and all(0 < w <= 960 for w in shown), shown
            await page.context.close()
    made = sorted(p.name for p in artifacts.glob("*.png"))
    assert len(made) >= 12, made
    print(f"\nboard screenshots: {artifacts}")


async def test_item6_print_view_fits_a4(chromium: Browser, board_site: tuple[str, Demo], artifacts: Path) -> None:
    url, demo = board_site
    context = await chromium.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{url}/c/{demo.slug}/print", wait_until="networkidle")
    pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
    (artifacts / "print-a4.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    # A4 (CSS @page) is 210 × 297 mm, 595 × 842 points; the office prints one sheet
    boxes = {(round(float(w)), round(float(h))) for w, h in re.findall(rb"MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)}
    assert boxes == {(595, 842)}, boxes
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    await context.close()
