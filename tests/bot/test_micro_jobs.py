"""Employment (#16, F-9.5) end to end, over real HTTP on both runtimes: a grid worker posts an opening by buttons
and typed answers; it goes once to each building group with a link that answers in private; a resident follows it
and applies with a message (a phone number in it is masked) that reaches the poster through the bot, who answers
the same way; a second application makes no group post. A training: posted, two sign-ups (the second refused when
full), the reminder the day before from the scheduler, attendance marked; /jobs stats counts them; income entered."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flows.clock import local
from scheduler.runner import spaces_tick
from tests.bot.conftest import Harness, buttons

ADMIN, WORKER, R1, R2 = 671, 672, 673, 674
GROUPS = {"1": -1002000000171, "3": -1002000000173}
TZ = ZoneInfo("Asia/Shanghai")


def _to(linli: Harness, days: int, at: time) -> None:
    now = linli.clock.now()
    day = local(now, "Asia/Shanghai").date() + timedelta(days=days)
    linli.clock.advance(seconds=(datetime.combine(day, at, tzinfo=TZ) - now).total_seconds())


async def _setup(linli: Harness) -> None:
    _to(linli, 1, time(10))
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(WORKER, "张网格")
    await linli.register(R1, "赵阿姨")
    await linli.register(R2, "钱叔叔")
    await linli.say(ADMIN, f"/grant {await linli.member_no(WORKER)} grid_worker")
    for label, chat in GROUPS.items():
        await linli.group(chat, f"{label}号楼居民群", [ADMIN, R1, R2], admin=ADMIN)
        await linli.say(ADMIN, f"/link building {label}", chat_id=chat)


async def _training_form(linli: Harness, title: str) -> list[dict[str, object]]:
    """The admin fills in a training three days ahead at 14:30, up to the question of seats (what it answered)."""
    start = local(linli.clock.now(), "Asia/Shanghai").replace(hour=14, minute=30) + timedelta(days=3)
    out = await linli.say(ADMIN, "/jobs")
    _, out = await linli.press(ADMIN, out[-1], "➕ 发布培训")
    await linli.say(ADMIN, title)
    await linli.say(ADMIN, "党群服务中心")
    return await linli.say(ADMIN, start.strftime("%Y-%m-%d %H:%M"))


async def test_item5_a_job_application_through_the_bot(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(R1, "/jobs")
    assert "目前没有招聘岗位" in out[-1]["text"] and "➕ 发布岗位" not in buttons(out[-1])
    before = await linli.tg.cursor()
    out = await linli.say(WORKER, "/jobs")
    _, out = await linli.press(WORKER, out[-1], "➕ 发布岗位")
    await linli.say(WORKER, "手工编织")
    await linli.say(WORKER, "北辰编织合作社")
    await linli.say(WORKER, "计件 每件 8 元")
    await linli.say(WORKER, "党群服务中心")
    out = await linli.say(WORKER, "明天")
    assert "YYYY-MM-DD" in out[-1]["text"]
    closes = (local(linli.clock.now(), "Asia/Shanghai").date() + timedelta(days=20)).isoformat()
    out = await linli.say(WORKER, closes)
    assert "招聘岗位" in out[-1]["text"] and "确认发布" in out[-1]["text"]
    _, out = await linli.press(WORKER, out[-1], "✅ 发布")
    assert "第 1 号岗位已发布到 2 个群" in out[-1]["text"]
    await linli.settle()
    post = (await linli.tg.bot_messages(GROUPS["1"], before))[-1]
    assert "手工编织" in post["text"] and buttons(post) == ["💼 查看并报名"]

    out = await linli.follow(R1, post, "💼 查看并报名")
    assert "北辰编织合作社" in out[-1]["text"]
    _, out = await linli.press(R1, out[-1], "✉ 通过邻里报名")
    out = await linli.say(R1, "我会织毛衣，电话 138 0000 1234")
    assert "已通过邻里转给用工方" in out[-1]["text"]
    note = await linli.last(WORKER)
    assert "赵阿姨" in note["text"] and "我会织毛衣，电话 ***" in note["text"] and "1234" not in note["text"]
    _, out = await linli.press(WORKER, note, "↩ 通过邻里回复")
    await linli.say(WORKER, "欢迎，明天下午来看看")
    assert "欢迎，明天下午来看看" in (await linli.last(R1))["text"]
    # applying again is refused; another resident's application makes no group post
    out = await linli.follow(R1, post, "💼 查看并报名")
    _, out = await linli.press(R1, out[-1], "✉ 通过邻里报名")
    out = await linli.say(R1, "再报一次")
    assert "已经报名过" in out[-1]["text"]
    cursor = await linli.tg.cursor()
    out = await linli.follow(R2, post, "💼 查看并报名")
    _, out = await linli.press(R2, out[-1], "✉ 通过邻里报名")
    await linli.say(R2, "我想试试")
    assert await linli.tg.bot_messages(GROUPS["1"], cursor) == []
    out = await linli.say(WORKER, "/jobs")
    _, out = await linli.press(WORKER, out[-1], "💼 1. 手工编织")
    _, out = await linli.press(WORKER, out[-1], "📋 查看报名")
    assert "赵阿姨" in out[-1]["text"] and "钱叔叔" in out[-1]["text"]


async def test_item5_a_training_sign_up_reminder_and_attendance(linli: Harness) -> None:
    await _setup(linli)
    out = await _training_form(linli, "家政服务培训")
    out = await linli.say(ADMIN, "零")
    assert "整数" in out[-1]["text"]
    out = await linli.say(ADMIN, "1")
    _, out = await linli.press(ADMIN, out[-1], "✅ 发布")
    assert "第 1 号培训已发布到 2 个群" in out[-1]["text"]
    post = await linli.last(GROUPS["3"])
    assert "免费培训" in post["text"] and buttons(post) == ["🙋 报名"]

    out = await linli.follow(R1, post, "🙋 报名")
    assert "已报名 0 / 1 人" in out[-1]["text"]
    toast, out = await linli.press(R1, out[-1], "🙋 报名")
    assert toast and "还剩 0 个名额" in toast
    out = await linli.follow(R2, post, "🙋 报名")
    toast, _ = await linli.press(R2, out[-1], "🙋 报名")
    assert toast and "名额已经报满" in toast

    _to(linli, 2, time(15))  # the day before, 15:00
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    assert "家政服务培训" in (await linli.last(R1))["text"] and "提醒" in (await linli.last(R1))["text"]

    _to(linli, 1, time(16))  # the training has begun
    out = await linli.follow(ADMIN, post, "🙋 报名")
    _, out = await linli.press(ADMIN, out[-1], "📋 报名与签到")
    assert "赵阿姨 —" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✅ 赵阿姨")
    assert "赵阿姨 ✅" in out[-1]["text"]

    out = await linli.say(ADMIN, "/jobs")
    _, out = await linli.press(ADMIN, out[-1], "💰 登记收入")
    out = await linli.say(ADMIN, "一千")
    assert "1200.50" in out[-1]["text"]
    await linli.say(ADMIN, "1200.50")
    month = local(linli.clock.now(), "Asia/Shanghai").strftime("%Y-%m")
    out = await linli.say(ADMIN, month)
    _, out = await linli.press(ADMIN, out[-1], "跳过 ▶")
    assert f"{month} 收入 ¥1,200.50" in out[-1]["text"]
    out = await linli.say(ADMIN, "/jobs stats")
    assert "北辰示范社区：发布岗位 0 个 · 免费培训 1 人 · 增收 ¥1,200.50" in out[-1]["text"]
    assert "全区：" in out[-1]["text"]


async def _one_signed_up(linli: Harness) -> dict[str, Any]:
    """A training of ten seats posted by the office, 赵阿姨 (R1) signed up from its group post; the post."""
    await _setup(linli)
    await _training_form(linli, "手机使用培训")
    out = await linli.say(ADMIN, "10")
    _, out = await linli.press(ADMIN, out[-1], "✅ 发布")
    post = await linli.last(GROUPS["3"])
    out = await linli.follow(R1, post, "🙋 报名")
    await linli.press(R1, out[-1], "🙋 报名")
    return post


async def test_item5_a_training_called_off(linli: Harness) -> None:
    """The office calls a training off by buttons (asked to confirm, saying how many are told); the person signed
    up is told in private and gets no reminder; the post's link then shows it called off, without a sign-up."""
    post = await _one_signed_up(linli)

    out = await linli.follow(R2, post, "🙋 报名")
    assert "✖ 取消培训" not in buttons(out[-1])  # a resident cannot call it off
    out = await linli.follow(ADMIN, post, "🙋 报名")
    _, out = await linli.press(ADMIN, out[-1], "✖ 取消培训")
    assert "报名的 1 人会收到通知" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "◀ 返回")  # changed their mind: nothing happened
    assert "取消培训" in " ".join(buttons(out[-1]))
    _, out = await linli.press(ADMIN, out[-1], "✖ 取消培训")
    confirm = out[-1]
    _, out = await linli.press(ADMIN, confirm, "✖ 确认取消")
    assert "第 1 号培训已取消，已通知报名的 1 人" in out[-1]["text"]
    await linli.settle()
    told = await linli.last(R1)
    assert "手机使用培训" in told["text"] and "取消" in told["text"]
    out = await linli.follow(ADMIN, post, "🙋 报名")  # the office sees it called off, with nothing to press again
    assert "已取消" in out[-1]["text"] and "✖ 取消培训" not in buttons(out[-1])

    _to(linli, 2, time(15))  # the day before: no reminder for a training called off
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    assert (await linli.last(R1))["text"] == told["text"]
    out = await linli.follow(R2, post, "🙋 报名")
    assert "已取消" in out[-1]["text"] and "🙋 报名" not in buttons(out[-1])


async def test_item5_a_training_moved(linli: Harness) -> None:
    """The office changes a training's place, then its time, by buttons and typed answers (a bad time answered,
    asked to confirm, saying how many are told); the person signed up is told each time and reminded the day before
    the new time, not the old one; a resident has no such buttons."""
    post = await _one_signed_up(linli)
    out = await linli.follow(R2, post, "🙋 报名")
    assert "✏ 修改地点" not in buttons(out[-1]) and "✏ 修改时间" not in buttons(out[-1])

    out = await linli.follow(ADMIN, post, "🙋 报名")
    _, out = await linli.press(ADMIN, out[-1], "✏ 修改地点")
    out = await linli.say(ADMIN, "社区图书室")
    assert "把地点改为 社区图书室" in out[-1]["text"] and "报名的 1 人" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✅ 修改")
    assert "第 1 号培训已修改，已通知报名的 1 人" in out[-1]["text"]
    await linli.settle()
    told = await linli.last(R1)
    assert "手机使用培训" in told["text"] and "社区图书室" in told["text"]

    new_start = local(linli.clock.now(), "Asia/Shanghai").replace(hour=9, minute=0) + timedelta(days=5)
    out = await linli.follow(ADMIN, post, "🙋 报名")
    assert "📍 地点：社区图书室" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✏ 修改时间")
    out = await linli.say(ADMIN, "后天下午")
    assert "YYYY-MM-DD HH:MM" in out[-1]["text"]  # a clear answer, and the question stays
    out = await linli.say(ADMIN, new_start.strftime("%Y-%m-%d %H:%M"))
    _, out = await linli.press(ADMIN, out[-1], "✅ 修改")
    assert "已修改" in out[-1]["text"]
    await linli.settle()
    told = await linli.last(R1)
    assert new_start.strftime("%Y-%m-%d %H:%M") in told["text"] and "社区图书室" in told["text"]

    _to(linli, 2, time(15))  # the day before the old time: no reminder
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    assert (await linli.last(R1))["text"] == told["text"]
    _to(linli, 2, time(15))  # the day before the new time
    await spaces_tick(linli.db, linli.clock)
    await linli.settle()
    reminded = await linli.last(R1)
    assert "提醒" in reminded["text"] and new_start.strftime("%Y-%m-%d %H:%M") in reminded["text"]


async def test_item5_a_post_link_answers_in_its_own_community(linli: Harness) -> None:
    """Someone working in another of their communities is offered the switch, then sees the opening."""
    await _setup(linli)
    out = await linli.say(WORKER, "/jobs")
    _, out = await linli.press(WORKER, out[-1], "➕ 发布岗位")
    for answer in ("手工编织", "北辰编织合作社", "计件", "党群服务中心",
                   (local(linli.clock.now(), "Asia/Shanghai").date() + timedelta(days=5)).isoformat()):
        out = await linli.say(WORKER, answer)
    _, out = await linli.press(WORKER, out[-1], "✅ 发布")
    post = await linli.last(GROUPS["1"])
    other = await linli.create_community(name="宜兴埠社区", buildings="1-2")
    out = await linli.say(R1, f"/start i_{other}")  # 赵阿姨 joins a second community and works there now
    if "号楼" in str(out[-1].get("reply_markup")):
        _, out = await linli.press(R1, out[-1], "1号楼")
    if "同意" in str(out[-1].get("reply_markup")):
        await linli.press(R1, out[-1], "同意")
    out = await linli.follow(R1, post, "💼 查看并报名")
    assert "这条消息来自北辰示范社区" in out[-1]["text"] and "宜兴埠社区" in out[-1]["text"]
    await linli.press(R1, out[-1], "切换到北辰示范社区")
    out = await linli.follow(R1, post, "💼 查看并报名")
    assert "北辰编织合作社" in out[-1]["text"] and "✉ 通过邻里报名" in buttons(out[-1])
