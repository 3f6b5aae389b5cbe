"""Taking access away, and everything it fed: a revoked role stops its pairings, check-in prompts,
incident alerts and invites in the same transaction; `/invites` lists and withdraws open invites.

The rule (issue #10): what a role gave — a key person to check on, a grid to be alerted for, the
authority to invite — ends when the role ends, and every press reads the roles again (see
`checkins.answer` and `membership.peek_invite`), so a button sent before the revoke changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import audit, care, checkins, membership, menus, outbox, teams, wishes
from flows.errors import Forbidden, Invalid, NotFound
from flows.membership import Actor, MemberView
from flows.paging import Page, clamp
from flows.places import admins_of, grid_workers_of
from flows.roles import Perm, Role, RoleRevoked, may_invite
from storage.db import UnitOfWork
from storage.models import Building, Community, Grid, Invite, KeyPerson, Member, RoleGrant


async def revoke_role(uow: UnitOfWork, *, actor: Actor, member_id: int, role: Role, now: datetime) -> MemberView:
    """`/revoke MEMBER ROLE`: the grant ends (the row stays, as history) and so does what it fed
    (`withdraw`); the member is told."""
    me = actor.require(Perm.GRANT)
    if not may_invite(actor.roles, role):
        raise Forbidden(f"revoke:{role.value}")
    assert actor.community is not None
    row = await membership.person(uow, member_id=member_id)
    if row is None or row[0].community_id != me.community_id:
        raise NotFound("member", member_id)
    member, user = row
    if role in (Role.ADMIN, Role.DISTRICT_ADMIN) and member.id == me.id:
        raise Invalid("role", "self_admin")
    result = await uow.session.exec(
        update(RoleGrant)
        .where(col(RoleGrant.member_id) == member.id, col(RoleGrant.role) == role.value,
               col(RoleGrant.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=me.id)
    )
    if result.rowcount == 0:
        raise NotFound("role", role.value)
    audit.record(uow, action="role.revoke", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="member", subject_id=member.id, role=role.value)
    outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or actor.community.locale,
                  now=now, community_id=me.community_id, recipient_user_id=user.id,
                  notice=RoleRevoked(role=role.value, community=actor.community.name))
    await withdraw(uow, community=actor.community, member=member, actor_user_id=actor.user.id, now=now)
    await menus.refresh(uow, user=user, now=now)  # the menu stops offering what the role gave
    return await membership.member_view(uow, member=member, user=user)


@dataclass
class Withdrawn:
    """What a member's lost roles took with them."""

    persons: list[int] = field(default_factory=list)  # key persons unpaired from them
    checks_passed_on: int = 0
    grids: list[int] = field(default_factory=list)  # grids they no longer work
    invites: list[int] = field(default_factory=list)  # their open invites withdrawn
    teams: int = 0  # building enthusiast teams they left
    wishes: list[int] = field(default_factory=list)  # micro-wishes they had claimed, open again


async def withdraw(uow: UnitOfWork, *, community: Community, member: Member, actor_user_id: int | None,
                   now: datetime) -> Withdrawn:
    """End what the member's roles no longer allow, after a grant was revoked (also for a member who
    leaves: revoke every grant, then call this). Idempotent: a second call finds nothing left."""
    assert member.id is not None and community.id is not None
    roles = set((await uow.session.exec(select(RoleGrant.role).where(
        RoleGrant.member_id == member.id, col(RoleGrant.revoked_at).is_(None)))).all())
    out = Withdrawn()
    if Role.GRID_WORKER.value not in roles:
        out.grids = await _leave_grids(uow, community=community, member_id=member.id, actor_user_id=actor_user_id,
                                       now=now)
    if Role.VOLUNTEER.value not in roles:
        out.checks_passed_on = await checkins.release_volunteer(uow, community=community, member_id=member.id,
                                                                now=now)
        out.persons = await _unpair(uow, community=community, member=member, actor_user_id=actor_user_id, now=now)
    if Role.ENTHUSIAST.value not in roles:  # their building teams, and the Party households' pairings
        out.teams = await teams.leave_all(uow, community=community, member=member, actor_user_id=actor_user_id,
                                          now=now)
    out.wishes = await wishes.release(uow, community=community, member_id=member.id, now=now)  # no longer a claimer
    out.invites = await _withdraw_invites(uow, community_id=community.id, member_id=member.id, roles=roles,
                                          actor_user_id=actor_user_id, now=now)
    return out


async def _leave_grids(uow: UnitOfWork, *, community: Community, member_id: int, actor_user_id: int | None,
                       now: datetime) -> list[int]:
    grids = list((await uow.session.execute(
        update(Grid).where(col(Grid.community_id) == community.id, col(Grid.worker_member_id) == member_id)
        .values(worker_member_id=None).returning(col(Grid.id)))).scalars().all())
    for grid_id in grids:
        audit.record(uow, action="grid.worker_cleared", now=now, community_id=community.id,
                     actor_user_id=actor_user_id, subject_type="grid", subject_id=grid_id, worker=member_id)
    return grids


async def _unpair(uow: UnitOfWork, *, community: Community, member: Member, actor_user_id: int | None,
                  now: datetime) -> list[int]:
    """Take the member off every key person: a backup left alone becomes the primary (and is told, as
    pairing tells them); the grid worker(s) of each building are told whom to pair anew."""
    persons = (await uow.session.exec(select(KeyPerson).where(
        KeyPerson.community_id == community.id,
        (col(KeyPerson.primary_volunteer_id) == member.id) | (col(KeyPerson.backup_volunteer_id) == member.id))
        .order_by(col(KeyPerson.id)))).all()
    labels: dict[int | None, str] = {}
    todo: dict[int, list[dict[str, Any]]] = {}
    unpaired: list[int] = []
    for p in persons:
        was = "primary" if p.primary_volunteer_id == member.id else "backup"
        # compare-and-set: a pairing that changed meanwhile is left as it is now
        if was == "primary":
            took = (update(KeyPerson)
                    .where(col(KeyPerson.id) == p.id, col(KeyPerson.primary_volunteer_id) == member.id)
                    .values(primary_volunteer_id=col(KeyPerson.backup_volunteer_id), backup_volunteer_id=None,
                            updated_at=now))
        else:
            took = (update(KeyPerson)
                    .where(col(KeyPerson.id) == p.id, col(KeyPerson.backup_volunteer_id) == member.id)
                    .values(backup_volunteer_id=None, updated_at=now))
        if not (await uow.session.exec(took)).rowcount:  # type: ignore[call-overload]
            continue
        await uow.session.refresh(p)
        unpaired.append(p.id or 0)
        audit.record(uow, action="pair.revoked", now=now, community_id=community.id, actor_user_id=actor_user_id,
                     subject_type="person", subject_id=p.id, removed=member.id, primary=p.primary_volunteer_id)
        if p.building_id not in labels:
            b = await uow.session.get(Building, p.building_id) if p.building_id else None
            labels[p.building_id] = b.label if b else ""
        if not p.active:
            continue  # off the ledger: nobody to tell, nobody to pair
        if was == "primary" and p.primary_volunteer_id is not None:  # the backup takes over, and is told so
            await care.tell_volunteers(uow, p, care.CarePaired, now)
        place = {"alias": p.alias, "room": p.room, "building": labels[p.building_id], "person_id": p.id}
        workers = [w.id for w in await grid_workers_of(uow, community_id=community.id, building_id=p.building_id)]
        for wid in workers or await admins_of(uow, community_id=community.id):
            todo.setdefault(wid or 0, []).append({**place, "left": was, "covered": p.primary_volunteer_id is not None})
    for wid, items in todo.items():
        row = await membership.person(uow, member_id=wid)
        if row is None:
            continue
        outbox.notify(uow, tg_chat_id=row[1].tg_id, now=now, lang=row[1].language or community.locale,
                      community_id=community.id, recipient_user_id=row[1].id,
                      notice=care.CareNeedsVolunteer(name=member.display_name, member_id=member.id or 0,
                                                     items=items[:30], more=max(0, len(items) - 30)))
    return unpaired


async def _withdraw_invites(uow: UnitOfWork, *, community_id: int, member_id: int, roles: set[str],
                            actor_user_id: int | None, now: datetime) -> list[int]:
    """The member's open invites for roles they may no longer hand out are withdrawn."""
    open_ = (await uow.session.exec(select(Invite).where(
        Invite.community_id == community_id, Invite.created_by == member_id, col(Invite.used_at).is_(None),
        col(Invite.revoked_at).is_(None), col(Invite.expires_at) > now))).all()
    gone: list[int] = []
    for inv in open_:
        try:
            allowed = may_invite(roles, Role(inv.role))
        except ValueError:
            allowed = False
        if not allowed and await _close_invite(uow, inv, now):
            audit.record(uow, action="invite.withdraw", now=now, community_id=community_id,
                         actor_user_id=actor_user_id, subject_type="invite", subject_id=inv.id, role=inv.role,
                         reason="issuer_lost_role")
            gone.append(inv.id or 0)
    return gone


async def _close_invite(uow: UnitOfWork, inv: Invite, now: datetime) -> bool:
    """Compare-and-set: withdraw an invite nobody has used or withdrawn yet."""
    result = await uow.session.exec(
        update(Invite).where(col(Invite.id) == inv.id, col(Invite.used_at).is_(None),
                             col(Invite.revoked_at).is_(None)).values(revoked_at=now))
    return bool(result.rowcount)


# ---------------------------------------------------------------- /invites


@dataclass(frozen=True)
class OpenInvite:
    id: int
    role: str
    organisation: str | None
    issuer: str
    created_at: datetime
    expires_at: datetime


def _visible(actor: Actor, me: Member) -> Any:
    """Admins see every open invite of the community; anyone else who may invite, their own."""
    if actor.can(Perm.GRANT):
        return Invite.community_id == me.community_id
    return (col(Invite.community_id) == me.community_id) & (col(Invite.created_by) == me.id)


async def list_invites(uow: UnitOfWork, *, actor: Actor, now: datetime, page: int = 1,
                       size: int = 8) -> Page[OpenInvite]:
    """Open invites (unused, not withdrawn, not expired), newest first."""
    me = actor.require(Perm.INVITE)
    where = [_visible(actor, me), col(Invite.used_at).is_(None), col(Invite.revoked_at).is_(None),
             col(Invite.expires_at) > now]
    total = (await uow.session.exec(select(func.count()).select_from(Invite).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(
        select(Invite, Member.display_name).join(Member, col(Member.id) == col(Invite.created_by), isouter=True)
        .where(*where).order_by(col(Invite.id).desc()).offset(offset).limit(size))).all()
    items = [OpenInvite(i.id or 0, i.role, i.organisation, name or "", i.created_at, i.expires_at) for i, name in rows]
    return Page(items=items, page=page, pages=pages, total=total)


async def cancel_invite(uow: UnitOfWork, *, actor: Actor, invite_id: int, now: datetime) -> Invite:
    """❌ in /invites: the link stops working. NotFound when it is not one the actor sees, or not open."""
    me = actor.require(Perm.INVITE)
    inv = (await uow.session.exec(select(Invite).where(Invite.id == invite_id, _visible(actor, me)))).first()
    if inv is None or inv.expires_at <= now or not await _close_invite(uow, inv, now):
        raise NotFound("open_invite", invite_id)
    audit.record(uow, action="invite.withdraw", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="invite", subject_id=inv.id, role=inv.role, reason="cancelled")
    return inv
