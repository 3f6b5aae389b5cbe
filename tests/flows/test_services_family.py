"""Family by invite (#17): a grid worker invites a key person's family member by a one-time link; redeeming it
registers them and links them to that one person; they ask for a service and confirm it; removing the link stops
what it fed (notices, buttons) — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from flows import membership
from flows.errors import AlreadyDone, Expired, Forbidden, NotFound
from flows.roles import Perm
from flows.visits import family, services
from flows.visits.services import ServiceRefused
from storage.db import Database
from storage.models import AuditEntry, User
from tests.flows.checkin_world import SECRET_NAME, World, messages
from tests.flows.people import actor_of
from tests.flows.test_services import act, offer
from tests.flows.test_visits import T0, _to, world

NEWCOMER = 9990


async def _invite(db: Database, w: World, who: str = "grid") -> str:
    actor = await actor_of(db, w.tg[who])
    async with db.uow(write=True) as uow:
        inv = await family.invite(uow, actor=actor, person_id=w.persons[0], now=T0)
        await uow.commit()
    return inv.code


async def _redeem(db: Database, w: World, code: str, tg_id: int = NEWCOMER) -> membership.Registered:
    async with db.uow(write=True) as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).first()
        if user is None:
            user = User(tg_id=tg_id, first_name="女儿", language="zh_CN", created_at=T0)
            uow.session.add(user)
            await uow.session.flush()
        done = await membership.register(uow, user=user, community_id=w.community_id, building_id=None,
                                         now=T0 + timedelta(minutes=1), invite_code=code)
        await uow.commit()
    return done


async def _ask(db: Database, tg_id: int, person_id: int, kind: str = "cleaning") -> int:
    actor = await actor_of(db, tg_id)
    async with db.uow(write=True) as uow:
        req = await services.ask(uow, actor=actor, person_id=person_id, kind=kind, wanted_at=T0 + timedelta(days=1),
                                 now=T0 + timedelta(minutes=2))
        await uow.commit()
    return req.id or 0


async def test_item17_a_family_invite_links_to_one_person_who_asks_and_confirms(db: Database) -> None:
    w = await world(db, persons=2)
    code = await _invite(db, w)
    done = await _redeem(db, w, code)
    assert done.new_member and done.family == "3-2-401 李奶奶" and done.granted is None
    with pytest.raises(AlreadyDone):  # one time
        await _redeem(db, w, code, tg_id=NEWCOMER + 1)
    me = await actor_of(db, NEWCOMER)
    assert me.can(Perm.FAMILY) and not me.can(Perm.SERVICES)
    async with db.uow() as uow:
        rel = await family.relatives(uow, actor=me, now=T0)
        await uow.commit()
    assert [(r.person_id, r.alias, r.room) for r in rel] == [(w.persons[0], "3-2-401 李奶奶", "401")]
    with pytest.raises(Forbidden):  # the other person on the ledger is not theirs
        await _ask(db, NEWCOMER, w.persons[1])
    await offer(db, w, "other", "cleaning")
    rid = await _ask(db, NEWCOMER, w.persons[0])
    await act(db, w, "other", "claim", rid, T0 + timedelta(hours=1))
    await act(db, w, "other", "done", rid, T0 + timedelta(hours=2), note="打扫完毕")
    rows = await messages(db)
    assert [r.tg_chat_id for r in rows if r.payload["notice"] in ("service_claimed", "service_done")
            and r.tg_chat_id == NEWCOMER] == [NEWCOMER, NEWCOMER]
    assert all(SECRET_NAME not in str(r.payload) for r in rows)
    async with db.uow(write=True) as uow:
        view = await services.confirm(uow, actor=await actor_of(db, NEWCOMER), request_id=rid,
                                      now=T0 + timedelta(hours=3))
        await uow.commit()
    assert view.state == "confirmed"
    async with db.uow() as uow:
        actions = {e.action for e in (await uow.session.exec(select(AuditEntry))).all()}
    assert {"invite.create", "family.link", "service.ask", "service.confirm", "person.read"} <= actions


async def test_item17_only_the_grid_worker_or_an_admin_invites_family(db: Database) -> None:
    w = await world(db)
    for who in ("primary", "resident"):
        with pytest.raises(Forbidden):
            await _invite(db, w, who)
    assert await _invite(db, w, "admin")


async def test_item17_removing_a_family_link_stops_notices_and_buttons(db: Database) -> None:
    w = await world(db)
    await _redeem(db, w, await _invite(db, w))
    await offer(db, w, "other", "cleaning")
    rid = await _ask(db, NEWCOMER, w.persons[0])
    grid = await actor_of(db, w.tg["grid"])
    async with db.uow() as uow:
        _, links = await family.links(uow, actor=grid, person_id=w.persons[0])
    assert [link.name for link in links] == ["女儿"]
    async with db.uow(write=True) as uow:
        await family.remove(uow, actor=grid, link_id=links[0].id, now=T0 + timedelta(minutes=30))
        await uow.commit()
    async with db.uow(write=True) as uow:
        with pytest.raises(NotFound):  # twice acts once
            await family.remove(uow, actor=grid, link_id=links[0].id, now=T0 + timedelta(minutes=31))
    me = await actor_of(db, NEWCOMER)
    assert not me.can(Perm.FAMILY)
    seen = len(await messages(db))
    await act(db, w, "other", "claim", rid, T0 + timedelta(hours=1))
    await act(db, w, "other", "done", rid, T0 + timedelta(hours=2), note="打扫完毕")
    assert [r for r in (await messages(db))[seen:] if r.tg_chat_id == NEWCOMER and r.payload.get("notice") in
            ("service_claimed", "service_done")] == []  # no more notices about that person
    async with db.uow(write=True) as uow:
        with pytest.raises(ServiceRefused):  # their buttons are refused
            await services.confirm(uow, actor=me, request_id=rid, now=T0 + timedelta(hours=3))
    with pytest.raises(Forbidden):
        await _ask(db, NEWCOMER, w.persons[0])
    async with db.uow() as uow:
        assert await family.relatives(uow, actor=me) == []
        assert any(e.action == "family.remove" for e in (await uow.session.exec(select(AuditEntry))).all())
    assert _to(w, await messages(db), "service_done") == ["primary"]  # the volunteer still confirms


async def test_item17_a_family_member_ends_their_own_link(db: Database) -> None:
    """✖ under /family: the family member unlinks themselves — what the link fed stops as when the grid worker
    removes it (notices, asking, /family in their menu), audited; twice acts once; another family member's link to
    the same person stays."""
    from storage.models import OutboxMessage

    w = await world(db)
    await _redeem(db, w, await _invite(db, w))
    await _redeem(db, w, await _invite(db, w), tg_id=NEWCOMER + 1)
    await offer(db, w, "other", "cleaning")
    rid = await _ask(db, NEWCOMER, w.persons[0])
    me = await actor_of(db, NEWCOMER)

    async def menu() -> list[list[str]]:
        async with db.uow() as uow:
            rows = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.tg_chat_id == NEWCOMER))).all()
        return [m.payload["perms"] for m in rows if m.payload.get("op") == "menu"]

    assert [Perm.FAMILY.value in perms for perms in await menu()] == [True]
    async with db.uow(write=True) as uow:
        await family.leave(uow, actor=me, person_id=w.persons[0], now=T0 + timedelta(minutes=30))
        await uow.commit()
    async with db.uow(write=True) as uow:
        with pytest.raises(NotFound):  # twice acts once
            await family.leave(uow, actor=me, person_id=w.persons[0], now=T0 + timedelta(minutes=31))
    me = await actor_of(db, NEWCOMER)
    assert not me.can(Perm.FAMILY)
    with pytest.raises(Forbidden):
        await _ask(db, NEWCOMER, w.persons[0])
    seen = len(await messages(db))
    await act(db, w, "other", "claim", rid, T0 + timedelta(hours=1))
    assert [r for r in (await messages(db))[seen:] if r.tg_chat_id == NEWCOMER] == []  # no more notices
    sister = await actor_of(db, NEWCOMER + 1)
    grid = await actor_of(db, w.tg["grid"])
    async with db.uow() as uow:
        assert [r.person_id for r in await family.relatives(uow, actor=sister)] == [w.persons[0]]
        _, links = await family.links(uow, actor=grid, person_id=w.persons[0])
        left = [e for e in (await uow.session.exec(select(AuditEntry))).all() if e.action == "family.leave"]
    assert len(links) == 1 and [(e.subject_id, e.actor_user_id) for e in left] == [(w.persons[0], me.user.id)]
    assert [Perm.FAMILY.value in perms for perms in await menu()] == [False]  # their menu loses /family


async def test_item17_a_family_invite_expires_and_dies_with_its_issuers_role(db: Database) -> None:
    w = await world(db)
    code = await _invite(db, w)
    async with db.uow() as uow:
        with pytest.raises(Expired):
            await membership.peek_invite(uow, code=code, now=T0 + membership.INVITE_TTL)
    async with db.uow(write=True) as uow:
        from storage.models import RoleGrant
        for g in (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == w.members["grid"],
                                                                 RoleGrant.role == "grid_worker"))).all():
            g.revoked_at = T0
            uow.session.add(g)
        await uow.commit()
    with pytest.raises(NotFound):  # withdrawn: its issuer is no grid worker any more
        await _redeem(db, w, code)
    async with db.uow() as uow:
        from storage.models_family import FamilyLink
        assert (await uow.session.exec(select(FamilyLink))).all() == []  # nothing half-written
