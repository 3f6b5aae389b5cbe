"""Issue #12 item 6 in a real Chromium: a t.me/…?start= link in the sandbox chat page can be followed by another
sandbox person ("open as…"), e.g. the admin's invite link by the newcomer it is meant for."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.web.test_sandbox_browser import DESKTOP, WAIT_MS, bot_messages, open_page, send

ADMIN, NEWCOMER = 10001, 10007


async def test_item6_an_invite_link_is_opened_as_another_person(browser: Browser, sandbox_url: str) -> None:
    page = await open_page(browser, sandbox_url, DESKTOP)
    await page.get_by_test_id("user-select").select_option(str(ADMIN))
    await page.get_by_test_id("start-private").click()
    await send(page, "/invite representative")
    invite = bot_messages(page).filter(has_text="start=i_").last
    await expect(invite).to_be_visible(timeout=WAIT_MS)
    open_as = invite.get_by_test_id("open-as")
    await expect(open_as).to_be_visible()
    await open_as.click()
    dialog = page.get_by_test_id("open-as-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("start=i_")
    await page.get_by_test_id("open-as-select").select_option(str(NEWCOMER))
    await page.get_by_test_id("open-as-go").click()
    await expect(dialog).to_be_hidden()
    # the newcomer is now the one at the page, in their private chat, and the bot answers the invite
    await expect(page.get_by_test_id("user-select")).to_have_value(str(NEWCOMER))
    mine = page.locator('[data-testid="message"][data-from-bot="0"]').filter(has_text=re.compile(r"/start i_"))
    await expect(mine).to_have_count(1, timeout=WAIT_MS)
    question = bot_messages(page).filter(has_text="几号楼")
    await expect(question).to_have_count(1, timeout=WAIT_MS)
    await expect(page.get_by_test_id("chat-subtitle")).to_contain_text("@linli_bot")
    # cancelling the picker follows nothing
    await page.get_by_test_id("user-select").select_option(str(ADMIN))
    await page.get_by_test_id("start-private").click()
    invite = bot_messages(page).filter(has_text="start=i_").last
    await invite.get_by_test_id("open-as").click()
    await page.get_by_test_id("open-as-cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("user-select")).to_have_value(str(ADMIN))
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()
