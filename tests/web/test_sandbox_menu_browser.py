"""Issue #12 item 5 on the sandbox page in a real Chromium: the ☰ button next to the message box shows the bot's
command menu as Telegram picks it for this person in this chat — the admin's own menu holds the staff commands,
a resident's does not — and tapping a command puts it in the message box."""

from __future__ import annotations

import os

import pytest

if os.environ.get("LINLI_SKIP_BROWSER", "").strip() == "1":
    pytest.importorskip("playwright", reason="LINLI_SKIP_BROWSER=1 and playwright is not installed")
from playwright.async_api import Browser, expect  # noqa: E402

from tests.web.test_sandbox_browser import ADMIN, DESKTOP, WAIT_MS, open_page  # noqa: E402

pytestmark = pytest.mark.timeout(60)

ZHAO = 10006  # 赵阿姨, a resident


async def test_item5_the_menu_button_shows_each_persons_commands(browser: Browser, sandbox_url: str) -> None:
    page = await open_page(browser, sandbox_url, DESKTOP)
    await page.get_by_test_id("user-select").select_option(str(ADMIN))
    await page.get_by_test_id("start-private").click()
    await page.get_by_test_id("menu-button").click()
    menu = page.get_by_test_id("command-menu")
    await expect(menu).to_be_visible(timeout=WAIT_MS)
    items = menu.get_by_test_id("command-item")
    await expect(items.filter(has_text="/grant")).to_have_count(1, timeout=WAIT_MS)
    await expect(items.filter(has_text="/person")).to_contain_text("重点人员关爱台账")
    await items.filter(has_text="/checkins").click()
    await expect(menu).to_be_hidden()
    await expect(page.get_by_test_id("composer-input")).to_have_value("/checkins ")

    await page.get_by_test_id("user-select").select_option(str(ZHAO))
    await page.get_by_test_id("start-private").click()
    await page.get_by_test_id("menu-button").click()
    await expect(menu.get_by_test_id("command-item").filter(has_text="/need")).not_to_have_count(0, timeout=WAIT_MS)
    await expect(menu.get_by_test_id("command-item").filter(has_text="/grant")).to_have_count(0)
    await expect(menu.get_by_test_id("command-item").filter(has_text="/person")).to_have_count(0)
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()
