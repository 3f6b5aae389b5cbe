"""Issue #12 item 3 in a real Chromium: the sandbox chat page lives on the sandbox's clock.

The header shows the sandbox's date and time (in the community's time zone, whatever the browser's) and follows
a `/clock` jump; messages are stamped with the sandbox's clock, not the real one."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.async_api import Browser, expect

from bot.sandbox import DEMO_TIMEZONE, Sandbox
from flows.clock import local
from tests.web.test_sandbox_browser import DESKTOP, WAIT_MS, bot_messages, open_page, send

GRID_WORKER = 10002  # 张网格, registered: has a private chat with the bot


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


async def test_item3_header_shows_the_sandbox_clock_and_messages_are_stamped_with_it(
        browser: Browser, sandbox: Sandbox, sandbox_url: str) -> None:
    sandbox.clock.advance(hours=7)  # not the real time: the page must show the sandbox's
    # a browser far from the community: the page shows the community's time, as the bot words it
    page = await open_page(browser, sandbox_url, DESKTOP, timezone_id="America/New_York")
    await page.get_by_test_id("user-select").select_option(str(GRID_WORKER))
    await page.get_by_test_id("start-private").click()
    clock = page.get_by_test_id("sandbox-clock")
    await expect(clock).to_be_visible(timeout=WAIT_MS)
    today = local(sandbox.clock.now(), DEMO_TIMEZONE)
    await expect(clock).to_have_attribute("data-date", today.date().isoformat(), timeout=WAIT_MS)
    shown = await clock.get_attribute("data-time") or ""
    assert abs(_minutes(shown) - (today.hour * 60 + today.minute)) <= 1 or today.hour * 60 + today.minute < 2
    await expect(clock).to_contain_text(f"{today.month}月{today.day}日")

    await send(page, "/clock +2d")
    answer = bot_messages(page).filter(has_text="沙盒时间").last
    await expect(answer).to_be_visible(timeout=WAIT_MS * 3)
    later = local(sandbox.clock.now(), DEMO_TIMEZONE)
    assert later.date() == today.date() + timedelta(days=2)
    # the header follows the jump
    await expect(clock).to_have_attribute("data-date", later.date().isoformat(), timeout=WAIT_MS)
    # the bot's answer is stamped with the time it states (the sandbox's, in the community's zone)
    stated = re.search(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})", await answer.inner_text())
    assert stated is not None
    stamp = await answer.get_by_test_id("message-time").inner_text()
    assert 0 <= _minutes(stamp) - _minutes(stated.group(2)) <= 1 or stamp == "00:00"
    iso = await answer.get_by_test_id("message-time").get_attribute("datetime") or ""
    sent_at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    assert local(sent_at, DEMO_TIMEZONE).date().isoformat() == stated.group(1)
    # my own message before the jump is stamped with the sandbox's time then, two days earlier
    mine = page.locator('[data-testid="message"][data-from-bot="0"]').filter(has_text="/clock +2d").last
    mine_iso = await mine.get_by_test_id("message-time").get_attribute("datetime") or ""
    assert local(datetime.fromisoformat(mine_iso.replace("Z", "+00:00")), DEMO_TIMEZONE).date() == today.date()
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()
