"""The needs list end to end, over real HTTP on both runtimes: the admin opens the collection and
the groups hear of it; a resident submits with buttons and a photo; another one with `/need 文字`
in the group; a grid worker enters one from a door visit; "+1" once; the admin merges, rejects and
promotes, and the authors are told."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlmodel import select

from bot.core import callbacks
from storage.models import AuditEntry, Community, Need, NeedSupport
from tests.bot.conftest import Harness, buttons

ADMIN, GRID, R1, R2, R3 = 401, 402, 403, 404, 405
GROUP = -1002000000044
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


async def _setup(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    text = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"]
    await linli.register(GRID, "张网格", invite=text.split("start=i_")[1].split()[0])
    for who, name in ((R1, "赵阿姨"), (R2, "钱叔叔"), (R3, "孙奶奶")):
        await linli.register(who, name)
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, R2, R3], admin=ADMIN)
    out = await linli.say(ADMIN, "/link community", chat_id=GROUP)
    assert "北辰示范社区" in out[-1]["text"]


async def test_a_year_of_needs_collection(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(R1, "/need")
    assert "不在征集期" in out[-1]["text"]
    out = await linli.say(R1, "/needs open")
    assert "权限" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "/needs open")
    assert "征集已开始" in out[-1]["text"]
    notice = (await linli.tg.bot_messages(GROUP, before))[-1]
    assert "需求清单" in notice["text"] and "/need" in notice["text"]
    url = notice["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url.endswith("?start=need")

    # a resident, in private chat, through the buttons, with a photo (from the group's link)
    out = await linli.say(R1, "/start need")
    assert "属于哪一类" in out[-1]["text"] and "设施维护" in buttons(out[-1]) and len(buttons(out[-1])) == 11
    _, out = await linli.press(R1, out[-1], "设施维护")
    assert "最多 500 字" in out[-1]["text"]
    out = await linli.say(R1, "灯" * 501)
    assert "太长" in out[-1]["text"] and "500" in out[-1]["text"]
    out = await linli.say(R1, "3号楼2单元楼道灯坏了，晚上看不见")
    assert "照片" in out[-1]["text"] and "跳过 ▶" in buttons(out[-1])
    before = await linli.tg.cursor()
    await linli.tg.send_photo(R1, PNG)
    await linli.settle()
    out = await linli.tg.bot_messages(R1, before)
    assert "请确认" in out[-1]["text"] and "照片：有" in out[-1]["text"] and "设施维护" in out[-1]["text"]
    _, out = await linli.press(R1, out[-1], "✅ 提交")
    assert "需求 #1" in out[-1]["text"]

    # another one in the group: category by button, for the author only
    out = await linli.say(R2, "/need 楼道灯不亮", chat_id=GROUP)
    ask = out[-1]
    assert "钱叔叔" in ask["text"] and "设施维护" in buttons(ask)
    toast, _ = await linli.press(R3, ask, "设施维护")
    assert toast and "只有提需求的人" in toast
    before = await linli.tg.cursor()
    _, out = await linli.press(R2, ask, "设施维护")
    assert "需求 #2" in out[-1]["text"]
    private = await linli.tg.bot_messages(R2, before)
    assert "需求 #2" in private[-1]["text"] and "楼道灯不亮" in private[-1]["text"]

    # a grid worker enters a need from a door visit
    out = await linli.say(GRID, f"/need_for {await linli.member_no(R1)}")
    assert "赵阿姨" in out[-1]["text"] and "入户走访" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "为老服务")
    out = await linli.say(GRID, "希望增加老年餐桌")
    _, out = await linli.press(GRID, out[-1], "跳过 ▶")
    assert "代 赵阿姨 登记" in out[-1]["text"] and "照片：无" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "✅ 提交")
    assert "需求 #3" in out[-1]["text"]

    # browsing and +1, once per person
    out = await linli.say(R3, "/needs")
    assert "设施维护 (2)" in buttons(out[-1]) and "为老服务 (1)" in buttons(out[-1])
    _, out = await linli.press(R3, out[-1], "设施维护 (2)")
    page = out[-1]
    assert "需求 #1" in page["text"] and "需求 #2" in page["text"] and "+1 我也需要 #1" in buttons(page)
    assert "👍 0 人支持" in page["text"]
    toast, _ = await linli.press(R3, page, "+1 我也需要 #1")
    assert toast and "1 位邻居" in toast
    page = await linli.last(R3)  # the page, edited in place with the new count
    assert page["message_id"] == out[-1]["message_id"] and "👍 1 人支持" in page["text"]
    toast, _ = await linli.press(R3, page, "+1 我也需要 #1")
    assert toast and "已经支持过" in toast

    # review: merge #2 into #1, reject #3, promote #1; the authors are told
    out = await linli.say(R1, "/needs review")
    assert "权限" in out[-1]["text"]
    out = await linli.say(ADMIN, "/needs review")
    assert {"#1", "#2", "#3"} <= set(buttons(out[-1]))
    review = out[-1]
    _, out = await linli.press(ADMIN, review, "#2")
    _, out = await linli.press(ADMIN, out[-1], "🔗 合并")
    assert "合并到哪条需求" in out[-1]["text"]
    out = await linli.say(ADMIN, "#2")
    assert "不能合并到它自己" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "1")
    assert "已并入需求 #1" in out[-1]["text"]
    await linli.settle()
    told = await linli.tg.bot_messages(R2, before)
    assert "需求 #2" in told[-1]["text"] and "已合并" in told[-1]["text"]

    out = await linli.say(ADMIN, "/needs review")
    _, out = await linli.press(ADMIN, out[-1], "#3")
    assert "入户走访" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✖ 不采纳")
    out = await linli.say(ADMIN, "理" * 201)
    assert "太长" in out[-1]["text"] and "200" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "已纳入区级助餐点建设")
    assert "未采纳" in out[-1]["text"]
    await linli.settle()
    assert "已纳入区级助餐点建设" in (await linli.tg.bot_messages(R1, before))[-1]["text"]

    out = await linli.say(ADMIN, "/needs review")
    _, out = await linli.press(ADMIN, out[-1], "#1")
    view = out[-1]
    assert "👍 2 人支持" in view["text"]  # 孙奶奶 and, carried over, 钱叔叔
    _, shown = await linli.press(ADMIN, view, "🖼 照片")
    assert shown[-1].get("photo") and "需求 #1 的照片" in (shown[-1].get("caption") or shown[-1].get("text") or "")
    out = [view]
    _, out = await linli.press(ADMIN, out[-1], "⭐ 列为候选")
    out = await linli.say(ADMIN, "楼道照明改造")
    assert "类别：设施维护" in out[-1]["text"] and buttons(out[-1])[0] == "✅ 设施维护（当前）"
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✅ 确认")
    assert "候选项目「楼道照明改造」（设施维护）" in out[-1]["text"]
    await linli.settle()
    assert "楼道照明改造" in (await linli.tg.bot_messages(R1, before))[-1]["text"]

    mine = (await linli.say(R1, "/myneeds"))[-1]["text"]
    assert "需求 #1" in mine and "候选项目" in mine and "需求 #3" in mine and "未采纳" in mine
    # an admin records one from the representatives' meeting
    out = await linli.say(ADMIN, f"/need_for {await linli.member_no(R3)}")
    assert {"入户走访", "多委联席会", "居民代表会议"} <= set(buttons(out[-1]))
    _, out = await linli.press(ADMIN, out[-1], "居民代表会议")
    _, out = await linli.press(ADMIN, out[-1], "停车交通")
    out = await linli.say(ADMIN, "增设非机动车充电桩")
    _, out = await linli.press(ADMIN, out[-1], "跳过 ▶")
    assert "居民代表会议" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✅ 提交")
    assert "需求 #4" in out[-1]["text"]
    out = await linli.say(ADMIN, "/needs close")
    assert "已结束" in out[-1]["text"]
    out = await linli.say(R3, "/need 再来一条", chat_id=GROUP)
    assert "不在征集期" in out[-1]["text"]

    async with linli.db.uow() as uow:
        rows = (await uow.session.exec(select(Need).order_by(Need.number))).all()
        assert [(n.number, n.channel, n.status) for n in rows] == [
            (1, "chat", "candidate"), (2, "chat", "merged"), (3, "door_visit", "rejected"),
            (4, "rep_meeting", "open")]
        assert rows[0].photo_file_id
        supports = (await uow.session.exec(select(NeedSupport).where(NeedSupport.need_id == rows[0].id))).all()
        assert len(supports) == 2
        actions = set((await uow.session.exec(select(AuditEntry.action))).all())
    assert {"needs.open", "needs.close", "need.create", "need.merge", "need.reject", "need.promote"} <= actions


async def _signed(linli: Harness, *fields: str | int) -> str:
    """Button data signed with the bot's own secret (a forged press that passes the signature)."""
    return callbacks.pack(linli.app.secret, list(fields), now=linli.clock.now(), ttl=timedelta(hours=1))


async def _submit_private(linli: Harness, who: int, category: str, text: str) -> str:
    out = await linli.say(who, "/need")
    _, out = await linli.press(who, out[-1], category)
    out = await linli.say(who, text)
    _, out = await linli.press(who, out[-1], "跳过 ▶")
    _, out = await linli.press(who, out[-1], "✅ 提交")
    return str(out[-1]["text"])


async def test_categories_edited_by_admins_and_chosen_when_promoting(linli: Harness) -> None:
    await _setup(linli)
    await linli.say(ADMIN, "/needs open")
    assert "需求 #1" in await _submit_private(linli, R1, "环境整治", "垃圾分类点太少")

    # the categories screen: admins only, in private
    assert "权限" in (await linli.say(R1, "/needs categories"))[-1]["text"]
    assert "私聊" in (await linli.say(ADMIN, "/needs categories", chat_id=GROUP))[-1]["text"]
    screen = (await linli.say(ADMIN, "/needs categories"))[-1]
    assert "需求清单类别" in screen["text"] and "已启用 10 个，最多 16 个" in screen["text"]
    assert "✅ 环境整治" in buttons(screen) and buttons(screen)[-1] == "➕ 添加类别" and len(buttons(screen)) == 11

    # adding one: bad names get clear answers, the dialog stays until a good one comes
    _, out = await linli.press(ADMIN, screen, "➕ 添加类别")
    assert "新类别的名称" in out[-1]["text"] and "12" in out[-1]["text"]
    out = await linli.say(ADMIN, "加" * 13)
    assert "太长" in out[-1]["text"] and "12" in out[-1]["text"]
    out = await linli.say(ADMIN, "\u200b")
    assert "类别名称不能为空" in out[-1]["text"]
    out = await linli.say(ADMIN, "绿化美化")  # a default's name
    assert "已有类别「绿化美化」" in out[-1]["text"]
    out = await linli.say(ADMIN, "加装电梯")
    assert "已添加并启用类别「加装电梯」" in out[-1]["text"] and "✅ 加装电梯" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "➕ 添加类别")
    out = await linli.say(ADMIN, " 加装电梯 ")
    assert "已有类别「加装电梯」" in out[-1]["text"]
    out = await linli.say(ADMIN, "<社区食堂>")
    assert "已添加并启用类别「<社区食堂>」" in out[-1]["text"] and "✅ <社区食堂>" in buttons(out[-1])
    screen = out[-1]

    # switching one off: edited in place; a forged button gets words, not a change
    _, out = await linli.press(ADMIN, screen, "✅ 环境整治")
    assert out[-1]["message_id"] == screen["message_id"] and "⬜ 环境整治" in buttons(out[-1])
    screen = out[-1]
    toast = await linli.tap_data(ADMIN, screen, await _signed(linli, "nc", "on", "x9"))
    assert toast and "请选择一个类别" in toast

    # residents choose among the categories in use; the old needs stay under the one switched off
    out = await linli.say(R2, "/need")
    assert "加装电梯" in buttons(out[-1]) and "<社区食堂>" in buttons(out[-1]) and "环境整治" not in buttons(out[-1])
    await linli.say(R2, "/cancel")
    assert "需求 #2" in await _submit_private(linli, R2, "加装电梯", "3号楼想加装电梯")
    out = await linli.say(R3, "/needs")
    assert {"环境整治 (1)", "加装电梯 (1)", "<社区食堂> (0)", "绿化美化 (0)"} <= set(buttons(out[-1]))
    _, out = await linli.press(R3, out[-1], "加装电梯 (1)")
    assert "加装电梯 · 共 1 条" in out[-1]["text"]
    assert "3号楼想加装电梯" in out[-1]["text"] and "垃圾分类" not in out[-1]["text"]
    _, out = await linli.press(R3, out[-1], "◀ 类别")
    _, out = await linli.press(R3, out[-1], "环境整治 (1)")
    assert "垃圾分类点太少" in out[-1]["text"]

    # promoting: the need's own category first (switched off or not), marked; another one by button
    out = await linli.say(ADMIN, "/needs review")
    _, out = await linli.press(ADMIN, out[-1], "#1")
    _, out = await linli.press(ADMIN, out[-1], "⭐ 列为候选")
    out = await linli.say(ADMIN, "垃圾分类点增设")
    ask = out[-1]
    assert buttons(ask)[0] == "✅ 环境整治（当前）" and "加装电梯" in buttons(ask) and "✅ 确认" in buttons(ask)
    out = await linli.say(ADMIN, "随便说点什么")
    assert "请点上面的一个按钮" in out[-1]["text"]
    for forged in (await _signed(linli, "nr", "pk", "zz"), await _signed(linli, "nr", "pk"),
                   await _signed(linli, "nr", "pk", "x7")):
        toast = await linli.tap_data(ADMIN, ask, forged)
        assert toast and "请选择一个类别" in toast, (forged, toast)
    _, out = await linli.press(ADMIN, ask, "<社区食堂>")
    assert out[-1]["message_id"] == ask["message_id"] and "类别：<社区食堂>" in out[-1]["text"]
    assert "✅ <社区食堂>" in buttons(out[-1]) and "环境整治（当前）" in buttons(out[-1])
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✅ 确认")
    assert "候选项目「垃圾分类点增设」（<社区食堂>）" in out[-1]["text"]
    await linli.settle()
    assert "垃圾分类点增设" in (await linli.tg.bot_messages(R1, before))[-1]["text"]
    confirm = next(b["callback_data"] for row in ask["reply_markup"]["inline_keyboard"] for b in row
                   if b["text"] == "✅ 确认")
    toast = await linli.tap_data(ADMIN, ask, confirm)  # pressed again: the dialog is over
    assert toast and "对话已结束" in toast

    # the last category in use cannot be switched off
    screen = (await linli.say(ADMIN, "/needs categories"))[-1]
    for label in [b for b in buttons(screen) if b.startswith("✅ ")][:-1]:
        _, out = await linli.press(ADMIN, screen, label)
        screen = out[-1]
    left = [b for b in buttons(screen) if b.startswith("✅ ")]
    assert left == ["✅ <社区食堂>"]
    toast, _ = await linli.press(ADMIN, screen, left[0])
    assert toast and "至少要保留一个启用的类别" in toast
    out = await linli.say(R2, "/need")
    assert buttons(out[-1]) == ["<社区食堂>", "✖ 取消"]

    async with linli.db.uow() as uow:
        rows = (await uow.session.exec(select(Need).order_by(Need.number))).all()
        assert [(n.number, n.category, n.status) for n in rows] == [
            (1, "x:<社区食堂>", "candidate"), (2, "x:加装电梯", "open")]
        stored = (await uow.session.exec(select(Community))).one().settings["need_categories"]
        assert stored.count("x:<社区食堂>") == 1 and "-env" in stored and "-x:加装电梯" in stored


async def test_a_need_told_by_voice_and_listened_to_by_the_admin(linli: Harness) -> None:
    """An old resident does not type: at the text step a voice message is the need. Too long a voice
    gets a clear answer. The admin sees 🎤 on the need and gets the voice itself with one button."""
    await _setup(linli)
    await linli.say(ADMIN, "/needs open")
    out = await linli.say(R3, "/need")
    _, out = await linli.press(R3, out[-1], "为老服务")
    assert "语音" in out[-1]["text"]
    before = await linli.tg.cursor()
    await linli.tg.send_voice(R3, b"OggS-not-really-but-bytes" * 20, duration=301)
    await linli.settle()
    out = await linli.tg.bot_messages(R3, before)
    assert "太长" in out[-1]["text"] and "5 分钟" in out[-1]["text"]
    before = await linli.tg.cursor()
    sent = await linli.tg.send_voice(R3, b"OggS-not-really-but-bytes" * 20, duration=12)
    await linli.settle()
    out = await linli.tg.bot_messages(R3, before)
    assert "照片" in out[-1]["text"]
    _, out = await linli.press(R3, out[-1], "跳过 ▶")
    assert "🎤 语音（0:12）" in out[-1]["text"]
    _, out = await linli.press(R3, out[-1], "✅ 提交")
    assert "需求 #1" in out[-1]["text"]
    mine = (await linli.say(R3, "/myneeds"))[-1]["text"]
    assert "🎤 语音（0:12）" in mine
    # the admin listens: the same voice, passed on by its file id, with the need's number
    out = await linli.say(ADMIN, "/needs review")
    _, out = await linli.press(ADMIN, out[-1], "#1")
    assert "🎤 语音（0:12）" in out[-1]["text"] and "🎤 听语音" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "🎤 听语音")
    voice = out[-1]
    assert voice["voice"] is not None and voice["voice"]["file_id"] == sent["voice"]["file_id"]
    assert "需求 #1" in (voice["caption"] or "")
    async with linli.db.uow() as uow:
        need = (await uow.session.exec(select(Need))).one()
    assert (need.text, need.voice_file_id, need.voice_seconds) == ("", sent["voice"]["file_id"], 12)
