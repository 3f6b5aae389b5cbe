"""Announcements (#14, F-11.4) end to end, over real HTTP on both runtimes: an admin announces to two grids — the
audience by buttons, the text, the time, a preview exactly as the groups will see it, ✅ send — and both grids'
building groups receive it while the others do not; then it is edited and deleted in every group. The refusals: a
resident, /announce in a group, a grid worker for another grid, a text too long, an expired button."""

from __future__ import annotations

import base64
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.clock import local
from tests.bot.conftest import Harness, buttons

ADMIN, WORKER, R1 = 631, 632, 633
GROUPS = {"1": -1002000000081, "2": -1002000000082, "3": -1002000000083, "4": -1002000000084}
VOLUNTEERS = -1002000000089
TEXT = "周六上午 8:00–12:00 停水，请提前储水。"


def _to_morning(linli: Harness) -> None:
    """Move the clock to 10:00 in Tianjin tomorrow, out of the quiet hours whenever the test runs."""
    now = linli.clock.now()
    day = local(now, "Asia/Shanghai").date() + timedelta(days=1)
    linli.clock.advance(seconds=(datetime.combine(day, time(10), tzinfo=ZoneInfo("Asia/Shanghai")) - now)
                        .total_seconds())


async def _setup(linli: Harness) -> None:
    _to_morning(linli)
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(WORKER, "李网格员", building="3")
    await linli.register(R1, "赵阿姨")
    await linli.say(ADMIN, "/grid add 一网格 1-2")
    await linli.say(ADMIN, "/grid add 二网格 3")
    await linli.say(ADMIN, "/grid add 三网格 4")
    await linli.say(ADMIN, f"/grant {await linli.member_no(WORKER)} grid_worker")
    await linli.say(ADMIN, f"/grid worker 三网格 {await linli.member_no(WORKER)}")
    for label, chat in GROUPS.items():
        await linli.group(chat, f"{label}号楼居民群", [ADMIN, R1], admin=ADMIN)
        await linli.say(ADMIN, f"/link building {label}", chat_id=chat)
    await linli.group(VOLUNTEERS, "志愿者群", [ADMIN, R1], admin=ADMIN)
    await linli.say(ADMIN, "/link volunteers", chat_id=VOLUNTEERS)


async def _posts(linli: Harness, chat: int, since: int) -> list[dict]:
    return [m for m in await linli.tg.bot_messages(chat, since) if "社区公告" in (m["text"] or m["caption"] or "")]


async def test_item1_an_announcement_to_two_grids_then_edited_and_deleted(linli: Harness) -> None:
    await _setup(linli)
    # refusals: a resident; /announce in a group
    assert "只有社区管理员和网格员" in (await linli.say(R1, "/announce"))[-1]["text"]
    out = await linli.say(ADMIN, "/announce", chat_id=GROUPS["1"])
    assert out and "私聊" in out[-1]["text"]

    before = await linli.tg.cursor()
    menu = (await linli.say(ADMIN, "/announce"))[-1]
    assert buttons(menu) == ["全部楼栋群", "按网格选楼栋群…", "志愿者群", "选择楼栋…", "✖ 取消"]
    _, out = await linli.press(ADMIN, menu, "按网格选楼栋群…")
    _, out = await linli.press(ADMIN, out[-1], "一网格")
    _, out = await linli.press(ADMIN, out[-1], "二网格")
    assert {"✅ 一网格", "✅ 二网格", "三网格"} <= set(buttons(out[-1]))
    _, out = await linli.press(ADMIN, out[-1], "下一步 ▶")
    assert "请发送公告正文" in out[-1]["text"]
    out = await linli.say(ADMIN, "长" * 4097)
    assert "太长了：共 4097 字，最多 4096 字" in out[-1]["text"]
    out = await linli.say(ADMIN, TEXT)
    assert "什么时候发送" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "现在")
    preview, summary = out[-2], out[-1]
    assert preview["text"] == f"📢 社区公告 · 北辰示范社区\n\n{TEXT}"
    assert "发送到 3 个群：1号楼居民群、2号楼居民群、3号楼居民群" in summary["text"]
    assert buttons(summary) == ["✅ 发送", "✖ 取消", "🚨 标为紧急"]
    for chat in GROUPS.values():
        assert await _posts(linli, chat, before) == []  # nothing before the confirmation
    _, out = await linli.press(ADMIN, summary, "✅ 发送")
    assert "第 1 号公告将于" in out[-1]["text"] and "发送到 3 个群" in out[-1]["text"]
    await linli.settle()
    for label in ("1", "2", "3"):
        posts = await _posts(linli, GROUPS[label], before)
        assert [m["text"] for m in posts] == [preview["text"]]  # exactly as previewed
    assert await _posts(linli, GROUPS["4"], before) == []
    assert await _posts(linli, VOLUNTEERS, before) == []

    # a grid worker: their own grid's buildings only (another grid's button press refused)
    menu = (await linli.say(WORKER, "/announce"))[-1]
    assert buttons(menu) == ["按网格选楼栋群…", "选择楼栋…", "✖ 取消"]
    _, out = await linli.press(WORKER, menu, "按网格选楼栋群…")
    assert buttons(out[-1]) == ["三网格", "下一步 ▶", "✖ 取消"]
    toast = await linli.tap_data(WORKER, out[-1], "an|t|1", forge=True)  # a forged press for grid 一网格
    assert toast and "这个按钮无效" in toast
    _, out = await linli.press(WORKER, out[-1], "三网格")
    _, out = await linli.press(WORKER, out[-1], "✖ 取消")
    assert "已取消" in out[-1]["text"]

    # edit everywhere
    listing = (await linli.say(ADMIN, "/announce list"))[-1]
    assert buttons(listing) == ["1"]
    _, out = await linli.press(ADMIN, listing, "1")
    assert buttons(out[-1]) == ["✏ 修改正文", "🗑 撤回"]
    _, out = await linli.press(ADMIN, out[-1], "✏ 修改正文")
    edited_at = await linli.tg.cursor()
    out = await linli.say(ADMIN, "周日上午停水（改期）。")
    assert "第 1 号公告已在 3 个群中更正" in out[-1]["text"]
    await linli.settle()
    for label in ("1", "2", "3"):
        changed = await _posts(linli, GROUPS[label], edited_at)
        assert [m["text"] for m in changed] == ["📢 社区公告 · 北辰示范社区\n\n周日上午停水（改期）。"]
        assert len(await _posts(linli, GROUPS[label], 0)) == 1  # edited in place, not posted again

    # delete everywhere
    _, out = await linli.press(ADMIN, listing, "1")
    _, out = await linli.press(ADMIN, out[-1], "🗑 撤回")
    _, out = await linli.press(ADMIN, out[-1], "🗑 确认撤回")
    assert "第 1 号公告已从 3 个群撤回" in out[-1]["text"]
    await linli.settle()
    for label in ("1", "2", "3"):
        assert all(m["deleted"] for m in await _posts(linli, GROUPS[label], 0))
    assert "没有可修改的公告" in (await linli.say(ADMIN, "/announce list"))[-1]["text"]

    # the day's count per building group; an expired button
    stats = (await linli.say(ADMIN, "/announce stats"))[-1]["text"]
    counts = dict(line.split(": ") for line in stats.splitlines()[1:])
    assert "各楼栋群的机器人消息数" in stats and set(counts) == {f"{label}号楼居民群" for label in GROUPS}
    base = int(counts["4号楼居民群"])  # what the linking said in the group; the announcement one more, its edit none
    assert [int(counts[f"{label}号楼居民群"]) for label in ("1", "2", "3")] == [base + 1] * 3
    linli.clock.advance(hours=73)
    toast, _ = await linli.press(ADMIN, listing, "1")
    assert toast and "这个按钮已经过期了" in toast


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


async def test_item1_a_photo_with_a_caption_to_chosen_buildings_then_its_caption_edited(linli: Harness) -> None:
    await _setup(linli)
    before = await linli.tg.cursor()
    menu = (await linli.say(ADMIN, "/announce"))[-1]
    _, out = await linli.press(ADMIN, menu, "选择楼栋…")
    _, out = await linli.press(ADMIN, out[-1], "4号楼")
    _, out = await linli.press(ADMIN, out[-1], "下一步 ▶")
    await linli.tg.send_photo(ADMIN, PNG, caption="长" * 1025)
    await linli.settle()
    assert "太长了：共 1025 字，最多 1024 字" in (await linli.last(ADMIN))["text"]
    await linli.tg.send_photo(ADMIN, PNG, caption="消防演练现场照片")
    await linli.settle()
    _, out = await linli.press(ADMIN, await linli.last(ADMIN), "现在")
    assert out[-2]["photo"] and out[-2]["caption"] == "📢 社区公告 · 北辰示范社区\n\n消防演练现场照片"
    _, out = await linli.press(ADMIN, out[-1], "✅ 发送")
    assert "发送到 1 个群" in out[-1]["text"]
    await linli.settle()
    posts = await _posts(linli, GROUPS["4"], before)
    assert [(bool(m["photo"]), m["caption"]) for m in posts] == [(True, "📢 社区公告 · 北辰示范社区\n\n消防演练现场照片")]
    for label in ("1", "2", "3"):
        assert await _posts(linli, GROUPS[label], before) == []
    listing = (await linli.say(ADMIN, "/announce list"))[-1]
    _, out = await linli.press(ADMIN, listing, "1")
    await linli.press(ADMIN, out[-1], "✏ 修改正文")
    await linli.say(ADMIN, "消防演练照片（已更正）")
    await linli.settle()
    posts = await _posts(linli, GROUPS["4"], 0)
    assert [(bool(m["photo"]), m["caption"], m["edited"]) for m in posts] == \
        [(True, "📢 社区公告 · 北辰示范社区\n\n消防演练照片（已更正）", True)]  # its caption edited in place
