"""Services (#17, F-5.4): offers, asking, the atomic claim, done and confirmed, 助急 in minutes — on SQLite and
PostgreSQL (the `db` fixture)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from flows.errors import Forbidden, Invalid
from flows.visits import services, stats
from flows.visits.services import ServiceRefused
from storage.db import Database
from storage.models import AuditEntry
from storage.models_visits import ServiceRequest
from tests.flows.checkin_world import SEALER, SECRET_NAME, World, messages
from tests.flows.people import actor_of
from tests.flows.test_visits import T0, _to, tick, world


async def offer(db: Database, w: World, who: str, *kinds: str) -> None:
    actor = await actor_of(db, w.tg[who])
    async with db.uow(write=True) as uow:
        await services.set_offers(uow, actor=actor, kinds=list(kinds), now=T0)
        await uow.commit()


async def ask(db: Database, w: World, who: str, kind: str, at: datetime, wanted: datetime | None = None) -> int:
    actor = await actor_of(db, w.tg[who])
    async with db.uow(write=True) as uow:
        req = await services.ask(uow, actor=actor, person_id=w.persons[0], kind=kind, wanted_at=wanted or at, now=at)
        await uow.commit()
    return req.id or 0


async def act(db: Database, w: World, who: str, what: str, request_id: int, at: datetime,
              **kw: object) -> services.ServiceView:
    actor = await actor_of(db, w.tg[who])
    async with db.uow(write=True) as uow:
        fn = getattr(services, what)
        if what == "done":
            kw["sealer"] = SEALER
        view: services.ServiceView = await fn(uow, actor=actor, request_id=request_id, now=at, **kw)
        await uow.commit()
    return view


async def test_item17_a_service_goes_to_who_offers_it_and_the_group_without_a_name(db: Database) -> None:
    w = await world(db)
    await offer(db, w, "other", "mobility", "cleaning")
    await offer(db, w, "backup", "medical")
    night = T0 + timedelta(hours=13)  # 23:00 in Shanghai: the group post waits for the morning
    rid = await ask(db, w, "primary", "mobility", night, wanted=T0 + timedelta(days=3))
    rows = await messages(db)
    assert _to(w, rows, "service_asked") == ["other"]
    group = [r for r in rows if r.tg_chat_id == w.group_chat]
    assert [r.payload["notice"] for r in group] == ["service_group_post"]
    assert group[0].not_before > night
    p = group[0].payload["params"]
    assert p["building"] == "3" and p["service"] == "mobility" and p["weekday"] == 3 and p["when"] == "03-04 10:00"
    for r in rows:
        assert "李奶奶" not in str(r.payload) and SECRET_NAME not in str(r.payload)
    with pytest.raises(Forbidden):  # offers cleaning, not medical; not paired either
        await act(db, w, "resident", "claim", rid, night)
    view = await act(db, w, "other", "claim", rid, night)
    assert view.alias == "3-2-401 李奶奶" and view.room == "401"
    with pytest.raises(ServiceRefused):
        await act(db, w, "backup", "claim", rid, night)
    assert _to(w, (await messages(db))[len(rows):], "service_claimed") == ["primary"]
    with pytest.raises(ServiceRefused):
        await act(db, w, "primary", "done", rid, night, note="x")  # only the claimer
    with pytest.raises(ServiceRefused):
        await act(db, w, "primary", "confirm", rid, night)  # not done yet
    await act(db, w, "other", "done", rid, night + timedelta(hours=1), note="陪同散步一小时")
    with pytest.raises(ServiceRefused):
        await act(db, w, "other", "confirm", rid, night)  # the claimer does not confirm their own work
    done = await act(db, w, "primary", "confirm", rid, night + timedelta(hours=2))
    assert done.state == "confirmed"
    async with db.uow() as uow:
        req = await uow.session.get(ServiceRequest, rid)
        assert req is not None and "陪同" not in req.done_note_enc and SEALER.open(req.done_note_enc) == "陪同散步一小时"
        reads = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "person.read"))).all()
        assert any(e.details.get("via") == "service" for e in reads)


async def test_item17_who_may_ask_and_bad_input(db: Database) -> None:
    w = await world(db)
    with pytest.raises(Forbidden):
        await ask(db, w, "other", "medical", T0)  # not their person
    with pytest.raises(Forbidden):
        await ask(db, w, "resident", "medical", T0)
    with pytest.raises(Invalid):
        await ask(db, w, "primary", "massage", T0)
    with pytest.raises(Invalid):
        await ask(db, w, "primary", "medical", T0, wanted=T0 - timedelta(days=1))
    with pytest.raises(Invalid):
        await ask(db, w, "grid", "medical", T0, wanted=T0 + timedelta(days=90))
    with pytest.raises(Forbidden):
        await offer(db, w, "resident", "medical")
    first = await ask(db, w, "grid", "cleaning", T0)
    second = await ask(db, w, "admin", "cleaning", T0)
    async with db.uow() as uow:
        numbers = [(await uow.session.get(ServiceRequest, i)).number for i in (first, second)]  # type: ignore[union-attr]
    assert numbers == [1, 2]


async def test_item17_a_revoked_role_ends_the_offers_notices(db: Database) -> None:
    w = await world(db)
    await offer(db, w, "other", "cleaning")
    async with db.uow(write=True) as uow:
        from storage.models import RoleGrant
        for g in (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == w.members["other"]))).all():
            g.revoked_at = T0
            uow.session.add(g)
        await uow.commit()
    await ask(db, w, "primary", "cleaning", T0)
    assert _to(w, await messages(db), "service_asked") == []


async def test_item17_concurrent_claims_have_exactly_one_winner(db: Database) -> None:
    w = await world(db)
    for who in ("other", "backup", "grid", "admin"):
        await offer(db, w, who, "medical")
    rid = await ask(db, w, "primary", "medical", T0, wanted=T0 + timedelta(hours=5))

    async def press(who: str) -> str:
        try:
            await act(db, w, who, "claim", rid, T0)
        except ServiceRefused:
            return "refused"
        return "won"

    results = await asyncio.gather(*(press(who) for who in ("other", "backup", "grid", "admin")))
    assert sorted(results) == ["refused", "refused", "refused", "won"]
    async with db.uow() as uow:
        req = await uow.session.get(ServiceRequest, rid)
        assert req is not None and req.state == "claimed"
        winner = ("other", "backup", "grid", "admin")[results.index("won")]
        assert req.claimer_member_id == w.members[winner]


async def test_item17_urgent_help_climbs_every_rung_in_minutes_then_completes(db: Database) -> None:
    w = await world(db)
    await offer(db, w, "other", "emergency")
    night = T0 + timedelta(hours=14)  # 00:00 in Shanghai: quiet hours do not hold 助急 back
    rid = await ask(db, w, "primary", "emergency", night)
    rows = await messages(db)
    assert _to(w, rows, "service_alert") == ["grid"]  # the grid worker at once
    assert _to(w, rows, "service_asked") == ["other"]
    urgent = [r for r in rows if r.payload["notice"] in ("service_asked", "service_group_post")]
    assert all(r.not_before == night and r.priority == 0 for r in urgent)  # skips the queue, no quiet hours
    await tick(db, night + timedelta(minutes=5))
    assert _to(w, await messages(db), "service_alert") == ["grid"]
    rows = await messages(db)
    await tick(db, night + timedelta(minutes=10))
    step = (await messages(db))[len(rows):]
    assert _to(w, step, "service_alert") == ["admin", "grid"] and {r.payload["params"]["rung"] for r in step} == {1}
    assert {r.priority for r in step} == {0}  # every rung of 助急 skips the queue too
    seen = len(await messages(db))
    await tick(db, night + timedelta(minutes=30))
    step = (await messages(db))[seen:]
    assert _to(w, step, "service_alert") == ["district"]
    await tick(db, night + timedelta(minutes=60))
    assert _to(w, (await messages(db))[seen:], "service_alert") == ["district"]  # the top: nothing more
    await act(db, w, "other", "claim", rid, night + timedelta(minutes=31))
    await act(db, w, "other", "done", rid, night + timedelta(minutes=50), note="已送医")
    await act(db, w, "primary", "confirm", rid, night + timedelta(minutes=55))
    actor = await actor_of(db, w.tg["grid"])
    async with db.uow() as uow:
        s = await stats.week(uow, actor=actor, now=night + timedelta(hours=1))
    assert s.services["emergency"] == 1 and s.done == 1 and s.claim_minutes == 31 and s.complete_minutes == 50


async def test_item17_an_ordinary_service_climbs_in_days_until_claimed(db: Database) -> None:
    w = await world(db)
    rid = await ask(db, w, "primary", "cleaning", T0, wanted=T0 + timedelta(days=2))
    assert _to(w, await messages(db), "service_alert") == []
    await tick(db, T0 + timedelta(days=1))
    assert _to(w, await messages(db), "service_alert") == ["grid"]
    await act(db, w, "grid", "claim", rid, T0 + timedelta(days=1, hours=1))
    await tick(db, T0 + timedelta(days=3))
    assert _to(w, await messages(db), "service_alert") == ["grid"]  # claimed: the ladder stopped


async def test_item17_public_figures_are_aggregates(db: Database) -> None:
    w = await world(db)
    from tests.flows.test_visits import record
    await record(db, w, "primary", T0)
    rid = await ask(db, w, "primary", "cleaning", T0)
    await act(db, w, "grid", "claim", rid, T0 + timedelta(minutes=20))
    async with db.uow() as uow:
        s = await stats.public(uow, community_id=w.community_id, tz="Asia/Shanghai", now=T0 + timedelta(days=1))
    assert [(g.grid, g.visits, g.on_time) for g in s.grids] == [("", 1, 1)]
    assert s.services["cleaning"] == 1 and s.claim_minutes == 20 and s.done == 0


async def test_item17_concurrent_asks_get_numbers_one_after_the_other(db: Database) -> None:
    w = await world(db)
    ids = await asyncio.gather(*(ask(db, w, who, "cleaning", T0) for who in ("primary", "grid", "admin", "backup")))
    async with db.uow() as uow:
        rows = [await uow.session.get(ServiceRequest, i) for i in ids]
    assert sorted(r.number for r in rows if r is not None) == [1, 2, 3, 4]
