"""A membership ends: a member moves away (`/leave`) or an admin removes them (`/remove N`).

What the membership fed stops in the same transaction (the rule of issue #10): every role is revoked, and
`access.withdraw` passes their check-ins on, unpairs them from key persons (a backup left alone becomes the
primary), clears the grids they worked and withdraws their open invites; a family member's link to their relative
ends (#17); their notices not yet sent for this
community are dropped, their half-finished dialog is cleared and their command menu is queued anew. The row
stays (`Member.left_at`): what they wrote — needs, requests, votes — keeps its author for the record, but their
name, building and survey room are cleared. Someone who left is not a member any more (`flows.actors` reads `left_at`) and
may register again later (flows.membership.register takes the row back, with a new consent).

Ending is compare-and-set on `left_at IS NULL`: two presses, or an admin removing someone who is leaving at the
same moment, end it once. The community's last admin cannot leave or be removed (nobody could run it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from flows import access, audit, conversation, menus, outbox
from flows.errors import AlreadyDone, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.roles import Perm, Role
from storage.db import UnitOfWork
from storage.models import Community, FamilyLink, Member, MemberRoom, OutboxMessage, RoleGrant, User


@dataclass(frozen=True)
class MemberRemoved(Notice, kind="member_removed"):
    """To a member an admin removed: they are no longer a member of the community (and may register again)."""

    community: str


@dataclass(frozen=True)
class Left:
    member_id: int
    roles: tuple[str, ...]  # the roles that ended with the membership
    persons: int  # key persons unpaired from them
    checks_passed_on: int
    grids: int
    invites: int
    notices_dropped: int


async def _target(uow: UnitOfWork, community_id: int, member_id: int) -> tuple[Member, User]:
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == member_id))).first()
    if row is None or row[0].community_id != community_id or row[0].left_at is not None:
        raise NotFound("member", member_id)
    return row[0], row[1]


async def _last_admin(uow: UnitOfWork, member: Member) -> bool:
    admins = set((await uow.session.exec(select(RoleGrant.member_id).where(
        RoleGrant.community_id == member.community_id, RoleGrant.role == Role.ADMIN.value,
        col(RoleGrant.revoked_at).is_(None)))).all())
    return admins == {member.id}


async def preview(uow: UnitOfWork, *, actor: Actor, member_id: int | None) -> tuple[Member, User, tuple[str, ...]]:
    """Who would leave and the roles they hold (for the confirmation screen); refusals as `end` would raise."""
    member, user = await _who(uow, actor, member_id)
    roles = tuple(sorted((await uow.session.exec(select(RoleGrant.role).where(
        RoleGrant.member_id == member.id, col(RoleGrant.revoked_at).is_(None)))).all()))
    if Role.ADMIN.value in roles and await _last_admin(uow, member):
        raise Invalid("leave", "last_admin")
    return member, user, roles


async def _who(uow: UnitOfWork, actor: Actor, member_id: int | None) -> tuple[Member, User]:
    if member_id is None:  # oneself
        if actor.member is None or actor.community is None or actor.member.left_at is not None:
            raise NotFound("member", None)
        return actor.member, actor.user
    me = actor.require(Perm.GRANT)
    if member_id == me.id:
        raise Invalid("leave", "self")  # /leave is for oneself
    return await _target(uow, me.community_id, member_id)


async def end(uow: UnitOfWork, *, actor: Actor, member_id: int | None, now: datetime) -> Left:
    """End a membership: `member_id` None is the actor leaving; else an admin removing that member."""
    member, user, roles = await preview(uow, actor=actor, member_id=member_id)
    assert member.id is not None
    took = await uow.session.exec(update(Member).where(col(Member.id) == member.id, col(Member.left_at).is_(None))
                                  .values(left_at=now, building_id=None, display_name=""))
    if took.rowcount == 0:
        raise AlreadyDone("left")
    # the rows as they are now, in this session (the actor's may come from elsewhere)
    member = await uow.session.get(Member, member.id, populate_existing=True) or member
    user = await uow.session.get(User, user.id) or user
    by = actor.member.id if actor.member is not None else None
    await uow.session.exec(update(RoleGrant).where(col(RoleGrant.member_id) == member.id,
                                                   col(RoleGrant.revoked_at).is_(None))
                           .values(revoked_at=now, revoked_by=by))
    community = await uow.session.get(Community, member.community_id)
    assert community is not None
    withdrawn = await access.withdraw(uow, community=community, member=member, actor_user_id=actor.user.id, now=now)
    # a family member of a key person (#17) is no longer linked to their relative: no more notices, buttons refused
    await uow.session.exec(update(FamilyLink).where(col(FamilyLink.member_id) == member.id,
                                                    col(FamilyLink.revoked_at).is_(None)).values(revoked_at=now))
    # the room they gave for the property survey goes with their building (a survey already counted stays)
    await uow.session.exec(delete(MemberRoom).where(col(MemberRoom.member_id) == member.id))
    dropped = await uow.session.exec(update(OutboxMessage).where(
        col(OutboxMessage.recipient_user_id) == user.id, col(OutboxMessage.community_id) == community.id,
        col(OutboxMessage.status) == "pending").values(status="failed", last_error="the member left the community"))
    await conversation.clear(uow, chat_id=user.tg_id, user_id=user.tg_id)
    if user.active_community_id == community.id:  # another membership of theirs becomes the active one, if any
        user.active_community_id = (await uow.session.exec(select(Member.community_id).where(
            Member.user_id == user.id, col(Member.left_at).is_(None)).order_by(col(Member.id)).limit(1))).first()
        uow.session.add(user)
    removed = member_id is not None
    audit.record(uow, action="member.remove" if removed else "member.leave", now=now, community_id=community.id,
                 actor_user_id=actor.user.id, subject_type="member", subject_id=member.id, roles=list(roles),
                 persons=len(withdrawn.persons), grids=len(withdrawn.grids))
    if removed:
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id,
                      notice=MemberRemoved(community=community.name))
    await menus.refresh(uow, user=user, now=now)
    return Left(member_id=member.id, roles=roles, persons=len(withdrawn.persons),
                checks_passed_on=withdrawn.checks_passed_on, grids=len(withdrawn.grids),
                invites=len(withdrawn.invites), notices_dropped=dropped.rowcount or 0)
