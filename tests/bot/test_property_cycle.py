"""The property evaluation's monthly cycle end to end over real HTTP, on both runtimes (#15, F-10): a resident
of a served building gets the satisfaction survey in private and answers it by buttons (a double press counts
once); the month's ranking is published to the linked group as text and picture, with the company's reply beside
its deduction."""

from __future__ import annotations

from sqlmodel import select

from flows.property import publish, ranking
from flows.property.evaluation import month_of
from storage.models import Community, Member
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyProject, PropertySurvey
from tests.bot.conftest import Harness, buttons

ADMIN, RESIDENT, ELSEWHERE = 411, 412, 413
GROUP = -1002000000415


async def _setup(linli: Harness) -> int:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨", building="3")
    await linli.register(ELSEWHERE, "钱大爷", building="5")
    out = await linli.say(ADMIN, "/property")
    await linli.press(ADMIN, out[-1], "➕ 新增项目")
    out = await linli.say(ADMIN, "海河物业; 锦绣苑; 10")
    _, out = await linli.press(ADMIN, out[-1], "🏢 关联楼栋")
    await linli.say(ADMIN, "3-4")
    async with linli.db.uow() as uow:
        community = (await uow.session.exec(select(Community))).one()
        community.settings = {**community.settings, "property_survey_day": 1}
        uow.session.add(community)
        project = (await uow.session.exec(select(PropertyProject))).one()
        await uow.commit()
        return project.id or 0


async def test_item5_the_survey_in_private_by_buttons(linli: Harness) -> None:
    await _setup(linli)
    async with linli.db.uow() as uow:
        assert await publish.due(uow, now=linli.clock.now()) is not None
        await uow.commit()
    await linli.settle()
    invite = await linli.last(RESIDENT)
    assert "物业服务满意度测评" in invite["text"] and "第 1 题，共 5 题" in invite["text"]
    assert buttons(invite) == ["1", "2", "3", "4", "5"]
    assert "满意度测评" not in (await linli.last(ELSEWHERE))["text"]  # building 5 is not served
    await linli.press(RESIDENT, invite, "5")  # the household first (#15): no roster, so the room is typed
    assert "您住哪一户" in (await linli.last(RESIDENT))["text"]
    out = await linli.say(RESIDENT, "3-101")
    assert "3-101" in out[-1]["text"] and "第 1 题，共 5 题" in out[-1]["text"]
    invite = out[-1]
    await linli.press(RESIDENT, invite, "5")
    invite = await linli.last(RESIDENT)
    assert "第 2 题，共 5 题" in invite["text"]
    for n, value in enumerate(["4", "4", "3"], 3):
        await linli.press(RESIDENT, invite, value)
        invite = await linli.last(RESIDENT)
        assert f"第 {n} 题，共 5 题" in invite["text"]
    toast, _ = await linli.press(RESIDENT, invite, "5")
    assert toast == "已记录：5"
    assert "谢谢您" in (await linli.last(RESIDENT))["text"]
    async with linli.db.uow() as uow:
        row = (await uow.session.exec(select(PropertySurvey).where(
            PropertySurvey.member_id == await linli.member_no(RESIDENT)))).one()
        assert row.answers == [5, 4, 4, 3, 5] and row.answered_at is not None
    out = await linli.say(RESIDENT, "/survey")
    assert "本月没有待您填写的测评" in out[-1]["text"]


async def test_item6_the_ranking_is_published_to_the_group_with_the_reply(linli: Harness) -> None:
    project_id = await _setup(linli)
    await linli.group(GROUP, "北辰示范社区居民群", [ADMIN, RESIDENT], admin=ADMIN)
    await linli.say(ADMIN, "/link community", chat_id=GROUP)
    now = linli.clock.now()
    async with linli.db.uow() as uow:
        community = (await uow.session.exec(select(Community))).one()
        last_month = ranking.shift(month_of(now, community.timezone), -1)
        community.settings = {**community.settings, "property_publish_day": 1}
        uow.session.add(community)
        evaluation = PropertyEvaluation(community_id=community.id or 0, project_id=project_id, month=last_month,
                                        state="submitted", items_points=98.0, started_at=now, submitted_at=now)
        uow.session.add(evaluation)
        await uow.flush()
        uow.session.add(PropertyItemScore(community_id=community.id or 0, evaluation_id=evaluation.id or 0,
                                          code="2.1", count=2, points=1.0, note="公示栏缺两处", scored_at=now,
                                          reply="已于3日补齐"))
        member = (await uow.session.exec(select(Member).where(
            Member.id == await linli.member_no(RESIDENT)))).one()
        uow.session.add(PropertySurvey(community_id=community.id or 0, project_id=project_id, month=last_month,
                                       member_id=member.id or 0, answers=[5, 5, 4, 4, 4], step=5, sent_at=now,
                                       answered_at=now))
        await uow.commit()
    before = await linli.tg.cursor()
    async with linli.db.uow() as uow:
        tick = await publish.due(uow, now=now)
        await uow.commit()
    assert tick.published == last_month and tick.posts == 2
    await linli.settle()
    posted = await linli.tg.bot_messages(GROUP, before)
    texts = [m for m in posted if m["photo"] is None]
    pictures = [m for m in posted if m["photo"] is not None]
    assert len(texts) == 1 and len(pictures) == 1
    # 70 × 0.98 + 20 × (4.4 − 1) / 4 + 10 = 68.6 + 17 + 10 = 95.6
    assert "1. 锦绣苑（海河物业）：95.6 分" in texts[0]["text"]
    assert "💬 2.1（1/3）物业说明：已于3日补齐" in texts[0]["text"]
    assert pictures[0]["photo"]["width"] == 1080 and last_month in pictures[0]["caption"]
    async with linli.db.uow() as uow:  # a second run publishes nothing again
        assert (await publish.due(uow, now=now)).posts == 0
