"""The needs list (需求清单, F-1): the collection period, submitting, browsing, "+1", review.

Residents submit and support needs without any permission; grid workers (and admins) enter
needs on a resident's behalf (Perm.NEEDS_ENTER); admins open and close the collection and
review needs (Perm.NEEDS_REVIEW): merge, reject with a reason, promote to a candidate project.
Needs are numbered per community and year; one "+1" per person and need lives in the schema."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from flows import audit, outbox
from flows.clock import local
from flows.errors import AlreadyDone, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.paging import Page, clamp
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Chat, Community, Member, Need, NeedPeriod, NeedSupport, User

#: Stable codes of the ten default categories (names are translated in bot/).
CATEGORIES = ("env", "facility", "elderly", "culture", "safety", "traffic", "green", "convenience", "child",
              "property")
CHANNELS = ("chat", "door_visit", "meeting", "rep_meeting")
STATUSES = ("open", "merged", "rejected", "candidate")
LIMITS = {"text": 500, "reason": 200, "title": 30}
LISTED = ("open", "candidate")  # what residents browse and support


# ---------------------------------------------------------------- input


def clean(field_name: str, text: str | None) -> str:
    """A free-text input, trimmed, without control characters (line breaks kept in the need's text)."""
    value = "".join(c for c in (text or "") if c in "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    value = value.strip()
    if field_name != "text":
        value = " ".join(value.split())
    if not value:
        raise Invalid(field_name, "empty")
    limit = LIMITS[field_name]
    if len(value) > limit:
        raise Invalid(field_name, "too_long", limit=limit)
    return value


def categories(community: Community | None) -> tuple[str, ...]:
    """The community's categories: Community.settings["need_categories"] (known codes) or the ten defaults."""
    chosen = (community.settings or {}).get("need_categories") if community is not None else None
    if isinstance(chosen, list):
        known = tuple(c for c in chosen if c in CATEGORIES)
        if known:
            return known
    return CATEGORIES


def local_year(community: Community, now: datetime) -> int:
    return local(now, community.timezone).year


def _community(actor: Actor) -> Community:
    assert actor.community is not None
    return actor.community


# ---------------------------------------------------------------- the collection period


async def _period(uow: UnitOfWork, community_id: int, year: int) -> NeedPeriod | None:
    return (await uow.session.exec(select(NeedPeriod).where(
        NeedPeriod.community_id == community_id, NeedPeriod.year == year))).first()


def is_open(period: NeedPeriod | None, now: datetime) -> bool:
    return (period is not None and period.closed_at is None
            and (period.closes_at is None or period.closes_at > now))


async def current_period(uow: UnitOfWork, *, community: Community, now: datetime) -> NeedPeriod | None:
    """This year's period if it is open now."""
    assert community.id is not None
    period = await _period(uow, community.id, local_year(community, now))
    return period if is_open(period, now) else None


async def open_period(uow: UnitOfWork, *, actor: Actor, now: datetime, closes_on: date | None = None) -> NeedPeriod:
    """Open (or reopen) this year's collection; every linked group of the community is told."""
    me = actor.require(Perm.NEEDS_REVIEW)
    community = _community(actor)
    year = local_year(community, now)
    closes_at = None
    if closes_on is not None:
        closes_at = datetime.combine(closes_on, time(23, 59, 59), tzinfo=ZoneInfo(community.timezone))
        if closes_at <= now or closes_on.year != year:
            raise Invalid("closes_on", "out_of_range", year=year)
    period = await _period(uow, me.community_id, year)
    if is_open(period, now):
        raise AlreadyDone("period")
    if period is None:
        period = NeedPeriod(community_id=me.community_id, year=year, opened_at=now)
    period.opened_at, period.closes_at, period.closed_at = now, closes_at, None
    uow.session.add(period)
    await uow.session.flush()
    audit.record(uow, action="needs.open", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need_period", subject_id=period.id, year=year,
                 closes_at=closes_at.isoformat() if closes_at else None)
    chats = (await uow.session.exec(select(Chat).where(
        Chat.community_id == me.community_id, col(Chat.purpose).is_not(None),
        col(Chat.bot_status).in_(("member", "administrator"))))).all()
    for chat in chats:
        outbox.notify(uow, tg_chat_id=chat.tg_chat_id, notice="needs_open", lang=community.locale, now=now,
                      community_id=me.community_id, dedupe_key=f"needs_open:{period.id}:{chat.tg_chat_id}:"
                      f"{int(now.timestamp())}", year=year, community=community.name,
                      closes_on=closes_on.isoformat() if closes_on else None)
    return period


async def close_period(uow: UnitOfWork, *, actor: Actor, now: datetime) -> NeedPeriod:
    me = actor.require(Perm.NEEDS_REVIEW)
    community = _community(actor)
    period = await _period(uow, me.community_id, local_year(community, now))
    if period is None:
        raise NotFound("period", local_year(community, now))
    if not is_open(period, now):
        raise AlreadyDone("period_closed")
    period.closed_at = now
    uow.session.add(period)
    audit.record(uow, action="needs.close", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need_period", subject_id=period.id, year=period.year)
    return period


# ---------------------------------------------------------------- submitting


async def member_of(uow: UnitOfWork, *, actor: Actor, member_id: int) -> tuple[Member, User]:
    """A member of the actor's community (for entering a need on their behalf)."""
    me = actor.require(Perm.NEEDS_ENTER)
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == member_id))).first()
    if row is None or row[0].community_id != me.community_id:
        raise NotFound("member", member_id)
    return row[0], row[1]


def allowed_channels(actor: Actor) -> tuple[str, ...]:
    """The channels the actor may record when entering a need for someone else."""
    if actor.can(Perm.NEEDS_REVIEW):
        return ("door_visit", "meeting", "rep_meeting")
    if actor.can(Perm.NEEDS_ENTER):
        return ("door_visit",)
    return ()


async def submit(uow: UnitOfWork, *, actor: Actor, category: str, text: str, now: datetime,
                 photo_file_id: str | None = None, channel: str = "chat",
                 author_member_id: int | None = None) -> Need:
    """Store a need with the next number of the year; the period must be open."""
    if channel == "chat":
        me = _member(actor)
        author_id = me.id
    else:
        me = actor.require(Perm.NEEDS_ENTER)
        if channel not in allowed_channels(actor):
            raise Invalid("channel", "not_allowed")
        if author_member_id is None:
            raise Invalid("member", "required")
        author_id = (await member_of(uow, actor=actor, member_id=author_member_id))[0].id
    if channel not in CHANNELS:
        raise Invalid("channel", "unknown")
    community = _community(actor)
    if category not in categories(community):
        raise Invalid("category", "unknown")
    body = clean("text", text)
    if photo_file_id is not None and (not photo_file_id or len(photo_file_id) > 255):
        raise Invalid("photo", "bad")
    period = await current_period(uow, community=community, now=now)
    if period is None:
        raise Invalid("period", "closed")
    last = (await uow.session.exec(select(func.max(Need.number)).where(
        Need.community_id == me.community_id, Need.year == period.year))).one()
    need = Need(community_id=me.community_id, year=period.year, number=(last or 0) + 1, category=category,
                text=body, photo_file_id=photo_file_id, channel=channel, author_member_id=author_id or 0,
                entered_by_member_id=me.id or 0, status="open", created_at=now, updated_at=now)
    uow.session.add(need)
    await uow.session.flush()
    audit.record(uow, action="need.create", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need", subject_id=need.id, number=need.number, year=need.year, channel=channel,
                 category=category, author=author_id)
    return need


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class NeedLine:
    id: int
    number: int
    year: int
    category: str
    text: str
    status: str
    channel: str
    supporters: int
    photo_file_id: str | None = None
    merged_into: int | None = None  # the number of the need it was merged into
    reject_reason: str | None = None
    candidate_title: str | None = None


_SUPPORTERS = (select(func.count()).select_from(NeedSupport)
               .where(col(NeedSupport.need_id) == col(Need.id)).correlate(Need).scalar_subquery())


async def _lines(uow: UnitOfWork, rows: Any) -> list[NeedLine]:
    out = []
    for need, count in rows:
        merged = None
        if need.merged_into_id is not None:
            target = await uow.session.get(Need, need.merged_into_id)
            merged = target.number if target else None
        out.append(NeedLine(id=need.id or 0, number=need.number, year=need.year, category=need.category,
                            text=need.text, status=need.status, channel=need.channel, supporters=int(count or 0),
                            photo_file_id=need.photo_file_id, merged_into=merged, reject_reason=need.reject_reason,
                            candidate_title=need.candidate_title))
    return out


async def _paged(uow: UnitOfWork, where: list[Any], page: int, size: int, *, by_support: bool = False,
                 oldest_first: bool = False) -> Page[NeedLine]:
    total = (await uow.session.exec(select(func.count()).select_from(Need).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    if by_support:
        order = [_SUPPORTERS.desc(), col(Need.number)]
    elif oldest_first:
        order = [col(Need.number)]
    else:
        order = [col(Need.year).desc(), col(Need.number).desc()]
    rows = (await uow.session.exec(select(Need, _SUPPORTERS).where(*where).order_by(*order)
                                   .offset(offset).limit(size))).all()
    return Page(items=await _lines(uow, rows), page=page, pages=pages, total=total)


def _year_of(actor: Actor, now: datetime, year: int | None) -> int:
    return year if year is not None else local_year(_community(actor), now)


async def category_counts(uow: UnitOfWork, *, actor: Actor, now: datetime,
                          year: int | None = None) -> list[tuple[str, int]]:
    """Each category of the community with the number of needs residents can support."""
    me = _member(actor)
    rows = (await uow.session.exec(select(Need.category, func.count()).where(
        Need.community_id == me.community_id, Need.year == _year_of(actor, now, year),
        col(Need.status).in_(LISTED)).group_by(col(Need.category)))).all()
    counts = dict(rows)
    return [(c, int(counts.get(c, 0))) for c in categories(actor.community)]


def _member(actor: Actor) -> Member:
    if actor.member is None:
        raise NotRegistered()
    return actor.member


async def list_needs(uow: UnitOfWork, *, actor: Actor, category: str, now: datetime, page: int = 1, size: int = 5,
                     year: int | None = None) -> Page[NeedLine]:
    me = _member(actor)
    if category not in CATEGORIES:
        raise Invalid("category", "unknown")
    where = [Need.community_id == me.community_id, Need.year == _year_of(actor, now, year),
             Need.category == category, col(Need.status).in_(LISTED)]
    return await _paged(uow, where, page, size, by_support=True)


async def my_needs(uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 5) -> Page[NeedLine]:
    me = _member(actor)
    where = [Need.community_id == me.community_id, Need.author_member_id == me.id]
    return await _paged(uow, where, page, size)


async def review_list(uow: UnitOfWork, *, actor: Actor, now: datetime, page: int = 1, size: int = 5,
                      year: int | None = None) -> Page[NeedLine]:
    me = actor.require(Perm.NEEDS_REVIEW)
    where = [Need.community_id == me.community_id, Need.year == _year_of(actor, now, year), Need.status == "open"]
    return await _paged(uow, where, page, size, oldest_first=True)


async def _need(uow: UnitOfWork, community_id: int, need_id: int) -> Need:
    need = await uow.session.get(Need, need_id)
    if need is None or need.community_id != community_id:
        raise NotFound("need", need_id)
    return need


async def show(uow: UnitOfWork, *, actor: Actor, need_id: int) -> NeedLine:
    me = _member(actor)
    need = await _need(uow, me.community_id, need_id)
    count = (await uow.session.exec(select(func.count()).select_from(NeedSupport)
                                    .where(NeedSupport.need_id == need.id))).one()
    return (await _lines(uow, [(need, count)]))[0]


# ---------------------------------------------------------------- "+1 我也需要"


async def support(uow: UnitOfWork, *, actor: Actor, need_id: int, now: datetime) -> int:
    """Add the actor's "+1"; returns the supporter count. A second press raises AlreadyDone."""
    me = _member(actor)
    need = await _need(uow, me.community_id, need_id)
    if need.status not in LISTED:
        raise Invalid("need", "not_open")
    seen = (await uow.session.exec(select(NeedSupport.id).where(
        NeedSupport.need_id == need.id, NeedSupport.member_id == me.id))).first()
    if seen is not None:
        raise AlreadyDone("support")
    uow.session.add(NeedSupport(need_id=need.id or 0, member_id=me.id or 0, created_at=now))
    await uow.session.flush()
    return int((await uow.session.exec(select(func.count()).select_from(NeedSupport)
                                       .where(NeedSupport.need_id == need.id))).one())


# ---------------------------------------------------------------- review


async def _reviewable(uow: UnitOfWork, actor: Actor, need_id: int) -> tuple[Member, Need]:
    me = actor.require(Perm.NEEDS_REVIEW)
    need = await _need(uow, me.community_id, need_id)
    if need.status != "open":
        raise Invalid("need", "not_open")
    return me, need


async def _tell_author(uow: UnitOfWork, need: Need, notice: str, now: datetime, community: Community,
                       **params: Any) -> None:
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == need.author_member_id))).first()
    if row is None:
        return
    user = row[1]
    outbox.notify(uow, tg_chat_id=user.tg_id, notice=notice, lang=user.language or community.locale, now=now,
                  community_id=need.community_id, recipient_user_id=user.id,
                  dedupe_key=f"{notice}:{need.id}", number=need.number, **params)


async def merge(uow: UnitOfWork, *, actor: Actor, need_id: int, into_number: int, now: datetime) -> Need:
    """Merge a need into another of the same year; its author and supporters support the other one."""
    me, need = await _reviewable(uow, actor, need_id)
    target = (await uow.session.exec(select(Need).where(
        Need.community_id == me.community_id, Need.year == need.year, Need.number == into_number))).first()
    if target is None:
        raise NotFound("need_number", into_number)
    if target.id == need.id:
        raise Invalid("merge", "same")
    if target.status not in LISTED:
        raise Invalid("merge", "target_not_open", number=into_number)
    have = set((await uow.session.exec(select(NeedSupport.member_id).where(NeedSupport.need_id == target.id))).all())
    movers = set((await uow.session.exec(select(NeedSupport.member_id).where(NeedSupport.need_id == need.id))).all())
    movers.add(need.author_member_id)
    movers.discard(target.author_member_id)
    for member_id in sorted(movers - have):
        uow.session.add(NeedSupport(need_id=target.id or 0, member_id=member_id, created_at=now))
    need.status, need.merged_into_id, need.updated_at = "merged", target.id, now
    uow.session.add(need)
    await uow.session.flush()
    audit.record(uow, action="need.merge", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need", subject_id=need.id, number=need.number, into=target.number,
                 carried=len(movers - have))
    await _tell_author(uow, need, "need_merged", now, _community(actor), into=target.number)
    return need


async def reject(uow: UnitOfWork, *, actor: Actor, need_id: int, reason: str, now: datetime) -> Need:
    me, need = await _reviewable(uow, actor, need_id)
    why = clean("reason", reason)
    need.status, need.reject_reason, need.updated_at = "rejected", why, now
    uow.session.add(need)
    audit.record(uow, action="need.reject", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need", subject_id=need.id, number=need.number, reason=why)
    await _tell_author(uow, need, "need_rejected", now, _community(actor), reason=why)
    return need


async def promote(uow: UnitOfWork, *, actor: Actor, need_id: int, title: str, now: datetime,
                  category: str | None = None) -> Need:
    """Make a need a candidate project with a short title (and, if given, another category)."""
    me, need = await _reviewable(uow, actor, need_id)
    name = clean("title", title)
    if category is not None:
        if category not in categories(actor.community):
            raise Invalid("category", "unknown")
        need.category = category
    need.status, need.candidate_title, need.updated_at = "candidate", name, now
    uow.session.add(need)
    audit.record(uow, action="need.promote", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need", subject_id=need.id, number=need.number, title=name, category=need.category)
    await _tell_author(uow, need, "need_candidate", now, _community(actor), title=name)
    return need
