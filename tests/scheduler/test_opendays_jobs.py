"""Open days over real HTTP (one runtime): an admin announces one with /openday, residents sign up in
the group (once; they may cancel), the admin lists the names in private; the scheduler's job reminds
them the day before and asks for feedback after, each once, and the feedback is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from flows.clock import local
from scheduler.runner import opendays_tick
from storage.models import Community, OpenDaySignup, Project
from tests.bot.conftest import Harness, buttons

ADMIN, R1, R2 = 901, 902, 903
GROUP = -1002000000091
TZ = "Asia/Shanghai"


@pytest.fixture
def runtime() -> str:
    return "aiogram"  # the transcript of both runtimes is tests/bot/test_acceptance.py


async def test_open_day_from_announcement_to_feedback(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(R1, "赵阿姨")
    await linli.register(R2, "钱叔叔")
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, R2], admin=ADMIN)
    await linli.say(ADMIN, "/link community", chat_id=GROUP)
    async with linli.db.uow() as uow:
        community = (await uow.session.exec(select(Community))).one()
        uow.session.add(Project(community_id=community.id or 0, year=2027, number=2, title="健身器材更新",
                                category="culture", created_at=linli.clock.now()))
        await uow.commit()

    out = await linli.say(R1, "/openday")
    assert "权限" in out[-1]["text"]
    out = await linli.say(ADMIN, "/openday")
    assert "实事开放日" in out[-1]["text"] and buttons(out[-1]) == ["2027·2 健身器材更新"]
    _, out = await linli.press(ADMIN, out[-1], "健身器材更新")
    assert "2027-06-01 09:30" in out[-1]["text"]
    out = await linli.say(ADMIN, "下周六上午")
    assert "格式" in out[-1]["text"]
    past = local(linli.clock.now() - timedelta(days=1), TZ).strftime("%Y-%m-%d %H:%M")
    out = await linli.say(ADMIN, past)
    assert "已经过去" in out[-1]["text"]
    start_local = (local(linli.clock.now(), TZ) + timedelta(days=10)).replace(hour=9, minute=30, second=0,
                                                                               microsecond=0)
    when = start_local.strftime("%Y-%m-%d %H:%M")
    out = await linli.say(ADMIN, when)
    assert "地点" in out[-1]["text"]
    out = await linli.say(ADMIN, "门" * 61)
    assert "60" in out[-1]["text"]
    out = await linli.say(ADMIN, "小区中心广场")
    assert when in out[-1]["text"] and "小区中心广场" in out[-1]["text"]
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✅ 发布")
    assert "1 个群" in out[-1]["text"]
    post = (await linli.tg.bot_messages(GROUP, before))[-1]
    assert "实事开放日" in post["text"] and when in post["text"] and "小区中心广场" in post["text"]
    assert buttons(post) == ["🙋 报名当体验官", "取消报名"]

    toast, _ = await linli.press(R1, post, "报名当体验官")
    assert toast and "居民体验官" in toast and "1" in toast
    toast, _ = await linli.press(R1, post, "报名当体验官")
    assert toast and "已经报名" in toast
    toast, _ = await linli.press(R2, post, "取消报名")
    assert toast and "没有报名" in toast
    toast, _ = await linli.press(R2, post, "报名当体验官")
    assert toast and "2" in toast

    out = await linli.say(ADMIN, "/opendays")
    assert "已报名 2 人" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "👥")
    assert "赵阿姨" in out[-1]["text"] and "钱叔叔" in out[-1]["text"]

    start = start_local.astimezone(linli.clock.now().tzinfo)
    # the day before: a reminder each, once
    linli.clock.advance(seconds=(start - timedelta(hours=20) - linli.clock.now()).total_seconds())
    cursor = await linli.tg.cursor()
    result = await opendays_tick(linli.db, linli.clock, linli.app.sender.wake if linli.app.sender else None)
    assert (result.reminders, result.prompts) == (2, 0)
    assert (await opendays_tick(linli.db, linli.clock)).reminders == 0
    await linli.settle()
    reminder = (await linli.tg.bot_messages(R1, cursor))[-1]
    assert "提醒" in reminder["text"] and when in reminder["text"] and "小区中心广场" in reminder["text"]

    # after it: the feedback prompt, once; 4 stars and a comment
    linli.clock.advance(hours=24)
    cursor = await linli.tg.cursor()
    result = await opendays_tick(linli.db, linli.clock, linli.app.sender.wake if linli.app.sender else None)
    assert (result.reminders, result.prompts) == (0, 2)
    await linli.settle()
    prompt = (await linli.tg.bot_messages(R1, cursor))[-1]
    assert "感谢您参加" in prompt["text"] and buttons(prompt) == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
    _, out = await linli.press(R1, prompt, "4⭐")
    assert "⭐⭐⭐⭐" in out[-1]["text"] and "跳过 ▶" in buttons(out[-1])
    out = await linli.say(R1, "器材很新，孩子们很喜欢")
    assert "感谢您的反馈" in out[-1]["text"]
    async with linli.db.uow() as uow:
        rows = (await uow.session.exec(select(OpenDaySignup).order_by(OpenDaySignup.id))).all()
    assert [(r.stars, r.feedback) for r in rows] == [(4, "器材很新，孩子们很喜欢"), (None, None)]
    assert all(r.reminded_at is not None and r.asked_at is not None for r in rows)
