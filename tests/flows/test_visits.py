"""Visits (#17, F-5.3): plans by risk colour, the ladder of a missed visit, recording, /visits per role — on
SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from flows import visits
from flows.errors import Forbidden, Invalid
from flows.visits import plans
from storage.db import Database
from storage.models import AuditEntry, Community, KeyPerson, OutboxMessage, RoleGrant, User
from storage.models_visits import Visit, VisitPlan
from tests.flows.checkin_world import SEALER, SECRET_NAME, World, build, messages
from tests.flows.people import actor_of

T0 = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
PEOPLE = {"primary": ("volunteer",), "backup": ("volunteer",), "other": ("volunteer",), "grid": ("grid_worker",),
          "admin": ("admin",), "district": ("district_admin",), "resident": ()}


async def world(db: Database, **kw: object) -> World:
    w = await build(db, people=PEOPLE, **kw)  # type: ignore[arg-type]
    async with db.uow(write=True) as uow:  # their community is the active one (as after /start)
        for u in (await uow.session.exec(select(User))).all():
            u.active_community_id = w.community_id
            uow.session.add(u)
        for p in (await uow.session.exec(select(KeyPerson))).all():  # new on the ledger: a first visit due at once
            p.created_at = T0
            uow.session.add(p)
        await uow.commit()
    return w


async def tick(db: Database, at: datetime) -> dict[str, int]:
    async with db.uow(write=True) as uow:
        done = await visits.tick(uow, now=at)
        await uow.commit()
    return done


def _to(w: World, rows: list[OutboxMessage], kind: str) -> list[str]:
    names = {tg: name for name, tg in w.tg.items()}
    return sorted(names.get(r.tg_chat_id, str(r.tg_chat_id)) for r in rows if r.payload["notice"] == kind)


async def record(db: Database, w: World, who: str, at: datetime, **kw: object) -> plans.Recorded:
    actor = await actor_of(db, w.tg[who])
    async with db.uow(write=True) as uow:
        plan = (await uow.session.exec(select(VisitPlan).where(VisitPlan.person_id == w.persons[0]))).first()
        kw.setdefault("version", plan.visits if plan else 0)  # no plan yet: the tick has not run
        kw.setdefault("outcome", "home")
        done = await plans.record(uow, actor=actor, sealer=SEALER, person_id=w.persons[0], now=at, **kw)  # type: ignore[arg-type]
        await uow.commit()
    return done


async def test_item17_a_missed_visit_climbs_due_reminder_grid_worker_admins(db: Database) -> None:
    w = await world(db)
    assert (await tick(db, T0))["visits"] == 1  # a new person's first visit is due now
    assert _to(w, await messages(db), "visit_due") == ["primary"]
    assert (await tick(db, T0 + timedelta(hours=1)))["visits"] == 0  # idempotent
    seen = len(await messages(db))
    await tick(db, T0 + timedelta(days=2))
    rows = await messages(db)
    assert _to(w, rows[seen:], "visit_due") == ["primary"] and rows[-1].payload["params"]["rung"] == 1
    seen = len(rows)
    await tick(db, T0 + timedelta(days=4))
    assert _to(w, (await messages(db))[seen:], "visit_due") == ["grid"]
    seen = len(await messages(db))
    await tick(db, T0 + timedelta(days=7))
    assert _to(w, (await messages(db))[seen:], "visit_due") == ["admin"]
    seen = len(await messages(db))
    await tick(db, T0 + timedelta(days=30))
    assert len(await messages(db)) == seen  # past the top: nothing more
    for r in await messages(db):
        assert SECRET_NAME not in str(r.payload)


async def test_item17_a_colour_change_moves_the_next_visit_and_is_audited(db: Database) -> None:
    w = await world(db)
    await tick(db, T0)
    done = await record(db, w, "primary", T0 + timedelta(hours=3), note="精神很好", risk="yellow", reason="身体好转")
    assert (done.risk_before, done.risk_after) == ("red", "yellow")
    assert done.next_due == T0 + timedelta(hours=3, days=14)  # 🟡 fortnightly
    async with db.uow() as uow:
        person = await uow.session.get(KeyPerson, w.persons[0])
        assert person is not None and person.risk == "yellow" and not person.midday_check
        v = (await uow.session.exec(select(Visit))).one()
        assert v.on_time and "精神很好" not in v.note_enc and SEALER.open(v.note_enc) == "精神很好"
        assert SEALER.open(v.risk_reason_enc) == "身体好转"
        entry = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "person.risk"))).one()
        assert entry.details["before"] == "red" and entry.details["after"] == "yellow"
        assert "身体好转" not in str(entry.details)
        plan = (await uow.session.exec(select(VisitPlan))).one()
        assert plan.due_at == plan.next_at == done.next_due and plan.rung == 0
    again = await record(db, w, "grid", done.next_due, risk="red", reason="摔倒")
    assert again.next_due == done.next_due + timedelta(days=7)  # 🔴 weekly


async def test_item17_the_next_visit_follows_the_community_setting(db: Database) -> None:
    w = await world(db)
    async with db.uow(write=True) as uow:
        c = await uow.session.get(Community, w.community_id)
        assert c is not None
        c.settings = {"visits": {"red": 3}}
        uow.session.add(c)
        await uow.commit()
    done = await record(db, w, "primary", T0)
    assert done.next_due == T0 + timedelta(days=3)


async def test_item17_a_second_press_and_bad_input_change_nothing(db: Database) -> None:
    w = await world(db)
    await tick(db, T0)
    await record(db, w, "primary", T0, version=0)
    with pytest.raises(plans.VisitRefused):
        await record(db, w, "backup", T0, version=0)
    with pytest.raises(Invalid):
        await record(db, w, "primary", T0, risk="yellow")  # a colour change needs its reason
    with pytest.raises(Invalid):
        await record(db, w, "primary", T0, outcome="party")
    with pytest.raises(Invalid):
        await record(db, w, "primary", T0, note="长" * 501)
    with pytest.raises(Forbidden):
        await record(db, w, "other", T0)  # not paired with this person
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(Visit))).all()) == 1


async def test_item17_a_revoked_role_or_pairing_stops_the_reminders(db: Database) -> None:
    w = await world(db)
    async with db.uow(write=True) as uow:
        grant = (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == w.members["primary"],
                                                                RoleGrant.role == "volunteer"))).one()
        grant.revoked_at = T0 - timedelta(days=1)
        uow.session.add(grant)
        await uow.commit()
    await tick(db, T0)
    assert _to(w, await messages(db), "visit_due") == ["grid"]  # nobody paired who may: the grid worker
    with pytest.raises(Forbidden):
        await record(db, w, "primary", T0)


async def test_item17_a_person_off_the_ledger_stops_the_plan(db: Database) -> None:
    w = await world(db)
    async with db.uow(write=True) as uow:
        person = await uow.session.get(KeyPerson, w.persons[0])
        assert person is not None
        person.active = False
        uow.session.add(person)
        await uow.commit()
    await tick(db, T0)
    assert _to(w, await messages(db), "visit_due") == []


async def test_item17_visits_due_this_week_per_role_overdue_first(db: Database) -> None:
    w = await world(db, persons=3)
    await tick(db, T0 - timedelta(days=3))
    async with db.uow(write=True) as uow:  # the third: due next month
        plan = (await uow.session.exec(select(VisitPlan).where(VisitPlan.person_id == w.persons[2]))).one()
        plan.due_at = T0 + timedelta(days=30)
        uow.session.add(plan)
        plan = (await uow.session.exec(select(VisitPlan).where(VisitPlan.person_id == w.persons[1]))).one()
        plan.due_at = T0 + timedelta(days=2)
        uow.session.add(plan)
        await uow.commit()
    for who, expected in (("primary", 2), ("grid", 2), ("admin", 2), ("other", 0)):
        actor = await actor_of(db, w.tg[who])
        async with db.uow(write=True) as uow:
            page = await plans.due_this_week(uow, actor=actor, now=T0)
            await uow.commit()
        assert page.total == expected, who
        if expected:
            assert [x.overdue for x in page.items] == [True, False]
            assert page.items[0].person_id == w.persons[0]
    actor = await actor_of(db, w.tg["resident"])
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await plans.due_this_week(uow, actor=actor, now=T0)
    async with db.uow() as uow:
        reads = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "person.read",
                                                                  col(AuditEntry.details).is_not(None)))).all()
        assert any(e.details.get("via") == "visits" for e in reads)


async def test_item17_a_new_pairing_moves_the_reminders_to_the_new_volunteer(db: Database) -> None:
    w = await world(db)
    async with db.uow(write=True) as uow:
        person = await uow.session.get(KeyPerson, w.persons[0])
        assert person is not None
        person.primary_volunteer_id = w.members["other"]
        uow.session.add(person)
        await uow.commit()
    await tick(db, T0)
    assert _to(w, await messages(db), "visit_due") == ["other"]  # the old volunteer hears nothing more
    with pytest.raises(Forbidden):
        await record(db, w, "primary", T0)


async def test_item17_visits_due_are_paged(db: Database) -> None:
    w = await world(db, persons=3)
    await tick(db, T0)
    actor = await actor_of(db, w.tg["grid"])
    seen: list[int] = []
    for page in (1, 2, 3, 4):
        async with db.uow() as uow:
            p = await plans.due_this_week(uow, actor=actor, now=T0, page=page, size=2)
        seen += [x.person_id for x in p.items]
        assert p.pages == 2 and p.total == 3
    assert sorted(seen[:3]) == sorted(w.persons)  # pages 1–2 hold all three; past the end stays on the last


async def test_item17_a_voice_note_is_sealed(db: Database) -> None:
    w = await world(db)
    await record(db, w, "backup", T0, voice_file_id="AwACAgIAAxkBAAIB-voice", outcome="hospital")
    async with db.uow() as uow:
        v = (await uow.session.exec(select(Visit))).one()
    assert v.outcome == "hospital" and v.member_id == w.members["backup"] and v.note_enc == ""
    assert "voice" not in v.voice_enc and SEALER.open(v.voice_enc) == "AwACAgIAAxkBAAIB-voice"


async def test_item17_first_visits_of_a_ledger_already_kept_are_spread_at_nine(db: Database) -> None:
    """When visits start on a ledger kept before (persons older than a day), the first visits are spread over the
    next days at 09:00 local, not all due at once (a red person within its week): nobody is told at night."""
    from zoneinfo import ZoneInfo

    await build(db, people=PEOPLE, persons=12)
    night = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert (await tick(db, night))["visits"] == 0  # nothing due now
    async with db.uow() as uow:
        plans_ = (await uow.session.exec(select(VisitPlan))).all()
    assert len(plans_) == 12
    local_due = [p.due_at.astimezone(ZoneInfo("Asia/Shanghai")) for p in plans_]
    assert {(d.hour, d.minute) for d in local_due} == {(9, 0)}
    assert len({d.date() for d in local_due}) > 1 and all(night < p.due_at <= night + timedelta(days=8)
                                                          for p in plans_)
