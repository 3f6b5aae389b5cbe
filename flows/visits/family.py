"""Family members of key persons (#17, F-5.4): invited by a one-time deep link, linked to ONE key person.

The grid worker of the person's building or an admin makes the invite (`Invite.role == "family"`, its
`person_id`; it shows in /invites like any other, withdrawn there, expires in 7 days, works once); redeeming
it (flows/membership.register) registers them when needed and links them (`FamilyLink`). A family member sees only
their relative's alias and room (never the sealed name or contact), asks for 助医/助洁/助行/助急 for them and
confirms the service like any requester. The grid worker or an admin removes a link, or the family member ends
their own (`leave`): what it fed stops — no more notices about that person, their buttons refused (their open
requests stay). Everything is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from flows import audit, menus
from flows.errors import Forbidden, NotFound
from flows.membership import FAMILY, INVITE_TTL, Actor
from flows.visits.access import person_for
from storage.db import UnitOfWork
from storage.models import Invite, KeyPerson, Member, User
from storage.models_family import FamilyLink


async def _looked_after(uow: UnitOfWork, actor: Actor, person_id: int) -> KeyPerson:
    person, how = await person_for(uow, actor=actor, person_id=person_id)
    if how not in ("grid", "admin"):  # a volunteer does not invite family
        raise Forbidden("family")
    return person


async def invite(uow: UnitOfWork, *, actor: Actor, person_id: int, now: datetime) -> Invite:
    """A one-time link for a family member of the person (the grid worker of their building, or an admin)."""
    me = actor.registered()
    person = await _looked_after(uow, actor, person_id)
    inv = Invite(code=secrets.token_urlsafe(12), community_id=me.community_id, role=FAMILY, person_id=person.id,
                 created_by=me.id, created_at=now, expires_at=now + INVITE_TTL)
    uow.session.add(inv)
    await uow.session.flush()
    audit.record(uow, action="invite.create", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person.id, role=FAMILY, invite=inv.id)
    return inv


@dataclass(frozen=True)
class LinkView:
    id: int
    name: str
    since: datetime


async def links(uow: UnitOfWork, *, actor: Actor, person_id: int) -> tuple[KeyPerson, list[LinkView]]:
    """The person's linked family members (active links), for the grid worker or an admin."""
    person = await _looked_after(uow, actor, person_id)
    rows = (await uow.session.exec(
        select(FamilyLink, Member, User).join(Member, col(Member.id) == col(FamilyLink.member_id))
        .join(User, col(User.id) == col(Member.user_id))
        .where(FamilyLink.person_id == person_id, col(FamilyLink.revoked_at).is_(None))
        .order_by(col(FamilyLink.id)))).all()
    return person, [LinkView(id=link.id or 0, name=m.display_name or u.first_name, since=link.created_at)
                    for link, m, u in rows]


async def remove(uow: UnitOfWork, *, actor: Actor, link_id: int, now: datetime) -> FamilyLink:
    """✖: the link ends (compare-and-set: twice acts once); the member's menu loses /family when it was their
    last link."""
    me = actor.registered()
    link = await uow.session.get(FamilyLink, link_id)
    if link is None or link.community_id != me.community_id:
        raise NotFound("family_link", link_id)
    await _looked_after(uow, actor, link.person_id)
    took = await uow.session.execute(
        update(FamilyLink).where(col(FamilyLink.id) == link_id, col(FamilyLink.revoked_at).is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise NotFound("family_link", link_id)
    audit.record(uow, action="family.remove", now=now, community_id=link.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=link.person_id, member=link.member_id)
    row = (await uow.session.exec(select(User).join(Member, col(Member.user_id) == col(User.id))
                                  .where(Member.id == link.member_id))).first()
    if row is not None:
        await menus.refresh(uow, user=row, now=now)
    return link


async def leave(uow: UnitOfWork, *, actor: Actor, person_id: int, now: datetime) -> None:
    """The family member ends their own link to the person (✖ under /family, confirmed): what it fed stops as when
    the grid worker removes it, and only a new invite links them again. Compare-and-set: NotFound when no link of
    theirs to the person is active (ended before, or a second press)."""
    me = actor.registered()
    took = await uow.session.execute(
        update(FamilyLink).where(col(FamilyLink.member_id) == me.id, col(FamilyLink.person_id) == person_id,
                                 col(FamilyLink.revoked_at).is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise NotFound("family_link", person_id)
    audit.record(uow, action="family.leave", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person_id, member=me.id)
    await menus.refresh(uow, user=actor.user, now=now)  # /family goes with their last link


@dataclass(frozen=True)
class Relative:
    person_id: int
    alias: str
    room: str


async def relatives(uow: UnitOfWork, *, actor: Actor, now: datetime | None = None) -> list[Relative]:
    """The key persons the actor is linked to as family (alias and room only); with `now` the read is audited."""
    me = actor.registered()
    rows = (await uow.session.exec(
        select(KeyPerson).join(FamilyLink, col(FamilyLink.person_id) == col(KeyPerson.id))
        .where(FamilyLink.member_id == me.id, col(FamilyLink.revoked_at).is_(None), col(KeyPerson.active).is_(True))
        .order_by(col(KeyPerson.id)))).all()
    if now is not None:
        for p in rows:
            audit.record(uow, action="person.read", now=now, community_id=p.community_id, actor_user_id=actor.user.id,
                         subject_type="person", subject_id=p.id, via="family")
    return [Relative(person_id=p.id or 0, alias=p.alias, room=p.room) for p in rows]


async def linked(uow: UnitOfWork, *, member_id: int | None, person_id: int) -> bool:
    """Whether the member is linked to the person as family now."""
    if member_id is None:
        return False
    row = (await uow.session.exec(select(FamilyLink.id).where(
        FamilyLink.member_id == member_id, FamilyLink.person_id == person_id,
        col(FamilyLink.revoked_at).is_(None)))).first()
    return row is not None


async def cut_off(uow: UnitOfWork, *, member_id: int | None, person_id: int) -> bool:
    """Whether the member was the person's family and is no more (a removed link and no active one): what the
    link fed — notices about the person, buttons — stops for them."""
    if member_id is None:
        return False
    rows = (await uow.session.exec(select(FamilyLink.revoked_at).where(
        FamilyLink.member_id == member_id, FamilyLink.person_id == person_id))).all()
    return bool(rows) and all(r is not None for r in rows)


__all__ = ["LinkView", "Relative", "cut_off", "invite", "linked", "links", "relatives", "remove"]
