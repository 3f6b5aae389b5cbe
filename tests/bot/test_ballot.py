"""The representatives' ballot (居民代表点选) end to end, over real HTTP on both runtimes: the admin creates
and opens it through the dialog; representatives get the notice, page, toggle, hit the maximum, submit,
get a receipt, change their mind and resubmit; the group sees turnout without names; admins who are not
representatives and residents cannot vote; forged and stale presses change nothing; closing posts the
result; ties are decided by the admin or go to a run-off; 50 representatives press at the same moment."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlmodel import col, delete, select

from bot.core import callbacks
from flows import ballot, ballot_sheets, membership, needs
from flows.roles import Role
from scheduler.runner import ballot_tick
from storage.models import (
    Ballot,
    BallotCandidate,
    BallotEnvelope,
    BallotMark,
    BallotVoter,
    OutboxMessage,
    Project,
    User,
)
from tests.bot.conftest import Harness, buttons

ADMIN, R1, R2, R3, RES = 501, 502, 503, 504, 505
GROUP = -1002000000055
TITLES = ["楼道灯改造", "加装电梯调研", "老年餐桌", "非机动车充电桩", "小区绿化补种", "健身器材更新", "儿童游乐区",
          "快递柜增设", "停车位划线", "垃圾分类亭", "消防通道清理", "社区食堂"]


async def _admin_actor(uow: Any) -> membership.Actor:
    user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
    return await membership.load_actor(uow, user)


async def _candidates(linli: Harness, count: int = 12) -> None:
    """The year's candidate projects, as the needs review leaves them."""
    async with linli.db.uow() as uow:
        actor, now = await _admin_actor(uow), linli.clock.now()
        await needs.open_period(uow, actor=actor, now=now)
        for title in TITLES[:count]:
            need = await needs.submit(uow, actor=actor, category="facility", text=f"希望{title}", now=now)
            await needs.promote(uow, actor=actor, need_id=need.id or 0, title=title, now=now)
        await uow.session.flush()
        # seeding, not under test: the "your need is a candidate" notices would only fill the admin's chat
        await uow.session.execute(delete(OutboxMessage).where(col(OutboxMessage.status) == "pending"))
        await uow.commit()


async def _make_reps(linli: Harness, tg_ids: list[int]) -> None:
    async with linli.db.uow() as uow:
        for tg_id in tg_ids:
            user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
            actor = await membership.load_actor(uow, user)
            assert actor.member is not None
            await membership.assign_role(uow, member=actor.member, role=Role.REPRESENTATIVE, org=None,
                                         now=linli.clock.now())
        await uow.commit()


async def _setup(linli: Harness, candidates: int = 12) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    for who, name in ((R1, "赵代表"), (R2, "钱代表"), (R3, "孙代表"), (RES, "李居民")):
        await linli.register(who, name)
    await _candidates(linli, candidates)
    await _make_reps(linli, [R1, R2, R3])
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, R2, R3, RES], admin=ADMIN)
    out = await linli.say(ADMIN, "/link community", chat_id=GROUP)
    assert "北辰示范社区" in out[-1]["text"]


async def _create(linli: Harness, choose: str) -> None:
    """The admin's dialog: /ballot → 创建点选 → choose (typed) → minimum 1 → 7 days → now → confirm."""
    out = await linli.say(ADMIN, "/ballot")
    assert "还没有" in out[-1]["text"] and "➕ 创建点选" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "➕ 创建点选")
    assert {"5", "10", "15"} <= set(buttons(out[-1]))
    out = await linli.say(ADMIN, choose)
    assert "至少" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "1")
    _, out = await linli.press(ADMIN, out[-1], "7 天后 18:00")
    _, out = await linli.press(ADMIN, out[-1], "现在")
    summary = out[-1]
    assert "候选项目：12" in summary["text"] and f"1–{choose}" in summary["text"]
    assert await _count(linli, Ballot) == 0  # nothing written before the confirmation
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, summary, "✅ 确认")
    assert "已开放" in out[-1]["text"] and "3 位居民代表" in out[-1]["text"]
    for rep in (R1, R2, R3):
        notice = (await linli.tg.bot_messages(rep, before))[-1]
        assert "居民代表点选" in notice["text"] and "🗳 打开选票" in buttons(notice)
    assert "居民代表点选" in (await linli.tg.bot_messages(GROUP, before))[-1]["text"]
    assert not [m for m in await linli.tg.bot_messages(RES, before) if "点选" in m["text"]]


async def _count(linli: Harness, model: Any) -> int:
    async with linli.db.uow() as uow:
        return len((await uow.session.exec(select(model))).all())


async def _drafts(linli: Harness) -> list[tuple[list[int], int, bool]]:
    """The voters' envelopes, opened with the ballot key: (draft, version, submitted)."""
    async with linli.db.uow() as uow:
        rows = (await uow.session.exec(select(BallotEnvelope).order_by(col(BallotEnvelope.id)))).all()
    opened = [ballot_sheets._unseal(linli.app.core.ballot_key, e.sealed)[1] for e in rows]
    return [(sorted(p.draft), p.version, p.cast is not None) for p in opened]


async def _open_sheet(linli: Harness, rep: int) -> dict[str, Any]:
    notice = (await linli.last(rep))
    assert "🗳 打开选票" in buttons(notice), notice["text"]
    out = await linli.follow(rep, notice, "🗳 打开选票")
    return out[-1]


def _data(message: dict[str, Any], label: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for b in row:
            if b["text"] == label:
                return str(b["callback_data"])
    raise AssertionError(f"no button {label!r} in {buttons(message)}")


async def _vote(linli: Harness, rep: int, picks: list[str]) -> str:
    """Open the sheet from /vote, tick `picks` (on page 1 or 2), submit; returns the receipt code."""
    sheet = (await linli.say(rep, "/vote"))[-1]
    for title in picks:
        label = next((b for b in buttons(sheet) if b.endswith(f". {title}")), None)
        if label is None:
            _, out = await linli.press(rep, sheet, "▶")
            sheet = out[-1]
            label = next(b for b in buttons(sheet) if b.endswith(f". {title}"))
        _, out = await linli.press(rep, sheet, label)
        sheet = out[-1]
        assert f"✅ {label[2:]}" in buttons(sheet)
    toast, out = await linli.press(rep, sheet, "📨 提交")
    assert toast and "回执码" in toast
    match = re.search(r"回执码 ([0-9A-Z]{4}-[0-9A-Z]{4})", out[-1]["text"])
    assert match, out[-1]["text"]
    return match.group(1)


async def test_a_ballot_from_dialog_to_result(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(RES, "/ballot new")
    assert "权限" in out[-1]["text"]
    out = await linli.say(ADMIN, "/ballot", chat_id=GROUP)
    assert "目前没有" in out[-1]["text"]

    # the dialog: a typed wrong number is answered, then the real one
    out = await linli.say(ADMIN, "/ballot new")
    out = await linli.say(ADMIN, "四十一")
    assert "1 到 40" in out[-1]["text"]
    out = await linli.say(ADMIN, "/cancel")
    assert "已取消" in out[-1]["text"]
    await _create(linli, "3")

    # a representative opens the sheet from the notice, pages, toggles, hits the maximum, submits
    sheet = await _open_sheet(linli, R1)
    assert "请选择 1–3 项" in sheet["text"] and "已选 0/3" in sheet["text"] and "截止" in sheet["text"]
    labels = buttons(sheet)
    assert "⬜ 1. 楼道灯改造" in labels and "⬜ 8. 快递柜增设" in labels and "⬜ 9. 停车位划线" not in labels
    assert "1/2" in labels and "▶" in labels and "📨 提交" in labels
    _, out = await linli.press(R1, sheet, "▶")
    sheet = out[-1]
    assert "⬜ 9. 停车位划线" in buttons(sheet) and "⬜ 12. 社区食堂" in buttons(sheet) and "◀" in buttons(sheet)
    _, out = await linli.press(R1, sheet, "⬜ 9. 停车位划线")
    sheet = out[-1]
    assert "✅ 9. 停车位划线" in buttons(sheet) and "已选 1/3" in sheet["text"]
    _, out = await linli.press(R1, sheet, "◀")
    sheet = out[-1]
    old = sheet  # a screen that will go stale
    for label in ("⬜ 1. 楼道灯改造", "⬜ 2. 加装电梯调研"):
        _, out = await linli.press(R1, sheet, label)
        sheet = out[-1]
    assert "已选 3/3" in sheet["text"] and "未提交" in sheet["text"]
    toast, _ = await linli.press(R1, sheet, "⬜ 3. 老年餐桌")
    assert toast and "最多选 3 项" in toast
    assert await _drafts(linli) == [(sorted(await _ids(linli, [1, 2, 9])), 3, False)]

    # a press from the stale screen changes nothing and shows the sheet as it is
    toast = await linli.tap_data(R1, old, _data(old, "⬜ 4. 非机动车充电桩"))
    assert toast and "重新查看" in toast
    assert (await _drafts(linli))[0][:2] == (sorted(await _ids(linli, [1, 2, 9])), 3)

    toast, out = await linli.press(R1, sheet, "📨 提交")
    sheet = out[-1]
    code = re.search(r"回执码 ([0-9A-Z]{4}-[0-9A-Z]{4})", sheet["text"])
    assert toast and code and code.group(1) in toast and "截止前可修改" in sheet["text"]
    receipt = code.group(1)
    # a change of mind: an unsubmitted change is shown until submitted again; same receipt
    _, out = await linli.press(R1, sheet, "✅ 2. 加装电梯调研")
    sheet = out[-1]
    assert "有未提交的更改" in sheet["text"] and "已选 2/3" in sheet["text"]
    toast, out = await linli.press(R1, sheet, "📨 提交")
    assert toast and receipt in toast and "有未提交的更改" not in out[-1]["text"]

    assert await _vote(linli, R2, ["楼道灯改造", "停车位划线"]) != receipt

    # the group sees turnout, never names; the admin (not a representative) sees no choices, cannot vote
    out = await linli.say(RES, "/ballot", chat_id=GROUP)
    text = out[-1]["text"]
    assert "2/3 位代表已投票" in text and "赵代表" not in text and "钱代表" not in text and "票 " not in text
    out = await linli.say(R1, "/vote", chat_id=GROUP)
    assert "私聊" in out[-1]["text"] and out[-1]["reply_markup"]["inline_keyboard"][0][0]["url"].endswith("start=vote")
    card = (await linli.say(ADMIN, "/ballot"))[-1]
    assert "2/3 位代表已投票" in card["text"] and "⏹ 关闭并计票" in buttons(card) and " 票" not in card["text"]
    for who in (ADMIN, RES):
        out = await linli.say(who, "/vote")
        assert "只有居民代表" in out[-1]["text"]

    # a forged toggle for a candidate not on this ballot: a clear answer, nothing changed
    bid = await _ballot_id(linli)
    forged = callbacks.pack(linli.app.core.secret, ["bv", "t", bid, 99999, 0, 1], now=linli.clock.now(),
                            ttl=linli.app.core.button_ttl)
    sheet = (await linli.say(R3, "/vote"))[-1]
    before = await _drafts(linli)
    toast = await linli.tap_data(R3, sheet, forged)
    assert toast and "不在本次点选" in toast
    assert await _drafts(linli) == before

    # receipts: anyone registered may check a code; it says submitted, never what was chosen
    out = await linli.say(RES, f"/ballot receipt {receipt.lower().replace('-', '')}")
    assert "已提交" in out[-1]["text"] and "楼道灯改造" not in out[-1]["text"] and "停车位划线" not in out[-1]["text"]
    out = await linli.say(RES, "/ballot receipt ABCD-EFGH")
    assert "没有选票" in out[-1]["text"]

    # withdraw by command, close with confirmation through the card
    out = await linli.say(ADMIN, "/ballot withdraw 12")
    assert "社区食堂" in out[-1]["text"] and "撤回" in out[-1]["text"]
    _, out = await linli.press(R3, sheet, "▶")
    assert "🚫 12. 社区食堂" in buttons(out[-1])
    toast, _ = await linli.press(R3, out[-1], "🚫 12. 社区食堂")
    assert toast and "撤回" in toast
    await _vote(linli, R3, ["老年餐桌"])
    card = (await linli.say(ADMIN, "/ballot"))[-1]
    _, out = await linli.press(ADMIN, card, "⏹ 关闭并计票")
    assert "3/3" in out[-1]["text"]
    before_close = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✅ 确定关闭并计票")
    assert any("已计票" in m["text"] for m in out)  # the card, edited (the admins get the result notice too)
    result = (await linli.tg.bot_messages(GROUP, before_close))[-1]["text"]
    assert "1. 楼道灯改造 — 2 票 ✅ 当选" in result and "停车位划线 — 2 票 ✅ 当选" in result
    assert "老年餐桌 — 1 票 ✅ 当选" in result and "加装电梯调研 — 0 票" in result
    assert "3/3" in result and "赵代表" not in result

    # after closing: a clear answer, nothing changed
    toast = await linli.tap_data(R3, sheet, _data(sheet, "⬜ 1. 楼道灯改造"))  # a screen from before
    assert toast and "已结束" in toast
    out = await linli.say(R2, "/vote")
    assert "已结束" in out[-1]["text"]
    out = await linli.say(RES, f"/ballot receipt {receipt}")
    assert "已计入" in out[-1]["text"]
    out = await linli.say(RES, "/ballot", chat_id=GROUP)
    assert "楼道灯改造 — 2 票" in out[-1]["text"]
    async with linli.db.uow() as uow:
        projects = (await uow.session.exec(select(Project).order_by(col(Project.number)))).all()
        marks = (await uow.session.exec(select(BallotMark).where(col(BallotMark.chosen).is_(True)))).all()
    assert [p.title for p in projects][:2] == ["楼道灯改造", "停车位划线"] and len(projects) == 3
    assert len(marks) == 5  # R1: 1, 9; R2: 1, 9; R3: 3


async def _ids(linli: Harness, positions: list[int]) -> list[int]:
    async with linli.db.uow() as uow:
        rows = (await uow.session.exec(select(BallotCandidate).order_by(col(BallotCandidate.id)))).all()
    by_pos = {c.position: c.id or 0 for c in rows}
    return [by_pos[p] for p in positions]


async def _ballot_id(linli: Harness, round_: int = 1) -> int:
    async with linli.db.uow() as uow:
        return (await uow.session.exec(select(Ballot.id).where(Ballot.round == round_))).one() or 0


async def _tie(linli: Harness) -> dict[str, Any]:
    """Two seats; 楼道灯改造 3 votes, 加装电梯调研 and 老年餐桌 1 each: a tie for the second seat."""
    await _setup(linli)
    await _create(linli, "2")
    await _vote(linli, R1, ["楼道灯改造", "加装电梯调研"])
    await _vote(linli, R2, ["楼道灯改造", "老年餐桌"])
    await _vote(linli, R3, ["楼道灯改造"])
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "/ballot close")  # before the closing time: asked once more
    _, out = await linli.press(ADMIN, out[-1], "✅ 确定关闭并计票")
    assert "平票" in out[-1]["text"]
    tie = [m for m in await linli.tg.bot_messages(ADMIN, before) if "⚖" in m["text"]][-1]
    assert {"⬜ 加装电梯调研 (1)", "⬜ 老年餐桌 (1)", "🔁 发起复选"} <= set(buttons(tie))
    assert not await linli.tg.bot_messages(GROUP, before)  # nothing announced yet
    assert await _count(linli, Project) == 0
    return tie


async def test_a_tie_decided_by_the_admin(linli: Harness) -> None:
    tie = await _tie(linli)
    toast, _ = await linli.press(ADMIN, tie, "✔ 确定（0/1）")
    assert toast and "正好选 1 项" in toast
    _, out = await linli.press(ADMIN, tie, "⬜ 老年餐桌 (1)")
    assert "✅ 老年餐桌 (1)" in buttons(out[-1])
    toast, _ = await linli.press(ADMIN, out[-1], "⬜ 加装电梯调研 (1)")
    assert toast and "正好选 1 项" in toast
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✔ 确定（1/1）")
    assert any("已计票" in m["text"] for m in out)
    result = (await linli.tg.bot_messages(GROUP, before))[-1]["text"]
    assert "老年餐桌 — 1 票 ✅ 当选" in result and "加装电梯调研 — 1 票" in result
    assert "加装电梯调研 — 1 票 ✅" not in result
    assert "末位票数相同，由管理员决定选入：老年餐桌" in result  # issue #12 item 4: the admin's decision is said
    async with linli.db.uow() as uow:
        projects = (await uow.session.exec(select(Project).order_by(col(Project.number)))).all()
    assert [(p.number, p.title, p.votes) for p in projects] == [(1, "楼道灯改造", 3), (2, "老年餐桌", 1)]


async def test_a_tie_goes_to_a_run_off(linli: Harness) -> None:
    tie = await _tie(linli)
    _, out = await linli.press(ADMIN, tie, "🔁 发起复选")
    assert "1 天后 18:00" in buttons(out[-1])
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "3 天后 18:00")
    assert "复选" in out[-1]["text"] and "3 位居民代表" in out[-1]["text"]
    notice = (await linli.tg.bot_messages(R1, before))[-1]
    assert "第 2 轮" in notice["text"]
    sheet = await _open_sheet(linli, R1)
    assert "请选择 1–1 项" in sheet["text"] and len([b for b in buttons(sheet) if b.startswith("⬜")]) == 2
    await _vote(linli, R1, ["老年餐桌"])
    await _vote(linli, R2, ["老年餐桌"])
    # half a day before closing the scheduler reminds the one who has not voted, once
    async with linli.db.uow() as uow:
        closes = (await uow.session.exec(select(Ballot.closes_at).where(Ballot.round == 2))).one()
    linli.clock.advance(seconds=(closes - linli.clock.now()).total_seconds() - 12 * 3600)
    before = await linli.tg.cursor()
    assert (await ballot_tick(linli.db, linli.clock, linli.app.core.on_outbox))["reminded"] == 1
    assert (await ballot_tick(linli.db, linli.clock, linli.app.core.on_outbox))["reminded"] == 0
    await linli.settle()
    assert [m["chat_id"] for m in await linli.tg.bot_messages(R1, before)] == []
    remind = (await linli.tg.bot_messages(R3, before))[-1]
    assert "提醒" in remind["text"] and "还没有投票" in remind["text"]
    out = await linli.follow(R3, remind, "🗳 打开选票")
    assert "请选择 1–1 项" in out[-1]["text"]
    await _vote(linli, R3, ["加装电梯调研"])
    card = (await linli.say(ADMIN, "/ballot"))[-1]
    assert "第 2 轮" in card["text"] and "3/3 位代表已投票" in card["text"]
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "/ballot close")
    _, out = await linli.press(ADMIN, out[-1], "✅ 确定关闭并计票")
    assert any("已计票" in m["text"] for m in out)
    result = (await linli.tg.bot_messages(GROUP, before))[-1]["text"]
    assert "老年餐桌 — 2 票 ✅ 当选" in result and "加装电梯调研 — 1 票" in result
    async with linli.db.uow() as uow:
        projects = (await uow.session.exec(select(Project).order_by(col(Project.number)))).all()
        statuses = (await uow.session.exec(select(Ballot.status).order_by(col(Ballot.round)))).all()
    assert [(p.number, p.title) for p in projects] == [(1, "楼道灯改造"), (2, "老年餐桌")]
    assert list(statuses) == ["closed", "closed"]


@pytest.mark.parametrize("runtime", ["aiogram"])  # concurrency is the core's and the database's, not the runtime's
async def test_fifty_representatives_press_at_the_same_moment(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await _candidates(linli)
    async with linli.db.uow() as uow:
        community_id = (await _admin_actor(uow)).member.community_id  # type: ignore[union-attr]
    reps = list(range(9001, 9051))
    for rep in reps:
        await linli.user(rep, f"代表{rep}")
    await asyncio.gather(*(linli.tg.send(rep, "/help") for rep in reps))  # they have talked to the bot
    await linli.settle()
    async with linli.db.uow() as uow:
        for rep in reps:
            user = (await uow.session.exec(select(User).where(User.tg_id == rep))).one()
            await membership.register(uow, user=user, community_id=community_id, building_id=None, now=linli.clock.now())
        await uow.commit()
    await _make_reps(linli, reps)
    async with linli.db.uow() as uow:
        await ballot.create(uow, actor=await _admin_actor(uow), now=linli.clock.now(),
                            closes_at=linli.clock.now().replace(microsecond=0) + (ballot.REMIND_BEFORE * 7))
        await uow.commit()
    out = await linli.say(ADMIN, "/ballot open")
    assert "50 位居民代表" in out[-1]["text"]
    notices = [await linli.last(rep) for rep in reps]

    async def tap(rep: int, message: dict[str, Any], label: str) -> dict[str, Any]:
        return await linli.tg.tap(rep, message["chat_id"], message["message_id"], text=label)

    assert all("🗳 打开选票" in buttons(n) for n in notices)
    await asyncio.gather(*(linli.tg.send(rep, "/start vote") for rep in reps))
    await linli.settle()
    sheets = [await linli.last(rep) for rep in reps]
    assert all("已选 0/10" in s["text"] for s in sheets)
    await asyncio.gather(*(tap(rep, s, "⬜ 1. 楼道灯改造") for rep, s in zip(reps, sheets, strict=True)))
    await linli.settle()
    first = (await _ids(linli, [1]))[0]
    assert await _drafts(linli) == [([first], 1, False)] * 50
    # each presses two buttons of the same screen at once: exactly one applies
    sheets = [await linli.last(rep) for rep in reps]
    assert all("已选 1/10" in s["text"] for s in sheets)
    await asyncio.gather(*(tap(rep, s, label) for rep, s in zip(reps, sheets, strict=True)
                           for label in ("⬜ 2. 加装电梯调研", "⬜ 3. 老年餐桌")))
    await linli.settle()
    drafts = await _drafts(linli)
    assert len(drafts) == 50 and all(version == 2 and len(chosen) == 2 and chosen[0] == first
                                     for chosen, version, _ in drafts)
    async with linli.db.uow() as uow:
        voters = (await uow.session.exec(select(BallotVoter))).all()
    assert len(voters) == 50 and all(v.voted_at is None for v in voters)
