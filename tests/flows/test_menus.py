"""Issue #12 item 5: each person's own command menu, queued through the outbox when what they may do changes
(flows/menus.py); one waiting row per person, the newest superseding the older ones."""

from __future__ import annotations

from sqlmodel import col, select

from flows import access, membership
from flows.clock import FixedClock
from flows.roles import Role
from storage.db import Database
from storage.models import OutboxMessage, User
from tests.flows.test_membership import _community, _person

ADMIN, ZHAO = 1, 3


async def _menus(db: Database, tg_id: int) -> list[OutboxMessage]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(col(OutboxMessage.tg_chat_id) == tg_id)
                                       .order_by(col(OutboxMessage.id)))).all()
    return [r for r in rows if r.payload.get("op") == "menu"]


async def _grant(db: Database, clock: FixedClock, admin: membership.Actor, mid: int, role: Role) -> None:
    async with db.uow() as uow:
        await membership.grant_role(uow, actor=admin, member_id=mid, role=role, org=None, now=clock.now())
        await uow.commit()


async def test_item5_a_grant_queues_the_menu_and_a_newer_one_supersedes_the_unsent(db: Database,
                                                                                   clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, ADMIN, "王书记", community.id, invite=invite.code)
    resident = await _person(db, clock, ZHAO, "赵阿姨", community.id)
    assert await _menus(db, ZHAO) == []  # a plain resident: the general private menu is theirs
    [admins] = await _menus(db, ADMIN)  # registered through the admin invite: a menu of their own
    assert "grant" in admins.payload["perms"] and admins.payload["member"] is True
    await _grant(db, clock, admin, resident.member.id, Role.VOLUNTEER)
    [first] = await _menus(db, ZHAO)
    assert (first.status, first.payload["perms"], first.payload["lang"]) == ("pending", ["check", "services"],
                                                                                 "zh_CN")  # #17: services too
    assert first.recipient_user_id == resident.user.id and first.community_id == community.id
    await _grant(db, clock, admin, resident.member.id, Role.GRID_WORKER)
    [second] = await _menus(db, ZHAO)  # the unsent one is gone: one waiting menu per person
    assert second.id != first.id
    assert {"check", "persons", "pair", "checkins", "needs_enter", "invite"} <= set(second.payload["perms"])
    # a row the sender has taken is left alone; the next one follows it
    async with db.uow() as uow:
        row = await uow.session.get(OutboxMessage, second.id)
        assert row is not None
        row.status = "sending"
        uow.session.add(row)
        await uow.commit()
    async with db.uow() as uow:
        await access.revoke_role(uow, actor=admin, member_id=resident.member.id, role=Role.GRID_WORKER,
                                 now=clock.now())
        await uow.commit()
    taken, last = await _menus(db, ZHAO)
    assert taken.id == second.id and last.payload["perms"] == ["check", "services"]


async def test_item5_revoking_the_last_staff_role_returns_the_resident_menu(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, ADMIN, "王书记", community.id, invite=invite.code)
    resident = await _person(db, clock, ZHAO, "赵阿姨", community.id)
    await _grant(db, clock, admin, resident.member.id, Role.GRID_WORKER)
    async with db.uow() as uow:
        await access.revoke_role(uow, actor=admin, member_id=resident.member.id, role=Role.GRID_WORKER,
                                 now=clock.now())
        await uow.commit()
    [menu] = await _menus(db, ZHAO)
    assert menu.payload["perms"] == [] and menu.payload["member"] is True


async def test_item5_a_language_or_community_change_queues_the_menu_again(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    other, _ = await _community(db, clock, name="宜兴埠社区")
    await _person(db, clock, ADMIN, "王书记", community.id, invite=invite.code)
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
        await membership.set_language(uow, user=user, lang="en", now=clock.now())
        await uow.commit()
    [menu] = await _menus(db, ADMIN)
    assert menu.payload["lang"] == "en" and "grant" in menu.payload["perms"]
    async with db.uow() as uow:  # choosing the language it already has changes nothing
        user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
        await membership.set_language(uow, user=user, lang="en", now=clock.now())
        await uow.commit()
    assert [m.id for m in await _menus(db, ADMIN)] == [menu.id]
    # a resident of a second community: registering there replaces the admin's menu with a resident's
    await _person(db, clock, ADMIN, "王书记", other.id)
    [menu] = await _menus(db, ADMIN)
    assert menu.payload["perms"] == [] and menu.community_id == other.id
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
        await membership.switch_community(uow, user=user, community_id=community.id, now=clock.now())
        await uow.commit()
    [menu] = await _menus(db, ADMIN)
    assert "grant" in menu.payload["perms"] and menu.community_id == community.id
