"""Open days against a real database: announcing (admins only, time not in the past, place ≤ 60),
posting to every group, signing up once (and cancelling), the reminder the day before and the
feedback prompt after (each once), feedback 1–5, and the admin's list of names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from flows import membership, opendays
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Role
from storage.db import Database
from storage.models import AuditEntry, Chat, OpenDay, OpenDaySignup, OutboxMessage, Project
from tests.flows.people import actor_of

PEOPLE = {"admin": Role.ADMIN, "grid": Role.GRID_WORKER, "r1": None, "r2": None}
TZ = "Asia/Shanghai"


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    project_id: int
    stranger: Actor


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1"])
        members = {}
        for i, (key, role) in enumerate(PEOPLE.items()):
            user = await membership.touch_user(uow, tg_id=600 + i, first_name=key, last_name="X", username=None,
                                               tg_language="zh-hans", now=now)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=now)
            if role is not None:
                await membership.assign_role(uow, member=done.member, role=role, org=None, now=now)
            members[key] = done.member.id
        await membership.touch_user(uow, tg_id=699, first_name="stranger", last_name=None, username=None,
                                    tg_language="zh-hans", now=now)
        for chat_id, purpose, status in ((-2001, "community", "administrator"), (-2002, "building", "member"),
                                         (-2003, "committee", "administrator"), (-2004, "building", "left"),
                                         (-2005, None, "administrator")):
            uow.session.add(Chat(tg_chat_id=chat_id, type="supergroup", title=str(chat_id), community_id=community.id,
                                 purpose=purpose, bot_status=status, created_at=now))
        project = Project(community_id=community.id, year=2027, number=3, title="健身器材更新", category="culture",
                          created_at=now)
        uow.session.add(project)
        await uow.commit()
    actors = {key: await actor_of(db, 600 + i) for i, key in enumerate(PEOPLE)}
    return World(community.id, actors, members, project.id or 0, await actor_of(db, 699))


def test_parse_start_local_time_not_in_the_past() -> None:
    now = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Tianjin
    assert opendays.parse_start(" 2027-06-01   09:30 ", timezone=TZ, now=now) == datetime(2027, 6, 1, 1, 30,
                                                                                           tzinfo=UTC)
    assert opendays.parse_start("2027-03-01 09:31", timezone=TZ, now=now) == now + timedelta(minutes=1)
    for text, reason in (("2027-03-01 09:30", "past"), ("2026-12-31 10:00", "past"), ("明天上午", "format"),
                         ("2027-02-30 09:00", "format"), ("2027-06-01", "format"), ("", "format")):
        with pytest.raises(Invalid) as err:
            opendays.parse_start(text, timezone=TZ, now=now)
        assert (err.value.field, err.value.reason) == ("starts_at", reason), text
    assert opendays.clean_place(" 3号楼 \n 门口 ") == "3号楼 门口"
    assert len(opendays.clean_place("地" * 60)) == 60
    for text, reason in (("地" * 61, "too_long"), (" \n", "empty")):
        with pytest.raises(Invalid) as err:
            opendays.clean_place(text)
        assert err.value.reason == reason


async def _announce(db: Database, world: World, now: datetime, starts_at: datetime) -> OpenDay:
    async with db.uow() as uow:
        day, groups = await opendays.announce(uow, actor=world.actors["admin"], project_id=world.project_id,
                                              starts_at=starts_at, place="3号楼门口", now=now)
        await uow.commit()
    assert groups == 3
    return day


async def test_only_admins_announce_and_every_group_hears(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    start = now + timedelta(days=10)
    async with db.uow() as uow:
        for who, error in (("r1", Forbidden), ("grid", Forbidden)):
            with pytest.raises(error):
                await opendays.announce(uow, actor=world.actors[who], project_id=world.project_id, starts_at=start,
                                        place="门口", now=now)
        with pytest.raises(NotRegistered):
            await opendays.announce(uow, actor=world.stranger, project_id=world.project_id, starts_at=start,
                                    place="门口", now=now)
        with pytest.raises(Invalid):
            await opendays.announce(uow, actor=world.actors["admin"], project_id=world.project_id,
                                    starts_at=now - timedelta(minutes=1), place="门口", now=now)
        with pytest.raises(Invalid):
            await opendays.announce(uow, actor=world.actors["admin"], project_id=world.project_id, starts_at=start,
                                    place="门" * 61, now=now)
        with pytest.raises(NotFound):
            await opendays.announce(uow, actor=world.actors["admin"], project_id=world.project_id + 99,
                                    starts_at=start, place="门口", now=now)
        assert (await uow.session.exec(select(OpenDay))).all() == []
    day = await _announce(db, world, now, start)
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        audit = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "openday.announce"))).all()
    assert sorted(r.tg_chat_id for r in rows) == [-2003, -2002, -2001]
    assert rows[0].payload["notice"] == "openday_announce"
    assert rows[0].payload["params"] == {"open_day_id": day.id, "number": 3, "title": "健身器材更新",
                                         "place": "3号楼门口", "starts": "2027-03-11 09:30"}
    assert len(audit) == 1


async def test_sign_up_once_cancel_and_the_admins_list(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    day = await _announce(db, world, now, now + timedelta(days=3))
    async with db.uow() as uow:
        assert await opendays.sign_up(uow, actor=world.actors["r1"], open_day_id=day.id, now=now) == 1
        assert await opendays.sign_up(uow, actor=world.actors["r2"], open_day_id=day.id, now=now) == 2
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):
            await opendays.sign_up(uow, actor=world.actors["r1"], open_day_id=day.id, now=now)
        with pytest.raises(NotRegistered):
            await opendays.sign_up(uow, actor=world.stranger, open_day_id=day.id, now=now)
        with pytest.raises(NotFound):
            await opendays.sign_up(uow, actor=world.actors["r1"], open_day_id=day.id + 1, now=now)
        with pytest.raises(NotFound):  # not signed up: nothing to cancel
            await opendays.cancel(uow, actor=world.actors["grid"], open_day_id=day.id, now=now)
        with pytest.raises(Forbidden):
            await opendays.signups(uow, actor=world.actors["r1"], open_day_id=day.id)
        view, names = await opendays.signups(uow, actor=world.actors["admin"], open_day_id=day.id)
        assert view.signups == 2 and names == ["r1 X", "r2 X"]
        assert await opendays.cancel(uow, actor=world.actors["r2"], open_day_id=day.id, now=now) == 1
        await uow.commit()
    async with db.uow() as uow:
        listed = await opendays.upcoming(uow, actor=world.actors["admin"], now=now)
        assert [(v.day.id, v.signups) for v in listed] == [(day.id, 1)]
        # after the start, no more sign-ups or withdrawals
        later = day.starts_at + timedelta(minutes=1)
        with pytest.raises(Invalid):
            await opendays.sign_up(uow, actor=world.actors["r2"], open_day_id=day.id, now=later)
        with pytest.raises(Invalid):
            await opendays.cancel(uow, actor=world.actors["r1"], open_day_id=day.id, now=later)
        uow.session.add(OpenDaySignup(open_day_id=day.id or 0, member_id=world.members["r1"], created_at=now))
        with pytest.raises(IntegrityError):
            await uow.session.flush()


async def test_reminder_the_day_before_and_feedback_after_once_each(db: Database, clock: FixedClock,
                                                                    world: World) -> None:
    now = clock.now()
    start = now + timedelta(days=5)
    day = await _announce(db, world, now, start)
    async with db.uow() as uow:
        await opendays.sign_up(uow, actor=world.actors["r1"], open_day_id=day.id, now=now)
        await opendays.sign_up(uow, actor=world.actors["r2"], open_day_id=day.id, now=now)
        with pytest.raises(Invalid):  # feedback before the open day
            await opendays.feedback(uow, actor=world.actors["r1"], open_day_id=day.id, stars=5, now=now)
        await uow.commit()

    async def tick(at: datetime) -> opendays.Due:
        async with db.uow() as uow:
            result = await opendays.due(uow, now=at)
            await uow.commit()
        return result

    assert await tick(start - timedelta(days=1, minutes=1)) == opendays.Due()
    assert await tick(start - timedelta(days=1)) == opendays.Due(reminders=2)
    assert await tick(start - timedelta(hours=2)) == opendays.Due()
    assert await tick(start + timedelta(hours=1)) == opendays.Due()  # during the visit: nothing
    assert await tick(start + opendays.ASK_AFTER) == opendays.Due(prompts=2)
    assert await tick(start + timedelta(days=2)) == opendays.Due()
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.tg_chat_id > 0)
                                       .order_by(OutboxMessage.id))).all()
    assert [(r.tg_chat_id, r.payload["notice"]) for r in rows] == [
        (602, "openday_remind"), (603, "openday_remind"), (602, "openday_feedback"), (603, "openday_feedback")]

    after = start + timedelta(hours=4)
    async with db.uow() as uow:
        for bad in (0, 6):
            with pytest.raises(Invalid):
                await opendays.feedback(uow, actor=world.actors["r1"], open_day_id=day.id, stars=bad, now=after)
        with pytest.raises(Invalid):
            await opendays.feedback(uow, actor=world.actors["r1"], open_day_id=day.id, text="好" * 301, now=after)
        with pytest.raises(NotFound):  # only experience officers give feedback
            await opendays.feedback(uow, actor=world.actors["grid"], open_day_id=day.id, stars=4, now=after)
        await opendays.feedback(uow, actor=world.actors["r1"], open_day_id=day.id, stars=4, now=after)
        await opendays.feedback(uow, actor=world.actors["r1"], open_day_id=day.id, text=" 器材很新 ", now=after)
        await uow.commit()
    async with db.uow() as uow:
        row = (await uow.session.exec(select(OpenDaySignup).where(
            OpenDaySignup.member_id == world.members["r1"]))).one()
    assert (row.stars, row.feedback) == (4, "器材很新")
    await _late_scheduler_and_cancelled(db, clock, world)


async def _late_scheduler_and_cancelled(db: Database, clock: FixedClock, world: World) -> None:
    """A scheduler that was down for weeks skips old open days; cancelled ones are skipped too."""
    now = clock.now()
    day = await _announce(db, world, now, now + timedelta(days=2))
    async with db.uow() as uow:
        await opendays.sign_up(uow, actor=world.actors["r1"], open_day_id=day.id, now=now)
        await uow.commit()
    async with db.uow() as uow:  # the scheduler was down for weeks
        assert await opendays.due(uow, now=now + timedelta(days=30)) == opendays.Due()
    second = await _announce(db, world, now, now + timedelta(days=2))
    async with db.uow() as uow:
        await opendays.sign_up(uow, actor=world.actors["r1"], open_day_id=second.id, now=now)
        row = await uow.session.get(OpenDay, second.id)
        assert row is not None
        row.cancelled_at = now
        await uow.commit()
    async with db.uow() as uow:
        assert await opendays.due(uow, now=now + timedelta(days=1, hours=12)) == opendays.Due(reminders=1)
