"""The property evaluation's monthly cycle (#15, F-10): the residents' survey (once per household, after the quiet
hours, a sample when set, compare-and-set answers), the ranking published once to the groups with the company's
replies, rectification deadlines and the weekly meeting's agenda (overdue tasks, 约谈)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from flows import meeting_agenda, membership
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.property import evaluation as ev
from flows.property import household as hh
from flows.property import indicators as ind_mod
from flows.property import projects as pp
from flows.property import publish, rectify, survey
from flows.roles import Org, Role
from storage.db import Database
from storage.models import Building, Chat, Community, Member, OutboxMessage
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyResult, PropertySurvey
from tests.flows.people import actor_of, enrol

IND = ind_mod.district()
# 2027-03-15 22:30 in Tianjin (UTC+8): the survey day, inside the private quiet hours (21:00–08:00)
SURVEY_AT = datetime(2027, 3, 15, 14, 30, tzinfo=UTC)
# 2027-04-05 10:00 in Tianjin: the publication day of March's ranking
PUBLISH_AT = datetime(2027, 4, 5, 2, 0, tzinfo=UTC)


@dataclass
class World:
    community_id: int
    project_id: int
    members: dict[str, int]


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=clock.now(),
                                                         buildings=["1", "2", "3"])
        people = {"admin": Role.ADMIN, "committee": (Role.COMMITTEE, Org.RESIDENTS_COMMITTEE), "staff": None,
                  "r1": None, "r2": None, "r3": None}
        members = await enrol(uow, community_id=community.id or 0, people=people, first_tg_id=700, now=clock.now())
        buildings = {b.label: b.id for b in (await uow.session.exec(select(Building))).all()}
        for key, label in (("r1", "1"), ("r2", "2"), ("r3", "3"), ("staff", "1")):
            member = await uow.session.get(Member, members[key])
            assert member is not None
            member.building_id = buildings[label]
            uow.session.add(member)
        uow.session.add(Chat(tg_chat_id=-100700, type="supergroup", title="居民群", community_id=community.id,
                             purpose="community", bot_status="administrator", created_at=clock.now()))
        await uow.commit()
    admin = await actor_of(db, 700)
    async with db.uow() as uow:
        project = await pp.add_project(uow, actor=admin, company="海河物业", estate="锦绣苑", households=10,
                                       now=clock.now())
        await pp.link_buildings(uow, actor=admin, number=1, labels=["1", "2"], now=clock.now())
        await pp.grant_staff(uow, actor=admin, number=1, member_id=members["staff"], now=clock.now())
        await uow.commit()
        return World(community_id=community.id or 0, project_id=project.id or 0, members=members)


async def test_item5_survey_once_per_household_after_quiet_hours(db: Database, world: World) -> None:
    async with db.uow() as uow:
        assert await survey.due(uow, now=SURVEY_AT - timedelta(days=1)) == 0  # before the survey day
        # buildings 1 and 2: r1, r2 — r3 lives in building 3, the company's own member in building 1 is left out
        assert await survey.due(uow, now=SURVEY_AT) == 2
        await uow.commit()
    async with db.uow() as uow:
        assert await survey.due(uow, now=SURVEY_AT + timedelta(hours=1)) == 0  # nobody twice
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith("pp-survey")))).all()  # type: ignore[union-attr]
        assert len(rows) == 2 and {r.payload["notice"] for r in rows} == {"property_survey"}
        # queued at 22:30 local: waits for 08:00 the next morning (00:00 UTC on the 16th)
        assert {r.not_before for r in rows} == {datetime(2027, 3, 16, 0, 0, tzinfo=UTC)}
        sid = (await uow.session.exec(select(PropertySurvey.id).where(
            PropertySurvey.member_id == world.members["r1"]))).one()
        await uow.commit()
    r1 = await actor_of(db, 703)
    async with db.uow() as uow:
        with pytest.raises(Invalid):  # the household (room) is asked before the first answer (#15)
            await survey.answer(uow, actor=r1, survey_id=sid, question=0, value=5, now=SURVEY_AT)
        await hh.set_room(uow, actor=r1, text="101", now=SURVEY_AT)
        await uow.commit()
    async with db.uow() as uow:
        for q, value in enumerate([5, 4, 4, 3, 5]):
            done = await survey.answer(uow, actor=r1, survey_id=sid, question=q, value=value, now=SURVEY_AT)
        assert done.done and done.survey.answers == [5, 4, 4, 3, 5]
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):  # a double press of the last question counts once
            await survey.answer(uow, actor=r1, survey_id=sid, question=4, value=1, now=SURVEY_AT)
        with pytest.raises(NotFound):  # someone else's survey is not found for them
            await survey.answer(uow, actor=await actor_of(db, 705), survey_id=sid, question=0, value=1,
                                now=SURVEY_AT)
    # r2 moves to building 3 (not served): their survey is no longer theirs
    async with db.uow() as uow:
        member = await uow.session.get(Member, world.members["r2"])
        assert member is not None
        b3 = (await uow.session.exec(select(Building).where(Building.label == "3"))).one()
        member.building_id = b3.id
        uow.session.add(member)
        sid2 = (await uow.session.exec(select(PropertySurvey.id).where(
            PropertySurvey.member_id == world.members["r2"]))).one()
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await survey.answer(uow, actor=await actor_of(db, 704), survey_id=sid2, question=0, value=5,
                                now=SURVEY_AT)


async def test_item5_a_random_sample_when_set(db: Database, world: World) -> None:
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        community.settings = {**community.settings, "property_survey_sample": 1}
        uow.session.add(community)
        await uow.commit()
    async with db.uow() as uow:
        # sample 1, required answers for 10 households = min(30, ceil(0.1 × 10)) = 1 → one of r1, r2
        assert await survey.due(uow, now=SURVEY_AT) == 1
        await uow.commit()
    async with db.uow() as uow:
        assert await survey.due(uow, now=SURVEY_AT + timedelta(days=1)) == 0  # drawn once a month


async def _scored_and_answered(db: Database, world: World, *, deduct: str = "2.1") -> int:
    committee = await actor_of(db, 701)
    march = datetime(2027, 3, 20, 2, 0, tzinfo=UTC)
    async with db.uow() as uow:
        sheet = await ev.open_sheet(uow, actor=committee, number=1, now=march)
        for item in IND.items:
            if item.rule.kind == "per":
                await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                    code=item.code, count=2 if item.code == deduct else 0, note="缺两处", now=march)
            else:
                await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                    code=item.code, grade="full", now=march)
        await ev.submit(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0, now=march)
        uow.session.add(PropertySurvey(community_id=world.community_id, project_id=world.project_id,
                                       month="2027-03", member_id=world.members["r1"], answers=[5, 5, 4, 4, 4],
                                       step=5, sent_at=march, answered_at=march))
        await uow.commit()
        return sheet.evaluation.id or 0


async def test_item6_item7_published_once_with_replies_and_deadlines(db: Database, world: World) -> None:
    evaluation_id = await _scored_and_answered(db, world)
    staff = await actor_of(db, 702)
    async with db.uow() as uow:
        await ev.reply(uow, actor=staff, ind=IND, evaluation_id=evaluation_id, code="2.1", text="已补齐",
                       now=PUBLISH_AT - timedelta(days=2))
        await uow.commit()
    async with db.uow() as uow:  # February: nothing scored nor answered → nothing published
        assert (await publish.due(uow, now=datetime(2027, 3, 5, 2, 0, tzinfo=UTC))).published == ""
        await uow.commit()
    async with db.uow() as uow:  # the 5th before 09:00: not yet
        assert (await publish.due(uow, now=PUBLISH_AT - timedelta(hours=2))).published == ""
    async with db.uow() as uow:
        tick = await publish.due(uow, now=PUBLISH_AT)
        await uow.commit()
    assert tick.published == "2027-03" and tick.posts == 2 and len(tick.pictures) == 1
    async with db.uow() as uow:
        again = await publish.due(uow, now=PUBLISH_AT + timedelta(minutes=10))
        assert again.published == "" and again.posts == 0  # once
        result = (await uow.session.exec(select(PropertyResult).where(PropertyResult.month == "2027-03"))).one()
        # items 100 − 2 = 98 → 70 × 0.98 = 68.6; satisfaction mean (5+5+4+4+4)/5 = 4.4 → 20 × 3.4 / 4 = 17.0;
        # no complaints → 10; total 95.6, rank 1 (1 answer of 1 required)
        assert (result.total, result.rank, result.published_at is not None) == (95.6, 1, True)
        posts = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith("pp-rank")))).all()  # type: ignore[union-attr]
        text = next(p for p in posts if p.payload["notice"] == "property_ranking")
        row = text.payload["params"]["rows"][0]
        # 2.1 (weight 3, −1 per missing item) with 2 missing: 3 − 2 = 1
        assert row["rank"] == 1 and row["replies"] == [{"code": "2.1", "points": 1.0, "weight": 3.0,
                                                         "reply": "已补齐"}]
        evaluation = await uow.session.get(PropertyEvaluation, evaluation_id)
        assert evaluation is not None and evaluation.state == "published"
        deducted = (await uow.session.exec(select(PropertyItemScore).where(PropertyItemScore.code == "2.1"))).one()
        assert deducted.fix_due_at == PUBLISH_AT + timedelta(days=30)
        with pytest.raises(AlreadyDone):  # replies close on publication
            await ev.reply(uow, actor=staff, ind=IND, evaluation_id=evaluation_id, code="2.1", text="再说明",
                           now=PUBLISH_AT)


async def test_item7_overdue_tasks_and_talks_on_the_meeting_agenda(db: Database, world: World) -> None:
    await _scored_and_answered(db, world)
    async with db.uow() as uow:
        await publish.due(uow, now=PUBLISH_AT)
        await uow.commit()
    staff = await actor_of(db, 702)
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        open_tasks = await rectify.tasks(uow, actor=staff)
        assert [s.code for _, s in open_tasks] == ["2.1"]
        assert not [i for i in await meeting_agenda.agenda(uow, community, PUBLISH_AT) if i.source == "rectification"]
        late = PUBLISH_AT + timedelta(days=31)
        items = [i for i in await meeting_agenda.agenda(uow, community, late) if i.source == "rectification"]
        assert [(i.label, i.state) for i in items] == [("锦绣苑 2.1 一箱三栏、服务与收费公示", "overdue")]
        await rectify.mark_fixed(uow, actor=staff, score_id=open_tasks[0][1].id or 0, now=late)
        await uow.commit()
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        assert not [i for i in await meeting_agenda.agenda(uow, community, late) if i.source == "rectification"]
        with pytest.raises(AlreadyDone):
            await rectify.mark_fixed(uow, actor=staff, score_id=open_tasks[0][1].id or 0, now=late)
        # three months in the bottom three (one project: it is the bottom) → a talk on the agenda
        for month in ("2027-01", "2027-02"):
            uow.session.add(PropertyResult(community_id=world.community_id, project_id=world.project_id, month=month,
                                           total=60, rank=1, sufficient=True, computed_at=PUBLISH_AT,
                                           published_at=PUBLISH_AT))
        await uow.commit()
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        items = [i for i in await meeting_agenda.agenda(uow, community, late) if i.source == "rectification"]
        assert [(i.label, i.state) for i in items] == [("锦绣苑（海河物业）约谈", "talk")]


async def _alerts(db: Database) -> list[tuple[int, int]]:
    """(chat, rung) of every rectification alert queued so far."""
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith("rectification:")))).all()  # type: ignore[union-attr]
        return sorted((r.tg_chat_id, r.payload["params"]["rung"]) for r in rows)


async def test_item7_rectification_climbs_the_deadline_ladder_until_fixed(db: Database, world: World) -> None:
    await _scored_and_answered(db, world)
    async with db.uow() as uow:
        await publish.due(uow, now=PUBLISH_AT)
        await uow.commit()
    async with db.uow() as uow:  # a day before the deadline: nobody
        await publish.due(uow, now=PUBLISH_AT + timedelta(days=29))
        await uow.commit()
    assert await _alerts(db) == []
    deadline = PUBLISH_AT + timedelta(days=30)
    for _ in range(2):  # twice at the deadline: the company (staff, tg 702) told once
        async with db.uow() as uow:
            await publish.due(uow, now=deadline)
            await uow.commit()
    assert await _alerts(db) == [(702, 0)]
    async with db.uow() as uow:  # 3 days later: the community's admins (tg 700)
        await publish.due(uow, now=deadline + timedelta(days=3))
        await uow.commit()
    assert await _alerts(db) == [(700, 1), (702, 0)]
    staff = await actor_of(db, 702)
    async with db.uow() as uow:  # fixed: the ladder stops before the district's rung
        task = (await rectify.tasks(uow, actor=staff))[0][1]
        await rectify.mark_fixed(uow, actor=staff, score_id=task.id or 0, now=deadline + timedelta(days=4))
        await uow.commit()
    async with db.uow() as uow:
        await publish.due(uow, now=deadline + timedelta(days=20))
        await uow.commit()
        row = await uow.session.get(PropertyItemScore, task.id)
        assert row is not None and (row.fix_state, row.fix_next_at) == ("fixed", None)
    assert await _alerts(db) == [(700, 1), (702, 0)]
