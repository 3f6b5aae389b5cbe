"""Check-ins (早看窗帘晚看灯) against a real database with a clock moved by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from flows import checkins, membership
from flows.checkins import CheckinRefused
from flows.errors import Forbidden, Invalid
from storage.db import Database
from storage.models import Absence, CheckinPrompt, Incident, User
from tests.flows.checkin_world import SECRET_NAME, build, last_id, messages, tick, user

MORNING = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai (a Monday)
EVENING = datetime(2027, 3, 1, 11, 30, tzinfo=UTC)  # 19:30


def at(minutes: float, base: datetime = MORNING) -> datetime:
    return base + timedelta(minutes=minutes)


async def prompts(db: Database) -> list[CheckinPrompt]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(CheckinPrompt).order_by(CheckinPrompt.id))).all())


async def incidents(db: Database) -> list[Incident]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(Incident).order_by(Incident.id))).all())


async def press(db: Database, tg_id: int, prompt_id: int, answer: str, now: datetime) -> checkins.AnswerView:
    u = await user(db, tg_id)
    async with db.uow(write=True) as uow:
        v = await checkins.answer(uow, user=u, prompt_id=prompt_id, answer=answer, now=now)
        await uow.commit()
    return v


async def refused(db: Database, tg_id: int, prompt_id: int, answer: str, now: datetime) -> str:
    with pytest.raises(CheckinRefused) as err:
        await press(db, tg_id, prompt_id, answer, now)
    return err.value.reason


def summary(rows) -> list[tuple[str, int, str]]:
    return [(r.payload["notice"], r.tg_chat_id, r.dedupe_key) for r in rows]


async def morning_prompt(db: Database) -> CheckinPrompt:
    return next(p for p in await prompts(db) if p.slot == "morning" and p.local_date == "2027-03-01")


async def test_a_normal_day(db: Database) -> None:
    w = await build(db)
    res = await tick(db, at(-60))
    assert res.planned == 2 and res.sent == 0  # morning and evening (no midday check asked)
    rows = await prompts(db)
    assert sorted(p.slot for p in rows) == ["evening", "morning"]
    assert {p.due_at for p in rows} == {MORNING, EVENING}
    res = await tick(db, at(0))
    assert res.sent == 1
    [msg] = await messages(db)
    assert msg.tg_chat_id == w.tg["primary"] and msg.payload["notice"] == "ck_prompt"
    assert msg.payload["params"]["slot"] == "morning" and msg.payload["params"]["alias"] == "3-2-401 李奶奶"
    pr = await morning_prompt(db)
    v = await press(db, w.tg["primary"], pr.id, "ok", at(3))
    assert v.outcome == "done" and v.answer == "ok"
    assert (await tick(db, at(60))).messages == 0
    res = await tick(db, EVENING)
    assert res.sent == 1
    evening = next(p for p in await prompts(db) if p.slot == "evening")
    await press(db, w.tg["primary"], evening.id, "knocked", at(5, EVENING))
    assert (await tick(db, at(600, EVENING))).messages == 0
    assert [p.status for p in await prompts(db) if p.local_date == "2027-03-01"] == ["answered", "answered"]
    assert await incidents(db) == []


async def test_the_full_ladder_and_re_escalation(db: Database) -> None:
    w = await build(db)
    await tick(db, at(0))
    pr = await morning_prompt(db)
    assert (await tick(db, at(14))).messages == 0
    res = await tick(db, at(15))
    assert res.reminded == 1
    assert (await tick(db, at(44))).messages == 0
    n = await last_id(db)
    res = await tick(db, at(45))
    assert res.handed == 1
    [to_backup] = await messages(db, n)
    assert to_backup.tg_chat_id == w.tg["backup"] and to_backup.payload["params"]["handed"] is True
    # the primary's buttons now answer "handed over"
    assert await refused(db, w.tg["primary"], pr.id, "ok", at(46)) == "handed_over"
    n = await last_id(db)
    assert (await tick(db, at(74))).messages == 0
    res = await tick(db, at(75))
    assert res.escalated == 1
    rows = await messages(db, n)
    assert summary(rows)[0][:2] == ("ci_alert", w.tg["grid"])
    group = [r for r in rows if r.tg_chat_id == w.group_chat]
    assert len(group) == 1 and set(group[0].payload["params"]) == {"alias", "slot"}
    assert group[0].payload["params"]["alias"] == "3-2-401 李奶奶"
    [inc] = await incidents(db)
    assert inc.reason == "no_answer" and inc.level == 0 and inc.next_escalation_at == at(105)
    n = await last_id(db)
    assert (await tick(db, at(104))).messages == 0
    res = await tick(db, at(105))
    assert res.reescalated == 1
    rows = await messages(db, n)
    assert sorted(r.tg_chat_id for r in rows) == sorted([w.tg["grid"], w.tg["admin"]])
    assert all(r.payload["params"]["level"] == 1 for r in rows)
    res = await tick(db, at(135))
    assert res.reescalated == 1
    # nobody's name anywhere
    assert SECRET_NAME not in json.dumps([r.payload for r in await messages(db)], ensure_ascii=False)
    # the grid worker closes it: re-escalation stops, everyone alerted is told
    g = await user(db, w.tg["grid"])
    n = await last_id(db)
    async with db.uow(write=True) as uow:
        await checkins.close_incident(uow, user=g, incident_id=inc.id, outcome="safe", now=at(140))
        await uow.commit()
    closed = await messages(db, n)
    assert {r.tg_chat_id for r in closed} == {w.tg["grid"], w.tg["admin"], w.group_chat}
    assert next(r for r in closed if r.tg_chat_id == w.group_chat).payload["notice"] == "ci_closed_group"
    assert (await tick(db, at(300))).messages == 0
    assert (await morning_prompt(db)).status == "answered"


async def test_not_ok_opens_an_incident_closed_as_slept_late(db: Database) -> None:
    w = await build(db)
    await tick(db, at(0))
    pr = await morning_prompt(db)
    n = await last_id(db)
    v = await press(db, w.tg["primary"], pr.id, "not_ok", at(2))
    assert v.outcome == "incident"
    alerts = await messages(db, n)
    assert sorted(r.tg_chat_id for r in alerts) == sorted([w.tg["grid"], w.tg["backup"]])
    assert all(r.payload["notice"] == "ci_alert" and r.payload["params"]["kind"] == "not_ok" for r in alerts)
    [inc] = await incidents(db)
    backup = await user(db, w.tg["backup"])
    outsider = await user(db, w.tg["other"])
    async with db.uow(write=True) as uow:
        with pytest.raises(CheckinRefused):
            await checkins.take_incident(uow, user=outsider, incident_id=inc.id, now=at(3))
    n = await last_id(db)
    async with db.uow(write=True) as uow:
        await checkins.take_incident(uow, user=backup, incident_id=inc.id, now=at(3))
        await uow.commit()
    assert [r.tg_chat_id for r in await messages(db, n)] == [w.tg["grid"]]  # "backup is going"
    n = await last_id(db)
    async with db.uow(write=True) as uow:
        await checkins.close_incident(uow, user=backup, incident_id=inc.id, outcome="slept_late", now=at(20))
        await uow.commit()
    told = await messages(db, n)
    assert {r.tg_chat_id for r in told} == {w.tg["grid"], w.tg["backup"]}
    assert all(r.payload["params"]["outcome"] == "slept_late" for r in told)
    [inc] = await incidents(db)
    assert (inc.status, inc.outcome, inc.closed_by) == ("closed", "slept_late", w.members["backup"])
    assert (await tick(db, at(120))).messages == 0
    async with db.uow(write=True) as uow:
        with pytest.raises(CheckinRefused) as err:
            await checkins.close_incident(uow, user=backup, incident_id=inc.id, outcome="safe", now=at(121))
    assert err.value.reason == "closed"


async def test_needs_help_goes_to_the_admins_at_once(db: Database) -> None:
    w = await build(db)
    await tick(db, at(0))
    await press(db, w.tg["primary"], (await morning_prompt(db)).id, "not_ok", at(1))
    [inc] = await incidents(db)
    n = await last_id(db)
    g = await user(db, w.tg["grid"])
    async with db.uow(write=True) as uow:
        await checkins.help_incident(uow, user=g, incident_id=inc.id, now=at(5))
        await uow.commit()
    assert w.tg["admin"] in {r.tg_chat_id for r in await messages(db, n)}


async def test_cannot_hands_over_at_once_and_away(db: Database) -> None:
    w = await build(db)
    await tick(db, at(0))
    pr = await morning_prompt(db)
    n = await last_id(db)
    v = await press(db, w.tg["primary"], pr.id, "cannot", at(1))
    assert v.outcome == "handed"
    [m] = await messages(db, n)
    assert m.tg_chat_id == w.tg["backup"] and m.dedupe_key == f"ck:{pr.id}:h"
    # the ladder continues from the backup: grid worker after escalate_after
    assert (await tick(db, at(30))).messages == 0
    assert (await tick(db, at(31))).escalated == 1
    # the backup answers after all: the open incident is closed as safe
    await press(db, w.tg["backup"], pr.id, "ok", at(40))
    assert (await incidents(db))[0].status == "closed"

    # /away: tomorrow and the day after go to the backup
    primary = await user(db, w.tg["primary"])
    async with db.uow(write=True) as uow:
        actor = await membership.load_actor(uow, await _activate(uow, primary, w.community_id))
        for bad, reason in [(("2027-02-27", "2027-02-28"), "past"), (("2027-03-05", "2027-03-03"), "order"),
                            (("2027-03-02", "2027-05-30"), "too_long"), (("3月2日", "03-03"), "format")]:
            with pytest.raises(Invalid) as err:
                await checkins.add_absence(uow, actor=actor, first=bad[0], last=bad[1], now=at(50))
            assert err.value.reason == reason
        a = await checkins.add_absence(uow, actor=actor, first="03-02", last="2027-03-03", now=at(50))
        await uow.commit()
    assert (a.first_day, a.last_day) == ("2027-03-02", "2027-03-03")
    day2 = MORNING + timedelta(days=1)
    n = await last_id(db)
    await tick(db, day2)
    [m] = [r for r in await messages(db, n) if r.payload["notice"] == "ck_prompt"]
    assert m.tg_chat_id == w.tg["backup"]
    # welcome back on the morning after it ends, once
    day4 = MORNING + timedelta(days=3)
    n = await last_id(db)
    await tick(db, day4 - timedelta(hours=2))  # 07:00 local: not yet
    assert "ck_welcome_back" not in [r.payload["notice"] for r in await messages(db, n)]
    await tick(db, day4)
    await tick(db, day4 + timedelta(minutes=1))
    notes = [r for r in await messages(db, n) if r.payload["notice"] == "ck_welcome_back"]
    assert len(notes) == 1 and notes[0].tg_chat_id == w.tg["primary"]
    prompt_to = {r.payload["params"]["prompt_id"]: r.tg_chat_id for r in await messages(db, n)
                 if r.payload["notice"] == "ck_prompt"}
    assert set(prompt_to.values()) == {w.tg["primary"]}


async def _activate(uow, u: User, community_id: int) -> User:
    u.active_community_id = community_id
    uow.session.add(u)
    await uow.session.flush()
    return u


async def test_away_list_and_cancel(db: Database) -> None:
    w = await build(db)
    primary = await user(db, w.tg["primary"])
    async with db.uow(write=True) as uow:
        actor = await membership.load_actor(uow, await _activate(uow, primary, w.community_id))
        a = await checkins.add_absence(uow, actor=actor, first="03-01", last="03-05", now=at(-120))
        b = await checkins.add_absence(uow, actor=actor, first="03-10", last="03-12", now=at(-120))
        await uow.commit()
    async with db.uow(write=True) as uow:
        actor = await membership.load_actor(uow, await uow.session.get(User, primary.id))
        assert len(await checkins.list_absences(uow, actor=actor, now=at(0))) == 2
        await checkins.cancel_absence(uow, actor=actor, absence_id=b.id, now=at(0))
        await checkins.cancel_absence(uow, actor=actor, absence_id=a.id, now=at(24 * 60))  # begun: ends yesterday
        await uow.commit()
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(Absence))).all()
    assert [(r.first_day, r.last_day) for r in rows] == [("2027-03-01", "2027-03-01")]


async def test_restart_within_grace_sends_once(db: Database) -> None:
    """Killed at 09:00:30 before the tick ran, started at 09:20: the prompt goes out then, once."""
    w = await build(db)
    await tick(db, at(-60))  # planned the night before
    res = await tick(db, at(20))
    assert res.sent == 1 and res.missed == 0
    assert (await tick(db, at(20))).messages == 0
    assert [m.tg_chat_id for m in await messages(db)] == [w.tg["primary"]]
    pr = await morning_prompt(db)
    assert pr.next_action_at == at(35)  # the reminder counts from when it was really sent


async def test_restart_beyond_grace_reports_missed(db: Database) -> None:
    w = await build(db, persons=3)
    await tick(db, at(-60))
    res = await tick(db, at(31))
    assert res.sent == 0 and res.missed == 3
    rows = await messages(db)
    assert [(r.payload["notice"], r.tg_chat_id) for r in rows] == [("ck_missed", w.tg["grid"])]
    assert len(rows[0].payload["params"]["items"]) == 3
    assert (await tick(db, at(32))).messages == 0
    assert {p.status for p in await prompts(db) if p.slot == "morning"} == {"missed"}


async def test_an_overdue_ladder_goes_straight_to_the_grid_worker(db: Database) -> None:
    w = await build(db)
    await tick(db, at(0))
    res = await tick(db, at(15 + 31))  # down from 09:14 to 09:46: the reminder is beyond grace
    assert res.escalated == 1 and res.reminded == 0
    assert w.tg["grid"] in {m.tg_chat_id for m in await messages(db)}


async def test_the_same_tick_twice_sends_nothing_twice(db: Database) -> None:
    await build(db, persons=4)
    for minute in (0, 15, 45, 75, 105):
        first = await tick(db, at(minute))
        count = len(await messages(db))
        again = await tick(db, at(minute))
        assert first.messages > 0 and again.messages == 0
        assert len(await messages(db)) == count
    keys = [m.dedupe_key for m in await messages(db)]
    assert len(keys) == len(set(keys))


async def test_a_volunteer_with_twelve_persons_gets_twelve_prompts(db: Database) -> None:
    w = await build(db, persons=12)
    res = await tick(db, at(0))
    assert res.sent == 12
    rows = await messages(db)
    assert {r.tg_chat_id for r in rows} == {w.tg["primary"]}
    assert len({r.payload["params"]["prompt_id"] for r in rows}) == 12


async def test_midday_check_for_red_persons_and_overrides(db: Database) -> None:
    w = await build(db, persons=2, settings={"morning": "08:00"})
    async with db.uow(write=True) as uow:
        from storage.models import KeyPerson

        p1 = await uow.session.get(KeyPerson, w.persons[0])
        p1.midday_check, p1.morning_time = True, "07:15"
        uow.session.add(p1)
        await uow.commit()
    await tick(db, at(-600))
    got = {(p.person_id, p.slot): p.due_at for p in await prompts(db)}
    assert got[(w.persons[0], "morning")] == datetime(2027, 2, 28, 23, 15, tzinfo=UTC)
    assert got[(w.persons[0], "midday")] == datetime(2027, 3, 1, 4, 30, tzinfo=UTC)
    assert got[(w.persons[1], "morning")] == datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    assert (w.persons[1], "midday") not in got


async def test_time_zones_across_midnight_and_two_zones(db: Database) -> None:
    sh = await build(db, slug="bc", tg_base=9000, group_chat=-1001)
    ny = await build(db, tz="America/New_York", slug="ny", tg_base=9100, group_chat=-1002)
    # 23:30 in Shanghai (15:30 UTC): today is 03-01, and tomorrow is planned too
    await tick(db, datetime(2027, 3, 1, 15, 30, tzinfo=UTC))
    sh_days = {p.local_date for p in await prompts(db) if p.community_id == sh.community_id}
    assert sh_days == {"2027-03-01", "2027-03-02"}
    # 00:10 on 03-02 in Shanghai, 11:10 on 03-01 in New York
    await tick(db, datetime(2027, 3, 1, 16, 10, tzinfo=UTC))
    rows = await prompts(db)
    ny_rows = {(p.local_date, p.slot): p for p in rows if p.community_id == ny.community_id}
    assert set(ny_rows) == {("2027-03-01", "morning"), ("2027-03-01", "evening")}
    assert ny_rows[("2027-03-01", "morning")].due_at == datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    # New York's 09:00 was 14:00 UTC, more than the grace ago: missed, not sent late
    assert ny_rows[("2027-03-01", "morning")].status == "missed"
    sh_morning = next(p for p in rows if p.community_id == sh.community_id and p.local_date == "2027-03-02"
                      and p.slot == "morning")
    assert sh_morning.due_at == datetime(2027, 3, 2, 1, 0, tzinfo=UTC) and sh_morning.status == "scheduled"
    n = await last_id(db)
    await tick(db, datetime(2027, 3, 2, 1, 0, tzinfo=UTC))
    # Shanghai's morning of 03-02, and New York's evening of 03-01 (19:30 EST = 00:30 UTC, within grace)
    sent = {(m.tg_chat_id, m.payload["params"]["slot"]) for m in await messages(db, n)}
    assert sent == {(sh.tg["primary"], "morning"), (ny.tg["primary"], "evening")}


async def test_forged_and_stale_presses_change_nothing(db: Database) -> None:
    w = await build(db)
    await tick(db, at(0))
    pr = await morning_prompt(db)
    assert await refused(db, w.tg["other"], pr.id, "ok", at(1)) == "not_yours"
    assert await refused(db, w.tg["grid"], pr.id, "ok", at(1)) == "not_yours"
    assert await refused(db, w.tg["backup"], pr.id, "ok", at(1)) == "handed_over"
    assert await refused(db, w.tg["primary"], 999999, "ok", at(1)) == "not_found"
    assert await refused(db, w.tg["primary"], pr.id, "boom", at(1)) == "not_found"
    assert (await morning_prompt(db)).status == "pending"
    await press(db, w.tg["primary"], pr.id, "ok", at(2))
    assert await refused(db, w.tg["primary"], pr.id, "not_ok", at(3)) == "answered"
    # the next day, yesterday's evening prompt (missed) cannot be answered
    await tick(db, MORNING + timedelta(days=1))
    evening = next(p for p in await prompts(db) if p.slot == "evening" and p.local_date == "2027-03-01")
    assert evening.status == "missed"
    assert await refused(db, w.tg["primary"], evening.id, "ok", MORNING + timedelta(days=1)) == "old_day"
    # a check left open (escalated) can be answered late in the evening, not the next day
    late = next(p for p in await prompts(db) if p.slot == "morning" and p.local_date == "2027-03-02")
    assert await refused(db, w.tg["primary"], late.id, "ok", MORNING + timedelta(days=1, hours=13)) == "old_day"
    # a volunteer no longer paired with the person
    async with db.uow(write=True) as uow:
        from storage.models import KeyPerson

        p = await uow.session.get(KeyPerson, w.persons[0])
        p.primary_volunteer_id = w.members["other"]
        uow.session.add(p)
        await uow.commit()
    today = next(p for p in await prompts(db) if p.slot == "morning" and p.local_date == "2027-03-02")
    assert today.assignee_member_id == w.members["primary"]
    assert await refused(db, w.tg["primary"], today.id, "ok", MORNING + timedelta(days=1, minutes=1)) == "not_yours"


async def test_overview_and_weekly_thanks(db: Database) -> None:
    w = await build(db, persons=2)
    await tick(db, at(0))
    ps = [p for p in await prompts(db) if p.slot == "morning"]
    await press(db, w.tg["primary"], ps[0].id, "ok", at(4))
    await press(db, w.tg["primary"], ps[1].id, "not_ok", at(6))
    g = await user(db, w.tg["grid"])
    async with db.uow(write=True) as uow:
        actor = await membership.load_actor(uow, await _activate(uow, g, w.community_id))
        [line] = await checkins.today_overview(uow, actor=actor, now=at(10))
        week = await checkins.week_overview(uow, actor=actor, now=at(10))
        await uow.commit()
    assert (line.building, line.done, line.scheduled, line.incidents) == ("3", 2, 2, 1)
    assert (week.answered, week.on_time, week.median_minutes) == (2, 2, 5.0)
    assert week.incidents == {"open": 1} and week.volunteers[0].answered == 2
    # a volunteer may not see the overview
    primary = await user(db, w.tg["primary"])
    async with db.uow(write=True) as uow:
        actor = await membership.load_actor(uow, await _activate(uow, primary, w.community_id))
        with pytest.raises(Forbidden):
            await checkins.today_overview(uow, actor=actor, now=at(10))
    # the next Monday morning: one thank-you each, once
    monday = MORNING + timedelta(days=7)
    for _ in range(2):
        async with db.uow(write=True) as uow:
            await checkins.weekly_thanks(uow, now=monday)
            await uow.commit()
    thanks = [m for m in await messages(db) if m.payload["notice"] == "ck_thanks"]
    assert [(m.tg_chat_id, m.payload["params"]["answered"]) for m in thanks] == [(w.tg["primary"], 2)]


async def test_no_backup_cannot_goes_to_the_grid_worker(db: Database) -> None:
    w = await build(db, people={"primary": ("volunteer",), "grid": ("grid_worker",)})
    await tick(db, at(0))
    pr = await morning_prompt(db)
    v = await press(db, w.tg["primary"], pr.id, "cannot", at(1))
    assert v.outcome == "escalated"
    assert w.tg["grid"] in {m.tg_chat_id for m in await messages(db)}
    # the ladder without a backup: reminder, then straight to the grid worker
    assert (await incidents(db))[0].reason == "no_answer"


async def test_two_schedulers_at_once_send_once(db: Database) -> None:
    """Two processes tick at the same instant (own connections): each prompt goes out once."""
    import asyncio

    await build(db, persons=20)
    other = Database(db.url)
    try:
        async def run(database: Database) -> checkins.TickResult | None:
            try:
                return await tick(database, at(0))
            except Exception:  # a serialisation conflict: that process retries next minute
                return None

        results = await asyncio.gather(run(db), run(other))
    finally:
        await other.dispose()
    assert sum(r.sent for r in results if r) == 20
    assert (await tick(db, at(1))).sent == 0
    keys = [m.dedupe_key for m in await messages(db)]
    assert len(keys) == 20 and len(set(keys)) == 20


async def test_bad_settings_fall_back_to_the_defaults(db: Database) -> None:
    await build(db, settings={"morning": "25:00", "remind_after": "soon", "grace": True, "evening": "20:00"})
    await tick(db, at(-60))
    due = {p.slot: p.due_at for p in await prompts(db)}
    assert due == {"morning": MORNING, "evening": datetime(2027, 3, 1, 12, 0, tzinfo=UTC)}
    await tick(db, at(0))
    assert (await morning_prompt(db)).next_action_at == at(15)


async def test_a_person_added_after_the_slot_is_not_reported_missed(db: Database) -> None:
    w = await build(db)
    async with db.uow(write=True) as uow:
        from storage.models import KeyPerson

        p = await uow.session.get(KeyPerson, w.persons[0])
        p.created_at = at(120)  # registered at 11:00: the morning check was never owed
        uow.session.add(p)
        await uow.commit()
    res = await tick(db, at(180))
    assert res.missed == 0 and [p.slot for p in await prompts(db)] == ["evening"]
