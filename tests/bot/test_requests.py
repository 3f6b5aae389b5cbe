"""Closed-loop requests (#13, F-7) end to end, over real HTTP on both runtimes: a resident reports a safety
hazard (`/report 文字` in the group, continued in private with photos and a location pin); the committee
group assesses it (a resident's press is refused); the property company's handler accepts, posts progress and
resolves it (refused without the "after" photo); the reporter answers 没解决 once, then 满意; /requests in the
group shows it without personal data."""

from __future__ import annotations

import base64

from sqlmodel import col, select

from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows.clock import OffsetClock, local
from scheduler.runner import requests_tick
from storage.models_requests import Request, RequestEvent
from tests.bot.conftest import Harness, buttons, start_app

ADMIN, COMMITTEE, HANDLER, R1, R2 = 601, 602, 603, 604, 605
GROUP, OFFICE = -1002000000061, -1002000000062
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


async def _setup(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    for who, name in ((COMMITTEE, "刘主任"), (HANDLER, "李经理"), (R1, "赵阿姨"), (R2, "钱叔叔")):
        await linli.register(who, name)
    out = await linli.say(ADMIN, f"/grant {await linli.member_no(COMMITTEE)} committee rc")
    assert "刘主任" in out[-1]["text"]
    out = await linli.say(ADMIN, f"/grant {await linli.member_no(HANDLER)} 承办人 物业")
    assert "李经理" in out[-1]["text"]
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, R2], admin=ADMIN)
    await linli.say(ADMIN, "/link community", chat_id=GROUP)
    await linli.group(OFFICE, "多委联合办公群", [ADMIN, COMMITTEE, R2], admin=ADMIN)
    await linli.say(ADMIN, "/link committee", chat_id=OFFICE)


async def _photo(linli: Harness, user: int, caption: str | None = None) -> list[dict]:
    before = await linli.tg.cursor()
    await linli.tg.send_photo(user, PNG, caption=caption)
    await linli.settle()
    return await linli.tg.bot_messages(user, before)


def _first_code(linli: Harness) -> str:
    return f"R-{local(linli.clock.now(), 'Asia/Shanghai').year}-0001"


async def test_item2_to_6_a_hazard_from_report_to_confirmation_with_one_reopen(linli: Harness) -> None:
    await _setup(linli)
    code = _first_code(linli)
    secret = "3号楼2单元楼道堆满纸箱，堵住消防通道"

    # item 2: `/report 文字` in the group — nothing of it is said there; the private chat goes on
    out = await linli.say(R1, f"/report {secret}", chat_id=GROUP)
    assert secret not in out[-1]["text"] and "私聊" in out[-1]["text"]
    out = await linli.follow(R1, out[-1], "到私聊中继续")
    assert "请问是哪一类" in out[-1]["text"] and buttons(out[-1])[:3] == ["📮 诉求", "🤝 矛盾纠纷", "⚠️ 安全隐患"]
    _, out = await linli.press(R1, out[-1], "⚠️ 安全隐患")
    _, out = await linli.press(R1, out[-1], "消防安全")
    assert "照片" in out[-1]["text"] and "跳过 ▶" in buttons(out[-1])  # the text came from the group
    out = await _photo(linli, R1)
    out = await _photo(linli, R1)
    assert "已收到 2 张" in out[-1]["text"] and "✅ 完成" in buttons(out[-1])
    _, out = await linli.press(R1, out[-1], "✅ 完成")
    assert buttons(out[-1])[0] == "🏠 3号楼（您家）" and "不涉及具体楼栋" in buttons(out[-1])
    _, out = await linli.press(R1, out[-1], "🏠 3号楼（您家）")
    before = await linli.tg.cursor()
    await linli.tg.send_location(R1, 39.2, 117.1)
    await linli.settle()
    out = await linli.tg.bot_messages(R1, before)
    _, out = await linli.press(R1, out[-1], "🙈 匿名")
    summary = out[-1]["text"]
    assert "安全隐患" in summary and secret in summary and "照片：2" in summary and "3号楼" in summary
    before = await linli.tg.cursor()
    _, out = await linli.press(R1, out[-1], "✅ 提交")
    assert code in out[-1]["text"]

    # item 3: the card in the committee group; only committee members and admins may press
    await linli.settle()
    card = (await linli.tg.bot_messages(OFFICE, before))[-1]
    assert code in card["text"] and secret in card["text"] and "赵阿姨" not in card["text"]
    assert {"➡ 居委会", "➡ 物业", "➡ 社区民警", "🔗 合并", "✖ 不予受理", "🖼 照片"} <= set(buttons(card))
    toast, _ = await linli.press(R2, card, "➡ 物业")
    assert toast and "权限" in toast
    _, out = await linli.press(COMMITTEE, card, "📍 位置")
    assert "39.200000, 117.100000" in out[-1]["text"] and buttons(out[-1]) == ["🗺 地图"]
    _, out = await linli.press(COMMITTEE, card, "🖼 照片")
    assert [m.get("caption") for m in out[-2:]] == [f"{code} · 照片 1", f"{code} · 照片 2"]
    before = await linli.tg.cursor()
    _, out = await linli.press(COMMITTEE, card, "➡ 物业")
    assert "已由 刘主任 分派给" in out[-1]["text"] and buttons(out[-1]) == []
    await linli.settle()
    told = await linli.tg.bot_messages(R1, before)
    assert code in told[-1]["text"] and "物业" in told[-1]["text"]
    task = (await linli.tg.bot_messages(HANDLER, before))[-1]
    assert code in task["text"] and "赵阿姨" in task["text"] and buttons(task) == ["✅ 接单"]

    # item 4: accept, progress, resolve (the "after" photo is required for a hazard)
    before = await linli.tg.cursor()
    _, out = await linli.press(HANDLER, task, "✅ 接单")
    assert "您已接单" in out[-1]["text"] and buttons(out[-1]) == ["📝 进展", "✅ 办结"]
    _, out = await linli.press(HANDLER, out[-1], "📝 进展")
    out = await linli.say(HANDLER, "已通知住户今天清理")
    assert "进展已发布" in out[-1]["text"]
    await linli.settle()
    assert "已通知住户今天清理" in (await linli.tg.bot_messages(R1, before))[-1]["text"]
    _, out = await linli.press(HANDLER, out[-1], "✅ 办结")
    assert "整改后" in out[-1]["text"]
    out = await linli.say(HANDLER, "纸箱已清走")
    assert "请再发送一张“整改后”照片" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await _photo(linli, HANDLER)
    assert "已标记为办结" in out[-1]["text"]
    await linli.settle()
    asked = (await linli.tg.bot_messages(R1, before))[-1]
    assert "纸箱已清走" in asked.get("caption", asked.get("text", "")) and buttons(asked) == ["😊 满意", "😞 没解决"]

    # item 5: 没解决 once (back to the property company, counted), then 满意
    _, out = await linli.press(R1, asked, "😞 没解决")
    assert "哪里还没解决" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(R1, "还有一辆电动车停在楼道")
    assert "退回" in out[-1]["text"]
    await linli.settle()
    again = (await linli.tg.bot_messages(HANDLER, before))[-1]
    assert "重新办理" in again["text"] and "还有一辆电动车停在楼道" in again["text"]
    _, out = await linli.press(HANDLER, again, "✅ 接单")
    _, out = await linli.press(HANDLER, out[-1], "✅ 办结")
    await _photo(linli, HANDLER, caption="电动车已移走，已充电桩集中停放")
    before = await linli.tg.cursor()
    await linli.settle()
    asked = await linli.last(R1)
    _, out = await linli.press(R1, asked, "😊 满意")
    assert "已办结" in out[-1]["text"]
    await linli.settle()
    assert "确认" in (await linli.tg.bot_messages(HANDLER, before))[-1]["text"]

    # item 6: the public list in the group: number, kind, category, building, state — no name, no text
    out = await linli.say(R2, "/requests", chat_id=GROUP)
    listing = out[-1]["text"]
    assert code in listing and "安全隐患" in listing and "消防安全" in listing and "3号楼" in listing
    assert "已解决（满意）" in listing and "重新办理 1 次" in listing
    assert "赵阿姨" not in listing and "纸箱" not in listing
    stats = (await linli.say(R2, "/requests stats", chat_id=GROUP))[-1]["text"]
    assert "整改安全隐患 1 处" in stats and "重新办理率：100%" in stats and "满意率：50%" in stats
    assert "赵阿姨" not in stats
    out = await linli.say(ADMIN, "/requests stats district")
    assert "权限" in out[-1]["text"]

    async with linli.db.uow() as uow:
        row = (await uow.session.exec(select(Request))).one()
        steps = (await uow.session.exec(select(RequestEvent.action).where(RequestEvent.request_id == row.id)
                                        .order_by(col(RequestEvent.id)))).all()
    assert (row.state, row.reopen_count, row.anonymous, len(row.photos), row.latitude) == ("confirmed", 1, True, 2,
                                                                                          39.2)
    assert steps == ["report", "assign", "accept", "progress", "resolve", "reopen", "accept", "resolve", "confirm"]


async def test_item5_unanswered_resolution_closes_as_default_satisfied(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(R1, "/report 小区东门路灯坏了")
    _, out = await linli.press(R1, out[-1], "📮 诉求")
    _, out = await linli.press(R1, out[-1], "设施报修")
    _, out = await linli.press(R1, out[-1], "跳过 ▶")
    _, out = await linli.press(R1, out[-1], "不涉及具体楼栋")
    _, out = await linli.press(R1, out[-1], "跳过 ▶")
    _, out = await linli.press(R1, out[-1], "👤 可以署名")
    _, out = await linli.press(R1, out[-1], "✅ 提交")
    await linli.settle()
    card = await linli.last(OFFICE)
    await linli.press(ADMIN, card, "➡ 物业")
    await linli.settle()
    _, out = await linli.press(HANDLER, await linli.last(HANDLER), "✅ 接单")
    _, out = await linli.press(HANDLER, out[-1], "✅ 办结")
    out = await linli.say(HANDLER, "已更换灯泡")
    assert "已标记为办结" in out[-1]["text"]
    code = _first_code(linli)
    # the reporter finds it under /requests → 📌 我的诉求, with the answer buttons (in case the notice is gone)
    out = await linli.say(R1, "/requests")
    assert buttons(out[-1]) == ["📌 我的诉求"]
    _, out = await linli.press(R1, out[-1], "📌 我的诉求")
    assert code in out[-1]["text"] and "待确认" in out[-1]["text"]
    _, out = await linli.press(R1, out[-1], code)
    assert "小区东门路灯坏了" in out[-1]["text"] and {"😊 满意", "😞 没解决"} <= set(buttons(out[-1]))
    # the staff: what waits for them, and a request's timeline
    out = await linli.say(COMMITTEE, "/requests")
    assert "🗂 待研判" in buttons(out[-1]) and "📋 待办" not in buttons(out[-1])
    _, out = await linli.press(COMMITTEE, out[-1], "🗂 待研判")
    assert "没有待办事项" in out[-1]["text"]
    out = await linli.say(HANDLER, "/requests")
    _, out = await linli.press(HANDLER, out[-1], "📋 待办")
    _, out = await linli.press(HANDLER, out[-1], code)
    timeline = out[-1]["text"]
    assert "反映" in timeline and "已分派 · 物业" in timeline and "接单" in timeline and "办结 · 物业 · 已更换灯泡" in timeline
    linli.clock.advance(days=3, minutes=1)
    assert await requests_tick(linli.db, linli.clock) == 1  # the scheduler's job
    assert await requests_tick(linli.db, linli.clock) == 0
    await linli.settle()
    assert "默认满意" in (await linli.last(R1))["text"]
    out = await linli.say(R2, "/requests")
    assert "已办结（默认满意）" in out[-1]["text"]


async def _dispute(linli: Harness, who: int, text: str) -> None:
    out = await linli.say(who, f"/report {text}")
    _, out = await linli.press(who, out[-1], "🤝 矛盾纠纷")
    _, out = await linli.press(who, out[-1], "噪音扰民")
    _, out = await linli.press(who, out[-1], "跳过 ▶")
    _, out = await linli.press(who, out[-1], "🏠 3号楼（您家）")
    _, out = await linli.press(who, out[-1], "跳过 ▶")
    _, out = await linli.press(who, out[-1], "👤 可以署名")
    _, out = await linli.press(who, out[-1], "✅ 提交")


async def test_item3_a_dispute_merged_one_rejected_and_routing_preselects(linli: Harness) -> None:
    await _setup(linli)
    year = local(linli.clock.now(), "Asia/Shanghai").year
    help_text = (await linli.say(R1, "/help"))[-1]["text"]
    assert "/report" in help_text and "/requests" in help_text
    out = await linli.say(R1, "/requests route 噪音扰民 社区民警")
    assert "权限" in out[-1]["text"]
    out = await linli.say(ADMIN, "/requests route 噪音扰民 社区民警")
    assert "噪音扰民 → ⭐ 社区民警" in out[-1]["text"]
    out = await linli.say(ADMIN, "/requests orgs 居委会 物业 社区民警")
    assert "居委会、物业、社区民警" in out[-1]["text"]

    await _dispute(linli, R1, "楼上深夜装修噪音")
    await linli.settle()
    first = await linli.last(OFFICE)
    assert buttons(first)[0] == "⭐ 社区民警" and "➡ 业委会" not in buttons(first)
    await _dispute(linli, R2, "402 每晚装修到 11 点")
    await linli.settle()
    second = await linli.last(OFFICE)
    assert f"R-{year}-0002" in second["text"]

    # merge: asked in the presser's private chat; both reporters now follow the first one
    toast, _ = await linli.press(COMMITTEE, second, "🔗 合并")
    assert toast and "私聊" in toast
    ask = await linli.last(COMMITTEE)
    assert f"R-{year}-0002" in ask["text"] and "合并到哪件" in ask["text"]
    out = await linli.say(COMMITTEE, "2")
    assert "不能合并到它自己" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(COMMITTEE, f"R-{year}-0001")
    assert f"已合并到 R-{year}-0001" in out[-1]["text"]
    await linli.settle()
    told = (await linli.tg.bot_messages(R2, before))[-1]
    assert f"R-{year}-0001" in told["text"] and "合并" in told["text"]
    toast, _ = await linli.press(COMMITTEE, second, "➡ 物业")  # the card of a merged request is done
    assert toast and "已有进展" in toast

    # reject with a reason
    out = await linli.say(R1, "/report 想在小区里开个超市")
    _, out = await linli.press(R1, out[-1], "📮 诉求")
    _, out = await linli.press(R1, out[-1], "其他")
    for label in ("跳过 ▶", "不涉及具体楼栋", "跳过 ▶", "👤 可以署名", "✅ 提交"):
        _, out = await linli.press(R1, out[-1], label)
    await linli.settle()
    third = await linli.last(OFFICE)
    await linli.press(ADMIN, third, "✖ 不予受理")
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "属于商业经营，不在社区诉求范围")
    assert "不予受理" in out[-1]["text"]
    await linli.settle()
    assert "属于商业经营" in (await linli.tg.bot_messages(R1, before))[-1]["text"]

    # both reporters hear of the first one's assignment
    before = await linli.tg.cursor()
    await linli.press(COMMITTEE, first, "⭐ 社区民警")
    await linli.settle()
    for who in (R1, R2):
        assert "社区民警" in (await linli.tg.bot_messages(who, before))[-1]["text"]
    listing = (await linli.say(R2, "/requests"))[-1]["text"]
    assert "已合并" in listing and "不予受理" in listing and "已分派 · 社区民警" in listing


async def test_item2_report_in_an_unlinked_group_or_by_an_outsider(linli: Harness) -> None:
    await _setup(linli)
    # item 4: the handler's role is invited like the others, with its organisation
    out = await linli.say(ADMIN, "/invite")
    _, out = await linli.press(ADMIN, out[-1], "承办人")
    assert "承办人属于哪个单位" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "物业")
    assert "承办人（物业）" in out[-1]["text"] and "start=i_" in out[-1]["text"]
    stranger = await linli.user(699, "路人")
    await linli.group(-1002000000069, "闲聊群", [R1, stranger], admin=R1)
    out = await linli.say(R1, "/report 有人乱扔垃圾", chat_id=-1002000000069)
    assert "尚未关联社区" in out[-1]["text"] and "乱扔垃圾" not in out[-1]["text"]
    await linli.tg.join(GROUP, stranger)
    out = await linli.say(stranger, "/report 有人乱扔垃圾", chat_id=GROUP)
    assert "不是" in out[-1]["text"] and "乱扔垃圾" not in out[-1]["text"]
    out = await linli.say(stranger, "/requests", chat_id=GROUP)
    assert "没有办理中" in out[-1]["text"]
    # told by voice: the admins and the handler can listen to it
    out = await linli.say(R1, "/report")
    _, out = await linli.press(R1, out[-1], "📮 诉求")
    _, out = await linli.press(R1, out[-1], "环境卫生")
    assert "语音" in out[-1]["text"]
    before = await linli.tg.cursor()
    await linli.tg.send_voice(R1, b"OggS-fake-voice", duration=400)
    await linli.settle()
    assert "太长" in (await linli.tg.bot_messages(R1, before))[-1]["text"]
    before = await linli.tg.cursor()
    await linli.tg.send_voice(R1, b"OggS-fake-voice", duration=12)
    await linli.settle()
    out = await linli.tg.bot_messages(R1, before)
    for label in ("跳过 ▶", "🏠 3号楼（您家）", "跳过 ▶", "👤 可以署名"):
        _, out = await linli.press(R1, out[-1], label)
    assert "🎤 语音（12 秒）" in out[-1]["text"]
    before = await linli.tg.cursor()
    await linli.press(R1, out[-1], "✅ 提交")
    await linli.settle()
    card = (await linli.tg.bot_messages(OFFICE, before))[-1]
    assert "🎤 语音" in card["text"] and "🎤 听语音" in buttons(card)
    _, out = await linli.press(ADMIN, card, "🎤 听语音")
    assert out[-1].get("voice")


def _alarms(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if m.get("text", "").startswith("⏰")]


async def test_item7_an_overdue_hazard_climbs_each_rung_once_through_a_restart(
        db_url: str, standin: StandIn, tg: StandInClient, runtime: str) -> None:
    clock = OffsetClock()
    linli = Harness(app=await start_app(db_url, standin, runtime, clock), tg=tg, standin=standin, clock=clock)
    try:
        await _scenario_through_a_restart(linli, db_url, standin, runtime)
    finally:
        await linli.app.stop()  # the app started after the restart (the first one is stopped in the scenario)


async def _scenario_through_a_restart(linli: Harness, db_url: str, standin: StandIn, runtime: str) -> None:
    await _setup(linli)
    start = await linli.tg.cursor()
    out = await linli.say(R1, "/report 配电箱门坏了，电线外露")
    for label in ("⚠️ 安全隐患", "用电用气", "跳过 ▶", "🏠 3号楼（您家）", "跳过 ▶", "👤 可以署名", "✅ 提交"):
        _, out = await linli.press(R1, out[-1], label)
    linli.clock.advance(hours=2)
    assert await requests_tick(linli.db, linli.clock) == 1  # not assessed in 2 h: the committee group
    assert await requests_tick(linli.db, linli.clock) == 0
    await linli.settle()
    office = _alarms(await linli.tg.bot_messages(OFFICE, start))
    assert len(office) == 1 and "安全隐患" in office[0] and "请尽快研判" in office[0]

    # the bot is down for three days; after the restart one rung per tick
    await linli.app.stop()
    linli.clock.advance(days=3)
    linli.app = await start_app(db_url, standin, runtime, linli.clock)
    assert await requests_tick(linli.db, linli.clock) == 1  # the admins
    assert await requests_tick(linli.db, linli.clock) == 0
    linli.clock.advance(hours=2)
    assert await requests_tick(linli.db, linli.clock) == 1  # the district (none in this deployment)
    linli.clock.advance(hours=12)
    assert await requests_tick(linli.db, linli.clock) == 0  # past the top
    await linli.settle()
    admin = _alarms(await linli.tg.bot_messages(ADMIN, start))
    assert len(admin) == 1 and "已上报社区管理员" in admin[0]
    assert len(_alarms(await linli.tg.bot_messages(OFFICE, start))) == 1

    # the admin assesses from the reminder; the resolve clock starts: 24 h, then the handlers are reminded, once
    reminder = [m for m in await linli.tg.bot_messages(ADMIN, start) if m.get("text", "").startswith("⏰")][0]
    _, out = await linli.press(ADMIN, reminder, "🔎 查看")
    view = out[-1]
    assert "待研判" in view["text"] and "反映" in view["text"] and "➡ 物业" in buttons(view)
    await linli.press(ADMIN, view, "➡ 物业")
    linli.clock.advance(hours=24)
    assert await requests_tick(linli.db, linli.clock) == 1
    assert await requests_tick(linli.db, linli.clock) == 0
    await linli.settle()
    handler = _alarms(await linli.tg.bot_messages(HANDLER, start))
    assert len(handler) == 1 and "超过办理时限" in handler[0] and "物业" in handler[0]
