"""The weekly multi-committee meeting (#13, F-8) against a real database: the weekly time in the community's zone,
the reminder once per meeting, an agenda holding exactly the overdue and new items, decisions that become
assignments on the deadline ladder, the minutes, and every refusal by role and community."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from flows import access, meeting, meeting_agenda, membership, request_work, requests
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.roles import Org, Role
from storage.db import Database
from storage.models import Chat, Incident, KeyPerson, OutboxMessage, Project
from storage.models_meeting import MeetingItem
from storage.models_requests import Request
from tests.flows.people import actor_of, enrol

ROLES = {"resident": None, "committee": (Role.COMMITTEE, Org.RESIDENTS_COMMITTEE),
         "property_head": (Role.COMMITTEE, Org.PROPERTY), "property": (Role.HANDLER, Org.PROPERTY),
         "admin": (Role.ADMIN, None)}
COMMITTEE_GROUP, BUILDING_GROUP = -100300, -100301


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    other: Actor  # a committee member of another community


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        members = await enrol(uow, community_id=community.id or 0, people=ROLES, first_tg_id=700, now=now)
        for tg, purpose in ((COMMITTEE_GROUP, "committee"), (BUILDING_GROUP, "community")):
            uow.session.add(Chat(tg_chat_id=tg, type="supergroup", title=purpose, community_id=community.id,
                                 purpose=purpose, bot_status="administrator", created_at=now))
        elsewhere, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["9"])
        await enrol(uow, community_id=elsewhere.id or 0, first_tg_id=790, now=now,
                    people={"x_committee": (Role.COMMITTEE, Org.PROPERTY)})
        await uow.commit()
    actors = {key: await actor_of(db, 700 + i) for i, key in enumerate(ROLES)}
    return World(community.id or 0, actors, members, await actor_of(db, 790))


async def _do(db: Database, fn: object, **kwargs: object) -> object:
    async with db.uow(write=True) as uow:
        out = await fn(uow, **kwargs)  # type: ignore[operator]
        await uow.commit()
    return out


async def _notices(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [r for r in rows if r.payload.get("notice") == kind]


async def _report(db: Database, w: World, now: datetime, kind: str = "request") -> Request:
    return await _do(db, requests.submit, actor=w.actors["resident"], kind=kind, category="repair",  # type: ignore[return-value]
                     text="电梯坏了", now=now)


def test_item1_the_weekly_time_is_read_in_the_community_zone() -> None:
    schedule = meeting_agenda.parse_time("周三 15:00")
    assert (schedule.weekday, schedule.hour, schedule.minute) == (2, 15, 0)
    assert meeting_agenda.parse_time("星期三 15：00") == schedule and meeting_agenda.parse_time("wed 15:00") == schedule
    for bad in ("周八 15:00", "周三 25:00", "15:00", "周三"):
        with pytest.raises(Invalid):
            meeting_agenda.parse_time(bad)
    monday = datetime(2027, 3, 22, 3, 0, tzinfo=UTC)  # Monday 11:00 in Tianjin, 04:00 in Berlin
    assert meeting_agenda.next_meeting(schedule, "Asia/Shanghai", monday) == datetime(2027, 3, 24, 7, 0, tzinfo=UTC)
    assert meeting_agenda.next_meeting(schedule, "Europe/Berlin", monday) == datetime(2027, 3, 24, 14, 0, tzinfo=UTC)
    # Berlin changes to summer time on Sunday 28 March: the next Wednesday's 15:00 is 13:00 UTC
    after = datetime(2027, 3, 24, 15, 0, tzinfo=UTC)
    assert meeting_agenda.next_meeting(schedule, "Europe/Berlin", after) == datetime(2027, 3, 31, 13, 0, tzinfo=UTC)


async def test_item1_admins_set_the_time_and_the_committee_is_reminded_once(db: Database, world: World,
                                                                             clock: FixedClock) -> None:
    now = clock.now()
    with pytest.raises(Forbidden) as refused:
        await _do(db, meeting_agenda.set_time, actor=world.actors["committee"], text="周三 15:00", now=now)
    assert refused.value.permission == "meeting:admin"
    _, at = await _do(db, meeting_agenda.set_time, actor=world.actors["admin"], text="周三 15:00", now=now)  # type: ignore[misc]
    assert at.astimezone(meeting_agenda.ladder.zone("Asia/Shanghai")).strftime("%a %H:%M") == "Wed 15:00"
    await _report(db, world, at - timedelta(hours=5))  # still within its day to be assessed
    assert await _do(db, meeting_agenda.remind, now=at - meeting_agenda.LEAD - timedelta(minutes=1)) == 0
    assert await _do(db, meeting_agenda.remind, now=at - meeting_agenda.LEAD + timedelta(minutes=1)) == 3  # 2 committee + admin
    assert await _do(db, meeting_agenda.remind, now=at - timedelta(minutes=5)) == 0  # once per meeting
    sent = await _notices(db, "meeting_reminder")
    assert {m.recipient_user_id for m in sent} == {world.actors[k].user.id for k in ("committee", "property_head", "admin")}
    assert [i["source"] for i in sent[0].payload["params"]["items"]] == ["new_request"]


async def test_item1_the_agenda_holds_exactly_the_overdue_and_new_items(db: Database, world: World,
                                                                        clock: FixedClock) -> None:
    start = clock.now()
    overdue_new = await _report(db, world, start)  # not assessed within a day
    late = await _report(db, world, start)
    await _do(db, request_work.assign, actor=world.actors["committee"], request_id=late.id, org="property", now=start)
    now = start + timedelta(days=8)  # past late's 7-day resolve clock
    on_time = await _report(db, world, now - timedelta(days=1, hours=-1))
    await _do(db, request_work.assign, actor=world.actors["committee"], request_id=on_time.id, org="property", now=now)
    fresh = await _report(db, world, now - timedelta(hours=1))
    closed = await _report(db, world, now)
    await _do(db, request_work.reject, actor=world.actors["committee"], request_id=closed.id, reason="重复", now=now)
    async with db.uow(write=True) as uow:
        person = KeyPerson(community_id=world.community_id, alias="A", room="101", building_id=None,
                           created_at=start, updated_at=start)
        uow.session.add(person)
        await uow.session.flush()
        uow.session.add(Incident(community_id=world.community_id, person_id=person.id or 0, reason="no_answer",
                                 opened_at=now))
        uow.session.add(Project(community_id=world.community_id, year=2027, number=1, title="加装电梯",
                                category="facility", created_at=start))
        await uow.commit()
    async with db.uow() as uow:
        community = await membership.get_community(uow, world.community_id)
        items = await meeting_agenda.agenda(uow, community, now)
    by = {(i.source, i.ref_id) for i in items if i.source.endswith("request")}
    assert by == {("overdue_request", overdue_new.id), ("overdue_request", late.id), ("new_request", fresh.id)}
    assert [i.source for i in items][:3] == ["overdue_request", "overdue_request", "new_request"]
    incidents = [i for i in items if i.source == "incidents"]
    assert len(incidents) == 1 and incidents[0].label == "1"
    assert [i.source for i in items if i.source == "project"] == (["project"] if now.year == 2027 else [])


async def test_item2_decisions_become_assignments_on_the_ladder(db: Database, world: World, clock: FixedClock) -> None:
    now = clock.now()
    req = await _report(db, world, now)
    async with db.uow(write=True) as uow:
        uow.session.add(Project(community_id=world.community_id, year=now.year, number=1, title="加装电梯",
                                category="facility", created_at=now))
        await uow.commit()
    chair = world.actors["committee"]
    m, opened = await _do(db, meeting.open_meeting, actor=chair, tg_chat_id=COMMITTEE_GROUP, in_group=True,  # type: ignore[misc]
                          now=now)
    assert opened
    again, opened_again = await _do(db, meeting.open_meeting, actor=world.actors["admin"],  # type: ignore[misc]
                                    tg_chat_id=COMMITTEE_GROUP, in_group=True, now=now)
    assert again.id == m.id and not opened_again  # one open meeting per community
    assert await _do(db, meeting.attend, actor=world.actors["property_head"], meeting_id=m.id, now=now)
    assert not await _do(db, meeting.attend, actor=world.actors["property_head"], meeting_id=m.id, now=now)
    async with db.uow() as uow:
        items = {i.source: i for i in (await meeting.view(uow, m)).items}
    with pytest.raises(Forbidden) as refused:
        await _do(db, meeting.decide, actor=world.actors["property_head"], meeting_id=m.id,
                  item_id=items["project"].id, org="property", days=7, now=now)
    assert refused.value.permission == "meeting:chair"
    await _do(db, meeting.decide, actor=chair, meeting_id=m.id, item_id=items["new_request"].id, org="property",
              days=3, now=now, note="先排查")
    async with db.uow() as uow:
        row = await uow.session.get(Request, req.id)
        assert row is not None and row.state == "assigned" and row.organisation == "property"
        assert row.due_at == now + timedelta(days=3)  # the request's ladder waits for the meeting's deadline
    task = await _do(db, meeting.decide, actor=chair, meeting_id=m.id, item_id=items["project"].id, org="property",
                     days=7, now=now)
    assert task.owner_member_id == world.members["property_head"] and task.due_at == now + timedelta(days=7)  # type: ignore[attr-defined]
    with pytest.raises(AlreadyDone):
        await _do(db, meeting.decide, actor=chair, meeting_id=m.id, item_id=items["project"].id, org="rc", days=7,
                  now=now)
    assert len(await _notices(db, "meeting_task")) == 1
    # the deadline passes: the owner, then a day later the admins, each once
    for tick_at in (now + timedelta(days=7, minutes=1), now + timedelta(days=7, minutes=2),
                    now + timedelta(days=8, minutes=2)):
        await _do(db, meeting.tick, now=tick_at)
    told = [(n.recipient_user_id, n.payload["params"]["audience"]) for n in await _notices(db, "meeting_item_overdue")]
    assert told == [(world.actors["property_head"].user.id, "owner"), (world.actors["admin"].user.id, "admins")]
    await _do(db, meeting.done, actor=world.actors["property_head"], item_id=task.id, now=now)  # type: ignore[attr-defined]
    async with db.uow() as uow:
        done = await uow.session.get(MeetingItem, task.id)  # type: ignore[attr-defined]
        assert done is not None and done.state == "done" and done.due_at is None
    # minutes: closed by the chair, posted to the committee group, kept
    with pytest.raises(Forbidden):
        await _do(db, meeting.close, actor=world.actors["property_head"], meeting_id=m.id, now=now)
    shown = await _do(db, meeting.close, actor=chair, meeting_id=m.id, now=now + timedelta(hours=1))
    assert shown.meeting.state == "closed"  # type: ignore[attr-defined]
    posted = await _notices(db, "meeting_minutes")
    assert [p.tg_chat_id for p in posted] == [COMMITTEE_GROUP]
    assert posted[0].payload["params"]["present"] == ["property_head"]
    with pytest.raises(AlreadyDone):
        await _do(db, meeting.attend, actor=chair, meeting_id=m.id, now=now)
    async with db.uow() as uow:
        assert [p.number for p in await meeting.past(uow, actor=chair)] == [1]
        kept = await meeting.minutes(uow, actor=world.actors["admin"], number=1)
    assert [i["note"] for i in kept.items if i["source"] == "new_request"] == ["先排查"]
    nxt, opened = await _do(db, meeting.open_meeting, actor=chair, tg_chat_id=700, in_group=False, now=now)  # type: ignore[misc]
    assert opened and nxt.number == 2


async def test_item2_every_refusal_by_role_and_community(db: Database, world: World, clock: FixedClock) -> None:
    now = clock.now()
    with pytest.raises(Forbidden) as refused:
        await _do(db, meeting.open_meeting, actor=world.actors["resident"], tg_chat_id=700, in_group=False, now=now)
    assert refused.value.permission == "meeting"
    with pytest.raises(Forbidden) as refused:
        await _do(db, meeting.open_meeting, actor=world.actors["property"], tg_chat_id=703, in_group=False, now=now)
    assert refused.value.permission == "meeting"  # a handler is no committee member
    with pytest.raises(Forbidden) as refused:
        await _do(db, meeting.open_meeting, actor=world.actors["admin"], tg_chat_id=BUILDING_GROUP, in_group=True,
                  now=now)
    assert refused.value.permission == "meeting:chat"
    m, _ = await _do(db, meeting.open_meeting, actor=world.actors["admin"], tg_chat_id=COMMITTEE_GROUP,  # type: ignore[misc]
                     in_group=True, now=now)
    with pytest.raises(Forbidden) as refused:
        await _do(db, meeting.attend, actor=world.other, meeting_id=m.id, now=now)
    assert refused.value.permission == "meeting:community"
    with pytest.raises(Forbidden):
        await _do(db, meeting.attend, actor=world.actors["resident"], meeting_id=m.id, now=now)
    async with db.uow() as uow:
        assert await meeting.current(uow, actor=world.other) is None


async def test_item1_the_reminder_follows_the_community_zone(db: Database, world: World, clock: FixedClock) -> None:
    """Berlin and Tianjin both meet on Wednesdays at 15:00 local: each is reminded two hours before its own 15:00."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        berlin, _ = await membership.create_community(uow, name="Berlin", now=now, buildings=["1"])
        berlin.timezone = "Europe/Berlin"
        await enrol(uow, community_id=berlin.id or 0, first_tg_id=795, now=now, people={"b_admin": (Role.ADMIN, None)})
        await uow.commit()
    await _do(db, meeting_agenda.set_time, actor=world.actors["admin"], text="周三 15:00", now=now)
    _, berlin_at = await _do(db, meeting_agenda.set_time, actor=await actor_of(db, 795), text="wed 15:00",  # type: ignore[misc]
                             now=now)
    assert berlin_at == datetime(2027, 3, 3, 14, 0, tzinfo=UTC)  # 15:00 CET
    tianjin_call = datetime(2027, 3, 3, 5, 0, tzinfo=UTC)  # 13:00 in Tianjin
    assert await _do(db, meeting_agenda.remind, now=tianjin_call) == 3  # Tianjin's committee and admin only
    assert await _do(db, meeting_agenda.remind, now=berlin_at - meeting_agenda.LEAD - timedelta(minutes=1)) == 0
    assert await _do(db, meeting_agenda.remind, now=berlin_at - meeting_agenda.LEAD) == 1  # Berlin's admin


async def test_item2_refusals_of_the_chair_s_steps(db: Database, world: World, clock: FixedClock) -> None:
    now = clock.now()
    with pytest.raises(NotFound) as missing:
        await _do(db, meeting.note, actor=world.actors["admin"], position=1, text="x", now=now)
    assert missing.value.what == "meeting_open"  # no meeting open
    late = await _report(db, world, now - timedelta(days=9))
    await _do(db, request_work.assign, actor=world.actors["committee"], request_id=late.id, org="property",
              now=now - timedelta(days=9))
    m, _ = await _do(db, meeting.open_meeting, actor=world.actors["committee"], tg_chat_id=701, in_group=False,  # type: ignore[misc]
                     now=now)
    async with db.uow() as uow:
        (item,) = (await meeting.view(uow, m)).items
    assert item.source == "overdue_request"
    with pytest.raises(Invalid) as wrong:  # it is with the property company: the meeting keeps it there
        await _do(db, meeting.decide, actor=world.actors["committee"], meeting_id=m.id, item_id=item.id, org="rc",
                  days=7, now=now)
    assert wrong.value.reason == "request_elsewhere"
    for bad in (0, meeting.MAX_DAYS + 1):
        with pytest.raises(Invalid):
            await _do(db, meeting.decide, actor=world.actors["committee"], meeting_id=m.id, item_id=item.id,
                      org="property", days=bad, now=now)
    with pytest.raises(Invalid):
        await _do(db, meeting.decide, actor=world.actors["committee"], meeting_id=m.id, item_id=item.id,
                  org="property", days=7, now=now, note="长" * (meeting.NOTE_LIMIT + 1))
    async with db.uow() as uow:
        row = await uow.session.get(Request, late.id)
        still = await uow.session.get(MeetingItem, item.id)
    assert row is not None and row.due_at != now + timedelta(days=7)  # nothing half-written
    assert still is not None and still.state == "pending"
    await _do(db, meeting.decide, actor=world.actors["admin"], meeting_id=m.id, item_id=item.id, org="property",
              days=7, now=now)  # an admin may act as the chair
    async with db.uow() as uow:
        row = await uow.session.get(Request, late.id)
    assert row is not None and row.due_at == now + timedelta(days=7) and row.rung == 0


async def test_item2_two_members_opening_at_once_make_one_meeting(db: Database, world: World,
                                                                  clock: FixedClock) -> None:
    now = clock.now()
    await _report(db, world, now)
    results = await asyncio.gather(*(
        _do(db, meeting.open_meeting, actor=world.actors[k], tg_chat_id=COMMITTEE_GROUP, in_group=True, now=now)
        for k in ("committee", "property_head", "admin")))
    assert len({m.id for m, _ in results}) == 1 and sum(opened for _, opened in results) == 1  # type: ignore[misc]
    async with db.uow() as uow:
        items = (await uow.session.exec(select(MeetingItem))).all()
    assert len(items) == 1  # its agenda frozen once


async def test_item2_an_owner_whose_role_was_taken_away_is_told_no_more(db: Database, world: World,
                                                                        clock: FixedClock) -> None:
    now = clock.now()
    async with db.uow(write=True) as uow:
        uow.session.add(Project(community_id=world.community_id, year=now.year, number=1, title="加装电梯",
                                category="facility", created_at=now))
        await uow.commit()
    m, _ = await _do(db, meeting.open_meeting, actor=world.actors["admin"], tg_chat_id=704, in_group=False,  # type: ignore[misc]
                     now=now)
    async with db.uow() as uow:
        (item,) = (await meeting.view(uow, m)).items
    task = await _do(db, meeting.decide, actor=world.actors["admin"], meeting_id=m.id, item_id=item.id,
                     org="property", days=3, now=now)
    assert task.owner_member_id == world.members["property_head"]  # type: ignore[attr-defined]
    await _do(db, access.revoke_role, actor=world.actors["admin"], member_id=world.members["property_head"],
              role=Role.COMMITTEE, now=now)
    await _do(db, meeting.tick, now=now + timedelta(days=3, minutes=1))
    told = [(n.recipient_user_id, n.payload["params"]["audience"]) for n in await _notices(db, "meeting_item_overdue")]
    assert told == [(world.actors["admin"].user.id, "owner")]  # the admins stand in for the owner


async def test_item1_the_rectification_seam_puts_its_tasks_on_the_agenda(db: Database, world: World, clock: FixedClock,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """F-10's rectification tasks do not exist yet: a source named in RECTIFICATIONS lands on the agenda, last."""
    async def tasks(uow: object, community: object, now: datetime) -> list[meeting_agenda.AgendaItem]:
        return [meeting_agenda.AgendaItem("rectification", 7, "3号楼电梯维保")]

    monkeypatch.setattr(meeting_agenda, "RECTIFICATIONS", (tasks,))
    await _report(db, world, clock.now())
    async with db.uow() as uow:
        community = await membership.get_community(uow, world.community_id)
        items = await meeting_agenda.agenda(uow, community, clock.now())
    assert [(i.source, i.label) for i in items][-1] == ("rectification", "3号楼电梯维保")
    assert [i.source for i in items] == ["new_request", "rectification"]
