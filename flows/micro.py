"""What micro-wishes and micro posts share (F-9.2, F-9.4): who may claim, the group posts, the thank-you consent
and the monthly thank-you list.

Claiming is for volunteers and units (a member whose role carries the organisation 驻区单位, `Org.UNIT`); a micro
post (微项目/微实事/微岗位) also for Party-member households and any enthusiast. The claim itself is the caller's one
conditional UPDATE (`… WHERE state = 'open'`): of two presses at once exactly one changes a row.

Consent (`MicroConsent`): asked once, after a person's first claim; only those who agreed are named in the monthly
thank-you list (`thanks_due`, the first days of a month after 10:00 local, once per group and month through
flows/digest.py), which names who fulfilled a wish or finished a micro post the month before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import col, select

from flows import digest
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden
from flows.membership import Actor
from flows.notices import Notice
from flows.roles import Org, Purpose, Role
from storage.db import UnitOfWork
from storage.models import Chat, Community, Member, RoleGrant
from storage.models_micro import MicroConsent, MicroPost, Wish

VOLUNTEER, UNIT = "volunteer", "unit"
GROUP_TYPES = ("group", "supergroup")
LIVE = ("member", "administrator")
THANKS_AT = time(10, 0)


@dataclass(frozen=True)
class MonthlyThanks(Notice, kind="micro_thanks"):
    community: str
    month: str  # YYYY-MM
    names: list[str]
    wishes: int
    posts: int


async def claimer_kind(uow: UnitOfWork, *, actor: Actor) -> str:
    """`unit` for a member of a unit, `volunteer` for a volunteer, else Forbidden("claim")."""
    me = actor.registered()
    grants = (await uow.session.exec(select(RoleGrant.role, RoleGrant.organisation).where(
        RoleGrant.member_id == me.id, col(RoleGrant.revoked_at).is_(None)))).all()
    if any(org == Org.UNIT.value for _, org in grants):
        return UNIT
    if any(role == Role.VOLUNTEER.value for role, _ in grants):
        return VOLUNTEER
    raise Forbidden("claim")


async def groups_for(uow: UnitOfWork, *, community: Community, building_id: int | None) -> list[Chat]:
    """Where a micro-governance item is shown: the community's groups and the building's own group."""
    live = (Chat.community_id == community.id, col(Chat.type).in_(GROUP_TYPES), col(Chat.bot_status).in_(LIVE))
    where = Chat.purpose == Purpose.COMMUNITY.value
    if building_id is not None:
        where = or_(where, (Chat.purpose == Purpose.BUILDING.value) & (Chat.building_id == building_id))
    return list((await uow.session.exec(select(Chat).where(*live, where).order_by(col(Chat.id)))).all())


async def show(uow: UnitOfWork, *, community: Community, building_id: int | None, notice: Notice, key: str,
               now: datetime) -> int:
    """Post the item's group notice to its groups within the quiet-group budget; returns the groups newly reached
    (a group that had it already, by `key`, is not counted)."""
    new = 0
    for chat in await groups_for(uow, community=community, building_id=building_id):
        done = await digest.post(uow, community=community, tg_chat_id=chat.tg_chat_id, notice=notice,
                                 key=f"{key}:{chat.tg_chat_id}", now=now)
        new += done != digest.SEEN
    return new


# ---------------------------------------------------------------- consent


async def consent_asked(uow: UnitOfWork, *, member_id: int) -> bool:
    return (await uow.session.exec(select(MicroConsent.id).where(MicroConsent.member_id == member_id))).first() \
        is not None


async def consent(uow: UnitOfWork, *, member_id: int) -> bool:
    """Whether the member agreed to be named (False when never asked)."""
    return bool((await uow.session.exec(select(MicroConsent.agreed).where(
        MicroConsent.member_id == member_id))).first())


async def set_consent(uow: UnitOfWork, *, actor: Actor, agreed: bool, now: datetime) -> bool:
    """Remember the answer (once; a second answer changes it). Returns what is kept."""
    me = actor.registered()
    row = (await uow.session.exec(select(MicroConsent).where(MicroConsent.member_id == me.id))).first()
    if row is None:
        row = MicroConsent(community_id=me.community_id, member_id=me.id or 0, agreed=agreed, answered_at=now)
    elif row.agreed == agreed:
        raise AlreadyDone("consent")
    row.agreed, row.answered_at = agreed, now
    uow.session.add(row)
    await uow.session.flush()
    return agreed


# ---------------------------------------------------------------- the monthly thank-you list


def _month_bounds(day: date, tz: str) -> tuple[datetime, datetime, str]:
    first = day.replace(day=1)
    prev = (first - timedelta(days=1)).replace(day=1)
    zone = ZoneInfo(tz)
    return (datetime.combine(prev, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC")),
            datetime.combine(first, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC")), f"{prev:%Y-%m}")


async def thanks_list(uow: UnitOfWork, *, community: Community, start: datetime, end: datetime
                      ) -> tuple[list[str], int, int]:
    """The names (consent given) of who fulfilled wishes or finished posts in [start, end), and the counts."""
    wishes = (await uow.session.exec(select(Wish.claimer_member_id).where(
        Wish.community_id == community.id, col(Wish.state).in_(("fulfilled", "thanked")),
        col(Wish.fulfilled_at) >= start, col(Wish.fulfilled_at) < end))).all()
    posts = (await uow.session.exec(select(MicroPost.claimer_member_id).where(
        MicroPost.community_id == community.id, MicroPost.state == "done",
        col(MicroPost.done_at) >= start, col(MicroPost.done_at) < end))).all()
    ids = {m for m in [*wishes, *posts] if m is not None}
    names: list[str] = []
    if ids:
        names = list((await uow.session.exec(select(Member.display_name).join(
            MicroConsent, col(MicroConsent.member_id) == col(Member.id)).where(
            col(Member.id).in_(ids), col(MicroConsent.agreed).is_(True)).order_by(col(Member.id)))).all())
    return names, len(wishes), len(posts)


async def thanks_due(uow: UnitOfWork, *, now: datetime) -> int:
    """Post last month's thank-you list to each community's groups (once per group and month)."""
    posted = 0
    for community in (await uow.session.exec(select(Community).order_by(col(Community.id)))).all():
        here = local(now, community.timezone)
        if here.day > 7 or here.time() < THANKS_AT:
            continue
        start, end, month = _month_bounds(here.date(), community.timezone)
        names, wishes, posts = await thanks_list(uow, community=community, start=start, end=end)
        if not wishes and not posts:
            continue
        notice = MonthlyThanks(community=community.name, month=month, names=names, wishes=wishes, posts=posts)
        posted += await show(uow, community=community, building_id=None, notice=notice,
                             key=f"thanks:{community.id}:{month}", now=now)
    return posted
