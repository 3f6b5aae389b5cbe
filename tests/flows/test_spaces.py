"""Micro spaces, tool lending and employment (#16, F-9.3, F-9.5) against a real database (SQLite, and PostgreSQL
when LINLI_TEST_POSTGRES_URL is set): opening hours and "open now", a tool lent once (compare-and-set, also with
presses at once), the day-before reminder and the polite overdue ladder through a restart, service records per
month, one group post per opening (never per application), phone numbers masked, atomic training seats with
twenty concurrent sign-ups, the training reminder once, attendance and the totals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, select

from flows import jobs, loans, membership, spaces
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, LimitReached
from flows.membership import Actor
from flows.roles import Role
from storage.db import Database
from storage.models import AuditEntry, Chat, OutboxMessage
from storage.models_spaces import Loan, Tool, Training, TrainingSignup
from tests.flows.people import actor_of, enrol

TZ = "Asia/Shanghai"
PEOPLE = {"admin": Role.ADMIN, "grid": Role.GRID_WORKER, "keeper": None, "r1": None, "r2": None}
#: Monday 2027-03-01, 09:30 in Tianjin (the conftest clock)
MON_0930 = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)
HOURS = "1-5 08:00-11:30 14:00-17:00; 6 09:00-12:00"


@dataclass
class World:
    community_id: int
    members: dict[str, int]
    actors: dict[str, Actor]


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        members = await enrol(uow, community_id=community.id or 0, people=PEOPLE, first_tg_id=700, now=now)
        for chat_id, purpose, status in ((-3001, "building", "member"), (-3002, "building", "administrator"),
                                         (-3003, "community", "administrator"), (-3004, "building", "left")):
            uow.session.add(Chat(tg_chat_id=chat_id, type="supergroup", title=str(chat_id),
                                 community_id=community.id, purpose=purpose, bot_status=status, created_at=now))
        await uow.commit()
    actors = {key: await actor_of(db, 700 + i) for i, key in enumerate(PEOPLE)}
    return World(community.id or 0, members, actors)


async def _do(db: Database, fn, **kw):  # type: ignore[no-untyped-def]
    async with db.uow(write=True) as uow:
        out = await fn(uow, **kw)
        await uow.commit()
        return out


async def _space_with_drill(db: Database, w: World, now: datetime) -> tuple[int, int]:
    draft = spaces.Draft(name="3号楼门岗微空间", place="3号楼东侧门岗", hours=spaces.parse_hours(HOURS),
                         services=("缝补", "理发", "工具借用"), keeper_member_id=w.members["keeper"])
    space = await _do(db, spaces.register, actor=w.actors["admin"], draft=draft, now=now)
    tool = await _do(db, spaces.add_tool, actor=w.actors["keeper"], number=space.number, name="电钻", now=now)
    return space.number, tool.number


async def _audit(db: Database) -> list[AuditEntry]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all())


async def _outbox(db: Database, prefix: str) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith(prefix)).order_by(col(OutboxMessage.id)))).all())


# ---------------------------------------------------------------- spaces


def test_item_hours_parse_and_print_back() -> None:
    hours = spaces.parse_hours(HOURS)
    assert hours["1"] == [["08:00", "11:30"], ["14:00", "17:00"]] and hours["6"] == [["09:00", "12:00"]]
    assert "7" not in hours
    assert spaces.hours_text(hours) == HOURS
    assert spaces.parse_hours("每天 08:00-20:00") == {str(d): [["08:00", "20:00"]] for d in range(1, 8)}
    for bad in ("周一 8点", "1-5", "5-1 08:00-09:00", "1 09:00-08:00", "1 08:00-10:00 09:00-11:00", "8 08:00-09:00",
                "1 08:00-09:00 and more"):
        with pytest.raises(Invalid):
            spaces.parse_hours(bad)


def test_item_open_now_and_next_opening() -> None:
    hours = spaces.parse_hours(HOURS)
    assert spaces.open_until(hours, MON_0930, TZ) == datetime(2027, 3, 1, 3, 30, tzinfo=UTC)  # 11:30 local
    noon = MON_0930 + timedelta(hours=3)  # 12:30 local: closed until 14:00
    assert spaces.open_until(hours, noon, TZ) is None
    assert spaces.next_opening(hours, noon, TZ) == datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
    saturday_evening = datetime(2027, 3, 6, 10, 0, tzinfo=UTC)  # Sat 18:00: next is Monday 08:00
    assert spaces.next_opening(hours, saturday_evening, TZ) == datetime(2027, 3, 8, 0, 0, tzinfo=UTC)
    assert spaces.next_opening({}, MON_0930, TZ) is None


async def test_item_register_list_and_who_manages(db: Database, clock: FixedClock, world: World) -> None:
    w, now = world, clock.now()
    draft = spaces.Draft(name="空间", place="门岗", hours={}, services=("缝补",), keeper_member_id=w.members["keeper"])
    with pytest.raises(Forbidden):
        await _do(db, spaces.register, actor=w.actors["r1"], draft=draft, now=now)
    number, _ = await _space_with_drill(db, w, now)
    closed = await _do(db, spaces.register, actor=w.actors["grid"], now=now, draft=spaces.Draft(
        name="周末理发点", place="活动室", hours=spaces.parse_hours("7 09:00-11:00"), services=("理发",),
        keeper_member_id=w.members["r2"]))
    async with db.uow() as uow:
        page = await spaces.listing(uow, actor=w.actors["r1"], now=now)
    assert [(ln.space.number, ln.closes_at is not None) for ln in page.items] == [(number, True), (closed.number, False)]
    assert page.items[1].opens_at == datetime(2027, 3, 7, 1, 0, tzinfo=UTC)  # Sunday 09:00
    # the keeper changes hours, not the keeper; a resident nothing
    await _do(db, spaces.update, actor=w.actors["keeper"], number=number, field="hours", text="每天 08:00-20:00",
              now=now)
    with pytest.raises(Forbidden):
        await _do(db, spaces.update, actor=w.actors["keeper"], number=number, field="keeper", text="5", now=now)
    with pytest.raises(Forbidden):
        await _do(db, spaces.update, actor=w.actors["r1"], number=number, field="hours", text="每天 08:00-20:00",
                  now=now)


async def test_item_service_records_count_per_month(db: Database, clock: FixedClock, world: World) -> None:
    w, now = world, clock.now()
    number, _ = await _space_with_drill(db, w, now)
    assert await _do(db, spaces.record_service, actor=w.actors["keeper"], number=number, service="缝补", count=3,
                     now=now) == 3
    assert await _do(db, spaces.record_service, actor=w.actors["keeper"], number=number, service="缝补", count=2,
                     now=now + timedelta(days=1)) == 5
    await _do(db, spaces.record_service, actor=w.actors["keeper"], number=number, service="缝补", count=4,
              now=now + timedelta(days=31))  # April
    for bad in (0, 100):
        with pytest.raises(Invalid):
            await _do(db, spaces.record_service, actor=w.actors["keeper"], number=number, service="缝补", count=bad,
                      now=now)
    with pytest.raises(Forbidden):
        await _do(db, spaces.record_service, actor=w.actors["r1"], number=number, service="缝补", count=1, now=now)
    async with db.uow() as uow:
        assert await spaces.month_counts(uow, community_id=w.community_id, month="2027-03") == [
            (number, "3号楼门岗微空间", "缝补", 5)]


# ---------------------------------------------------------------- loans


async def test_item_a_drill_lent_once_and_returned(db: Database, clock: FixedClock, world: World) -> None:
    w, now = world, clock.now()
    _, drill = await _space_with_drill(db, w, now)
    loan = await _do(db, loans.request, actor=w.actors["r1"], tool_number=drill, days=7, now=now)
    assert loan.due_on == date(2027, 3, 8)
    with pytest.raises(AlreadyDone) as mine:  # the borrower's second press
        await _do(db, loans.request, actor=w.actors["r1"], tool_number=drill, days=7, now=now)
    assert mine.value.what == "loan:mine"
    with pytest.raises(AlreadyDone):  # asked for already: cannot be lent twice
        await _do(db, loans.request, actor=w.actors["r2"], tool_number=drill, days=3, now=now)
    with pytest.raises(Forbidden):  # only the keeper (or the office) hands over
        await _do(db, loans.hand_over, actor=w.actors["r1"], number=loan.number, now=now)
    await _do(db, loans.hand_over, actor=w.actors["keeper"], number=loan.number, now=now)
    with pytest.raises(AlreadyDone):  # the second press does nothing
        await _do(db, loans.hand_over, actor=w.actors["keeper"], number=loan.number, now=now)
    with pytest.raises(AlreadyDone):
        await _do(db, loans.request, actor=w.actors["r2"], tool_number=drill, days=3, now=now)
    await _do(db, loans.give_back, actor=w.actors["keeper"], number=loan.number, now=now + timedelta(days=2))
    again = await _do(db, loans.request, actor=w.actors["r2"], tool_number=drill, days=3, now=now + timedelta(days=2))
    assert again.number == loan.number + 1
    kinds = [r.payload["notice"] for r in await _outbox(db, "loan_")]
    assert kinds == ["loan_requested", "loan_answered", "loan_answered", "loan_requested"]


async def test_item_a_tool_retired_leaves_the_list_once_it_is_back(db: Database, clock: FixedClock,
                                                                   world: World) -> None:
    """A keeper retires a tool: not while on loan or asked for, not by a resident; once retired it is off the list,
    cannot be asked for, retiring it again finds nothing; its loans stay; audited."""
    from flows.errors import NotFound
    from storage.models import AuditEntry

    w, now = world, clock.now()
    number, drill = await _space_with_drill(db, w, now)
    loan = await _do(db, loans.request, actor=w.actors["r1"], tool_number=drill, days=3, now=now)
    with pytest.raises(AlreadyDone) as busy:  # asked for
        await _do(db, spaces.retire_tool, actor=w.actors["keeper"], tool_number=drill, now=now)
    assert busy.value.what == "tool:busy"
    await _do(db, loans.refuse, actor=w.actors["keeper"], number=loan.number, now=now)
    with pytest.raises(Forbidden):  # a resident
        await _do(db, spaces.retire_tool, actor=w.actors["r2"], tool_number=drill, now=now)
    await _do(db, spaces.retire_tool, actor=w.actors["keeper"], tool_number=drill, now=now)
    with pytest.raises(NotFound):  # twice acts once
        await _do(db, spaces.retire_tool, actor=w.actors["keeper"], tool_number=drill, now=now)
    with pytest.raises(NotFound):  # nobody can ask for it
        await _do(db, loans.request, actor=w.actors["r2"], tool_number=drill, days=3, now=now)
    async with db.uow() as uow:
        space = await spaces.get(uow, actor=w.actors["r2"], number=number)
        assert await spaces.tools(uow, space=space) == []
        assert len((await uow.session.exec(select(Loan))).all()) == 1  # the history stays
        retired = [e for e in (await uow.session.exec(select(AuditEntry))).all() if e.action == "tool.retire"]
    assert [e.details["tool"] for e in retired] == [drill]


async def test_item_twenty_borrowers_at_once_one_gets_the_drill(db: Database, clock: FixedClock,
                                                               world: World) -> None:
    w, now = world, clock.now()
    _, drill = await _space_with_drill(db, w, now)
    async with db.uow() as uow:
        extra = await enrol(uow, community_id=w.community_id, people={f"p{i}": None for i in range(20)},
                            first_tg_id=800, now=now)
        await uow.commit()
    people = [await actor_of(db, 800 + i) for i in range(len(extra))]

    async def one(actor: Actor) -> object:
        async with db.uow(write=True) as uow:
            try:
                out = await loans.request(uow, actor=actor, tool_number=drill, days=3, now=now)
            except AlreadyDone as e:
                return e
            await uow.commit()
            return out

    results = await asyncio.gather(*(one(a) for a in people))
    assert sum(isinstance(r, Loan) for r in results) == 1
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(Loan))).all()) == 1
        assert (await uow.session.exec(select(Tool.state))).one() == "requested"


async def _lent(db: Database, w: World, now: datetime, days: int = 3) -> Loan:
    _, drill = await _space_with_drill(db, w, now)
    loan = await _do(db, loans.request, actor=w.actors["r1"], tool_number=drill, days=days, now=now)
    await _do(db, loans.hand_over, actor=w.actors["keeper"], number=loan.number, now=now)
    return loan


async def _tick(db: Database, at: datetime) -> loans.Due:
    return await _do(db, loans.due, now=at)


async def test_item_reminder_the_day_before_once_through_a_restart(db: Database, clock: FixedClock,
                                                                   world: World) -> None:
    now = clock.now()
    await _lent(db, world, now, days=3)  # due Thursday 2027-03-04
    assert await _tick(db, now + timedelta(days=1)) == loans.Due()  # Tuesday: nothing yet
    wednesday_0730 = datetime(2027, 3, 2, 23, 30, tzinfo=UTC)  # quiet hours: waits
    assert await _tick(db, wednesday_0730) == loans.Due()
    wednesday_0900 = datetime(2027, 3, 3, 1, 0, tzinfo=UTC)
    assert (await _tick(db, wednesday_0900)).due_soon == 1
    # the scheduler restarts (a new Database, the same file) and runs again: nothing twice
    again = Database(db.url)
    try:
        assert await _tick(again, wednesday_0900 + timedelta(minutes=10)) == loans.Due()
    finally:
        await again.dispose()
    assert [r.payload["notice"] for r in await _outbox(db, "loan_soon")] == ["loan_due_soon"]


async def test_item_overdue_reminders_stay_polite_then_the_keeper_is_told(db: Database, clock: FixedClock,
                                                                          world: World) -> None:
    now = clock.now()
    await _lent(db, world, now, days=3)  # due Thursday 2027-03-04
    friday_0900 = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)
    friday_2200 = datetime(2027, 3, 5, 14, 0, tzinfo=UTC)
    assert (await _tick(db, friday_0900)).overdue == 1
    assert await _tick(db, friday_0900 + timedelta(hours=3)) == loans.Due()  # at most one a day
    assert await _tick(db, friday_2200) == loans.Due()  # never in the quiet hours
    saturday_0700 = datetime(2027, 3, 5, 23, 0, tzinfo=UTC)
    assert await _tick(db, saturday_0700) == loans.Due()
    assert (await _tick(db, saturday_0700 + timedelta(hours=2))).overdue == 1  # Saturday 09:00
    again = Database(db.url)  # a restart between the reminders
    try:
        assert (await _tick(again, friday_0900 + timedelta(days=2))).overdue == 1  # Sunday: the third
        assert (await _tick(again, friday_0900 + timedelta(days=3))) == loans.Due(keepers=1)  # Monday: stop
    finally:
        await again.dispose()
    for day in range(4, 8):
        assert await _tick(db, friday_0900 + timedelta(days=day)) == loans.Due()
    rows = await _outbox(db, "loan_")
    overdue = [r for r in rows if r.payload["notice"] == "loan_overdue"]
    assert [r.payload["params"]["days"] for r in overdue] == [1, 2, 3]
    assert [r.payload["notice"] for r in rows if r.payload["notice"] == "loan_overdue_keeper"] == [
        "loan_overdue_keeper"]


async def test_item_returned_in_time_no_overdue(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    loan = await _lent(db, world, now, days=3)
    await _do(db, loans.give_back, actor=world.actors["keeper"], number=loan.number, now=now + timedelta(days=2))
    for day in range(1, 8):
        assert await _tick(db, now + timedelta(days=day)) == loans.Due()


# ---------------------------------------------------------------- jobs


def _job(closes: date = date(2027, 3, 31), **kw: str) -> jobs.JobDraft:
    fields = {"title": "手工编织", "employer": "北辰编织合作社", "pay": "计件 每件 8 元", "place": "党群服务中心"} | kw
    return jobs.JobDraft(closes_on=closes, **fields)


async def test_item_one_post_per_opening_never_per_application(db: Database, clock: FixedClock,
                                                               world: World) -> None:
    w, now = world, clock.now()
    with pytest.raises(Forbidden):
        await _do(db, jobs.post_job, actor=w.actors["r1"], draft=_job(), now=now)
    job, groups = await _do(db, jobs.post_job, actor=w.actors["grid"], draft=_job(place="电话 138 0000 1234"), now=now)
    assert groups == 2 and job.place == "电话 ***"  # the two live building groups
    await _do(db, jobs.apply, actor=w.actors["r1"], number=job.number, message="我会织毛衣，电话13800001234", now=now)
    with pytest.raises(AlreadyDone):
        await _do(db, jobs.apply, actor=w.actors["r1"], number=job.number, message="再来", now=now)
    await _do(db, jobs.apply, actor=w.actors["r2"], number=job.number, message="想试试", now=now)
    posts = await _outbox(db, "dg:micro:")  # through the groups' budget (flows/digest.py)
    assert sorted(r.tg_chat_id for r in posts) == [-3002, -3001]
    applied = await _outbox(db, "job_apply")
    assert [r.payload["params"]["message"] for r in applied] == ["我会织毛衣，电话***", "想试试"]
    assert all(r.tg_chat_id == 701 for r in applied)  # the poster, in private
    closed = await _do(db, jobs.close_job, actor=w.actors["grid"], number=job.number)
    assert closed.state == "closed"
    with pytest.raises(Invalid):
        await _do(db, jobs.apply, actor=w.actors["keeper"], number=job.number, message="晚了", now=now)


async def test_item_a_job_post_in_a_busy_group_waits_for_the_evening_digest(db: Database, clock: FixedClock,
                                                                              world: World) -> None:
    """Jobs and trainings post through the groups' budget (flows/digest.py): a group that already had two bot
    messages today gets the opening in the evening's digest, the quiet group at once."""
    from storage.models_micro import DigestItem

    now = clock.now()
    await _day_full(db, world, now)
    await _do(db, jobs.post_job, actor=world.actors["admin"], draft=_job(), now=now)
    assert [r.tg_chat_id for r in await _outbox(db, "dg:micro:")] == [-3002]
    async with db.uow() as uow:
        held = (await uow.session.exec(select(DigestItem))).all()
    assert [(h.tg_chat_id, h.notice["kind"]) for h in held] == [(-3001, "job_posted")]


async def test_item_a_group_post_waits_out_the_quiet_hours(db: Database, clock: FixedClock, world: World) -> None:
    late = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # 22:00 local
    await _do(db, jobs.post_job, actor=world.actors["admin"], draft=_job(), now=late)
    assert {r.not_before for r in await _outbox(db, "dg:micro:")} == {datetime(2027, 3, 1, 23, 30, tzinfo=UTC)}


async def _day_full(db: Database, w: World, now: datetime) -> None:
    """Building group -3001 had its day's posts: what is posted there next waits for the evening's digest."""
    async with db.uow() as uow:
        for _ in range(2):
            uow.session.add(OutboxMessage(community_id=w.community_id, tg_chat_id=-3001, status="sent",
                                          payload={"notice": "announcement"}, not_before=now, sent_at=now,
                                          created_at=now))
        await uow.commit()


async def _training(db: Database, w: World, now: datetime, capacity: int = 5) -> Training:
    draft = jobs.TrainingDraft(title="家政服务培训", place="党群服务中心", starts_at=now + timedelta(days=3),
                               capacity=capacity)
    training, _ = await _do(db, jobs.post_training, actor=w.actors["admin"], draft=draft, now=now)
    return training


async def test_item_twenty_sign_ups_at_once_for_five_seats(db: Database, clock: FixedClock, world: World) -> None:
    w, now = world, clock.now()
    training = await _training(db, w, now, capacity=5)
    async with db.uow() as uow:
        await enrol(uow, community_id=w.community_id, people={f"p{i}": None for i in range(20)}, first_tg_id=800,
                    now=now)
        await uow.commit()
    people = [await actor_of(db, 800 + i) for i in range(20)]

    async def one(actor: Actor) -> object:
        async with db.uow(write=True) as uow:
            try:
                out = await jobs.sign_up(uow, actor=actor, number=training.number, now=now)
            except (LimitReached, AlreadyDone) as e:
                return e
            await uow.commit()
            return out

    results = await asyncio.gather(*(one(a) for a in people))
    assert sum(isinstance(r, Training) for r in results) == 5
    assert sum(isinstance(r, LimitReached) for r in results) == 15
    async with db.uow() as uow:
        assert (await uow.session.get(Training, training.id)).seats_taken == 5  # type: ignore[union-attr]
        assert len((await uow.session.exec(select(TrainingSignup))).all()) == 5


async def test_item_a_training_called_off_tells_the_signed_up_and_stops_what_it_fed(db: Database, clock: FixedClock,
                                                                                       world: World) -> None:
    """Calling a training off: the office only, before it starts, once; each person signed up is told, their
    reminders not sent yet are dropped, the group posts not out yet are taken back, sign-ups close."""
    from storage.models_micro import DigestItem

    w, now = world, clock.now()
    await _day_full(db, w, now)  # building group -3001: the training waits for its digest there
    training = await _training(db, w, now)
    other = await _training(db, w, now)  # another training: nothing of it is touched
    for key in ("r1", "r2"):
        await _do(db, jobs.sign_up, actor=w.actors[key], number=training.number, now=now)
    await _do(db, jobs.sign_up, actor=w.actors["r1"], number=other.number, now=now)
    eve = training.starts_at - timedelta(hours=20)
    assert await _do(db, jobs.due, now=eve) == 3  # the reminders queued (not sent yet)
    with pytest.raises(Forbidden):
        await _do(db, jobs.cancel_training, actor=w.actors["r1"], number=training.number, now=eve)
    off, told = await _do(db, jobs.cancel_training, actor=w.actors["admin"], number=training.number,  # type: ignore[misc]
                          now=eve)
    assert (off.state, told) == ("cancelled", 2)
    with pytest.raises(AlreadyDone):
        await _do(db, jobs.cancel_training, actor=w.actors["admin"], number=training.number, now=eve)
    with pytest.raises(Invalid):
        await _do(db, jobs.sign_up, actor=w.actors["keeper"], number=training.number, now=eve)
    cancelled = await _outbox(db, "training_cancelled:")
    assert len(cancelled) == 2 and {r.payload["notice"] for r in cancelled} == {"training_cancelled"}
    reminders = await _outbox(db, "training_remind:")
    assert [r.payload["params"]["number"] for r in reminders] == [other.number]  # this training's two are gone
    posts = await _outbox(db, "dg:micro:")
    assert {r.dedupe_key.split(":")[3] for r in posts if r.dedupe_key} == {str(other.id)}  # its post to -3002 too
    async with db.uow() as uow:
        held = (await uow.session.exec(select(DigestItem))).all()
    assert [h.key.split(":")[3] for h in held] == [str(other.id)]  # and its post held for -3001's digest
    started = other.starts_at + timedelta(minutes=1)
    with pytest.raises(Invalid):  # once begun it cannot be called off
        await _do(db, jobs.cancel_training, actor=w.actors["admin"], number=other.number, now=started)


async def test_item_a_training_changed_tells_the_signed_up_and_what_it_fed_follows(db: Database, clock: FixedClock,
                                                                                     world: World) -> None:
    """Changing a training's place or start (flows/training_changes.py): the office only, before it starts; those
    signed up are told each time; a reminder not sent yet is dropped and, for a new start, everyone is reminded again
    the day before it (also who had their reminder already); the group post not out yet shows the new place."""
    from flows import training_changes
    from storage.models_micro import DigestItem

    w, now = world, clock.now()
    await _day_full(db, w, now)  # building group -3001: the training waits for its digest there
    training = await _training(db, w, now)
    for key in ("r1", "r2"):
        await _do(db, jobs.sign_up, actor=w.actors[key], number=training.number, now=now)
    eve = training.starts_at - timedelta(hours=20)
    assert await _do(db, jobs.due, now=eve) == 2  # the reminders queued
    async with db.uow(write=True) as uow:  # r1's went out, r2's still waits
        first = (await uow.session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith("training_remind:")).order_by(col(OutboxMessage.id)))).first()
        assert first is not None
        first.status = "sent"
        uow.session.add(first)
        await uow.commit()

    async def change(**kw: object) -> tuple[Training, int]:
        changed = await _do(db, training_changes.change, number=training.number, now=eve, **kw)
        return changed  # type: ignore[no-any-return]

    with pytest.raises(Forbidden):
        await change(actor=w.actors["r1"], place="社区会议室")
    with pytest.raises(Invalid) as same:
        await change(actor=w.actors["admin"], place="党群服务中心")
    assert same.value.reason == "same"
    with pytest.raises(Invalid) as past:
        await change(actor=w.actors["admin"], starts_at=eve - timedelta(hours=1))
    assert past.value.reason == "past"
    moved, told = await change(actor=w.actors["admin"], place="社区会议室 13800138000")
    assert (moved.place, told) == ("社区会议室 ***", 2)  # a phone number in it is masked, as when posting
    later = training.starts_at + timedelta(days=2)
    moved, told = await change(actor=w.actors["admin"], starts_at=later)
    assert (moved.starts_at, moved.place, told) == (later, "社区会议室 ***", 2)
    changed = await _outbox(db, "training_changed:")
    assert len(changed) == 4 and changed[-1].payload["params"]["starts"] == "2027-03-06 09:30"
    reminders = await _outbox(db, "training_remind:")
    assert [r.status for r in reminders] == ["sent"]  # r2's, with the old place and time, is gone
    async with db.uow() as uow:
        held = (await uow.session.exec(select(DigestItem))).all()
        posts = (await uow.session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith("dg:micro:training:")))).all()
    assert [h.notice["params"]["place"] for h in held] == ["社区会议室 ***"]  # the group post not out yet
    assert {p.payload["params"]["starts"] for p in posts} == {"2027-03-06 09:30"}
    assert await _do(db, jobs.due, now=eve + timedelta(hours=1)) == 0  # not before the day before the new start
    assert await _do(db, jobs.due, now=later - timedelta(hours=20)) == 2  # both reminded again, r1 too
    reminders = await _outbox(db, "training_remind:")
    assert [r.payload["params"]["starts"] for r in reminders[1:]] == ["2027-03-06 09:30"] * 2
    await _do(db, jobs.cancel_training, actor=w.actors["admin"], number=training.number,
              now=later - timedelta(hours=19))
    assert [r.status for r in await _outbox(db, "training_remind:")] == ["sent"]  # the new ones are dropped too
    with pytest.raises(AlreadyDone):
        await change(actor=w.actors["admin"], place="别处")
    audits = [e for e in await _audit(db) if e.action == "training.change"]
    assert [e.details["fields"] for e in audits] == [["place"], ["starts_at"]]


async def test_item_training_reminder_attendance_and_totals(db: Database, clock: FixedClock, world: World) -> None:
    w, now = world, clock.now()
    training = await _training(db, w, now)
    await _do(db, jobs.sign_up, actor=w.actors["r1"], number=training.number, now=now)
    with pytest.raises(AlreadyDone):
        await _do(db, jobs.sign_up, actor=w.actors["r1"], number=training.number, now=now)
    await _do(db, jobs.sign_up, actor=w.actors["r2"], number=training.number, now=now)
    back = await _do(db, jobs.withdraw, actor=w.actors["r2"], number=training.number, now=now)
    assert back.seats_taken == 1
    assert await _do(db, jobs.due, now=now) == 0  # three days ahead: not yet
    eve = training.starts_at - timedelta(hours=20)
    assert await _do(db, jobs.due, now=eve) == 1
    again = Database(db.url)
    try:
        assert await _do(again, jobs.due, now=eve + timedelta(minutes=10)) == 0  # after a restart: not twice
    finally:
        await again.dispose()
    with pytest.raises(Invalid):  # attendance only once it has started
        await _do(db, jobs.mark, actor=w.actors["admin"], number=training.number, signup_id=1, attended=True, now=now)
    after = training.starts_at + timedelta(hours=2)
    async with db.uow() as uow:
        _, rows = await jobs.signups(uow, actor=w.actors["admin"], number=training.number)
    assert [name for _, name in rows] == ["r1"]
    await _do(db, jobs.mark, actor=w.actors["admin"], number=training.number, signup_id=rows[0][0].id or 0,
              attended=True, now=after)
    await _do(db, jobs.post_job, actor=w.actors["grid"], draft=_job(), now=now)
    await _do(db, jobs.record_income, actor=w.actors["admin"], amount="1200.50", month="2027-3", member_no=None,
              now=now)
    await _do(db, jobs.record_income, actor=w.actors["admin"], amount="800", month="2027-02",
              member_no=w.members["r1"], now=now)
    with pytest.raises(Forbidden):
        await _do(db, jobs.record_income, actor=w.actors["r1"], amount="1", month="2027-02", member_no=None, now=now)
    async with db.uow() as uow:
        mine = await jobs.totals(uow, community_id=w.community_id, year=2027)
        district = await jobs.totals(uow, community_id=None, year=2027)
        other_year = await jobs.totals(uow, community_id=w.community_id, year=2026)
    assert mine == jobs.Totals(openings=1, trained=1, income_fen=200050) == district
    assert other_year == jobs.Totals(0, 0, 0)


def test_item_amounts_months_and_phones() -> None:
    assert jobs.parse_yuan("¥1,200.5") == 120050 and jobs.parse_yuan("300元") == 30000
    for bad in ("0", "-3", "abc", "1.234", "99999999"):
        with pytest.raises(Invalid):
            jobs.parse_yuan(bad)
    assert jobs.parse_month("2027-3") == "2027-03"
    with pytest.raises(Invalid):
        jobs.parse_month("2027-13")
    assert jobs.mask_phones("联系 +86 138-0000-1234 或 022-12345678") == "联系 *** 或 ***"
    assert jobs.mask_phones("每件 8 元，2027 年") == "每件 8 元，2027 年"


async def test_item_a_request_at_night_reaches_the_keeper_in_the_morning(db: Database, clock: FixedClock,
                                                                          world: World) -> None:
    w = world
    _, drill = await _space_with_drill(db, w, clock.now())
    night = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # 23:00 local
    await _do(db, loans.request, actor=w.actors["r1"], tool_number=drill, days=3, now=night)
    asked = await _outbox(db, "loan_req")
    assert [r.not_before for r in asked] == [datetime(2027, 3, 2, 0, 0, tzinfo=UTC)]  # 08:00 local


# ---------------------------------------------------------------- free text never breaks a parser

_HHMM = st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45])).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")


@given(st.text(max_size=80))
def test_item_parsers_answer_any_text_with_invalid_or_a_value(text: str) -> None:
    for parse in (spaces.parse_hours, spaces.parse_services, jobs.parse_yuan, jobs.parse_month):
        try:
            parse(text)
        except Invalid:
            pass
    masked = jobs.mask_phones(text)
    assert not any(sum(ch.isdigit() for ch in run) >= 7 for run in jobs._PHONE.findall(masked))


@given(st.dictionaries(st.integers(1, 7), st.lists(st.tuples(_HHMM, _HHMM), min_size=1, max_size=3), max_size=7))
def test_item_hours_print_back_as_they_parse(raw: dict[int, list[tuple[str, str]]]) -> None:
    groups = []
    for day, slots in sorted(raw.items()):
        slots = sorted({(a, b) for a, b in slots if a < b})
        if not slots or any(x[1] > y[0] for x, y in zip(slots, slots[1:], strict=False)):
            continue
        groups.append(f"{day} " + " ".join(f"{a}-{b}" for a, b in slots))
    if not groups:
        return
    hours = spaces.parse_hours("; ".join(groups))
    assert spaces.parse_hours(spaces.hours_text(hours)) == hours


async def test_item_a_keeper_replaced_no_longer_hands_over(db: Database, clock: FixedClock, world: World) -> None:
    """Access taken away stops what it fed: the old keeper's buttons are refused, the new keeper's work."""
    w, now = world, clock.now()
    number, drill = await _space_with_drill(db, w, now)
    loan = await _do(db, loans.request, actor=w.actors["r1"], tool_number=drill, days=3, now=now)
    await _do(db, spaces.update, actor=w.actors["grid"], number=number, field="keeper", text=str(w.members["r2"]),
              now=now)
    with pytest.raises(Forbidden):
        await _do(db, loans.hand_over, actor=w.actors["keeper"], number=loan.number, now=now)
    with pytest.raises(Forbidden):
        await _do(db, spaces.record_service, actor=w.actors["keeper"], number=number, service="缝补", count=1, now=now)
    done = await _do(db, loans.hand_over, actor=w.actors["r2"], number=loan.number, now=now)
    assert done.state == "out"


async def test_item_spaces_are_listed_a_page_at_a_time(db: Database, clock: FixedClock, world: World) -> None:
    w, now = world, clock.now()
    for i in range(3):
        await _do(db, spaces.register, actor=w.actors["admin"], now=now, draft=spaces.Draft(
            name=f"空间{i}", place="门岗", hours=spaces.parse_hours("7 09:00-10:00" if i else "每天 08:00-20:00"),
            services=("缝补",), keeper_member_id=w.members["keeper"]))
    async with db.uow() as uow:
        first = await spaces.listing(uow, actor=w.actors["r1"], now=now, page=1, size=2)
        last = await spaces.listing(uow, actor=w.actors["r1"], now=now, page=9, size=2)
    assert (first.page, first.pages, [ln.space.name for ln in first.items]) == (1, 2, ["空间0", "空间1"])
    assert (last.page, [ln.space.name for ln in last.items]) == (2, ["空间2"])  # past the end: the last page
