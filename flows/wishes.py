"""Micro-wishes (微心愿, F-9.2): a resident's small wish, fulfilled by a volunteer or a unit.

A resident posts their own (`post`), or a grid worker posts one for a resident (网格员代为发布, Perm.WISHES), with
an optional photo and a due date (`DUE_DAYS` choices). It is shown in the community's groups and its building's
group — its number, text, photo and building, never the person's name — within the quiet-group budget
(flows/digest.py), with a deep link to claim it in private.

`claim` is ONE conditional UPDATE (`… WHERE id = ? AND state = 'open'`): of two presses at once exactly one
changes the row; the other gets AlreadyDone("wish") with the kind of claimer it lost to (`Taken`), never a name.
The scheduler's `due` reminds the claimer once, the day before the due date at 09:00 local (compare-and-set on
`reminded_at`, so a restart or a second process never sends it twice). The claimer marks it fulfilled with a
photo or a note; the resident (or the grid worker who posted it) thanks — or says it did not happen, and the wish
is open again and shown anew. `stats` counts a year's wishes per month (posted, claimed, fulfilled, thanked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import audit, membership, micro, outbox
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.numbering import next_number
from flows.paging import Page, clamp
from flows.roles import Org, Perm, Role
from storage.db import UnitOfWork
from storage.models import Building, Community, Member, RoleGrant, User
from storage.models_micro import Wish

TEXT_MAX, NOTE_MAX = 200, 200
DUE_DAYS = (3, 7, 14)
#: The reminder: the day before the due date, at this local time.
REMIND_AT = time(9, 0)
OPEN, CLAIMED, FULFILLED, THANKED = "open", "claimed", "fulfilled", "thanked"


@dataclass(frozen=True)
class WishPosted(Notice, kind="wish_posted"):
    """A wish as the groups see it: no name."""

    number: int
    community: str
    text: str
    building: str
    due: str
    photo: str | None = None
    again: bool = False  # shown again after the resident said it did not happen


@dataclass(frozen=True)
class WishClaimed(Notice, kind="wish_claimed"):
    number: int
    text: str
    by: str  # volunteer | unit
    name: str  # the claimer's display name (they chose to claim it)


@dataclass(frozen=True)
class WishReminder(Notice, kind="wish_reminder"):
    number: int
    text: str
    due: str


@dataclass(frozen=True)
class WishFulfilled(Notice, kind="wish_fulfilled"):
    number: int
    text: str
    note: str
    photo: str | None = None


@dataclass(frozen=True)
class WishAnswered(Notice, kind="wish_answered"):
    """To the claimer: thanked (True) or the resident says it did not happen (False)."""

    number: int
    text: str
    thanked: bool


@dataclass(frozen=True)
class WishReleased(Notice, kind="wish_released"):
    """To the resident: the claimer may no longer claim (their role ended); the wish is open again."""

    number: int
    text: str


class Taken(AlreadyDone):
    """The wish was claimed by someone else a moment before: `by` says what kind (volunteer | unit)."""

    def __init__(self, by: str | None) -> None:
        super().__init__("wish")
        self.by = by or micro.VOLUNTEER


def check_text(text: str, *, limit: int = TEXT_MAX, field: str = "text") -> str:
    value = " ".join((text or "").split())
    if not value:
        raise Invalid(field, "empty")
    if len(value) > limit:
        raise Invalid(field, "too_long", limit=limit, length=len(value))
    return value


def due_at(community: Community, *, now: datetime, days: int) -> datetime:
    """The end of the local day `days` from today."""
    if days not in DUE_DAYS:
        raise Invalid("due", "unknown")
    day = local(now, community.timezone).date() + timedelta(days=days + 1)
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(community.timezone)).astimezone(ZoneInfo("UTC"))


def due_day(community: Community, at: datetime) -> date:
    return (local(at, community.timezone) - timedelta(seconds=1)).date()


def remind_at(community: Community, wish: Wish) -> datetime:
    day = due_day(community, wish.due_at) - timedelta(days=1)
    return datetime.combine(day, REMIND_AT, tzinfo=ZoneInfo(community.timezone)).astimezone(ZoneInfo("UTC"))


async def _label(uow: UnitOfWork, building_id: int | None) -> str:
    b = await uow.session.get(Building, building_id) if building_id else None
    return b.label if b else ""


async def _group_notice(uow: UnitOfWork, community: Community, w: Wish, *, again: bool = False) -> WishPosted:
    return WishPosted(number=w.number, community=community.name, text=w.text, building=await _label(uow, w.building_id),
                      due=f"{due_day(community, w.due_at)}", photo=w.photo, again=again)


async def post(uow: UnitOfWork, *, actor: Actor, text: str, photo: str | None, days: int, now: datetime,
               for_member_id: int | None = None) -> Wish:
    """A resident's own wish, or (with `for_member_id`, Perm.WISHES) one a grid worker posts for them."""
    me = actor.registered()
    community = actor.home()
    text = check_text(text)
    building_id = me.building_id
    if for_member_id is not None:
        me = actor.require(Perm.WISHES)
        row = await membership.person(uow, member_id=for_member_id)
        if row is None or row[0].community_id != me.community_id:
            raise NotFound("member", for_member_id)
        building_id = row[0].building_id
    number = await next_number(uow, community_id=community.id or 0, number=Wish.number,
                               community_column=Wish.community_id)
    w = Wish(community_id=community.id or 0, number=number, building_id=building_id,
             for_member_id=for_member_id if for_member_id is not None else me.id, posted_by_member_id=me.id or 0,
             text=text, photo=photo, due_at=due_at(community, now=now, days=days), created_at=now)
    uow.session.add(w)
    await uow.session.flush()
    audit.record(uow, action="wish.post", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="wish", subject_id=w.id, number=w.number, proxy=for_member_id is not None)
    await micro.show(uow, community=community, building_id=building_id, notice=await _group_notice(uow, community, w),
                     key=f"wish:{w.id}:0", now=now)
    return w


async def get(uow: UnitOfWork, *, actor: Actor, number: int) -> Wish:
    me = actor.registered()
    w = (await uow.session.exec(select(Wish).where(Wish.community_id == me.community_id,
                                                   Wish.number == number))).first()
    if w is None:
        raise NotFound("wish", number)
    return w


async def _tell(uow: UnitOfWork, community: Community, member_id: int | None, notice: Notice, now: datetime,
                key: str | None = None) -> None:
    row = await membership.person(uow, member_id=member_id) if member_id is not None else None
    if row is None:
        return
    user: User = row[1]
    outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                  community_id=community.id, recipient_user_id=user.id, notice=notice, dedupe_key=key)


def _asker(w: Wish) -> int:
    """Who thanks (or says it did not happen): the resident, else the grid worker who posted it."""
    return w.for_member_id if w.for_member_id is not None else w.posted_by_member_id


async def claim(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Wish:
    """One press, one conditional UPDATE: the first press wins, the others get `Taken`."""
    kind = await micro.claimer_kind(uow, actor=actor)
    me = actor.registered()
    w = await get(uow, actor=actor, number=number)
    if me.id in (w.for_member_id, w.posted_by_member_id):
        raise Forbidden("wish:own")
    result = await uow.session.execute(
        update(Wish).where(col(Wish.id) == w.id, col(Wish.state) == OPEN)
        .values(state=CLAIMED, claimer_member_id=me.id, claimer_kind=kind, claimed_at=now, reminded_at=None)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        await uow.session.refresh(w)
        if w.claimer_member_id == me.id and w.state == CLAIMED:
            raise AlreadyDone("wish:mine")
        raise Taken(w.claimer_kind)
    await uow.session.refresh(w)
    community = actor.home()
    audit.record(uow, action="wish.claim", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="wish", subject_id=w.id, by=kind)
    await _tell(uow, community, _asker(w), WishClaimed(number=w.number, text=w.text, by=kind, name=me.display_name),
                now)
    return w


async def fulfil(uow: UnitOfWork, *, actor: Actor, number: int, note: str, photo: str | None, now: datetime) -> Wish:
    """The claimer marks it fulfilled, with a photo or a note; the resident is asked to thank."""
    me = actor.registered()
    w = await get(uow, actor=actor, number=number)
    if w.claimer_member_id != me.id:
        raise Forbidden("wish:claimer")
    note = check_text(note, limit=NOTE_MAX, field="note") if note.strip() or photo is None else ""
    result = await uow.session.execute(
        update(Wish).where(col(Wish.id) == w.id, col(Wish.state) == CLAIMED, col(Wish.claimer_member_id) == me.id)
        .values(state=FULFILLED, fulfilled_at=now, fulfil_note=note or None, fulfil_photo=photo)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("wish")
    await uow.session.refresh(w)
    community = actor.home()
    audit.record(uow, action="wish.fulfil", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="wish", subject_id=w.id)
    await _tell(uow, community, _asker(w), WishFulfilled(number=w.number, text=w.text, note=note, photo=photo), now)
    return w


async def answer(uow: UnitOfWork, *, actor: Actor, number: int, thanked: bool, now: datetime) -> Wish:
    """The resident thanks (→ thanked) or says it did not happen (→ open again, shown anew)."""
    me = actor.registered()
    w = await get(uow, actor=actor, number=number)
    if me.id != _asker(w):
        raise Forbidden("wish:asker")
    claimer = w.claimer_member_id
    values: dict[str, object] = ({"state": THANKED, "thanked_at": now} if thanked else
                                 {"state": OPEN, "claimer_member_id": None, "claimer_kind": None, "claimed_at": None,
                                  "fulfilled_at": None, "reminded_at": None, "reopened": w.reopened + 1})
    result = await uow.session.execute(
        update(Wish).where(col(Wish.id) == w.id, col(Wish.state) == FULFILLED).values(**values)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("wish")
    await uow.session.refresh(w)
    community = actor.home()
    audit.record(uow, action="wish.thank" if thanked else "wish.reopen", now=now, community_id=community.id,
                 actor_user_id=actor.user.id, subject_type="wish", subject_id=w.id)
    await _tell(uow, community, claimer, WishAnswered(number=w.number, text=w.text, thanked=thanked), now)
    if not thanked:
        await micro.show(uow, community=community, building_id=w.building_id,
                         notice=await _group_notice(uow, community, w, again=True), key=f"wish:{w.id}:{w.reopened}",
                         now=now)
    return w


async def release(uow: UnitOfWork, *, community: Community, member_id: int, now: datetime) -> list[int]:
    """When a claimer is no longer a volunteer nor a unit (a role revoked), the wishes they claimed and did not
    fulfil are open again — shown anew, the resident told, no reminder to them. Returns the numbers."""
    grants = (await uow.session.exec(select(RoleGrant.role, RoleGrant.organisation).where(
        RoleGrant.member_id == member_id, col(RoleGrant.revoked_at).is_(None)))).all()
    if any(role == Role.VOLUNTEER.value or org == Org.UNIT.value for role, org in grants):
        return []
    rows = (await uow.session.exec(select(Wish).where(Wish.community_id == community.id, Wish.state == CLAIMED,
                                                      Wish.claimer_member_id == member_id))).all()
    released: list[int] = []
    for w in rows:
        took = await uow.session.execute(
            update(Wish).where(col(Wish.id) == w.id, col(Wish.state) == CLAIMED, col(Wish.claimer_member_id) == member_id)
            .values(state=OPEN, claimer_member_id=None, claimer_kind=None, claimed_at=None, reminded_at=None,
                    reopened=w.reopened + 1).execution_options(synchronize_session=False))
        if not took.rowcount:  # type: ignore[attr-defined]
            continue
        await uow.session.refresh(w)
        released.append(w.number)
        audit.record(uow, action="wish.release", now=now, community_id=community.id, subject_type="wish",
                     subject_id=w.id, member=member_id)
        await _tell(uow, community, _asker(w), WishReleased(number=w.number, text=w.text), now)
        await micro.show(uow, community=community, building_id=w.building_id,
                         notice=await _group_notice(uow, community, w, again=True), key=f"wish:{w.id}:{w.reopened}",
                         now=now)
    return released


async def open_wishes(uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 8) -> Page[Wish]:
    me = actor.registered()
    where = (Wish.community_id == me.community_id, Wish.state == OPEN)
    total = (await uow.session.exec(select(func.count()).select_from(Wish).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(select(Wish).where(*where).order_by(col(Wish.number)).offset(offset)
                                   .limit(size))).all()
    return Page(items=list(rows), page=page, pages=pages, total=total)


async def mine(uow: UnitOfWork, *, actor: Actor, limit: int = 20) -> list[Wish]:
    """The wishes the actor posted, is the resident of, or claimed (newest first)."""
    me = actor.registered()
    return list((await uow.session.exec(select(Wish).where(
        Wish.community_id == me.community_id,
        (col(Wish.for_member_id) == me.id) | (col(Wish.posted_by_member_id) == me.id)
        | (col(Wish.claimer_member_id) == me.id)).order_by(col(Wish.number).desc()).limit(limit))).all())


async def due(uow: UnitOfWork, *, now: datetime) -> int:
    """Remind the claimers of wishes due tomorrow (once each: compare-and-set on `reminded_at`)."""
    rows = (await uow.session.exec(select(Wish, Community).join(Community, col(Community.id) == col(Wish.community_id))
                                   .where(Wish.state == CLAIMED, col(Wish.reminded_at).is_(None),
                                          col(Wish.due_at) > now))).all()
    sent = 0
    for w, community in rows:
        if remind_at(community, w) > now:
            continue
        took = await uow.session.execute(
            update(Wish).where(col(Wish.id) == w.id, col(Wish.state) == CLAIMED, col(Wish.reminded_at).is_(None),
                               col(Wish.claimer_member_id) == w.claimer_member_id)
            .values(reminded_at=now).execution_options(synchronize_session=False))
        if not took.rowcount:  # type: ignore[attr-defined]
            continue
        await _tell(uow, community, w.claimer_member_id,
                    WishReminder(number=w.number, text=w.text, due=f"{due_day(community, w.due_at)}"), now)
        sent += 1
    return sent


@dataclass(frozen=True)
class Month:
    month: int
    posted: int
    claimed: int
    fulfilled: int
    thanked: int


async def stats(uow: UnitOfWork, *, actor: Actor, year: int) -> list[Month]:
    """A year's wishes per month (local months): posted, claimed, fulfilled, thanked (Perm.WISHES) — each wish
    counted once per stage, in the month it (last) reached it (a reopened wish's first claim is not counted twice)."""
    me = actor.require(Perm.WISHES)
    community = actor.home()
    rows = (await uow.session.exec(select(Wish).where(Wish.community_id == me.community_id))).all()
    counts = {m: [0, 0, 0, 0] for m in range(1, 13)}
    for w in rows:
        for i, at in enumerate((w.created_at, w.claimed_at, w.fulfilled_at, w.thanked_at)):
            if at is not None:
                here = local(at, community.timezone)
                if here.year == year:
                    counts[here.month][i] += 1
    return [Month(m, *c) for m, c in counts.items()]


async def member_name(uow: UnitOfWork, member_id: int | None) -> str:
    m = await uow.session.get(Member, member_id) if member_id else None
    return m.display_name if m else ""
