"""The sandbox end to end in a real (headless) Chromium: people use the web chat page, the bot answers.

Everything goes through the page's UI — picking who you are, opening chats, typing, tapping
inline buttons — and the assertions are on what is visible. See conftest.py for the fixtures
(the sandbox with its demo community, and Chromium; LINLI_SKIP_BROWSER=1 skips these tests)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

if os.environ.get("LINLI_SKIP_BROWSER", "").strip() == "1":
    pytest.importorskip("playwright", reason="LINLI_SKIP_BROWSER=1 and playwright is not installed")
from playwright.async_api import Browser, Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(60)

WAIT_MS = 10_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

ADMIN = 10001  # 王书记
NEWCOMER = 10007  # 小周（新居民）, not registered
PENDING_GROUP = -1001000000005  # 5号楼楼门群（待绑定）: the bot was just added and asks to be linked

BUILDING_QUESTION = "欢迎来到北辰示范社区！您住在几号楼？"
PRIVACY = "隐私说明"
REGISTERED = "您已经登记好了"


async def open_page(browser: Browser, url: str, viewport: dict[str, int], **ctx: object) -> Page:
    context = await browser.new_context(viewport=viewport, locale="zh-CN", **ctx)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.linli_errors = errors  # type: ignore[attr-defined]
    await page.goto(f"{url}/")
    # the page has loaded the directory once it lists the demo people
    await expect(page.get_by_test_id("user-select").locator("option")).not_to_have_count(0, timeout=WAIT_MS)
    await expect(page.get_by_test_id("user-select")).to_contain_text("王书记", timeout=WAIT_MS)
    return page


def bot_messages(page: Page) -> Locator:
    return page.locator('[data-testid="message"][data-from-bot="1"]')


def button(scope: Page | Locator, label: str | re.Pattern[str]) -> Locator:
    pattern = label if isinstance(label, re.Pattern) else re.compile(rf"^\s*{re.escape(label)}\s*$")
    return scope.get_by_test_id("button").filter(has_text=pattern)


async def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    await expect(box).to_be_enabled(timeout=WAIT_MS)
    await box.click()
    await box.fill("")
    await box.press_sequentially(text)
    await page.get_by_test_id("composer-send").click()
    await expect(box).to_have_value("", timeout=WAIT_MS)


async def register_in_private_chat(page: Page) -> None:
    """In the open private chat with the bot: /start → building 3 → consent → welcome."""
    await send(page, "/start")
    mine = page.locator('[data-testid="message"][data-from-bot="0"]').filter(has_text="/start")
    await expect(mine.first).to_be_visible(timeout=WAIT_MS)
    question = bot_messages(page).filter(has_text=BUILDING_QUESTION)
    await expect(question).to_have_count(1, timeout=WAIT_MS)
    await expect(question.get_by_test_id("message-text")).to_be_visible()

    await button(question, "3号楼").click()
    # the question is edited in place into the privacy notice, with the consent buttons
    notice = bot_messages(page).filter(has_text=PRIVACY)
    await expect(notice).to_have_count(1, timeout=WAIT_MS)
    await expect(notice).to_contain_text("您同意吗", timeout=WAIT_MS)
    agree = button(notice, re.compile("我同意"))
    await expect(agree).to_be_visible(timeout=WAIT_MS)

    await agree.click()
    welcome = bot_messages(page).filter(has_text=REGISTERED)
    await expect(welcome).to_have_count(1, timeout=WAIT_MS)
    await expect(welcome).to_be_visible()
    await expect(welcome.get_by_test_id("message-text")).to_contain_text("欢迎", timeout=WAIT_MS)
    await expect(welcome).to_contain_text("北辰示范社区")


async def test_newcomer_registers_in_the_private_chat_on_a_desktop(browser: Browser, sandbox_url: str,
                                                                   tmp_path: Path) -> None:
    page = await open_page(browser, sandbox_url, DESKTOP)
    await page.get_by_test_id("user-select").select_option(str(NEWCOMER))
    await expect(page.get_by_test_id("user-select")).to_have_value(str(NEWCOMER))
    # the desktop layout shows the chat list in the sidebar; 小周 has no private chat yet
    private = page.get_by_test_id("chat-item").filter(has_text="与机器人私聊")
    await expect(private).to_be_visible(timeout=WAIT_MS)
    await page.get_by_test_id("start-private").click()
    await expect(private).to_have_class(re.compile(r"\bactive\b"))
    await expect(page.get_by_test_id("start-bot")).to_be_visible(timeout=WAIT_MS)

    await register_in_private_chat(page)

    # what the newcomer sees is the private chat: the header names the bot, the URL remembers the chat
    await expect(page.get_by_test_id("chat-subtitle")).to_contain_text("@linli_bot")
    assert f"user={NEWCOMER}" in page.url and "chat=" in page.url
    shot = tmp_path / "desktop-registered.png"
    await page.screenshot(path=str(shot))
    assert shot.is_file() and shot.stat().st_size > 0
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()


async def test_admin_links_the_new_group_on_a_phone(browser: Browser, sandbox_url: str, tmp_path: Path) -> None:
    page = await open_page(browser, sandbox_url, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    await page.get_by_test_id("user-select").select_option(str(ADMIN))
    chat_select = page.get_by_test_id("chat-select")
    await expect(chat_select).to_be_visible(timeout=WAIT_MS)  # on phones the chat list is a <select>
    await expect(chat_select.locator(f'option[value="{PENDING_GROUP}"]')).to_have_count(1, timeout=WAIT_MS)
    await chat_select.select_option(str(PENDING_GROUP))
    await expect(chat_select).to_have_value(str(PENDING_GROUP))
    await expect(page.get_by_test_id("chat-subtitle")).to_contain_text("机器人", timeout=WAIT_MS)

    request = bot_messages(page).filter(has_text="请社区管理员点下面的按钮")
    await expect(request).to_have_count(1, timeout=WAIT_MS)
    await expect(request).to_be_visible()
    building_group = button(request, re.compile("楼门群"))
    await expect(building_group).to_be_visible()
    await building_group.tap()

    five = button(page, "5号楼")
    await expect(five).to_be_visible(timeout=WAIT_MS)
    await five.tap()
    confirmation = bot_messages(page).filter(has_text="本群现在是")
    await expect(confirmation).to_have_count(1, timeout=WAIT_MS)
    await expect(confirmation).to_contain_text("5号楼", timeout=WAIT_MS)
    await expect(confirmation).to_contain_text("北辰示范社区")
    await expect(confirmation).to_be_in_viewport()

    shot = tmp_path / "phone-linked.png"
    await page.screenshot(path=str(shot))
    assert shot.is_file() and shot.stat().st_size > 0
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal overflow on a phone: scrollWidth {width}px > {PHONE['width']}px"
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()


async def test_new_user_form_creates_a_newcomer_who_can_register(browser: Browser, sandbox_url: str) -> None:
    page = await open_page(browser, sandbox_url, DESKTOP)
    await page.get_by_test_id("new-user-name").fill("孙邻居")
    await page.get_by_test_id("new-user-create").click()
    await expect(page.get_by_test_id("toast").filter(has_text="孙邻居")).to_be_visible(timeout=WAIT_MS)
    user_select = page.get_by_test_id("user-select")
    picked = user_select.locator("option:checked")
    await expect(picked).to_contain_text("孙邻居", timeout=WAIT_MS)
    new_id = await user_select.input_value()
    assert new_id and int(new_id) not in range(10001, 10008)
    await expect(page.get_by_test_id("new-user-name")).to_have_value("")
    # the form opened the (not yet started) private chat with the bot
    await expect(page.get_by_test_id("start-bot")).to_be_visible(timeout=WAIT_MS)

    await register_in_private_chat(page)
    assert f"user={new_id}" in page.url
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()


async def test_a_resident_tells_a_need_by_voice_on_a_phone(browser: Browser, sandbox_url: str,
                                                          tmp_path: Path) -> None:
    """赵阿姨 does not type her need: she picks the category and sends a voice file with the 🎤 button;
    her voice shows as 🎤 m:ss with a player, and the bot takes it as the need."""
    page = await open_page(browser, sandbox_url, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    await page.get_by_test_id("user-select").select_option("10006")
    await expect(page.get_by_test_id("start-private")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_test_id("start-private").click()
    await send(page, "/need")
    ask = bot_messages(page).filter(has_text="属于哪一类")
    await expect(ask).to_have_count(1, timeout=WAIT_MS)
    await button(ask, "为老服务").click()
    await expect(bot_messages(page).filter(has_text="也可以直接发语音")).to_have_count(1, timeout=WAIT_MS)
    voice = tmp_path / "need.ogg"
    voice.write_bytes(b"OggS" + bytes(400))  # not playable: the page then sends it as 1 second
    await page.get_by_test_id("voice-input").set_input_files(str(voice))
    mine = page.locator('[data-testid="message"][data-from-bot="0"]').filter(has_text="🎤")
    await expect(mine).to_have_count(1, timeout=WAIT_MS)
    await expect(mine.locator("audio")).to_have_count(1)
    photo = bot_messages(page).filter(has_text="照片")
    await expect(photo).to_have_count(1, timeout=WAIT_MS)
    await button(photo, "跳过 ▶").click()
    check = bot_messages(page).filter(has_text="请确认")
    await expect(check).to_contain_text("🎤 语音（0:01）", timeout=WAIT_MS)
    await button(check, "✅ 提交").click()
    await expect(bot_messages(page).filter(has_text="登记为需求 #")).to_have_count(1, timeout=WAIT_MS)
    assert page.linli_errors == []  # type: ignore[attr-defined]
    await page.context.close()
