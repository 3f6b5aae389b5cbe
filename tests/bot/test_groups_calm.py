"""Issue #12 item 4 end to end, over real HTTP on both runtimes: what groups see stays true and calm.
/board's buttons in a group open a project's page in private (a deep link) and an old button pressed there
answers the presser privately — the group's shared message is never rewritten; the pinned board follows a
completed project, edited in place at most hourly; /ballot close before the closing time asks first (and can
be cancelled); the public result says when an admin decided a tie."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.core import callbacks
from storage.models import Ballot, Project, ProjectPhoto
from tests.bot import test_ballot as ballot_test
from tests.bot.conftest import Harness, buttons
from tests.bot.test_board import MARCH, SETUP, _projects, _tick, go

ADMIN, R1, STRANGER = 611, 612, 613  # the board test's people (tests.bot.test_board._projects uses them)
GROUP = -1002000000121


async def _board_world(linli: Harness) -> dict[str, int]:
    await go(linli, SETUP)
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(R1, "赵阿姨")
    await linli.user(STRANGER, "路人")
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, STRANGER], admin=ADMIN)
    assert "北辰示范社区" in (await linli.say(ADMIN, "/link community", chat_id=GROUP))[-1]["text"]
    return await _projects(linli)


async def test_item4_board_buttons_in_a_group_open_the_page_privately(linli: Harness) -> None:
    ids = await _board_world(linli)
    shown = (await linli.say(STRANGER, "/board", chat_id=GROUP))[-1]
    links = [b["url"] for row in shown["reply_markup"]["inline_keyboard"] for b in row]
    assert links == [f"https://t.me/{linli.app.core.bot_username}?start=project_{ids[k]}"
                     for k in ("lights", "park", "canteen")]
    before = await linli.tg.cursor()
    page = (await linli.follow(R1, shown, "🟡 1. 楼道灯改造"))[-1]
    assert page["chat_id"] == R1 and "⏳ 施工 · 计划 2027-03-10" in page["text"] and buttons(page) == ["◀ 公示栏"]
    # a board posted before its buttons were links: the press answers the presser, the group's message stays
    data = callbacks.pack(linli.app.core.secret, ["bd", "p", ids["park"]], now=linli.clock.now(),
                          ttl=timedelta(days=1))
    toast = await linli.tap_data(R1, shown, data)
    assert toast and "私聊" in toast
    assert "口袋公园" in (await linli.last(R1))["text"] and "🎉" in (await linli.last(R1))["text"]
    toast = await linli.tap_data(R1, shown, callbacks.pack(linli.app.core.secret, ["bd", "b"],
                                                           now=linli.clock.now(), ttl=timedelta(days=1)))
    assert toast and "/board" in toast
    assert await linli.tg.bot_messages(GROUP, before) == []  # nothing sent to the group, nothing edited
    assert (await linli.last(GROUP))["text"] == shown["text"]


async def test_item4_the_pinned_board_follows_a_completed_project_at_most_hourly(linli: Harness) -> None:
    ids = await _board_world(linli)
    await go(linli, MARCH)
    before = await linli.tg.cursor()
    await _tick(linli)
    board_msg = next(m for m in await linli.tg.bot_messages(GROUP, before) if m["photo"] is None)
    assert board_msg["pinned"] and "🟡 1. 楼道灯改造 · 30%" in board_msg["text"]
    # the owner finishes project 1 (with its "after" photo) twenty minutes later
    await go(linli, MARCH + timedelta(minutes=20))
    async with linli.db.uow() as uow:
        p = await uow.session.get(Project, ids["lights"])
        assert p is not None
        p.percent, p.completed_at, p.last_report_at = 100, linli.clock.now(), linli.clock.now()
        uow.session.add_all([p, ProjectPhoto(project_id=p.id or 0, kind="after", file_id="a", file_unique_id="ua",
                                             member_id=p.owner_member_id or 0, created_at=linli.clock.now())])
        await uow.commit()
    await go(linli, MARCH + timedelta(minutes=40))
    before = await linli.tg.cursor()
    await _tick(linli)
    assert await linli.tg.bot_messages(GROUP, before) == []  # within the hour of the last post: it waits
    await go(linli, MARCH + timedelta(hours=1, minutes=10))
    await _tick(linli)
    edited = await linli.tg.bot_messages(GROUP, before)
    assert [m["message_id"] for m in edited] == [board_msg["message_id"]] and edited[0]["edited"]
    assert "🟢 1. 楼道灯改造 · 100%" in edited[0]["text"] and edited[0]["pinned"]
    before = await linli.tg.cursor()
    await go(linli, MARCH + timedelta(hours=3))
    await _tick(linli)
    assert await linli.tg.bot_messages(GROUP, before) == []  # nothing changed since: no edit


async def test_item4_an_early_ballot_close_asks_first(linli: Harness) -> None:
    await ballot_test._setup(linli)
    await ballot_test._create(linli, "2")
    await ballot_test._vote(linli, ballot_test.R1, ["楼道灯改造", "加装电梯调研"])
    out = await linli.say(ballot_test.ADMIN, "/ballot close")
    ask = out[-1]
    assert "现在关闭点选并计票吗" in ask["text"] and "原定于" in ask["text"]
    assert buttons(ask) == ["✅ 确定关闭并计票", "✖ 取消"]
    _, out = await linli.press(ballot_test.ADMIN, ask, "✖ 取消")
    assert "⏹ 关闭并计票" in buttons(out[-1])
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Ballot.status))).one() == "open"
    out = await linli.say(ballot_test.ADMIN, "/ballot close")
    _, out = await linli.press(ballot_test.ADMIN, out[-1], "✅ 确定关闭并计票")
    assert any("已计票" in m["text"] for m in out)


async def test_item4_the_result_says_an_admin_decided_the_tie(linli: Harness) -> None:
    tie = await ballot_test._tie(linli)
    _, out = await linli.press(ballot_test.ADMIN, tie, "⬜ 老年餐桌 (1)")
    before = await linli.tg.cursor()
    await linli.press(ballot_test.ADMIN, out[-1], "✔ 确定（1/1）")
    result = (await linli.tg.bot_messages(ballot_test.GROUP, before))[-1]["text"]
    assert "老年餐桌 — 1 票 ✅ 当选" in result
    assert "末位票数相同，由管理员决定选入：老年餐桌。" in result


async def test_needs_list_in_a_group_is_browsed_privately(linli: Harness) -> None:
    """/needs in a group: its category buttons are deep links, so one person's browsing never rewrites the
    group's shared message; a list posted before that (callback buttons) answers the presser privately, and a
    "+1" pressed there counts without editing the group's message."""
    from tests.bot import test_needs as needs_test

    await needs_test._setup(linli)
    await linli.say(needs_test.ADMIN, "/needs open")
    await linli.say(needs_test.R2, "/need 楼道灯不亮", chat_id=needs_test.GROUP)
    shown = await linli.last(needs_test.GROUP)
    _, out = await linli.press(needs_test.R2, shown, "设施维护")
    group = needs_test.GROUP
    listed = (await linli.say(needs_test.R3, "/needs", chat_id=group))[-1]
    links = [b.get("url") for row in listed["reply_markup"]["inline_keyboard"] for b in row]
    assert links and all(u and u.startswith(f"https://t.me/{linli.app.core.bot_username}?start=needs_") for u in links)
    before = await linli.tg.cursor()
    page = (await linli.follow(needs_test.R3, listed, "设施维护 (1)"))[-1]
    assert page["chat_id"] == needs_test.R3 and "楼道灯不亮" in page["text"] and "+1 我也需要 #1" in buttons(page)
    # an old list with callback buttons, pressed in the group: the page goes to the presser
    data = callbacks.pack(linli.app.core.secret, ["nb", "c", "facility", 1], now=linli.clock.now(),
                          ttl=timedelta(days=1))
    toast = await linli.tap_data(needs_test.R1, listed, data)
    assert toast and "私聊" in toast
    assert "楼道灯不亮" in (await linli.last(needs_test.R1))["text"]
    need_id = callbacks.unpack(linli.app.core.secret, page["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
                               now=linli.clock.now())[1]
    plus = callbacks.pack(linli.app.core.secret, ["n1", need_id, "facility", 1], now=linli.clock.now(),
                          ttl=timedelta(days=1))
    toast = await linli.tap_data(needs_test.R1, listed, plus)
    assert toast and "1 位邻居" in toast
    assert await linli.tg.bot_messages(group, before) == []  # nothing sent to the group, nothing edited
    assert (await linli.last(group))["text"] == listed["text"]

