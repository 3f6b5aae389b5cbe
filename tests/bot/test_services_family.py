"""Family by invite (#17) in Telegram transcripts, on both runtimes: the grid worker's `/services family` link,
the family member registers by it, sees /family, asks for 助洁, hears it claimed and done, and confirms; the grid
worker removes the link and the family member's /family is gone."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from flows import visits
from storage.models import User
from tests.bot.conftest import Harness, buttons
from tests.flows.checkin_world import SECRET_NAME, World, build

TG = 9600
KIN = 9690
PEOPLE = {"primary": ("volunteer",), "other": ("volunteer",), "grid": ("grid_worker",)}


async def _world(linli: Harness) -> World:
    """The check-in world's people (a grid worker, two volunteers), each working in its community, known to the bot."""
    w = await build(linli.db, tg_base=TG, group=False, people=PEOPLE)
    async with linli.db.uow(write=True) as uow:
        for u in (await uow.session.exec(select(User))).all():
            u.active_community_id = w.community_id
            uow.session.add(u)
        await uow.commit()
    for name, tg_id in w.tg.items():
        await linli.user(tg_id, name)
    return w


async def test_item17_family_invite_ask_and_done(linli: Harness) -> None:
    w = await _world(linli)
    await linli.say(w.tg["other"], "/services offer 助洁")
    out = await linli.say(w.tg["grid"], f"/services family {w.persons[0]}")
    assert "3-2-401 李奶奶" in out[-1]["text"]
    code = re.search(r"start=i_([\w-]+)", out[-1]["text"])
    assert code is not None
    await linli.register(KIN, "女儿", invite=code.group(1))
    out = await linli.say(KIN, "/help")
    assert "/family" in out[-1]["text"] and "/services" not in out[-1]["text"]
    out = await linli.say(KIN, "/family")
    assert "3-2-401 李奶奶" in out[-1]["text"] and "401" in out[-1]["text"] and SECRET_NAME not in out[-1]["text"]
    _, pressed = await linli.press(KIN, out[-1], "助洁")
    assert "03-04 09:00" in pressed[-1]["text"]
    out = await linli.say(KIN, "13-45 09:00")
    assert "03-04 09:00" in out[-1]["text"]  # a clear answer to a bad date
    when = (linli.clock.now() + timedelta(days=2)).astimezone(visits.plans.ladder.zone("Asia/Shanghai"))
    out = await linli.say(KIN, f"{when:%m-%d} 09:00")
    assert "S-1" in out[-1]["text"]
    await linli.settle()
    before = await linli.tg.cursor()
    out = await linli.say(w.tg["other"], "/services")
    assert "（等待认领）" in out[-1]["text"] or "(等待认领)" in out[-1]["text"]  # the state in words, not "open"
    _, pressed = await linli.press(w.tg["other"], out[-1], "🙋")
    _, pressed = await linli.press(w.tg["other"], pressed[-1], "✅")
    await linli.say(w.tg["other"], "打扫干净了")
    linli.app.sender.wake()
    await linli.settle()
    told = [m for m in await linli.tg.bot_messages(KIN, before) if m["kind"] == "message"]
    assert any("认领" in m["text"] for m in told)
    done = [m for m in told if "确认" in str(m.get("reply_markup"))]
    assert done
    _, pressed = await linli.press(KIN, done[-1], "👍")
    # the grid worker removes the link: /family is gone for them
    out = await linli.say(w.tg["grid"], f"/services family {w.persons[0]}")
    assert "女儿" in out[-1]["text"]
    _, pressed = await linli.press(w.tg["grid"], out[-1], "✖")
    out = await linli.say(KIN, "/help")
    assert "/family" not in out[-1]["text"]
    async with linli.db.uow() as uow:
        from storage.models_visits import ServiceRequest
        req = (await uow.session.exec(select(ServiceRequest))).one()
    assert req.state == "confirmed"


async def test_item17_a_family_member_unlinks_themselves(linli: Harness) -> None:
    """/family → ✖ → asked first (keep leaves it as it was) → ✖ yes: unlinked; /family and its buttons are gone."""
    w = await _world(linli)
    out = await linli.say(w.tg["grid"], f"/services family {w.persons[0]}")
    code = re.search(r"start=i_([\w-]+)", out[-1]["text"])
    assert code is not None
    await linli.register(KIN, "女儿", invite=code.group(1))
    listing = (await linli.say(KIN, "/family"))[-1]
    unlink = "✖ 解除我与3-2-401 李奶奶的关联"
    assert unlink in buttons(listing)
    _, out = await linli.press(KIN, listing, unlink)
    assert "确定解除与3-2-401 李奶奶的关联吗" in out[-1]["text"] and SECRET_NAME not in out[-1]["text"]
    assert buttons(out[-1]) == ["✖ 确定解除", "保留关联"]
    _, kept = await linli.press(KIN, out[-1], "保留关联")
    assert "关联保留" in kept[-1]["text"]
    listing = (await linli.say(KIN, "/family"))[-1]  # still linked
    assert "3-2-401 李奶奶" in listing["text"]
    _, out = await linli.press(KIN, listing, unlink)
    confirm = out[-1]
    _, out = await linli.press(KIN, confirm, "✖ 确定解除")
    assert "已解除关联" in out[-1]["text"]
    answer = await linli.tap_data(KIN, confirm, confirm["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    assert answer is not None and "不再关联" in answer  # pressed again: nothing more
    out = await linli.say(KIN, "/family")
    assert "3-2-401 李奶奶" not in out[-1]["text"] and not buttons(out[-1])
    answer = await linli.tap_data(KIN, listing, listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    assert answer is not None and "不再关联" in answer  # the old list's service button is refused
    out = await linli.say(w.tg["grid"], f"/services family {w.persons[0]}")
    assert "女儿" not in out[-1]["text"]
