"""The property survey once per household and month (#15, F-10): the member's room is asked first and normalised
like the roster's; a second member of the household is told it is done and nothing is written; two members
answering at the same moment: exactly one counts; the minimum sample and the complaint rate count the roster's
households of the project's buildings when the roster has them, else the declared number."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from flows.actors import Actor
from flows.errors import AlreadyDone, Invalid, NotFound
from flows.property import household as hh
from flows.property import ranking, scoring, survey
from storage.db import Database
from storage.models import Building, Member
from storage.models_household import PropertySurveyHousehold
from storage.models_property import PropertyResult, PropertySurvey
from storage.models_roster import Household
from tests.flows import test_property_cycle as cycle
from tests.flows.people import actor_of, enrol
from tests.flows.test_property_cycle import IND, SURVEY_AT, World

world = cycle.world  # the served project's fixture: buildings 1 and 2, residents r1 (1), r2 (2), r3 (3)


async def _family(db: Database, world: World) -> tuple[Actor, Actor, int, int]:
    """r1 and a family member r4 (building 1), both invited; returns their actors and surveys."""
    async with db.uow() as uow:
        r4 = (await enrol(uow, community_id=world.community_id, people={"r4": None}, first_tg_id=720,
                          now=SURVEY_AT))["r4"]
        member = await uow.session.get(Member, r4)
        b1 = (await uow.session.exec(select(Building).where(Building.label == "1"))).one()
        assert member is not None
        member.building_id = b1.id
        uow.session.add(member)
        await uow.commit()
    async with db.uow() as uow:
        assert await survey.due(uow, now=SURVEY_AT) == 3  # r1, r2, r4: one invitation per member
        await uow.commit()
    async with db.uow() as uow:
        sids = dict((await uow.session.exec(select(PropertySurvey.member_id, PropertySurvey.id))).all())
    return await actor_of(db, 703), await actor_of(db, 720), sids[world.members["r1"]] or 0, sids[r4] or 0


async def _answer(db: Database, actor: Actor, sid: int, values: list[int], start: int = 0) -> survey.Answered:
    async with db.uow(write=True) as uow:
        for q, value in enumerate(values, start):
            out = await survey.answer(uow, actor=actor, survey_id=sid, question=q, value=value, now=SURVEY_AT)
        await uow.commit()
        return out


async def test_item15_the_room_is_asked_and_normalised_like_the_roster(db: Database, world: World) -> None:
    r1, r4, sid1, _ = await _family(db, world)
    async with db.uow() as uow:
        assert (await survey.current(uow, actor=r1, survey_id=sid1, now=SURVEY_AT)).room is None
        for bad, reason in (("  ", "empty"), ("=1+1", "formula"), ("1" * 21, "too_long")):
            with pytest.raises(Invalid) as err:
                await hh.set_room(uow, actor=r1, text=bad, now=SURVEY_AT)
            assert err.value.reason == reason
        assert await hh.set_room(uow, actor=r1, text="２－101 室", now=SURVEY_AT) == "2-101"
        await uow.commit()
    async with db.uow() as uow:
        assert (await survey.current(uow, actor=r1, survey_id=sid1, now=SURVEY_AT)).room == "2-101"
        # a room of another building's roster cannot be picked
        b2 = (await uow.session.exec(select(Building).where(Building.label == "2"))).one()
        other = Household(community_id=world.community_id, building_id=b2.id or 0, room="9-909",
                          created_at=SURVEY_AT, updated_at=SURVEY_AT)
        uow.session.add(other)
        await uow.flush()
        with pytest.raises(NotFound):
            await hh.pick_room(uow, actor=r1, household_id=other.id or 0, now=SURVEY_AT)
        # a move to another building makes the room unknown again
        member = await uow.session.get(Member, world.members["r1"])
        assert member is not None
        member.building_id = b2.id
        assert await hh.room_of_member(uow, member) is None


async def test_item15_a_second_member_of_the_household_is_told_it_is_done(db: Database, world: World) -> None:
    r1, r4, sid1, sid4 = await _family(db, world)
    async with db.uow() as uow:
        await hh.set_room(uow, actor=r1, text="101", now=SURVEY_AT)
        await hh.set_room(uow, actor=r4, text="101室", now=SURVEY_AT)  # the same household
        await uow.commit()
    await _answer(db, r4, sid4, [3, 3, 3, 3])  # r4 is midway
    assert (await _answer(db, r1, sid1, [5, 4, 4, 3, 5])).done
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone) as err:  # r4's last answer: the household is done, nothing written
            await survey.answer(uow, actor=r4, survey_id=sid4, question=4, value=1, now=SURVEY_AT)
        assert err.value.what == "survey_household"
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):  # r4's open survey is closed
            await survey.current(uow, actor=r4, survey_id=sid4, now=SURVEY_AT)
        assert await survey.waiting(uow, actor=r4, now=SURVEY_AT) is None
        row = await uow.session.get(PropertySurvey, sid4)
        assert row is not None and row.answered_at is None and row.step == 4
        claims = (await uow.session.exec(select(PropertySurveyHousehold))).all()
        assert [(c.room, c.survey_id) for c in claims] == [("101", sid1)]
        # another household of the same building still answers
        await hh.set_room(uow, actor=r4, text="102", now=SURVEY_AT)
        await uow.commit()
    assert (await _answer(db, r4, sid4, [2], start=4)).done


async def test_item15_two_members_at_the_same_moment_exactly_one_counts(db: Database, world: World) -> None:
    r1, r4, sid1, sid4 = await _family(db, world)
    async with db.uow() as uow:
        await hh.set_room(uow, actor=r1, text="101", now=SURVEY_AT)
        await hh.set_room(uow, actor=r4, text="101", now=SURVEY_AT)
        await uow.commit()
    await _answer(db, r1, sid1, [5, 5, 5, 5])
    await _answer(db, r4, sid4, [1, 1, 1, 1])

    async def last(actor: Actor, sid: int, value: int) -> object:
        try:
            return await _answer(db, actor, sid, [value], start=4)
        except AlreadyDone as e:
            return e

    results = await asyncio.gather(last(r1, sid1, 5), last(r4, sid4, 1))
    won = [r for r in results if isinstance(r, survey.Answered)]
    lost = [r for r in results if isinstance(r, AlreadyDone)]
    assert len(won) == 1 and len(lost) == 1 and lost[0].what == "survey_household"
    async with db.uow() as uow:
        answered = (await uow.session.exec(select(PropertySurvey).where(
            PropertySurvey.answered_at.is_not(None)))).all()  # type: ignore[union-attr]
        claims = (await uow.session.exec(select(PropertySurveyHousehold))).all()
        assert len(answered) == 1 and len(claims) == 1 and claims[0].survey_id == answered[0].id


async def test_item15_minimum_sample_counts_the_roster_else_the_declared_households(db: Database,
                                                                                   world: World) -> None:
    march = datetime(2027, 3, 31, 2, 0, tzinfo=UTC)
    async with db.uow() as uow:
        await ranking.compute(uow, month="2027-03", now=march)
        row = (await uow.session.exec(select(PropertyResult))).one()
        assert row.required == scoring.required_answers(IND, 10) == 1  # no roster: the declared 10 households
        await uow.commit()
    async with db.uow() as uow:
        labels = {b.label: b.id or 0 for b in (await uow.session.exec(select(Building))).all()}
        # 40 households in buildings 1 and 2 (served), 30 in building 3 (not served)
        for label, count in (("1", 20), ("2", 20), ("3", 30)):
            for n in range(count):
                uow.session.add(Household(community_id=world.community_id, building_id=labels[label],
                                          room=f"{n + 101}", created_at=march, updated_at=march))
        await uow.commit()
    async with db.uow() as uow:
        await ranking.compute(uow, month="2027-03", now=march)
        row = (await uow.session.exec(select(PropertyResult))).one()
        assert row.required == scoring.required_answers(IND, 40) == 4 and not row.sufficient


async def test_item15_a_member_joining_after_the_household_answered_is_not_invited(db: Database,
                                                                                   world: World) -> None:
    r1, r4, sid1, sid4 = await _family(db, world)
    async with db.uow() as uow:
        await hh.set_room(uow, actor=r1, text="101", now=SURVEY_AT)
        await uow.commit()
    await _answer(db, r1, sid1, [5, 5, 5, 5, 5])
    async with db.uow() as uow:
        r5 = (await enrol(uow, community_id=world.community_id, people={"r5": None}, first_tg_id=721,
                          now=SURVEY_AT))["r5"]
        r6 = (await enrol(uow, community_id=world.community_id, people={"r6": None}, first_tg_id=722,
                          now=SURVEY_AT))["r6"]
        b1 = (await uow.session.exec(select(Building).where(Building.label == "1"))).one()
        for mid in (r5, r6):
            member = await uow.session.get(Member, mid)
            assert member is not None
            member.building_id = b1.id
            uow.session.add(member)
        await uow.commit()
    async with db.uow() as uow:
        await hh.set_room(uow, actor=await actor_of(db, 721), text="101", now=SURVEY_AT)  # r5: the same household
        await uow.commit()
    async with db.uow() as uow:
        assert await survey.due(uow, now=SURVEY_AT) == 1  # only r6 (room unknown); r5's household has answered
        invited = set((await uow.session.exec(select(PropertySurvey.member_id))).all())
        assert r6 in invited and r5 not in invited
