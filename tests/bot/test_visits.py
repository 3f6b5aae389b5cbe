"""Visits and services (#17) in Telegram transcripts over real HTTP, on both runtimes: a visit recorded with a
colour change, and a 助急 from request to completion with every rung (the tick driven by hand with the bot's
clock)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from flows import visits
from storage.models import Chat, KeyPerson, User
from storage.models_visits import ServiceOffer, ServiceRequest
from tests.bot.conftest import Harness
from tests.flows.checkin_world import SECRET_NAME, World, build

TG = 9400
GROUP = -100556
PEOPLE = {"primary": ("volunteer",), "backup": ("volunteer",), "other": ("volunteer",), "grid": ("grid_worker",),
          "admin": ("admin",), "district": ("district_admin",)}


async def _world(linli: Harness) -> World:
    w = await build(linli.db, tg_base=TG, group=False, people=PEOPLE)
    for name, tg_id in w.tg.items():
        await linli.user(tg_id, name)
        await linli.tg.send(tg_id, "/help")
    await linli.settle()
    await linli.group(GROUP, "志愿者群", list(w.tg.values()), admin=w.tg["admin"])
    async with linli.db.uow(write=True) as uow:
        chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == GROUP))).first()
        if chat is None:
            chat = Chat(tg_chat_id=GROUP, type="supergroup", title="志愿者群", created_at=linli.clock.now())
        chat.community_id, chat.purpose, chat.bot_status = w.community_id, "volunteers", "administrator"
        uow.session.add(chat)
        for u in (await uow.session.exec(select(User))).all():
            u.active_community_id = w.community_id
            uow.session.add(u)
        for p in (await uow.session.exec(select(KeyPerson))).all():  # new on the ledger: a first visit due at once
            p.created_at = linli.clock.now()
            uow.session.add(p)
        await uow.commit()
    return w


async def _tick(linli: Harness) -> dict[str, int]:
    async with linli.db.uow(write=True) as uow:
        done = await visits.tick(uow, now=linli.clock.now())
        await uow.commit()
    linli.app.sender.wake()
    await linli.settle()
    return done


async def _new(linli: Harness, chat: int, since: int) -> list[dict]:
    return [m for m in await linli.tg.bot_messages(chat, since) if m["kind"] == "message"]


async def test_item17_a_visit_recorded_with_a_colour_change(linli: Harness) -> None:
    w = await _world(linli)
    before = await linli.tg.cursor()
    assert (await _tick(linli))["visits"] == 1
    [due] = await _new(linli, w.tg["primary"], before)
    assert "应走访" in due["text"] and "3-2-401 李奶奶" in due["text"] and SECRET_NAME not in due["text"]
    _, out = await linli.press(w.tg["primary"], due, "📝 记录走访")
    ask = out[-1]
    assert "情况如何" in ask["text"]
    _, out = await linli.press(w.tg["primary"], ask, "🏠 在家")
    assert "保持还是调整" in out[-1]["text"]
    _, out = await linli.press(w.tg["primary"], out[-1], "🟡")
    assert "原因" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], "身体好转，能下楼")
    assert "备注" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], "精神很好")
    done = out[-1]["text"]
    assert "已记录" in done and "🔴 → 🟡" in done
    next_day = (linli.clock.now() + timedelta(days=14)).astimezone(visits.plans.ladder.zone("Asia/Shanghai"))
    assert f"{next_day:%Y-%m-%d}" in done  # 🟡: fortnightly
    async with linli.db.uow() as uow:
        person = await uow.session.get(KeyPerson, w.persons[0])
        assert person is not None and person.risk == "yellow"
    out = await linli.say(w.tg["primary"], "/visits")
    assert "没有应走访" in out[-1]["text"]  # the next visit is in a fortnight
    out = await linli.say(w.tg["grid"], "/visits week")
    assert "第一网格: 1 / 1" in out[-1]["text"]
    out = await linli.say(w.tg["other"], "/visits")
    assert "没有应走访" in out[-1]["text"]


async def test_item17_urgent_help_from_request_to_completion_with_every_rung(linli: Harness) -> None:
    w = await _world(linli)
    await _tick(linli)  # the visits due now are told first
    out = await linli.say(w.tg["other"], "/services offer 助急 助行")
    assert "助急" in out[-1]["text"] and "助行" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(w.tg["primary"], f"/services ask {w.persons[0]} 助急")
    assert "S-1" in out[-1]["text"] and "网格员" in out[-1]["text"]
    [alert] = await _new(linli, w.tg["grid"], before)
    assert "S-1" in alert["text"] and "🆘" in alert["text"]
    [asked] = await _new(linli, w.tg["other"], before)
    assert "3号楼" in asked["text"] and "李奶奶" not in asked["text"]
    [post] = await _new(linli, GROUP, before)
    assert post["text"].startswith("🆘 3号楼有一位老人需要助急") and "李奶奶" not in post["text"]
    assert SECRET_NAME not in post["text"] and "401" not in post["text"]
    linli.clock.advance(seconds=5 * 60)
    before = await linli.tg.cursor()
    await _tick(linli)
    assert await _new(linli, w.tg["admin"], before) == []
    linli.clock.advance(seconds=5 * 60 + 5)  # 10 minutes: the grid worker again, and the admins
    await _tick(linli)
    assert len(await _new(linli, w.tg["grid"], before)) == 1 and len(await _new(linli, w.tg["admin"], before)) == 1
    assert await _new(linli, w.tg["district"], before) == []
    linli.clock.advance(seconds=20 * 60)  # 30 minutes: the district
    before = await linli.tg.cursor()
    await _tick(linli)
    [rung2] = await _new(linli, w.tg["district"], before)
    assert "S-1" in rung2["text"]
    before = await linli.tg.cursor()
    toast, _ = await linli.press(w.tg["other"], post, "🙋 我来")
    assert toast and "私聊" in toast
    [details] = await _new(linli, w.tg["other"], before)
    assert "3-2-401 李奶奶" in details["text"] and SECRET_NAME not in details["text"]
    toast, _ = await linli.press(w.tg["backup"], post, "🙋 我来")
    assert toast and "已有他人认领" in toast
    _, out = await linli.press(w.tg["other"], details, "✅ S-1 已完成")
    assert "说明" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(w.tg["other"], "已陪同送医")
    assert "已标记完成" in out[-1]["text"]
    [confirm] = await _new(linli, w.tg["primary"], before)
    _, out = await linli.press(w.tg["primary"], confirm, "👍 确认")
    assert "已确认" in out[-1]["text"]
    linli.clock.advance(seconds=3600)
    before = await linli.tg.cursor()
    await _tick(linli)
    assert await _new(linli, w.tg["district"], before) == []  # claimed: the ladder stopped
    out = await linli.say(w.tg["grid"], "/visits week")
    assert "助急 1" in out[-1]["text"] and "已完成：1" in out[-1]["text"]


async def test_item17_bad_input_gets_a_clear_answer_and_changes_nothing(linli: Harness) -> None:
    w = await _world(linli)
    out = await linli.say(w.tg["primary"], "/services ask")
    assert "用法" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], f"/services ask {w.persons[0]} 按摩 03-04 09:00")
    assert "用法" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], f"/services ask {w.persons[0]} 助行 13-45 99:00")
    assert "用法" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], f"/services ask {w.persons[0]} 助行 2020-01-01 09:00")
    assert "已过" in out[-1]["text"]
    out = await linli.say(w.tg["other"], f"/services ask {w.persons[0]} 助行 2099-01-01 09:00")
    assert "只有该对象的志愿者" in out[-1]["text"]  # not their person (checked before the time)
    out = await linli.say(w.tg["other"], "/services offer 按摩")
    assert "助医、助洁、助行、助急" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], "/visits week")
    assert "只有网格员和管理员" in out[-1]["text"]
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(ServiceRequest))).all() == []
        assert (await uow.session.exec(select(ServiceOffer))).all() == []
