"""Check-ins (早看窗帘晚看灯) in Telegram transcripts over real HTTP: a normal day, the full ladder,
⚠️ → incident → slept late, ❌ and /away, /checkins. The tick is driven by hand with the bot's clock."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from flows import checkins
from storage.models import Chat
from tests.bot.conftest import Harness, buttons
from tests.flows.checkin_world import SECRET_NAME, World, build

SH = ZoneInfo("Asia/Shanghai")
TG = 9300
GROUP = -100555


async def _world(linli: Harness, **kw) -> World:
    w = await build(linli.db, tg_base=TG, group=False, **kw)
    for name, tg_id in w.tg.items():
        await linli.user(tg_id, name)
        await linli.tg.send(tg_id, "/help")  # they have started the bot
    await linli.settle()
    await linli.group(GROUP, "志愿者群", list(w.tg.values()), admin=w.tg["admin"])
    async with linli.db.uow(write=True) as uow:
        chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == GROUP))).first()
        if chat is None:
            chat = Chat(tg_chat_id=GROUP, type="supergroup", title="志愿者群", created_at=linli.clock.now())
        chat.community_id, chat.purpose, chat.bot_status = w.community_id, "volunteers", "administrator"
        uow.session.add(chat)
        for tg_id in w.tg.values():  # their active community
            from storage.models import User

            u = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
            u.active_community_id = w.community_id
            uow.session.add(u)
        await uow.commit()
    return w


def _go_to(linli: Harness, hh: int, mm: int) -> None:
    """Move the bot's clock to the next hh:mm in Shanghai (plus a few seconds)."""
    now = linli.clock.now()
    local = now.astimezone(SH)
    target = local.replace(hour=hh, minute=mm, second=5, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    linli.clock.advance(seconds=(target - local).total_seconds())


async def _tick(linli: Harness) -> checkins.TickResult:
    async with linli.db.uow(write=True) as uow:
        res = await checkins.tick(uow, now=linli.clock.now())
        await uow.commit()
    linli.app.sender.wake()
    await linli.settle()
    return res


async def _new(linli: Harness, chat: int, since: int) -> list[dict]:
    return [m for m in await linli.tg.bot_messages(chat, since) if m["kind"] == "message"]


async def test_a_normal_day(linli: Harness) -> None:
    w = await _world(linli)
    _go_to(linli, 9, 0)
    before = await linli.tg.cursor()
    assert (await _tick(linli)).sent == 1
    [prompt] = await _new(linli, w.tg["primary"], before)
    assert "窗帘" in prompt["text"] and "3-2-401 李奶奶" in prompt["text"] and SECRET_NAME not in prompt["text"]
    toast, out = await linli.press(w.tg["primary"], prompt, "✅ 窗帘已开")
    assert toast == "谢谢！"
    edited = out[-1]
    assert edited["message_id"] == prompt["message_id"]
    assert "已回复" in edited["text"] and "09:0" in edited["text"] and not edited.get("reply_markup")
    _go_to(linli, 19, 30)
    before = await linli.tg.cursor()
    assert (await _tick(linli)).sent == 1
    [evening] = await _new(linli, w.tg["primary"], before)
    assert "亮灯" in evening["text"]
    _, out = await linli.press(w.tg["primary"], evening, "🚪 敲门确认平安")
    assert "敲门" in out[-1]["text"]
    before = await linli.tg.cursor()
    linli.clock.advance(hours=2)
    assert (await _tick(linli)).messages == 0
    assert await _new(linli, w.tg["grid"], before) == []
    # the grid worker's overview
    out = await linli.say(w.tg["grid"], "/checkins")
    assert "3号楼: ✅2" in out[-1]["text"]
    out = await linli.say(w.tg["grid"], "/checkins week")
    assert "按时（提醒前）：2" in out[-1]["text"] and "志愿者primary: 2 / 2" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], "/checkins")
    assert "权限" in out[-1]["text"]
    # /away with a cancel button
    out = await linli.say(w.tg["primary"], "/away 2099-01-01 2099-01-03")
    out = await linli.say(w.tg["primary"], "/away")
    toast, out = await linli.press(w.tg["primary"], out[-1], "取消 2099-01-01 – 2099-01-03")
    assert toast == "已取消。" and "没有外出安排" in out[-1]["text"]


async def test_the_full_ladder_to_the_admins_and_slept_late(linli: Harness) -> None:
    w = await _world(linli)
    _go_to(linli, 9, 0)
    start = await linli.tg.cursor()
    await _tick(linli)
    [prompt] = await _new(linli, w.tg["primary"], start)
    linli.clock.advance(minutes=15)
    await _tick(linli)
    [reminder] = (await _new(linli, w.tg["primary"], start))[1:]
    assert "提醒" in reminder["text"]
    linli.clock.advance(minutes=30)
    await _tick(linli)
    [to_backup] = await _new(linli, w.tg["backup"], start)
    assert "备用志愿者" in to_backup["text"]
    toast, _ = await linli.press(w.tg["primary"], prompt, "✅ 窗帘已开")
    assert toast is not None and "转交" in toast
    linli.clock.advance(minutes=30)
    await _tick(linli)
    [alert] = await _new(linli, w.tg["grid"], start)
    assert "无人回复" in alert["text"] and "3-2-401 李奶奶" in alert["text"] and "3号楼" in alert["text"]
    [group] = await _new(linli, GROUP, start)
    assert "3-2-401 李奶奶" in group["text"] and SECRET_NAME not in group["text"] and "401室" not in group["text"]
    assert await _new(linli, w.tg["admin"], start) == []
    linli.clock.advance(minutes=30)
    await _tick(linli)
    [to_admin] = await _new(linli, w.tg["admin"], start)
    assert "第 1 次升级" in to_admin["text"]
    # the grid worker goes, and closes it: slept late
    _, out = await linli.press(w.tg["grid"], alert, "🏃 我去看看")
    assert "关闭事件" in out[-1]["text"]
    before = await linli.tg.cursor()
    _, out = await linli.press(w.tg["grid"], out[-1], "睡过头了")
    assert "睡过头了" in out[-1]["text"]
    await linli.settle()
    told = await _new(linli, w.tg["admin"], before)
    assert told and "睡过头了" in told[-1]["text"]
    group_after = await _new(linli, GROUP, before)
    assert group_after and "已处理" in group_after[-1]["text"] and "睡过头了" not in group_after[-1]["text"]
    linli.clock.advance(minutes=90)
    before = await linli.tg.cursor()
    await _tick(linli)
    assert await _new(linli, w.tg["admin"], before) == []
    everything = " ".join(m["text"] for m in await linli.tg.bot_messages(GROUP))
    assert SECRET_NAME not in everything


async def test_not_ok_cannot_and_away(linli: Harness) -> None:
    w = await _world(linli, persons=2)
    _go_to(linli, 9, 0)
    start = await linli.tg.cursor()
    await _tick(linli)
    first, second = await _new(linli, w.tg["primary"], start)
    _, out = await linli.press(w.tg["primary"], first, "⚠️ 没开")
    assert "已通知网格员" in out[-1]["text"]
    [alert] = await _new(linli, w.tg["grid"], start)
    assert "异常" in alert["text"]
    [backup_alert] = await _new(linli, w.tg["backup"], start)
    _, out = await linli.press(w.tg["backup"], backup_alert, "✅ 平安")
    assert "平安" in out[-1]["text"]
    toast, _ = await linli.press(w.tg["grid"], alert, "✅ 平安")
    assert "已经关闭" in (toast or "")
    # ❌ on the second person: the backup gets it at once
    before = await linli.tg.cursor()
    _, out = await linli.press(w.tg["primary"], second, "❌ 今天查不了")
    assert "转交" in out[-1]["text"]
    [handed] = await _new(linli, w.tg["backup"], before)
    assert "3-2-402" in handed["text"]
    # /away
    out = await linli.say(w.tg["primary"], "/away 2020-01-01 2020-01-02")
    assert "过去" in out[-1]["text"]
    tomorrow = (linli.clock.now().astimezone(SH) + timedelta(days=1)).date()
    out = await linli.say(w.tg["primary"], f"/away {tomorrow:%m-%d} {tomorrow:%m-%d}")
    assert "备用志愿者" in out[-1]["text"]
    out = await linli.say(w.tg["primary"], "/away")
    assert str(tomorrow) in out[-1]["text"]
    _go_to(linli, 9, 0)
    before = await linli.tg.cursor()
    await _tick(linli)
    assert len(await _new(linli, w.tg["backup"], before)) == 2
    assert [m for m in await _new(linli, w.tg["primary"], before) if "窗帘" in m["text"]] == []
    _go_to(linli, 9, 0)
    before = await linli.tg.cursor()
    await _tick(linli)
    texts = [m["text"] for m in await _new(linli, w.tg["primary"], before)]
    assert any("欢迎回来" in t for t in texts) and sum("窗帘" in t for t in texts) == 2


async def test_a_forged_press_changes_nothing(linli: Harness) -> None:
    w = await _world(linli)
    _go_to(linli, 9, 0)
    start = await linli.tg.cursor()
    await _tick(linli)
    [prompt] = await _new(linli, w.tg["primary"], start)
    # someone crafts callback data by hand: the signature does not match
    toast = await linli.tap_data(w.tg["primary"], prompt, "ck:1:ok")
    assert toast == "这个按钮无效。请重新发送命令。"
    # and the prompt is still open
    async with linli.db.uow() as uow:
        from storage.models import CheckinPrompt

        pr = (await uow.session.exec(select(CheckinPrompt).where(CheckinPrompt.slot == "morning"))).first()
    assert pr is not None and pr.status == "pending"


async def test_a_person_taken_off_the_ledger_is_not_checked_until_put_back(linli: Harness) -> None:
    """The grid worker takes a person off the ledger with buttons while a check-in is open: the open
    one is cancelled, both volunteers are told (alias only), no more prompts come; undo puts them back."""
    w = await _world(linli)
    pid = w.persons[0]
    _go_to(linli, 9, 0)
    start = await linli.tg.cursor()
    await _tick(linli)
    [prompt] = await _new(linli, w.tg["primary"], start)
    # a volunteer may not; the grid worker is asked why, with buttons
    out = await linli.say(w.tg["primary"], f"/person close {pid}")
    assert "权限" in out[-1]["text"]
    shown = (await linli.say(w.tg["grid"], f"/person show {pid}"))[-1]
    _, out = await linli.press(w.tg["grid"], shown, "📤 移出台账")
    assert "原因" in out[-1]["text"] and {"已迁出", "入住养老机构", "已去世", "其他原因"} <= set(buttons(out[-1]))
    before = await linli.tg.cursor()
    _, out = await linli.press(w.tg["grid"], out[-1], "入住养老机构")
    closed = out[-1]
    assert "已移出台账" in closed["text"] and "入住养老机构" in closed["text"]
    await linli.settle()
    for who in ("primary", "backup"):
        [told] = await _new(linli, w.tg[who], before)
        assert "移出关爱台账" in told["text"] and "3-2-401 李奶奶" in told["text"]
        assert SECRET_NAME not in told["text"] and "养老" not in told["text"]
    # the open check-in is over: no reminder, no escalation, and the old button says so
    toast, _ = await linli.press(w.tg["primary"], prompt, "✅ 窗帘已开")
    assert toast and "谢谢" not in toast
    linli.clock.advance(hours=2)
    assert (await _tick(linli)).messages == 0
    _go_to(linli, 9, 0)
    assert (await _tick(linli)).sent == 0
    assert "3-2-401" not in (await linli.say(w.tg["primary"], "/mine"))[-1]["text"]
    listing = (await linli.say(w.tg["grid"], "/person closed"))[-1]
    assert "3-2-401 李奶奶" in listing["text"] and "入住养老机构" in listing["text"]
    assert "3-2-401" not in (await linli.say(w.tg["grid"], "/person list"))[-1]["text"]
    # undo from the confirmation: back on the ledger, and tomorrow's check-in comes again
    _, out = await linli.press(w.tg["grid"], closed, "↩️ 撤销：恢复到台账")
    assert "已恢复到台账" in out[-1]["text"]
    out = await linli.say(w.tg["grid"], f"/person reopen {pid}")
    assert "不在已移出台账" in out[-1]["text"]
    _go_to(linli, 9, 0)
    before = await linli.tg.cursor()
    assert (await _tick(linli)).sent == 1
    assert any("窗帘" in m["text"] for m in await _new(linli, w.tg["primary"], before))
