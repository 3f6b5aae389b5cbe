"""The deadline ladder (flows/ladder.py) on its own: rungs climb once each — through a restart, with two schedulers
ticking at once — in the community's time zone, and who was told lives in rows of its own (#13)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, delete, select

from flows import checkins, ladder
from flows.ladder import Audience, Ladder, Rung
from flows.roles import RoleRevoked
from storage.db import Database
from storage.models import Community, Incident, LadderAlert, OutboxMessage
from tests.flows.checkin_world import World, build

START = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
TRACK = ladder.Track(Incident, kind="incident", state="status", open=("open",), rung="level",
                     next_at="next_escalation_at")
LADDER = Ladder((
    Rung(timedelta(minutes=30), (Audience.ASSIGNEE,)),
    Rung(timedelta(hours=2), (Audience.GRID_WORKER,)),
    Rung(timedelta(hours=4), (Audience.ADMINS,)),
    Rung(timedelta(days=1), (Audience.DISTRICT,)),
))
PEOPLE = {"primary": ("volunteer",), "grid": ("grid_worker",), "admin": ("admin",),
          "district": ("district_admin",)}


async def items(db: Database, w: World, n: int = 1, *, started: datetime = START, tz: str = "Asia/Shanghai",
                community_id: int | None = None, plan: Ladder = LADDER) -> list[int]:
    """Open items started at `started` (incident rows: the ladder keeps its state in the feature's own table)."""
    out = []
    async with db.uow(write=True) as uow:
        for _ in range(n):
            inc = Incident(community_id=community_id or w.community_id, person_id=w.persons[0], reason="not_ok",
                           status="open", level=0, opened_at=started,
                           next_escalation_at=plan.first_due(started, tz))
            uow.session.add(inc)
            await uow.session.flush()
            out.append(inc.id)
        await uow.commit()
    return out


async def tick(db: Database, now: datetime, w: World) -> int:
    """The scheduler's pass: each item due climbs a rung and its audiences are alerted (in private)."""
    async with db.uow(write=True) as uow:
        zones = {c.id: c.timezone for c in (await uow.session.exec(select(Community))).all()}

        async def step(inc: Incident, index: int, rung: Rung) -> None:
            ids = await ladder.members(uow, rung.tell, community_id=inc.community_id, building_id=w.building_id,
                                       assignee=w.members["primary"])
            for r in (await ladder.people(uow, ids, locale="zh_CN")).values():
                await ladder.alert(uow, TRACK, item_id=inc.id or 0, rung=index, community_id=inc.community_id,
                                   now=now, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=r.member_id,
                                   lang=r.lang, notice=RoleRevoked(role=f"rung {index}", community="c"))

        climbed = await ladder.run(uow, TRACK, now=now, plan=lambda inc: (LADDER, zones[inc.community_id]),
                                   on_rung=step)
        await uow.commit()
    return climbed


async def alerts(db: Database) -> list[tuple[int, int, int]]:
    async with db.uow() as uow:
        return [(a.item_id, a.rung, a.tg_chat_id) for a in (await uow.session.exec(
            select(LadderAlert).order_by(col(LadderAlert.id)))).all()]


async def notices(db: Database) -> list[str]:
    async with db.uow() as uow:
        return [m.dedupe_key or "" for m in (await uow.session.exec(
            select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()]


async def test_ladder_each_rung_tells_its_audience_once_at_its_time(db: Database) -> None:
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    assert await tick(db, START + timedelta(minutes=29), w) == 0
    assert await tick(db, START + timedelta(minutes=30), w) == 1
    assert await alerts(db) == [(item, 0, w.tg["primary"])]
    t1 = START + timedelta(minutes=30)
    assert await tick(db, t1 + timedelta(hours=2) - timedelta(seconds=1), w) == 0
    assert await tick(db, t1 + timedelta(hours=2), w) == 1
    t2 = t1 + timedelta(hours=2)
    assert await tick(db, t2 + timedelta(hours=4), w) == 1
    t3 = t2 + timedelta(hours=4)
    assert await tick(db, t3 + timedelta(days=1), w) == 1
    assert await tick(db, t3 + timedelta(days=30), w) == 0  # past the top: nothing more
    assert await alerts(db) == [(item, 0, w.tg["primary"]), (item, 1, w.tg["grid"]), (item, 2, w.tg["admin"]),
                                (item, 3, w.tg["district"])]
    assert await notices(db) == [f"incident:{item}:{rung}:{w.tg[who]}"
                                 for rung, who in enumerate(("primary", "grid", "admin", "district"))]
    async with db.uow() as uow:
        inc = await uow.session.get(Incident, item)
        assert inc is not None and inc.level == 4 and inc.next_escalation_at is None


async def test_ladder_rungs_climb_once_each_through_a_restart(db: Database) -> None:
    """Down for three days: after the restart every rung is climbed, one per tick, each telling its people once."""
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    assert await tick(db, START + timedelta(minutes=30), w) == 1
    await db.dispose()  # the process stops; a new one starts three days later
    restarted = Database(db.url)
    try:
        back = START + timedelta(days=3)
        assert await tick(restarted, back, w) == 1  # one rung per tick, never a burst of several
        assert await tick(restarted, back, w) == 0  # the next rung is due four hours after this one was reached
        assert await tick(restarted, back + timedelta(hours=4), w) == 1
        assert await tick(restarted, back + timedelta(hours=4), w) == 0
        assert await tick(restarted, back + timedelta(days=1, hours=4), w) == 1
        assert await tick(restarted, back + timedelta(days=9), w) == 0
        assert [(i, r) for i, r, _ in await alerts(restarted)] == [(item, 0), (item, 1), (item, 2), (item, 3)]
        keys = await notices(restarted)
        assert len(keys) == len(set(keys)) == 4
    finally:
        await restarted.dispose()


async def test_ladder_concurrent_ticks_climb_once(db: Database) -> None:
    """Two schedulers (own connections) tick the same instant: each item climbs once, each alert goes once."""
    w = await build(db, people=PEOPLE)
    ids = await items(db, w, 12)
    other = Database(db.url)

    async def run(database: Database) -> int:
        try:
            return await tick(database, START + timedelta(minutes=30), w)
        except Exception:  # a serialisation conflict: that process tries again at its next tick
            return 0

    try:
        counts = await asyncio.gather(run(db), run(other))
    finally:
        await other.dispose()
    assert sum(counts) == 12
    assert await tick(db, START + timedelta(minutes=31), w) == 0
    assert sorted(i for i, _, _ in await alerts(db)) == sorted(ids)
    keys = await notices(db)
    assert len(keys) == len(set(keys)) == 12


async def test_ladder_a_climb_is_compare_and_set(db: Database) -> None:
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    async with db.uow(write=True) as uow:
        assert await ladder.climb(uow, TRACK, item, rung=0, next_at=None)
        assert not await ladder.climb(uow, TRACK, item, rung=0, next_at=None)  # somebody else took rung 0
        assert await ladder.climb(uow, TRACK, item, rung=1, next_at=None, expect={"reason": "not_ok"})
        assert not await ladder.climb(uow, TRACK, item, rung=2, next_at=None, expect={"reason": "no_answer"})
        await uow.session.execute(
            Incident.__table__.update().where(Incident.__table__.c.id == item).values(status="closed"))
        assert not await ladder.climb(uow, TRACK, item, rung=2, next_at=None)  # closed: no more rungs
        assert await ladder.take(uow, TRACK, [item], expect={"status": "closed", "level": 2}, level=5) == {item}
        assert await ladder.take(uow, TRACK, [item], expect={"status": ("open",)}, level=6) == set()
        await uow.commit()


def test_ladder_time_zones_count_days_on_the_local_calendar() -> None:
    # New York moves to daylight saving time on 14 March 2027: a day later is the same wall-clock time
    nine_est = datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert ladder.later(nine_est, timedelta(days=1), "America/New_York") == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    assert ladder.later(nine_est, timedelta(days=1, hours=2), "America/New_York") == datetime(2027, 3, 14, 15, 0,
                                                                                              tzinfo=UTC)
    # hours are elapsed time
    assert ladder.later(nine_est, timedelta(hours=20), "America/New_York") == nine_est + timedelta(hours=20)
    # a wall-clock time skipped by the change moves forward by the gap (02:30 → 03:30 EDT)
    half_two = datetime(2027, 3, 13, 7, 30, tzinfo=UTC)
    assert ladder.later(half_two, timedelta(days=1), "America/New_York") == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    # and back in November: the day has 25 hours
    nine_edt = datetime(2027, 11, 6, 13, 0, tzinfo=UTC)
    assert ladder.later(nine_edt, timedelta(days=1), "America/New_York") - nine_edt == timedelta(hours=25)
    # Shanghai has no daylight saving time; an unknown zone falls back to it
    assert ladder.later(START, timedelta(days=7), "Asia/Shanghai") == START + timedelta(days=7)
    assert ladder.later(START, timedelta(days=7), "Mars/Olympus") == START + timedelta(days=7)
    with pytest.raises(ValueError):
        ladder.later(datetime(2027, 3, 1), timedelta(days=1), "Asia/Shanghai")


async def test_ladder_time_zones_two_communities_due_at_their_own_local_time(db: Database) -> None:
    w = await build(db, people=PEOPLE)
    ny = await build(db, tz="America/New_York", slug="ny", tg_base=9100, people=PEOPLE, group_chat=-100778)
    day = Ladder((Rung(timedelta(days=1), (Audience.ASSIGNEE,)),))
    started_sh = datetime(2027, 3, 13, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    started_ny = datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # 09:00 EST
    [sh_item] = await items(db, w, started=started_sh, tz="Asia/Shanghai", plan=day)
    [ny_item] = await items(db, ny, started=started_ny, tz="America/New_York", community_id=ny.community_id,
                            plan=day)
    async with db.uow() as uow:
        sh_inc, ny_inc = await uow.session.get(Incident, sh_item), await uow.session.get(Incident, ny_item)
        assert sh_inc is not None and ny_inc is not None
        assert sh_inc.next_escalation_at == started_sh + timedelta(days=1)
        # 09:00 EDT the next local day: 23 hours later
        assert ny_inc.next_escalation_at == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    at = datetime(2027, 3, 14, 13, 0, tzinfo=UTC)  # 09:00 EDT, 21:00 in Shanghai
    async with db.uow(write=True) as uow:
        seen: list[int] = []

        async def step(inc: Incident, index: int, rung: Rung) -> None:
            seen.append(inc.id or 0)

        zones = {w.community_id: "Asia/Shanghai", ny.community_id: "America/New_York"}
        assert await ladder.run(uow, TRACK, now=at - timedelta(minutes=1), plan=lambda i: (day, zones[
            i.community_id]), on_rung=step) == 1
        assert seen == [sh_item]  # Shanghai's was due at 09:00 on the 14th local time, long before
        assert await ladder.run(uow, TRACK, now=at, plan=lambda i: (day, zones[i.community_id]), on_rung=step) == 1
        assert seen == [sh_item, ny_item]
        await uow.commit()


async def test_ladder_a_repeating_rung_comes_back_until_closed(db: Database) -> None:
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    again = Ladder((Rung(timedelta(minutes=30), (Audience.GRID_WORKER,)),), repeat=True)
    async with db.uow(write=True) as uow:
        seen: list[int] = []

        async def step(inc: Incident, index: int, rung: Rung) -> None:
            seen.append(index)

        for minutes in (30, 60, 90):
            assert await ladder.run(uow, TRACK, now=START + timedelta(minutes=minutes), plan=lambda i: (again, "UTC"),
                                    on_rung=step) == 1
        assert seen == [0, 1, 2]
        await uow.commit()


async def test_ladder_alerts_are_rows_of_their_own_idempotent_by_key(db: Database) -> None:
    """Who was told is read from the alert rows: the outbox's retention (even losing its rows) changes nothing."""
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    common: dict[str, Any] = {"item_id": item, "community_id": w.community_id, "now": START,
                              "notice": RoleRevoked(role="r", community="c")}
    async with db.uow(write=True) as uow:
        assert await ladder.alert(uow, TRACK, rung=0, tg_chat_id=w.tg["grid"], lang="en", **common)
        assert await ladder.alert(uow, TRACK, rung=0, tg_chat_id=w.group_chat, lang="zh_CN", **common)
        assert not await ladder.alert(uow, TRACK, rung=0, tg_chat_id=w.tg["grid"], lang="en", **common)
        assert await ladder.alert(uow, TRACK, rung=1, tg_chat_id=w.tg["grid"], lang="zh_CN", **common)
        await uow.commit()
    async with db.uow(write=True) as uow:
        await uow.session.execute(delete(OutboxMessage))  # retention can never make anyone forgotten
        await uow.commit()
    async with db.uow() as uow:
        told = await ladder.alerted(uow, TRACK, item)
        assert [(a.tg_chat_id, a.lang) for a in told] == [(w.tg["grid"], "en"), (w.group_chat, "zh_CN")]
        assert await ladder.alerted(uow, "incident", item + 1) == []


async def test_ladder_an_alert_and_its_notice_go_together_or_not_at_all(db: Database) -> None:
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    async with db.uow(write=True) as uow:
        assert await ladder.alert(uow, TRACK, item_id=item, rung=0, community_id=w.community_id, now=START,
                                  tg_chat_id=w.tg["grid"], lang="zh_CN", notice=RoleRevoked(role="r", community="c"))
        # the transaction is rolled back (no commit): neither the row nor the notice stays
    assert await alerts(db) == [] and await notices(db) == []


async def test_ladder_audiences(db: Database) -> None:
    w = await build(db, people=PEOPLE)
    async with db.uow() as uow:
        async def who(*tell: str, **kw: Any) -> list[int]:
            return await ladder.members(uow, tell, community_id=w.community_id, building_id=w.building_id, **kw)

        m = w.members
        assert await who(Audience.ASSIGNEE, assignee=m["primary"]) == [m["primary"]]
        assert await who(Audience.ASSIGNEE) == []
        assert await who(Audience.GRID_WORKER) == [m["grid"]]
        assert await who(Audience.ADMINS) == [m["admin"]]
        assert await who(Audience.DISTRICT) == [m["district"]]
        assert await who(Audience.GRID_WORKER, Audience.ADMINS, "org_head", Audience.GRID_WORKER,
                         custom={"org_head": [m["primary"], m["admin"]]}) == [m["grid"], m["admin"], m["primary"]]
        assert await who("nobody_known") == []
        people = await ladder.people(uow, [m["grid"], None, 10**6], locale="en")
        assert list(people) == [m["grid"]] and people[m["grid"]].tg_id == w.tg["grid"]


def test_ladder_shape() -> None:
    assert LADDER.rung(3) == LADDER.rungs[3] and LADDER.rung(4) is None
    assert LADDER.next_due(START, 3, "UTC") is None
    assert LADDER.next_due(START, 0, "UTC") == START + timedelta(hours=2)
    with pytest.raises(ValueError):
        Ladder(())
    with pytest.raises(ValueError):
        Rung(timedelta(minutes=-1))



@pytest.mark.parametrize("track, index", [(checkins.PROMPTS, "ix_checkinprompt_due"),
                                          (checkins.INCIDENTS, "ix_incident_next_escalation_at")])
async def test_ladder_the_due_query_is_served_by_an_index(db: Database, track: ladder.Track, index: str) -> None:
    """What the tick reads (open and due by now) is found through the track's index, not by reading the table."""
    stmt = (select(track.column(track.id)).where(*track.due_where(START)).order_by(*track.due_order())
            .limit(500))
    async with db.uow() as uow:
        conn = await uow.session.connection()
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")).all())
        else:  # the planner may prefer a scan of an empty table: ask whether the index can serve it at all
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in (await conn.exec_driver_sql(f"EXPLAIN {compiled}")).all())
    assert index in plan, plan


async def test_ladder_a_second_run_of_the_ladder_tells_its_people_afresh(db: Database) -> None:
    """An item whose ladder starts again (work after assessment, work again after a reopen) names the run: its
    rungs alert the same people again, while a run already climbed stays idempotent."""
    w = await build(db, people=PEOPLE)
    [item] = await items(db, w)
    common: dict[str, Any] = {"item_id": item, "community_id": w.community_id, "now": START, "rung": 0,
                              "tg_chat_id": w.tg["grid"], "lang": "zh_CN", "notice": RoleRevoked(role="r", community="c")}
    async with db.uow(write=True) as uow:
        assert await ladder.alert(uow, TRACK, stage="assess", **common)
        assert not await ladder.alert(uow, TRACK, stage="assess", **common)
        assert await ladder.alert(uow, TRACK, stage="resolve", **common)
        assert await ladder.alert(uow, TRACK, stage="resolve#2", **common)
        assert not await ladder.alert(uow, TRACK, stage="resolve#2", **common)
        assert await ladder.restart(uow, TRACK, item, ladder=LADDER, now=START, tz="Asia/Shanghai",
                                    expect={"status": "open"})
        await uow.commit()
    assert await notices(db) == [f"incident:{item}:{s}:0:{w.tg['grid']}" for s in ("assess", "resolve", "resolve#2")]
    async with db.uow() as uow:
        assert [a.tg_chat_id for a in await ladder.alerted(uow, TRACK, item)] == [w.tg["grid"]]
        assert await ladder.alerted(uow, TRACK, item, stage="other") == []
        inc = await uow.session.get(Incident, item)
        assert inc is not None and (inc.level, inc.next_escalation_at) == (0, START + timedelta(minutes=30))
