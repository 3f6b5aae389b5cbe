"""Who is acting: the person behind an update and the community they act for (split from membership).

In a private chat that is their active community; in a linked group it is the group's community, always —
the roles are the ones held there, and someone who is not a member there is an outsider, never an actor of
their own community (issue #10, item 9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, exists
from sqlmodel import col, select

from flows.errors import Forbidden, NotRegistered
from flows.roles import FAMILY_TOKEN, Perm, org_token, permissions
from storage.db import UnitOfWork
from storage.models import Chat, Community, FamilyLink, Member, RoleGrant, User

# ---------------------------------------------------------------- who is acting


@dataclass(frozen=True)
class Actor:
    """The person behind an update, with their membership (and roles) in the community they act for: their
    active community in a private chat, the group's community in a linked group (see `load_actor`).
    `outsider`: in a linked group of a community they are not a member of (member None, community the group's)."""

    user: User
    member: Member | None
    community: Community | None
    roles: frozenset[str]
    outsider: bool = False

    @property
    def lang(self) -> str:
        if self.user.language:
            return self.user.language
        if self.community is not None:
            return self.community.locale
        return default_language(self.user.tg_language)

    def registered(self) -> Member:
        """The actor's membership, or NotRegistered (someone who has not done /start)."""
        if self.member is None:
            raise NotRegistered()
        return self.member

    def home(self) -> Community:
        """The actor's community, or NotRegistered."""
        if self.community is None:
            raise NotRegistered()
        return self.community

    def can(self, perm: Perm) -> bool:
        return perm in permissions(self.roles)

    def require(self, perm: Perm) -> Member:
        if self.member is None:
            raise NotRegistered()
        if not self.can(perm):
            raise Forbidden(perm.value)
        return self.member


def default_language(tg_language: str | None) -> str:
    """Telegram's language code → our locale; Chinese unless the app says English."""
    if tg_language and tg_language.lower().startswith("en"):
        return "en"
    return "zh_CN"


async def touch_user(
    uow: UnitOfWork,
    *,
    tg_id: int,
    first_name: str,
    last_name: str | None,
    username: str | None,
    tg_language: str | None,
    now: datetime,
) -> User:
    """Find or create the user row and refresh what Telegram tells us about them."""
    user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).first()
    return await _refresh(uow, user, tg_id=tg_id, first_name=first_name, last_name=last_name, username=username,
                          tg_language=tg_language, now=now)


#: touch_actor's query, built once: building it took more CPU than running it (about 1 ms an update)
#: whether the member is linked to a key person as family (an active FamilyLink): adds FAMILY_TOKEN to the roles
_FAMILY = exists().where(col(FamilyLink.member_id) == col(Member.id), col(FamilyLink.revoked_at).is_(None))

_ACTOR_BY_TG_ID = (
    select(User, Member, Community, RoleGrant.role, RoleGrant.organisation, _FAMILY.label("family"))
    .outerjoin(Member, and_(col(Member.user_id) == col(User.id),
                            col(Member.community_id) == col(User.active_community_id)))
    .outerjoin(Community, col(Community.id) == col(Member.community_id))
    .outerjoin(RoleGrant, and_(col(RoleGrant.member_id) == col(Member.id), col(RoleGrant.revoked_at).is_(None)))
    .where(col(User.tg_id) == bindparam("tg_id"))
)


async def touch_actor(
    uow: UnitOfWork,
    *,
    tg_id: int,
    first_name: str,
    last_name: str | None,
    username: str | None,
    tg_language: str | None,
    now: datetime,
) -> Actor:
    """`touch_user` and `load_actor` (their active community) in one query: the user row, the membership in
    their active community, that community and the active roles (a row per role). The user row is written
    only when Telegram tells something new about them (or they were unreachable), as `touch_user` does."""
    rows = (await uow.session.exec(_ACTOR_BY_TG_ID, params={"tg_id": tg_id})).all()
    found = rows[0][0] if rows else None
    user = await _refresh(uow, found, tg_id=tg_id, first_name=first_name, last_name=last_name, username=username,
                          tg_language=tg_language, now=now)
    if not rows or rows[0][1] is None or rows[0][2] is None or rows[0][1].left_at is not None:
        return Actor(user=user, member=None, community=None, roles=frozenset())  # a member who left: no member
    _, member, home, _, _, family = rows[0]
    return Actor(user=user, member=member, community=home, roles=_roles(((r[3], r[4]) for r in rows), family))


async def _refresh(uow: UnitOfWork, user: User | None, *, tg_id: int, first_name: str, last_name: str | None,
                   username: str | None, tg_language: str | None, now: datetime) -> User:
    if user is None:
        user = User(tg_id=tg_id, created_at=now)
    changed = (user.first_name, user.last_name, user.username, user.tg_language) != (
        first_name[:128],
        last_name,
        username,
        tg_language,
    )
    if user.id is None or changed or user.unreachable_at is not None:
        user.first_name, user.last_name = first_name[:128], last_name
        user.username, user.tg_language = username, tg_language
        user.unreachable_at = None  # they talk to us, so we can reach them
        uow.session.add(user)
        await uow.session.flush()
    return user


async def load_actor(uow: UnitOfWork, user: User, *, community: Community | None = None) -> Actor:
    """The actor for `user` acting for `community` (a linked group's, from `group_community`) or, without
    one, for their active community. In a group the group's community holds always: the roles are the ones
    held there, and someone who is not a member there is an outsider, never an actor of their own community."""
    if community is not None:
        return await _bound_actor(uow, user, community)
    if user.active_community_id is None:
        return Actor(user=user, member=None, community=None, roles=frozenset())
    # one query: the member, its community and its active roles (a row per role, or one with None)
    rows = (
        await uow.session.exec(
            select(Member, Community, RoleGrant.role, RoleGrant.organisation, _FAMILY.label("family"))
            .join(Community, col(Community.id) == col(Member.community_id))
            .outerjoin(RoleGrant, and_(col(RoleGrant.member_id) == col(Member.id), col(RoleGrant.revoked_at).is_(None)))
            .where(Member.user_id == user.id, Member.community_id == user.active_community_id)
        )
    ).all()
    if not rows or rows[0][0].left_at is not None:
        return Actor(user=user, member=None, community=None, roles=frozenset())
    member, home, _, _, family = rows[0]
    return Actor(user=user, member=member, community=home, roles=_roles(((r[2], r[3]) for r in rows), family))


async def _bound_actor(uow: UnitOfWork, user: User, community: Community) -> Actor:
    rows = (
        await uow.session.exec(
            select(Member, RoleGrant.role, RoleGrant.organisation, _FAMILY.label("family"))
            .outerjoin(RoleGrant, and_(col(RoleGrant.member_id) == col(Member.id), col(RoleGrant.revoked_at).is_(None)))
            .where(Member.user_id == user.id, Member.community_id == community.id)
        )
    ).all() if user.id is not None else []
    if not rows or rows[0][0].left_at is not None:
        return Actor(user=user, member=None, community=community, roles=frozenset(), outsider=True)
    return Actor(user=user, member=rows[0][0], community=community,
                 roles=_roles(((r[1], r[2]) for r in rows), rows[0][3]))


def _roles(grants: Iterable[tuple[str | None, str | None]], family: object) -> frozenset[str]:
    """The active roles, the pseudo-role an organisation adds (a resident unit's members: `org:unit`), and
    FAMILY_TOKEN for a key person's linked family member."""
    out: set[str] = {FAMILY_TOKEN} if family else set()
    for role, organisation in grants:
        if role is None:
            continue
        out.add(role)
        token = org_token(organisation)
        if token is not None:
            out.add(token)
    return frozenset(out)


async def group_community(uow: UnitOfWork, *, tg_chat_id: int) -> Community | None:
    """The community a group is linked to (None for a group no community has linked)."""
    return (
        await uow.session.exec(
            select(Community).join(Chat, col(Chat.community_id) == col(Community.id)).where(Chat.tg_chat_id == tg_chat_id)
        )
    ).first()
