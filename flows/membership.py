"""Communities, people, roles and invites: the use cases of onboarding (linked chats: flows/chats.py, re-exported).

Every function takes a unit of work and keyword arguments, checks permissions itself (the
server authorises every command and every press), and raises FlowError subclasses."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import audit, menus, outbox
from flows.actors import Actor as Actor  # re-exported: callers know them as membership.*
from flows.actors import default_language as default_language
from flows.actors import group_community as group_community
from flows.actors import load_actor as load_actor
from flows.actors import touch_actor as touch_actor
from flows.actors import touch_user as touch_user
from flows.chats import PRESENT as PRESENT  # re-exported: callers know them as membership.*
from flows.chats import ChatChange as ChatChange
from flows.chats import Linked as Linked
from flows.chats import bot_status_changed as bot_status_changed
from flows.chats import chat_info as chat_info
from flows.chats import link_chat as link_chat
from flows.chats import mark_unreachable as mark_unreachable
from flows.chats import unlink_chat as unlink_chat
from flows.errors import AlreadyDone, Expired, Forbidden, Invalid, NotFound, NotRegistered
from flows.paging import Page, clamp
from flows.roles import NEEDS_ORG, InviteUsed, Org, Perm, Role, RoleGranted, may_invite
from storage.db import UnitOfWork
from storage.models import Building, Community, FamilyLink, Invite, KeyPerson, Member, RoleGrant, User

INVITE_TTL = timedelta(days=7)
#: the invite "role" of a key person's family member (not a role: the invite links them to one person)
FAMILY = "family"
FAMILY_INVITERS = frozenset({Role.GRID_WORKER.value, Role.ADMIN.value, Role.DISTRICT_ADMIN.value})
ADMIN_INVITE_TTL = timedelta(days=30)
LANGUAGES = ("zh_CN", "en")
MAX_NAME = 60
MAX_BUILDING_LABEL = 20


# ---------------------------------------------------------------- communities and places


def _slugify(name: str) -> str:
    ascii_part = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return ascii_part[:24] or "c"


async def create_community(
    uow: UnitOfWork,
    *,
    name: str,
    now: datetime,
    timezone: str = "Asia/Shanghai",
    locale: str = "zh_CN",
    slug: str | None = None,
    buildings: Sequence[str] = (),
) -> tuple[Community, Invite]:
    """Create a community and its first admin invite (the command line's job)."""
    name = name.strip()
    if not name:
        raise Invalid("name", "empty")
    if len(name) > MAX_NAME:
        raise Invalid("name", "too_long", limit=MAX_NAME)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("timezone", "unknown", value=timezone) from exc
    if locale not in LANGUAGES:
        raise Invalid("locale", "unknown", value=locale)
    base = slug or _slugify(name)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,23}", base):
        raise Invalid("slug", "format", value=base)
    slug = base
    n = 1
    while (await uow.session.exec(select(Community).where(Community.slug == slug))).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    community = Community(name=name, slug=slug, timezone=timezone, locale=locale, created_at=now)
    uow.session.add(community)
    await uow.session.flush()
    for i, label in enumerate(buildings):
        uow.session.add(Building(community_id=community.id, label=_building_label(label), sort_key=i))
    invite = _new_invite(community.id, Role.ADMIN, None, None, now, ADMIN_INVITE_TTL)
    uow.session.add(invite)
    audit.record(uow, action="community.create", now=now, community_id=community.id,
                 subject_type="community", subject_id=community.id, name=name)
    await uow.session.flush()
    return community, invite


def _building_label(text: str) -> str:
    label = text.strip()
    for suffix in ("号楼", "楼", "栋", "号"):
        if label.endswith(suffix) and len(label) > len(suffix):
            label = label[: -len(suffix)]
            break
    if not label:
        raise Invalid("building", "empty")
    if len(label) > MAX_BUILDING_LABEL:
        raise Invalid("building", "too_long", limit=MAX_BUILDING_LABEL)
    return label


def parse_building_range(spec: str) -> list[str]:
    """'1-6,8' → ['1','2','3','4','5','6','8'] (for the command line)."""
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo or hi - lo > 500:
                raise Invalid("buildings", "range", value=part)
            out.extend(str(i) for i in range(lo, hi + 1))
        else:
            out.append(_building_label(part))
    return out


async def list_communities(uow: UnitOfWork) -> list[Community]:
    return list((await uow.session.exec(select(Community).order_by(col(Community.id)))).all())


async def get_community(uow: UnitOfWork, community_id: int) -> Community:
    community = await uow.session.get(Community, community_id)
    if community is None:
        raise NotFound("community", community_id)
    return community


async def community_by_slug(uow: UnitOfWork, slug: str) -> Community:
    community = (await uow.session.exec(select(Community).where(Community.slug == slug))).first()
    if community is None:
        raise NotFound("community", slug)
    return community


async def list_buildings(uow: UnitOfWork, *, community_id: int, page: int = 1, size: int = 8) -> Page[Building]:
    total = (
        await uow.session.exec(
            select(func.count()).select_from(Building).where(Building.community_id == community_id)
        )
    ).one()
    page, pages, offset = clamp(page, total, size)
    rows = await uow.session.exec(
        select(Building)
        .where(Building.community_id == community_id)
        .order_by(col(Building.sort_key), col(Building.id))
        .offset(offset)
        .limit(size)
    )
    return Page(items=list(rows.all()), page=page, pages=pages, total=total)


async def building_by_label(uow: UnitOfWork, *, community_id: int, label: str) -> Building | None:
    """The building people call `label` ("3", "3号楼", "3栋" all name building 3)."""
    try:
        label = _building_label(label)
    except Invalid:
        return None
    return (
        await uow.session.exec(select(Building).where(Building.community_id == community_id, Building.label == label))
    ).first()


async def get_building(uow: UnitOfWork, *, community_id: int, building_id: int) -> Building:
    b = await uow.session.get(Building, building_id)
    if b is None or b.community_id != community_id:
        raise NotFound("building", building_id)
    return b


# ---------------------------------------------------------------- invites


def _new_invite(
    community_id: int | None, role: Role, org: Org | None, created_by: int | None, now: datetime, ttl: timedelta
) -> Invite:
    assert community_id is not None
    return Invite(
        code=secrets.token_urlsafe(12),
        community_id=community_id,
        role=role.value,
        organisation=org.value if org else None,
        created_by=created_by,
        created_at=now,
        expires_at=now + ttl,
    )


async def create_invite(
    uow: UnitOfWork, *, actor: Actor, role: Role, org: Org | None, now: datetime, ttl: timedelta = INVITE_TTL
) -> Invite:
    member = actor.require(Perm.INVITE)
    if not may_invite(actor.roles, role):
        raise Forbidden(f"invite:{role.value}")
    org = _check_org(role, org)
    invite = _new_invite(member.community_id, role, org, member.id, now, ttl)
    uow.session.add(invite)
    await uow.session.flush()
    audit.record(uow, action="invite.create", now=now, community_id=member.community_id,
                 actor_user_id=actor.user.id, subject_type="invite", subject_id=invite.id,
                 role=role.value, organisation=invite.organisation)
    return invite


def _check_org(role: Role, org: Org | None) -> Org | None:
    if role is Role.PROPERTY_STAFF:  # tied to a property project: given by /property (flows/property/projects.py)
        raise Invalid("role", "property_staff")
    if role in NEEDS_ORG and org is None:
        raise Invalid("organisation", "required")
    if role not in NEEDS_ORG and org is not None:
        raise Invalid("organisation", "not_allowed")
    return org


async def peek_invite(uow: UnitOfWork, *, code: str, now: datetime) -> Invite:
    """The invite behind a deep link, if it can still be used."""
    invite = (await uow.session.exec(select(Invite).where(Invite.code == code))).first()
    if invite is None:
        raise NotFound("invite", None)
    if invite.used_at is not None:
        raise AlreadyDone("invite")
    if invite.expires_at <= now:
        raise Expired("invite")
    if invite.revoked_at is not None or not await _issuer_may_invite(uow, invite):
        raise NotFound("invite_withdrawn", None)
    return invite


async def _issuer_may_invite(uow: UnitOfWork, invite: Invite) -> bool:
    """Whether the invite's issuer may still hand out its role now (an invite made by the system may)."""
    if invite.created_by is None:
        return True
    roles = (await uow.session.exec(select(RoleGrant.role).where(
        RoleGrant.member_id == invite.created_by, RoleGrant.community_id == invite.community_id,
        col(RoleGrant.revoked_at).is_(None)))).all()
    if invite.role == FAMILY:  # a key person's family member: grid workers and admins invite them
        return bool(set(roles) & FAMILY_INVITERS)
    try:
        return may_invite(roles, Role(invite.role))
    except ValueError:
        return False


async def _consume_invite(uow: UnitOfWork, *, code: str, member: Member, now: datetime) -> Invite:
    """Mark the invite used by `member` — a conditional update, so two taps cannot both win."""
    invite = await peek_invite(uow, code=code, now=now)
    if invite.community_id != member.community_id:
        raise NotFound("invite", None)
    result = await uow.session.exec(
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None), col(Invite.revoked_at).is_(None))
        .values(used_at=now, used_by=member.id)
    )
    if result.rowcount != 1:
        raise AlreadyDone("invite")
    return invite


# ---------------------------------------------------------------- registration


@dataclass(frozen=True)
class Registered:
    member: Member
    community: Community
    granted: Role | None
    organisation: str | None
    new_member: bool
    family: str = ""  # a family invite: the alias of the key person they are now linked to


async def register(
    uow: UnitOfWork,
    *,
    user: User,
    community_id: int,
    building_id: int | None,
    now: datetime,
    invite_code: str | None = None,
) -> Registered:
    """Create the membership (consent given now), grant `resident`, and redeem an invite if any.

    Nothing is written before this call: the dialog keeps its choices in conversation state,
    so a person who declines the privacy notice leaves no membership behind."""
    community = await get_community(uow, community_id)
    if building_id is not None:
        await get_building(uow, community_id=community_id, building_id=building_id)
    member = (
        await uow.session.exec(select(Member).where(Member.community_id == community_id, Member.user_id == user.id))
    ).first()
    if member is not None and member.left_at is not None:  # moved back, or removed and registering again
        await _rejoin(uow, member=member, user=user, building_id=building_id, now=now)
        new_member = True
    else:
        new_member = member is None
    if member is None:
        member = Member(
            community_id=community_id, user_id=user.id, building_id=building_id,
            display_name=user.first_name, consent_at=now, joined_at=now,
        )
        uow.session.add(member)
        await uow.session.flush()
        await _grant(uow, member=member, role=Role.RESIDENT, org=None, by=None, now=now)
        audit.record(uow, action="member.register", now=now, community_id=community_id,
                     actor_user_id=user.id, subject_type="member", subject_id=member.id,
                     building_id=building_id)
    elif building_id is not None and member.building_id != building_id:  # moved within the community
        member.building_id = building_id
        uow.session.add(member)
        await uow.session.flush()
        from flows import teams  # teams reads memberships through this module

        await teams.leave_other_buildings(uow, community=community, member=member, user=user, now=now)
    user.active_community_id = community_id
    uow.session.add(user)
    granted: Role | None = None
    org: str | None = None
    family = ""
    if invite_code:
        invite = await _consume_invite(uow, code=invite_code, member=member, now=now)
        if invite.role == FAMILY:
            family = await _link_family(uow, invite=invite, member=member, user=user, now=now)
            await _tell_inviter(uow, invite=invite, member=member, community=community, now=now)
            await menus.registered(uow, user=user, now=now)
            return Registered(member=member, community=community, granted=None, organisation=None,
                              new_member=new_member, family=family)
        granted, org = Role(invite.role), invite.organisation
        await _grant(uow, member=member, role=granted, org=Org(org) if org else None, by=invite.created_by, now=now)
        audit.record(uow, action="invite.redeem", now=now, community_id=community_id, actor_user_id=user.id,
                     subject_type="invite", subject_id=invite.id, role=invite.role)
        await _tell_inviter(uow, invite=invite, member=member, community=community, now=now)
    await menus.registered(uow, user=user, now=now)
    return Registered(member=member, community=community, granted=granted, organisation=org, new_member=new_member)


async def _link_family(uow: UnitOfWork, *, invite: Invite, member: Member, user: User, now: datetime) -> str:
    """A family invite redeemed: the member is linked to that one key person (a removed link opens again)."""
    person = await uow.session.get(KeyPerson, invite.person_id) if invite.person_id else None
    if person is None or not person.active or person.community_id != member.community_id:
        raise NotFound("invite", None)
    link = (await uow.session.exec(select(FamilyLink).where(FamilyLink.person_id == person.id,
                                                            FamilyLink.member_id == member.id))).first()
    if link is None:
        uow.session.add(FamilyLink(community_id=member.community_id, person_id=person.id or 0, member_id=member.id or 0,
                                   created_by=invite.created_by, created_at=now))
    else:
        await uow.session.execute(update(FamilyLink).where(col(FamilyLink.id) == link.id)
                                  .values(revoked_at=None, created_at=now, created_by=invite.created_by)
                                  .execution_options(synchronize_session=False))
    await uow.session.flush()
    audit.record(uow, action="family.link", now=now, community_id=member.community_id, actor_user_id=user.id,
                 subject_type="person", subject_id=person.id, invite=invite.id, member=member.id)
    return person.alias


async def _rejoin(uow: UnitOfWork, *, member: Member, user: User, building_id: int | None, now: datetime) -> None:
    """A member who left registers again: the same row (what they wrote before stays theirs), a new consent,
    the resident's role again; nothing of the roles they held before comes back."""
    member.left_at = None
    member.building_id = building_id
    member.display_name = user.first_name
    member.consent_at = now
    member.joined_at = now
    uow.session.add(member)
    await uow.session.flush()
    await _grant(uow, member=member, role=Role.RESIDENT, org=None, by=None, now=now)
    audit.record(uow, action="member.rejoin", now=now, community_id=member.community_id, actor_user_id=user.id,
                 subject_type="member", subject_id=member.id, building_id=building_id)


async def membership(uow: UnitOfWork, *, user: User, community_id: int) -> Member | None:
    """The user's membership of the community, None when they are not (or no longer) a member."""
    return (
        await uow.session.exec(select(Member).where(Member.community_id == community_id, Member.user_id == user.id,
                                                    col(Member.left_at).is_(None)))
    ).first()


async def _tell_inviter(uow: UnitOfWork, *, invite: Invite, member: Member, community: Community,
                        now: datetime) -> None:
    if invite.created_by is None:
        return
    row = (
        await uow.session.exec(
            select(User).join(Member, col(Member.user_id) == col(User.id)).where(Member.id == invite.created_by)
        )
    ).first()
    if row is None:
        return
    outbox.notify(uow, tg_chat_id=row.tg_id, lang=row.language or community.locale, now=now,
                  community_id=community.id, recipient_user_id=row.id,
                  notice=InviteUsed(name=member.display_name, role=invite.role, member_id=member.id))


async def assign_role(uow: UnitOfWork, *, member: Member, role: Role, org: Org | None, now: datetime) -> bool:
    """A role given by the system (command line, seeding), not by a member; audited as such. The person's menu is
    the caller's to refresh (flows/menus.refresh) once everything is given."""
    org = _check_org(role, org)
    added = await _grant(uow, member=member, role=role, org=org, by=None, now=now)
    if added:
        audit.record(uow, action="role.assign", now=now, community_id=member.community_id, subject_type="member",
                     subject_id=member.id, role=role.value, organisation=org.value if org else None)
    return added


async def _grant(uow: UnitOfWork, *, member: Member, role: Role, org: Org | None, by: int | None,
                 now: datetime) -> bool:
    """Grant a role unless it is held already; True when a grant was added."""
    held = (
        await uow.session.exec(
            select(RoleGrant).where(
                RoleGrant.member_id == member.id, RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None)
            )
        )
    ).first()
    if held is not None:
        if org is not None and held.organisation != org.value:
            held.organisation = org.value
            uow.session.add(held)
            return True
        return False
    uow.session.add(
        RoleGrant(community_id=member.community_id, member_id=member.id, role=role.value,
                  organisation=org.value if org else None, granted_by=by, granted_at=now)
    )
    await uow.session.flush()
    return True


# ---------------------------------------------------------------- grants by command


@dataclass(frozen=True)
class MemberView:
    member_id: int
    name: str
    username: str | None
    building: str | None
    roles: tuple[str, ...]
    organisation: str | None
    unreachable: bool


async def person(uow: UnitOfWork, *, member_id: int) -> tuple[Member, User] | None:
    """A member with their user (to tell them something), or None."""
    return (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                   .where(Member.id == member_id))).first()


async def holders_of(uow: UnitOfWork, *, community_id: int, role: Role) -> list[tuple[Member, User]]:
    """The members of a community who hold a role now, with their users, by member number."""
    return list((await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .join(RoleGrant, col(RoleGrant.member_id) == col(Member.id))
        .where(Member.community_id == community_id, RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None))
        .order_by(col(Member.id)))).all())


async def _member_in_community(uow: UnitOfWork, *, community_id: int, member_id: int) -> tuple[Member, User]:
    row = (
        await uow.session.exec(
            select(Member, User).join(User, col(User.id) == col(Member.user_id)).where(Member.id == member_id)
        )
    ).first()
    if row is None or row[0].community_id != community_id:
        raise NotFound("member", member_id)
    return row[0], row[1]


async def grant_role(
    uow: UnitOfWork, *, actor: Actor, member_id: int, role: Role, org: Org | None, now: datetime
) -> MemberView:
    me = actor.require(Perm.GRANT)
    if not may_invite(actor.roles, role):
        raise Forbidden(f"grant:{role.value}")
    org = _check_org(role, org)
    member, user = await _member_in_community(uow, community_id=me.community_id, member_id=member_id)
    if not await _grant(uow, member=member, role=role, org=org, by=me.id, now=now):
        raise AlreadyDone("role")
    audit.record(uow, action="role.grant", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="member", subject_id=member.id, role=role.value, organisation=org.value if org else None)
    assert actor.community is not None
    outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or actor.community.locale,
                  now=now, community_id=me.community_id, recipient_user_id=user.id,
                  notice=RoleGranted(role=role.value, organisation=org.value if org else None,
                                     community=actor.community.name))
    await menus.refresh(uow, user=user, now=now)
    return await member_view(uow, member=member, user=user)


async def member_view(uow: UnitOfWork, *, member: Member, user: User) -> MemberView:
    grants = (
        await uow.session.exec(
            select(RoleGrant).where(RoleGrant.member_id == member.id, col(RoleGrant.revoked_at).is_(None))
            .order_by(col(RoleGrant.id))
        )
    ).all()
    building = await uow.session.get(Building, member.building_id) if member.building_id else None
    org = next((g.organisation for g in grants if g.organisation), None)
    return MemberView(
        member_id=member.id or 0, name=member.display_name or user.first_name, username=user.username,
        building=building.label if building else None, roles=tuple(g.role for g in grants),
        organisation=org, unreachable=user.unreachable_at is not None,
    )


async def list_members(
    uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 10, role: Role | None = None
) -> Page[MemberView]:
    me = actor.require(Perm.MEMBERS)
    query = select(Member, User).join(User, col(User.id) == col(Member.user_id)).where(
        Member.community_id == me.community_id, col(Member.left_at).is_(None)
    )
    count_q = select(func.count()).select_from(Member).where(Member.community_id == me.community_id,
                                                             col(Member.left_at).is_(None))
    if role is not None:
        has_role = select(RoleGrant.member_id).where(RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None))
        query = query.where(col(Member.id).in_(has_role))
        count_q = count_q.where(col(Member.id).in_(has_role))
    total = (await uow.session.exec(count_q)).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(query.order_by(col(Member.id)).offset(offset).limit(size))).all()
    items = [await member_view(uow, member=m, user=u) for m, u in rows]
    return Page(items=items, page=page, pages=pages, total=total)


async def set_language(uow: UnitOfWork, *, user: User, lang: str, now: datetime, actor: Actor | None = None) -> str:
    """`actor`: the person as this transaction read them, if at hand (spares the audit and the menu a read)."""
    if lang not in LANGUAGES:
        raise Invalid("language", "unknown", value=lang)
    if user.language == lang:
        return lang  # chosen before: nothing to write, nothing to audit
    user.language = lang
    uow.session.add(user)
    audit.record(uow, action="user.language", now=now, community_id=user.active_community_id,
                 actor_user_id=user.id, subject_type="user", subject_id=user.id, actor=actor, language=lang)
    await menus.refresh(uow, user=user, now=now, actor=actor)
    return lang


async def switch_community(uow: UnitOfWork, *, user: User, community_id: int, now: datetime) -> Community:
    community = await get_community(uow, community_id)
    if await membership(uow, user=user, community_id=community_id) is None:
        raise NotRegistered()
    if user.active_community_id != community_id:
        user.active_community_id = community_id
        uow.session.add(user)
        await menus.refresh(uow, user=user, now=now)  # the roles held there
    return community


@dataclass(frozen=True)
class Profile:
    view: MemberView
    community: Community
    other_communities: list[Community]


async def profile(uow: UnitOfWork, *, actor: Actor) -> Profile:
    if actor.member is None or actor.community is None:
        raise NotRegistered()
    view = await member_view(uow, member=actor.member, user=actor.user)
    others = (
        await uow.session.exec(
            select(Community).join(Member, col(Member.community_id) == col(Community.id))
            .where(Member.user_id == actor.user.id, col(Community.id) != actor.community.id,
                   col(Member.left_at).is_(None))
        )
    ).all()
    return Profile(view=view, community=actor.community, other_communities=list(others))
