"""The needs list (需求清单, F-1): the collection period, submitting, browsing, "+1", review.

Residents submit and support needs without any permission; grid workers (and admins) enter
needs on a resident's behalf (Perm.NEEDS_ENTER); admins open and close the collection and
review needs (Perm.NEEDS_REVIEW): merge, reject with a reason, promote to a candidate project;
they also edit the community's categories. While the collection is open, `remind` (called by the
scheduler) reminds the linked groups weekly and with a last call before the closing day (flows/needs_reminders.py).
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
from flows.errors import AlreadyDone, Invalid, LimitReached, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.paging import Page, clamp
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Chat, Community, Member, Need, NeedPeriod, NeedSupport, User

#: Stable codes of the ten default categories (names are translated in bot/).
CATEGORIES = ("env", "facility", "elderly", "culture", "safety", "traffic", "green", "convenience", "child",
              "property")
OWN = "x:"  # a community's own category is stored (and filed on its needs) as "x:<name>"
MAX_IN_USE = 16  # categories residents choose from at once
MAX_OWN = 16  # own categories a community may add (they are switched off, never deleted)
CHANNELS = ("chat", "door_visit", "meeting", "rep_meeting")
STATUSES = ("open", "merged", "rejected", "candidate")
LIMITS = {"text": 500, "reason": 200, "title": 30, "category": 12}
VOICE_SECONDS = 300  # a need told by voice: at most five minutes
PER_MEMBER = 10  # needs one member may submit themselves per collection (LINLI_NEEDS_PER_MEMBER)
LISTED = ("open", "candidate")  # what residents browse and support


# ---------------------------------------------------------------- notices (worded in bot/handlers/needs_notices.py)


@dataclass(frozen=True)
class NeedsOpened(Notice, kind="needs_open"):
    """To every linked group: this year's collection is open (until `closes_on`, ISO, if set)."""

    year: int
    community: str
    closes_on: str | None


# To a need's author; `channel` says how it was raised ("door_visit": a grid worker entered it for them).


@dataclass(frozen=True)
class NeedMerged(Notice, kind="need_merged"):
    number: int
    into: int
    own: bool  # merged into another need of the same author
    channel: str = "chat"


@dataclass(frozen=True)
class NeedRejected(Notice, kind="need_rejected"):
    number: int
    reason: str
    channel: str = "chat"


@dataclass(frozen=True)
class NeedCandidate(Notice, kind="need_candidate"):
    number: int
    title: str
    channel: str = "chat"


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


# ---------------------------------------------------------------- categories


def is_own(code: str) -> bool:
    """A well-formed own category code ("x:" and a cleaned name of 1–12 characters)."""
    if not code.startswith(OWN):
        return False
    name = code[len(OWN):]
    try:
        return clean("category", name) == name
    except Invalid:
        return False


def category_states(community: Community | None) -> list[tuple[str, bool]]:
    """Every category of the community — the ten defaults, then its own in the order they were added —
    with whether it is in use. Stored in Community.settings["need_categories"]: the codes in use, and
    "-code" for a category switched off (a default that is not listed is off). Without a list, or
    with none in use, the ten defaults are in use."""
    stored = (community.settings or {}).get("need_categories") if community is not None else None
    if not isinstance(stored, list):
        return [(c, True) for c in CATEGORIES]
    own: list[str] = []
    on: set[str] = set()
    for item in stored:
        if not isinstance(item, str):
            continue
        off = item.startswith("-")
        code = item[1:] if off else item
        if code not in CATEGORIES:
            if not is_own(code) or code in own:
                continue
            own.append(code)
        if not off:
            on.add(code)
    if not on:
        on = set(CATEGORIES)
    return [(c, c in on) for c in (*CATEGORIES, *own)]


def categories(community: Community | None) -> tuple[str, ...]:
    """The categories in use: what residents choose from when they submit a need."""
    return tuple(c for c, on in category_states(community) if on)


def all_categories(community: Community | None) -> tuple[str, ...]:
    """Every category, in use or switched off (needs filed under one keep showing there)."""
    return tuple(c for c, _ in category_states(community))


async def _editable(uow: UnitOfWork, actor: Actor) -> tuple[Member, Community]:
    me = actor.require(Perm.NEEDS_REVIEW)
    community = await uow.session.get(Community, me.community_id)
    if community is None:
        raise NotFound("community", me.community_id)
    return me, community


def _store(community: Community, codes: list[str], on: set[str]) -> None:
    # a new dict, so SQLAlchemy sees the JSON column change
    community.settings = {**(community.settings or {}),
                          "need_categories": [c if c in on else f"-{c}" for c in codes]}


async def set_category(uow: UnitOfWork, *, actor: Actor, code: str, active: bool, now: datetime) -> Community:
    """Switch a category on or off (admins). At least one stays in use, at most MAX_IN_USE are;
    needs already filed under a category switched off stay there and can still be browsed."""
    me, community = await _editable(uow, actor)
    states = category_states(community)
    codes = [c for c, _ in states]
    on = {c for c, used in states if used}
    if code not in codes:
        raise Invalid("category", "unknown")
    if active == (code in on):
        return community
    if active and len(on) >= MAX_IN_USE:
        raise Invalid("categories", "too_many", limit=MAX_IN_USE)
    if not active and len(on) == 1:
        raise Invalid("categories", "last")
    if active:
        on.add(code)
    else:
        on.discard(code)
    _store(community, codes, on)
    uow.session.add(community)
    audit.record(uow, action="needs.category", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="community", subject_id=me.community_id, code=code, active=active)
    return community


async def add_category(uow: UnitOfWork, *, actor: Actor, name: str, now: datetime) -> str:
    """Add an own category (in use at once); returns its code. Names are unique ignoring case."""
    me, community = await _editable(uow, actor)
    label = clean("category", name)
    code = OWN + label
    states = category_states(community)
    codes = [c for c, _ in states]
    on = {c for c, used in states if used}
    if any(c.casefold() == code.casefold() for c in codes):
        raise Invalid("category", "duplicate", name=label)
    if sum(1 for c in codes if c not in CATEGORIES) >= MAX_OWN:
        raise Invalid("categories", "too_many_own", limit=MAX_OWN)
    if len(on) >= MAX_IN_USE:
        raise Invalid("categories", "too_many", limit=MAX_IN_USE)
    _store(community, [*codes, code], on | {code})
    uow.session.add(community)
    audit.record(uow, action="needs.category_add", now=now, community_id=me.community_id,
                 actor_user_id=actor.user.id, subject_type="community", subject_id=me.community_id, code=code)
    return code


def local_year(community: Community, now: datetime) -> int:
    return local(now, community.timezone).year



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
    community = actor.home()
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
        outbox.notify(uow, tg_chat_id=chat.tg_chat_id, lang=community.locale, now=now, community_id=me.community_id,
                      dedupe_key=f"needs_open:{period.id}:{chat.tg_chat_id}:{int(now.timestamp())}",
                      notice=NeedsOpened(year=year, community=community.name,
                                         closes_on=closes_on.isoformat() if closes_on else None))
    return period


async def close_period(uow: UnitOfWork, *, actor: Actor, now: datetime) -> NeedPeriod:
    me = actor.require(Perm.NEEDS_REVIEW)
    community = actor.home()
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


async def check_allowance(uow: UnitOfWork, *, actor: Actor, now: datetime, per_member: int = PER_MEMBER) -> None:
    """LimitReached when the actor submitted `per_member` needs themselves in this collection (staff entries don't count)."""
    me = actor.registered()
    period = await current_period(uow, community=actor.home(), now=now)
    if period is None:
        return
    mine = (await uow.session.exec(select(func.count()).select_from(Need).where(
        Need.community_id == me.community_id, Need.year == period.year, Need.author_member_id == me.id,
        Need.channel == "chat"))).one()
    if mine >= per_member:
        raise LimitReached("needs", per_member)


async def submit(uow: UnitOfWork, *, actor: Actor, category: str, text: str, now: datetime,
                 photo_file_id: str | None = None, channel: str = "chat",
                 author_member_id: int | None = None, voice_file_id: str | None = None,
                 voice_seconds: int | None = None, per_member: int | None = None) -> Need:
    """Store a need with the next number of the year; the period must be open. A need told by voice
    (`voice_file_id`, 1–VOICE_SECONDS long) may come without text. At most `per_member` of one's own per
    collection (the bot passes LINLI_NEEDS_PER_MEMBER; None: no cap, for seeding demo data)."""
    if channel == "chat":
        me = actor.registered()
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
    community = actor.home()
    if category not in categories(community):
        raise Invalid("category", "unknown")
    if voice_file_id is not None:
        if not voice_file_id or len(voice_file_id) > 255 or not voice_seconds or voice_seconds < 1:
            raise Invalid("voice", "bad")
        if voice_seconds > VOICE_SECONDS:
            raise Invalid("voice", "too_long", limit=VOICE_SECONDS)
    body = clean("text", text) if text.strip() or voice_file_id is None else ""
    if photo_file_id is not None and (not photo_file_id or len(photo_file_id) > 255):
        raise Invalid("photo", "bad")
    period = await current_period(uow, community=community, now=now)
    if period is None:
        raise Invalid("period", "closed")
    # the next number is max + 1: two needs filed at the same moment wait for each other here (PostgreSQL; on
    # SQLite the write lock already orders them), so neither meets the other's number
    await uow.session.exec(select(NeedPeriod.id).where(NeedPeriod.id == period.id).with_for_update())
    if channel == "chat" and per_member is not None:  # counted after the lock: two at once from one member cannot both slip under the cap
        await check_allowance(uow, actor=actor, now=now, per_member=per_member)
    last = (await uow.session.exec(select(func.max(Need.number)).where(
        Need.community_id == me.community_id, Need.year == period.year))).one()
    need = Need(community_id=me.community_id, year=period.year, number=(last or 0) + 1, category=category,
                text=body, photo_file_id=photo_file_id, voice_file_id=voice_file_id,
                voice_seconds=voice_seconds if voice_file_id else None, channel=channel, author_member_id=author_id or 0,
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
    voice_file_id: str | None = None
    voice_seconds: int | None = None
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
                            candidate_title=need.candidate_title, voice_file_id=need.voice_file_id,
                            voice_seconds=need.voice_seconds))
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
    return year if year is not None else local_year(actor.home(), now)


async def category_counts(uow: UnitOfWork, *, actor: Actor, now: datetime,
                          year: int | None = None) -> list[tuple[str, int]]:
    """Each category in use with the number of needs residents can support, and any category
    switched off that still holds such needs."""
    me = actor.registered()
    rows = (await uow.session.exec(select(Need.category, func.count()).where(
        Need.community_id == me.community_id, Need.year == _year_of(actor, now, year),
        col(Need.status).in_(LISTED)).group_by(col(Need.category)))).all()
    counts = {c: int(n) for c, n in rows}
    return [(c, counts.get(c, 0)) for c, used in category_states(actor.community) if used or counts.get(c)]



async def list_needs(uow: UnitOfWork, *, actor: Actor, category: str, now: datetime, page: int = 1, size: int = 5,
                     year: int | None = None) -> Page[NeedLine]:
    me = actor.registered()
    if category not in all_categories(actor.community):
        raise Invalid("category", "unknown")
    where = [Need.community_id == me.community_id, Need.year == _year_of(actor, now, year),
             Need.category == category, col(Need.status).in_(LISTED)]
    return await _paged(uow, where, page, size, by_support=True)


async def my_needs(uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 5) -> Page[NeedLine]:
    me = actor.registered()
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
    me = actor.registered()
    need = await _need(uow, me.community_id, need_id)
    count = (await uow.session.exec(select(func.count()).select_from(NeedSupport)
                                    .where(NeedSupport.need_id == need.id))).one()
    return (await _lines(uow, [(need, count)]))[0]


# ---------------------------------------------------------------- "+1 我也需要"


async def support(uow: UnitOfWork, *, actor: Actor, need_id: int, now: datetime) -> int:
    """Add the actor's "+1"; returns the supporter count. A second press raises AlreadyDone."""
    me = actor.registered()
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


async def _tell_author(uow: UnitOfWork, need: Need, notice: Notice, now: datetime, community: Community) -> None:
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == need.author_member_id))).first()
    if row is None:
        return
    user = row[1]
    outbox.notify(uow, tg_chat_id=user.tg_id, notice=notice, lang=user.language or community.locale, now=now,
                  community_id=need.community_id, recipient_user_id=user.id, dedupe_key=f"{notice.kind}:{need.id}")


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
    await _tell_author(uow, need, NeedMerged(number=need.number, into=target.number, channel=need.channel,
                                             own=need.author_member_id == target.author_member_id), now, actor.home())
    return need


async def reject(uow: UnitOfWork, *, actor: Actor, need_id: int, reason: str, now: datetime) -> Need:
    me, need = await _reviewable(uow, actor, need_id)
    why = clean("reason", reason)
    need.status, need.reject_reason, need.updated_at = "rejected", why, now
    uow.session.add(need)
    audit.record(uow, action="need.reject", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need", subject_id=need.id, number=need.number, reason=why)
    await _tell_author(uow, need, NeedRejected(number=need.number, reason=why, channel=need.channel), now, actor.home())
    return need


async def promote(uow: UnitOfWork, *, actor: Actor, need_id: int, title: str, now: datetime,
                  category: str | None = None) -> Need:
    """Make a need a candidate project with a short title (and, if given, another category in use;
    its own category stays allowed even when switched off)."""
    me, need = await _reviewable(uow, actor, need_id)
    name = clean("title", title)
    if category is not None and category != need.category:
        if category not in categories(actor.community):
            raise Invalid("category", "unknown")
        need.category = category
    need.status, need.candidate_title, need.updated_at = "candidate", name, now
    uow.session.add(need)
    audit.record(uow, action="need.promote", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="need", subject_id=need.id, number=need.number, title=name, category=need.category)
    await _tell_author(uow, need, NeedCandidate(number=need.number, title=name, channel=need.channel), now,
                       actor.home())
    return need


# ---------------------------------------------------------------- reminders (F-1.5): flows/needs_reminders.py


async def remind(uow: UnitOfWork, *, now: datetime) -> int:
    """The groups' reminders while a collection is open (flows.needs_reminders.remind)."""
    from flows import needs_reminders  # it reads this module's periods

    return await needs_reminders.remind(uow, now=now)
