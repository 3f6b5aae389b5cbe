"""The weekly multi-committee meeting (#13, F-8) end to end, over real HTTP on both runtimes: an admin sets the
weekly time; a committee member opens the meeting in the committee group and its agenda holds exactly the
overdue and new requests (not the one assigned in time); attendance by button (a resident's press refused);
the chair's decision on an item (another member's refused) assigns the request with the meeting's deadline; a
note; the minutes posted to the committee group when the chair closes it, and kept (/meeting minutes); forged
and expired buttons refused."""

from __future__ import annotations

from sqlmodel import select

from flows import request_work, requests
from flows.clock import local
from storage.models_requests import Request
from tests.bot.conftest import Harness, buttons
from tests.flows.people import actor_of

ADMIN, COMMITTEE, HEAD, R1 = 611, 612, 613, 614
OFFICE = -1002000000071


async def _setup(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    for who, name in ((COMMITTEE, "刘主任"), (HEAD, "李经理"), (R1, "赵阿姨")):
        await linli.register(who, name)
    await linli.say(ADMIN, f"/grant {await linli.member_no(COMMITTEE)} committee rc")
    await linli.say(ADMIN, f"/grant {await linli.member_no(HEAD)} committee 物业")
    await linli.group(OFFICE, "多委联合办公群", [ADMIN, COMMITTEE, HEAD, R1], admin=ADMIN)
    await linli.say(ADMIN, "/link committee", chat_id=OFFICE)


async def _report(linli: Harness, text: str) -> str:
    async with linli.db.uow(write=True) as uow:
        row = await requests.submit(uow, actor=await actor_of(linli.db, R1), kind="request", category="repair",
                                    text=text, now=linli.clock.now())
        await uow.commit()
    return requests.code(row.year, row.number)


async def test_item8_a_meeting_whose_agenda_holds_exactly_the_overdue_and_new_items(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/meeting time 周三 15:00")
    assert "例会时间为每周三 15:00" in out[-1]["text"]
    out = await linli.say(COMMITTEE, "/meeting time 周五 9:00")
    assert "只有管理员" in out[-1]["text"]

    overdue = await _report(linli, "楼道灯不亮")
    linli.clock.advance(days=2)  # not assessed within its day
    fresh = await _report(linli, "电梯异响")
    in_time = await _report(linli, "绿化带有垃圾")
    async with linli.db.uow(write=True) as uow:
        row = (await uow.session.exec(select(Request).where(Request.number == 3))).one()
        await request_work.assign(uow, actor=await actor_of(linli.db, COMMITTEE), request_id=row.id or 0, org="rc",
                                  now=linli.clock.now())
        await uow.commit()

    await linli.settle()  # the reporter is told of the assignment first
    assert "/meeting — 每周多委联合办公会" in (await linli.say(COMMITTEE, "/help"))[-1]["text"]
    assert "/meeting" not in (await linli.say(R1, "/help"))[-1]["text"]
    out = await linli.say(R1, "/meeting")
    assert "只有多委成员和管理员" in out[-1]["text"]
    out = await linli.say(COMMITTEE, "/meeting", chat_id=OFFICE)
    view = out[-1]
    agenda = view["text"].split("议程")[1]
    assert f"\n1. ⏰ {overdue} (诉求) 已超时\n" in agenda
    assert f"\n2. 🆕 {fresh} (诉求) 待研判\n" in agenda
    assert in_time not in agenda and "\n3. " not in agenda  # exactly the overdue and the new one
    assert {"✋ 签到", "1", "2", "🏁 结束会议"} <= set(buttons(view))

    # attendance by button; a resident in the group is refused
    toast, out = await linli.press(HEAD, view, "✋ 签到")
    assert toast == "✋ 已签到。" and "出席（1 人）：李经理" in out[-1]["text"]
    toast, _ = await linli.press(R1, view, "✋ 签到")
    assert toast and "只有多委成员和管理员" in toast

    # a decision: only the chair; organisation → deadline
    toast, _ = await linli.press(HEAD, view, "1")
    assert toast and "只有主持人" in toast
    _, out = await linli.press(COMMITTEE, view, "1")
    assert "由谁承办" in out[-1]["text"] and "物业" in buttons(out[-1])
    _, out = await linli.press(COMMITTEE, out[-1], "物业")
    assert "期限是多久" in out[-1]["text"] and "7 天" in buttons(out[-1])
    toast, out = await linli.press(COMMITTEE, out[-1], "7 天")
    assert toast == "第 1 项的决定已记录。"
    deadline = local(linli.clock.now(), "Asia/Shanghai").date().toordinal() + 7
    assert "→ 物业，期限" in out[-1]["text"] and buttons(out[-1]).count("1") == 0
    async with linli.db.uow() as uow:
        row = (await uow.session.exec(select(Request).where(Request.number == 1))).one()
    assert row.state == "assigned" and row.organisation == "property"
    assert row.due_at is not None and local(row.due_at, "Asia/Shanghai").date().toordinal() == deadline
    out = await linli.say(COMMITTEE, "/meeting note 1 请物业本周内修好", chat_id=OFFICE)
    assert "已为第 1 项添加备注" in out[-1]["text"]

    # the minutes: posted to the committee group when the chair closes, kept
    first, view = view, (await linli.say(COMMITTEE, "/meeting", chat_id=OFFICE))[-1]
    before = await linli.tg.cursor()
    await linli.press(COMMITTEE, view, "🏁 结束会议")
    await linli.settle()
    posted = [m for m in await linli.tg.bot_messages(OFFICE, before) if "次多委联合办公会会议纪要" in m["text"]]
    assert len(posted) == 1
    minutes = posted[0]["text"]
    assert "第 1 次多委联合办公会会议纪要" in minutes and "出席（1 人）：李经理" in minutes
    assert "请物业本周内修好" in minutes and "→ 未作决定" in minutes and fresh in minutes
    toast, _ = await linli.press(HEAD, first, "✋ 签到")  # an earlier message of the meeting, closed now
    assert toast and "该会议已结束" in toast
    out = await linli.say(ADMIN, "/meeting minutes")
    assert "往期会议" in out[-1]["text"] and buttons(out[-1]) == ["1"]
    listing = out[-1]
    _, out = await linli.press(ADMIN, listing, "1")
    assert "请物业本周内修好" in out[-1]["text"]

    # forged and expired buttons are refused in words, and change nothing
    toast = await linli.tap_data(ADMIN, listing, "mt|w|1|1|property|3")
    assert toast and "这个按钮无效" in toast
    linli.clock.advance(hours=73)
    toast, _ = await linli.press(ADMIN, listing, "1")
    assert toast and "这个按钮已经过期了" in toast
