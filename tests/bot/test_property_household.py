"""The property survey once per household, over real HTTP on both runtimes (#15, F-10): a resident is asked for
their room (the roster's rooms of their building as buttons) and answers; a family member of the same household
is told kindly that the household has answered, and nothing of theirs counts."""

from __future__ import annotations

from sqlmodel import select

from flows.property import publish
from storage.models import Building
from storage.models_household import PropertySurveyHousehold
from storage.models_property import PropertySurvey
from storage.models_roster import Household
from tests.bot.conftest import Harness, buttons
from tests.bot.test_property_cycle import RESIDENT, _setup

FAMILY = 416


async def test_item15_room_asked_once_and_a_family_member_is_told_it_is_done(linli: Harness) -> None:
    await _setup(linli)
    await linli.register(FAMILY, "赵叔叔", building="3")
    async with linli.db.uow() as uow:
        b3 = (await uow.session.exec(select(Building).where(Building.label == "3"))).one()
        for n in range(14):  # the roster's 14 rooms of building 3: two pages
            uow.session.add(Household(community_id=b3.community_id, building_id=b3.id or 0, room=f"{101 + n}",
                                      created_at=linli.clock.now(), updated_at=linli.clock.now()))
        await uow.commit()
    async with linli.db.uow() as uow:
        assert await publish.due(uow, now=linli.clock.now()) is not None
        await uow.commit()
    await linli.settle()
    # the family member opens the survey first: not listed → types "101室", the same household as 101
    family = await linli.last(FAMILY)
    await linli.press(FAMILY, family, "4")
    await linli.press(FAMILY, await linli.last(FAMILY), "我的房号不在列表中")
    out = await linli.say(FAMILY, "101室")
    assert "已记下房号 101" in out[-1]["text"] and "第 1 题，共 5 题" in out[-1]["text"]
    family = out[-1]
    invite = await linli.last(RESIDENT)
    await linli.press(RESIDENT, invite, "5")
    picker = await linli.last(RESIDENT)
    assert "您住哪一户" in picker["text"] and "第 1 页，共 2 页" in picker["text"]
    assert buttons(picker)[:2] == ["101", "102"] and "▶" in buttons(picker) and "我的房号不在列表中" in buttons(picker)
    await linli.press(RESIDENT, picker, "▶")
    picker = await linli.last(RESIDENT)
    assert "113" in buttons(picker) and "101" not in buttons(picker)
    await linli.press(RESIDENT, picker, "◀")
    picker = await linli.last(RESIDENT)
    await linli.press(RESIDENT, picker, "101")
    question = await linli.last(RESIDENT)
    assert "已记下房号 101" in question["text"] and "第 1 题，共 5 题" in question["text"]
    for value in ["5", "4", "4", "3", "5"]:
        await linli.press(RESIDENT, question, value)
        question = await linli.last(RESIDENT)
    assert "谢谢您" in question["text"]
    # the family member presses on: the household has answered, told kindly, nothing counted
    toast, out = await linli.press(FAMILY, family, "3")
    told = (toast or "") + "".join(m.get("text", "") for m in out) + (await linli.last(FAMILY))["text"]
    assert "您家本月已有家人填写过" in told
    out = await linli.say(FAMILY, "/survey")
    assert "本月没有待您填写的测评" in out[-1]["text"]
    async with linli.db.uow() as uow:
        ours = [await linli.member_no(RESIDENT), await linli.member_no(FAMILY)]
        rows = sorted((await uow.session.exec(select(PropertySurvey).where(
            PropertySurvey.member_id.in_(ours)))).all(), key=lambda r: ours.index(r.member_id))  # type: ignore[attr-defined]
        assert [r.answered_at is not None for r in rows] == [True, False]
        assert [r.answers for r in rows] == [[5, 4, 4, 3, 5], []]
        assert len((await uow.session.exec(select(PropertySurveyHousehold))).all()) == 1
