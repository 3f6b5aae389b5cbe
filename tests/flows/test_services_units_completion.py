"""Services (#17), the gaps closed later: a resident unit's (驻区单位) members offer and claim services, and a
claimed service that is not done keeps climbing (助急: 60 min → grid worker and admins, 2 h → district; the others:
a day after the wanted time → the grid worker, once), stopped by ✅ done — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from flows.errors import Forbidden
from flows.roles import Perm
from flows.visits import services
from storage.db import Database
from storage.models import RoleGrant
from tests.flows.checkin_world import World, messages
from tests.flows.people import actor_of
from tests.flows.test_services import act, ask, offer
from tests.flows.test_visits import T0, _to, tick, world


async def _unit_world(db: Database, organisation: str = "unit") -> World:
    w = await world(db)
    async with db.uow(write=True) as uow:  # the resident is made a committee member for a unit (or not)
        uow.session.add(RoleGrant(community_id=w.community_id, member_id=w.members["resident"], role="committee",
                                  organisation=organisation, granted_at=T0))
        await uow.commit()
    return w


async def test_item17_a_resident_units_member_may_offer_and_claim(db: Database) -> None:
    w = await _unit_world(db)
    actor = await actor_of(db, w.tg["resident"])
    assert actor.can(Perm.SERVICES) and not actor.can(Perm.CHECK)
    await offer(db, w, "resident", "cleaning")
    rid = await ask(db, w, "primary", "cleaning", T0, wanted=T0 + timedelta(days=1))
    assert _to(w, await messages(db), "service_asked") == ["resident"]
    view = await act(db, w, "resident", "claim", rid, T0 + timedelta(minutes=5))
    assert view.state == "claimed" and view.room == "401"


async def test_item17_a_committee_member_of_another_organisation_may_not_offer(db: Database) -> None:
    w = await _unit_world(db, organisation="rc")
    actor = await actor_of(db, w.tg["resident"])
    assert not actor.can(Perm.SERVICES)
    with pytest.raises(Forbidden):
        await offer(db, w, "resident", "cleaning")


async def test_item17_a_revoked_unit_grant_takes_the_permission_away(db: Database) -> None:
    w = await _unit_world(db)
    async with db.uow(write=True) as uow:
        for g in (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == w.members["resident"],
                                                                 RoleGrant.role == "committee"))).all():
            g.revoked_at = T0
            uow.session.add(g)
        await uow.commit()
    assert not (await actor_of(db, w.tg["resident"])).can(Perm.SERVICES)


async def test_item17_a_claimed_urgent_service_not_done_climbs_every_rung(db: Database) -> None:
    w = await world(db)
    await offer(db, w, "other", "emergency")
    rid = await ask(db, w, "primary", "emergency", T0)
    claimed_at = T0 + timedelta(minutes=5)
    await act(db, w, "other", "claim", rid, claimed_at)
    seen = len(await messages(db))
    await tick(db, claimed_at + timedelta(minutes=59))
    assert _to(w, (await messages(db))[seen:], "service_not_done") == []
    await tick(db, claimed_at + timedelta(minutes=60))
    step = (await messages(db))[seen:]
    assert _to(w, step, "service_not_done") == ["admin", "grid"]
    assert {r.priority for r in step if r.payload["notice"] == "service_not_done"} == {0}  # skips the queue
    assert {r.payload["params"]["rung"] for r in step if r.payload["notice"] == "service_not_done"} == {0}
    seen = len(await messages(db))
    await tick(db, claimed_at + timedelta(minutes=61))  # the same rung once
    assert _to(w, (await messages(db))[seen:], "service_not_done") == []
    await tick(db, claimed_at + timedelta(minutes=120))
    assert _to(w, (await messages(db))[seen:], "service_not_done") == ["district"]
    seen = len(await messages(db))
    await tick(db, claimed_at + timedelta(hours=6))  # past the top: nothing more
    assert _to(w, (await messages(db))[seen:], "service_not_done") == []


async def test_item17_done_stops_the_completion_clock(db: Database) -> None:
    w = await world(db)
    await offer(db, w, "other", "emergency")
    rid = await ask(db, w, "primary", "emergency", T0)
    await act(db, w, "other", "claim", rid, T0)
    await act(db, w, "other", "done", rid, T0 + timedelta(minutes=40), note="已送医")
    seen = len(await messages(db))
    await tick(db, T0 + timedelta(hours=3))
    assert _to(w, (await messages(db))[seen:], "service_not_done") == []


async def test_item17_an_ordinary_claimed_service_not_done_tells_the_grid_worker_once(db: Database) -> None:
    w = await world(db)
    wanted = T0 + timedelta(days=2)
    rid = await ask(db, w, "primary", "cleaning", T0, wanted=wanted)
    await act(db, w, "grid", "claim", rid, T0 + timedelta(hours=1))
    await tick(db, wanted + timedelta(hours=23))
    assert _to(w, await messages(db), "service_not_done") == []
    await tick(db, wanted + timedelta(days=1))
    assert _to(w, await messages(db), "service_not_done") == ["grid"]
    await tick(db, wanted + timedelta(days=5))
    assert _to(w, await messages(db), "service_not_done") == ["grid"]  # once
    async with db.uow() as uow:
        from storage.models_visits import ServiceRequest
        req = await uow.session.get(ServiceRequest, rid)
        assert req is not None and req.next_at is None and req.state == services.CLAIMED
