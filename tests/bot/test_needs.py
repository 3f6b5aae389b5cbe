"""The needs list end to end, over real HTTP on both runtimes: the admin opens the collection and
the groups hear of it; a resident submits with buttons and a photo; another one with `/need 文字`
in the group; a grid worker enters one from a door visit; "+1" once; the admin merges, rejects and
promotes, and the authors are told."""

from __future__ import annotations

import base64

from sqlmodel import select

from storage.models import AuditEntry, Need, NeedSupport
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
    toast, _ = await linli.press(R3, page, "+1 我也需要 #1")
    assert toast and "1 位邻居" in toast
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
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "楼道照明改造")
    assert "候选项目「楼道照明改造」" in out[-1]["text"]
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
