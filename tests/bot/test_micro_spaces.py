"""Micro spaces and tool lending (#16, F-9.3) end to end, over real HTTP on both runtimes: an admin registers a space
by buttons and typed answers (hours, services, keeper), the keeper adds a drill, a resident sees it open now and
borrows it for 3 days, the keeper confirms the hand-over from the notice, a second resident finds it on loan; the
scheduler's reminder the day before, then the polite overdue reminder (once a day), the return confirmed by the
keeper; the keeper records 缝补 ×3. The refusals: a resident cannot register a space, a bad hours line."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.clock import local
from scheduler.runner import spaces_tick
from tests.bot.conftest import Harness, buttons

ADMIN, KEEPER, R1, R2 = 661, 662, 663, 664
TZ = ZoneInfo("Asia/Shanghai")


def _to(linli: Harness, days: int, at: time) -> None:
    """Move the clock to `at` in Tianjin, `days` days after today."""
    now = linli.clock.now()
    day = local(now, "Asia/Shanghai").date() + timedelta(days=days)
    linli.clock.advance(seconds=(datetime.combine(day, at, tzinfo=TZ) - now).total_seconds())


async def test_item3_a_space_with_a_drill_lent_reminded_and_returned(linli: Harness) -> None:
    _to(linli, 1, time(10))
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(KEEPER, "孙大爷")
    await linli.register(R1, "赵阿姨")
    await linli.register(R2, "钱叔叔")
    keeper_no = await linli.member_no(KEEPER)

    out = await linli.say(R1, "/spaces")
    assert "还没有登记微效空间" in out[-1]["text"] and "➕ 登记空间" not in buttons(out[-1])
    out = await linli.say(ADMIN, "/spaces")
    _, out = await linli.press(ADMIN, out[-1], "➕ 登记空间")
    assert "空间名称" in out[-1]["text"]
    await linli.say(ADMIN, "3号楼门岗微空间")
    await linli.say(ADMIN, "3号楼东侧门岗")
    out = await linli.say(ADMIN, "周一到周五上午")
    assert "请这样发送开放时间" in out[-1]["text"]
    await linli.say(ADMIN, "每天 08:00-20:00")
    await linli.say(ADMIN, "缝补、理发、工具借用")
    out = await linli.say(ADMIN, str(keeper_no))
    assert "确认登记" in out[-1]["text"] and "周一 08:00–20:00" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✅ 登记")
    assert "第 1 号微效空间“3号楼门岗微空间”已登记" in out[-1]["text"]

    # the keeper adds a drill
    out = await linli.say(KEEPER, "/spaces")
    _, out = await linli.press(KEEPER, out[-1], "1. 3号楼门岗微空间")
    assert "🙋 管理员：孙大爷" in out[-1]["text"] and "➕ 添加工具" in buttons(out[-1])
    _, out = await linli.press(KEEPER, out[-1], "➕ 添加工具")
    out = await linli.say(KEEPER, "电钻")
    assert "电钻现在可以在这个空间借用了" in out[-1]["text"]

    # a resident: open now, borrows the drill for 3 days
    out = await linli.say(R1, "/spaces")
    assert "🟢 开放中，到 20:00" in out[-1]["text"]
    _, out = await linli.press(R1, out[-1], "1. 3号楼门岗微空间")
    assert "电钻 — 可借" in out[-1]["text"] and "➕ 添加工具" not in buttons(out[-1])
    _, out = await linli.press(R1, out[-1], "🔧 借电钻")
    _, out = await linli.press(R1, out[-1], "3 天")
    assert "第 1 号借用" in out[-1]["text"]
    due = (local(linli.clock.now(), "Asia/Shanghai").date() + timedelta(days=3)).isoformat()
    ask = await linli.last(KEEPER)
    assert "赵阿姨 想借3号楼门岗微空间的电钻" in ask["text"] and due in ask["text"]
    _, out = await linli.press(KEEPER, ask, "✅ 已交接")
    assert "第 1 号借用已交接" in out[-1]["text"]
    told = await linli.last(R1)
    assert "您已借到" in told["text"] and due in told["text"]
    data = ask["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    toast = await linli.tap_data(KEEPER, ask, data)  # the old button pressed again: nothing twice
    assert toast and "已经办过了" in toast

    # someone else finds it on loan
    out = await linli.say(R2, "/spaces")
    _, out = await linli.press(R2, out[-1], "1. 3号楼门岗微空间")
    assert "电钻 — 已借出" in out[-1]["text"] and "🔧 借电钻" not in buttons(out[-1])

    # the day before: a friendly reminder; after the due day: a polite one, once a day
    _to(linli, 2, time(9, 30))
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    assert "温馨提醒" in (await linli.last(R1))["text"]
    _to(linli, 2, time(9, 30))
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    overdue = await linli.last(R1)
    assert "原定" in overdue["text"] and "方便的时候请送回来" in overdue["text"]
    before = await linli.tg.cursor()
    linli.clock.advance(seconds=3600)
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    assert await linli.tg.bot_messages(R1, before) == []  # not twice the same day

    # the keeper confirms the return from the space's loans
    out = await linli.say(KEEPER, "/spaces")
    _, out = await linli.press(KEEPER, out[-1], "1. 3号楼门岗微空间")
    _, out = await linli.press(KEEPER, out[-1], "📋 借用记录")
    assert "赵阿姨" in out[-1]["text"]
    _, out = await linli.press(KEEPER, out[-1], "↩ 第 1 号已归还")
    assert "已归还" in out[-1]["text"]
    assert "谢谢您按时归还" in (await linli.last(R1))["text"]

    # a service record
    out = await linli.say(KEEPER, "/spaces")
    _, out = await linli.press(KEEPER, out[-1], "1. 3号楼门岗微空间")
    _, out = await linli.press(KEEPER, out[-1], "✍ 记录服务")
    _, out = await linli.press(KEEPER, out[-1], "缝补")
    _, out = await linli.press(KEEPER, out[-1], "×3")
    assert "今天缝补 ×3。本月累计：3" in out[-1]["text"]
    _, out = await linli.press(KEEPER, out[-1], "◀ 返回")
    assert "本月服务：缝补 3" in out[-1]["text"]

    # the drill breaks: the keeper retires it (asked first); residents no longer see it
    _, out = await linli.press(KEEPER, out[-1], "🗑 下架工具")
    _, out = await linli.press(KEEPER, out[-1], "电钻")
    assert "确定将3号楼门岗微空间的电钻下架吗" in out[-1]["text"]
    _, out = await linli.press(KEEPER, out[-1], "✖ 保留")
    assert "电钻 — 可借" in out[-1]["text"]
    _, out = await linli.press(KEEPER, out[-1], "🗑 下架工具")
    _, out = await linli.press(KEEPER, out[-1], "电钻")
    confirm = out[-1]
    _, out = await linli.press(KEEPER, confirm, "🗑 确定下架")
    assert "电钻已下架" in out[-1]["text"]
    toast = await linli.tap_data(KEEPER, confirm, confirm["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    assert toast and "已不存在" in toast  # pressed again: nothing more
    out = await linli.say(R2, "/spaces")
    _, out = await linli.press(R2, out[-1], "1. 3号楼门岗微空间")
    assert "电钻" not in out[-1]["text"] and "🔧 借电钻" not in buttons(out[-1]) and "🗑 下架工具" not in buttons(out[-1])
