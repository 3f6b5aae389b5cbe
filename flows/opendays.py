"""Open days (实事开放日, F-4): residents visit a project as experience officers (居民体验官).

An admin (Perm.PROJECTS) announces an open day for a project — a local time that is not in the
past and a place — and it is posted to every group of the community with a sign-up button.
Residents sign up once (and may cancel); the scheduler (`due`) reminds them the day before and,
after the open day, asks for their feedback (1–5 stars and a comment) in private. Admins list the
sign-ups: the count, and the names in private only."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from flows import audit, outbox
from flows.clock import local
from flows.errors import AlreadyDone, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Chat, Community, Member, OpenDay, OpenDaySignup, Project, User

MAX_PLACE = 60
MAX_FEEDBACK = 300
STARS = range(1, 6)
REMIND_BEFORE = timedelta(days=1)  # the reminder goes out from a day before the start
ASK_AFTER = timedelta(hours=3)  # the feedback prompt, once the visit is over
ASK_UNTIL = timedelta(days=7)  # not later than that (a scheduler that was down skips old open days)
PRESENT = ("member", "administrator")
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class OpenDayView:
    day: OpenDay
    project: Project
    signups: int


@dataclass(frozen=True)
class Due:
    reminders: int = 0
    prompts: int = 0




# ---------------------------------------------------------------- input


def parse_start(text: str, *, timezone: str, now: datetime) -> datetime:
    """'2027-06-01 09:30' in the community's local time → aware UTC; not in the past."""
    value = " ".join((text or "").split())
    try:
        naive = datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise Invalid("starts_at", "format") from None
    at = naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    if at <= now:
        raise Invalid("starts_at", "past")
    return at


def clean_place(text: str | None) -> str:
    value = "".join(c for c in (text or "") if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    value = " ".join(value.split())
    if not value:
        raise Invalid("place", "empty")
    if len(value) > MAX_PLACE:
        raise Invalid("place", "too_long", limit=MAX_PLACE)
    return value


def clean_feedback(text: str | None) -> str | None:
    value = " ".join("".join(c for c in (text or "") if unicodedata.category(c) not in ("Cc", "Cf", "Cs")).split())
    if not value:
        return None
    if len(value) > MAX_FEEDBACK:
        raise Invalid("feedback", "too_long", limit=MAX_FEEDBACK)
    return value


# ---------------------------------------------------------------- announcing (admins)


async def projects(uow: UnitOfWork, *, actor: Actor) -> list[Project]:
    """The community's projects an open day can be for (the latest year first, by number)."""
    me = actor.require(Perm.PROJECTS)
    return list((await uow.session.exec(select(Project).where(Project.community_id == me.community_id)
                                        .order_by(col(Project.year).desc(), col(Project.number)).limit(30))).all())


async def _project(uow: UnitOfWork, community_id: int, project_id: int) -> Project:
    project = await uow.session.get(Project, project_id)
    if project is None or project.community_id != community_id:
        raise NotFound("project", project_id)
    return project


async def check_project(uow: UnitOfWork, *, actor: Actor, project_id: int) -> Project:
    me = actor.require(Perm.PROJECTS)
    return await _project(uow, me.community_id, project_id)


async def _groups(uow: UnitOfWork, community_id: int) -> list[Chat]:
    return list((await uow.session.exec(select(Chat).where(
        Chat.community_id == community_id, col(Chat.purpose).is_not(None),
        col(Chat.bot_status).in_(PRESENT)).order_by(col(Chat.id)))).all())


async def announce(uow: UnitOfWork, *, actor: Actor, project_id: int, starts_at: datetime, place: str,
                   now: datetime) -> tuple[OpenDay, int]:
    """Create the open day and post it to every group of the community; returns it and the groups told."""
    me = actor.require(Perm.PROJECTS)
    community = actor.home()
    project = await _project(uow, me.community_id, project_id)
    if starts_at <= now:
        raise Invalid("starts_at", "past")
    where = clean_place(place)
    day = OpenDay(community_id=me.community_id, project_id=project.id or 0, starts_at=starts_at, place=where,
                  created_by_member_id=me.id or 0, created_at=now)
    uow.session.add(day)
    await uow.session.flush()
    audit.record(uow, action="openday.announce", now=now, community_id=me.community_id, actor_user_id=me.user_id,
                 subject_type="open_day", subject_id=day.id, project_id=project.id)
    groups = await _groups(uow, me.community_id)
    for chat in groups:
        outbox.notify(uow, tg_chat_id=chat.tg_chat_id, lang=community.locale, now=now,
                      community_id=me.community_id, dedupe_key=f"openday:{day.id}:{chat.tg_chat_id}",
                      notice=OpenDayAnnounce(**_params(day, project, community)))
    return day, len(groups)


def _params(day: OpenDay, project: Project, community: Community) -> dict[str, Any]:
    return {"open_day_id": day.id, "number": project.number, "title": project.title, "place": day.place,
            "starts": local(day.starts_at, community.timezone).strftime(TIME_FORMAT)}


# ---------------------------------------------------------------- notices (rendered in bot/handlers/opendays.py)

@dataclass(frozen=True)
class OpenDayAnnounce(Notice, kind="openday_announce"):
    open_day_id: int
    number: int
    title: str
    place: str
    starts: str


@dataclass(frozen=True)
class OpenDayRemind(OpenDayAnnounce, kind="openday_remind"):
    pass


@dataclass(frozen=True)
class OpenDayFeedback(OpenDayAnnounce, kind="openday_feedback"):
    pass


async def upcoming(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[OpenDayView]:
    """The community's open days that have not ended long ago (for the admin's list), soonest first."""
    me = actor.require(Perm.PROJECTS)
    rows = (await uow.session.exec(
        select(OpenDay, Project).join(Project, col(Project.id) == col(OpenDay.project_id))
        .where(OpenDay.community_id == me.community_id, col(OpenDay.cancelled_at).is_(None),
               col(OpenDay.starts_at) >= now - ASK_UNTIL)
        .order_by(col(OpenDay.starts_at)).limit(20))).all()
    counts = await _counts(uow, [d.id or 0 for d, _ in rows])
    return [OpenDayView(day=d, project=p, signups=counts.get(d.id or 0, 0)) for d, p in rows]


async def _counts(uow: UnitOfWork, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict((await uow.session.exec(
        select(OpenDaySignup.open_day_id, func.count()).where(col(OpenDaySignup.open_day_id).in_(ids))
        .group_by(col(OpenDaySignup.open_day_id)))).all())


async def signups(uow: UnitOfWork, *, actor: Actor, open_day_id: int) -> tuple[OpenDayView, list[str]]:
    """An open day and the names of its experience officers, in sign-up order (for the admin, in private)."""
    me = actor.require(Perm.PROJECTS)
    day = await _day(uow, open_day_id, me.community_id)
    project = await _project(uow, me.community_id, day.project_id)
    names = [" ".join(p for p in (u.first_name, u.last_name) if p) for u in (await uow.session.exec(
        select(User).join(Member, col(Member.user_id) == col(User.id))
        .join(OpenDaySignup, col(OpenDaySignup.member_id) == col(Member.id))
        .where(OpenDaySignup.open_day_id == day.id).order_by(col(OpenDaySignup.id)))).all()]
    return OpenDayView(day=day, project=project, signups=len(names)), names


# ---------------------------------------------------------------- residents


async def _day(uow: UnitOfWork, open_day_id: int, community_id: int) -> OpenDay:
    day = await uow.session.get(OpenDay, open_day_id)
    if day is None or day.community_id != community_id:
        raise NotFound("open_day", open_day_id)
    return day


async def count(uow: UnitOfWork, open_day_id: int) -> int:
    return (await _counts(uow, [open_day_id])).get(open_day_id, 0)


async def sign_up(uow: UnitOfWork, *, actor: Actor, open_day_id: int, now: datetime) -> int:
    """Sign up as an experience officer; returns the count. Twice → AlreadyDone("signup")."""
    me = actor.registered()
    day = await _day(uow, open_day_id, me.community_id)
    if day.cancelled_at is not None:
        raise Invalid("open_day", "cancelled")
    if day.starts_at <= now:
        raise Invalid("open_day", "started")
    seen = (await uow.session.exec(select(OpenDaySignup.id).where(
        OpenDaySignup.open_day_id == day.id, OpenDaySignup.member_id == me.id))).first()
    if seen is not None:
        raise AlreadyDone("signup")
    uow.session.add(OpenDaySignup(open_day_id=day.id or 0, member_id=me.id or 0, created_at=now))
    await uow.session.flush()
    return await count(uow, day.id or 0)


async def _signup(uow: UnitOfWork, day: OpenDay, member: Member) -> OpenDaySignup:
    row = (await uow.session.exec(select(OpenDaySignup).where(
        OpenDaySignup.open_day_id == day.id, OpenDaySignup.member_id == member.id))).first()
    if row is None:
        raise NotFound("signup", day.id)
    return row


async def cancel(uow: UnitOfWork, *, actor: Actor, open_day_id: int, now: datetime) -> int:
    """Withdraw one's sign-up (before the start); returns the count."""
    me = actor.registered()
    day = await _day(uow, open_day_id, me.community_id)
    if day.starts_at <= now:
        raise Invalid("open_day", "started")
    await uow.session.delete(await _signup(uow, day, me))
    await uow.session.flush()
    return await count(uow, day.id or 0)


async def feedback(uow: UnitOfWork, *, actor: Actor, open_day_id: int, now: datetime, stars: int | None = None,
                   text: str | None = None) -> OpenDaySignup:
    """An experience officer's feedback after the open day: stars (1–5) and/or a comment (changeable)."""
    me = actor.registered()
    if stars is not None and stars not in STARS:
        raise Invalid("stars", "range")
    comment = clean_feedback(text) if text is not None else None
    if text is not None and comment is None:
        raise Invalid("feedback", "empty")
    day = await _day(uow, open_day_id, me.community_id)
    if day.starts_at > now:
        raise Invalid("open_day", "not_yet")
    row = await _signup(uow, day, me)
    if stars is not None:
        row.stars = stars
    if comment is not None:
        row.feedback = comment
    await uow.session.flush()
    return row


async def title_of(uow: UnitOfWork, *, actor: Actor, open_day_id: int) -> tuple[OpenDay, Project]:
    me = actor.registered()
    day = await _day(uow, open_day_id, me.community_id)
    return day, await _project(uow, me.community_id, day.project_id)


# ---------------------------------------------------------------- the scheduler


async def due(uow: UnitOfWork, *, now: datetime) -> Due:
    """Reminders the day before and feedback prompts after the open day, each once per sign-up."""
    rows = (await uow.session.exec(
        select(OpenDaySignup, OpenDay, Project, Community, User)
        .join(OpenDay, col(OpenDay.id) == col(OpenDaySignup.open_day_id))
        .join(Project, col(Project.id) == col(OpenDay.project_id))
        .join(Community, col(Community.id) == col(OpenDay.community_id))
        .join(Member, col(Member.id) == col(OpenDaySignup.member_id))
        .join(User, col(User.id) == col(Member.user_id))
        .where(col(OpenDay.cancelled_at).is_(None),
               ((col(OpenDaySignup.reminded_at).is_(None)) & (col(OpenDay.starts_at) > now)
                & (col(OpenDay.starts_at) <= now + REMIND_BEFORE))
               | ((col(OpenDaySignup.asked_at).is_(None)) & (col(OpenDay.starts_at) <= now - ASK_AFTER)
                  & (col(OpenDay.starts_at) > now - ASK_UNTIL)))
        .order_by(col(OpenDaySignup.id)).limit(500))).all()
    reminders = prompts = 0
    for signup, day, project, community, user in rows:
        params = _params(day, project, community)
        lang = user.language or community.locale
        if day.starts_at > now:
            outbox.notify(uow, tg_chat_id=user.tg_id, lang=lang, now=now,
                          community_id=community.id, recipient_user_id=user.id,
                          dedupe_key=f"openday_remind:{signup.id}", notice=OpenDayRemind(**params))
            signup.reminded_at = now
            reminders += 1
        else:
            outbox.notify(uow, tg_chat_id=user.tg_id, lang=lang, now=now,
                          community_id=community.id, recipient_user_id=user.id,
                          dedupe_key=f"openday_feedback:{signup.id}", notice=OpenDayFeedback(**params))
            signup.asked_at = now
            prompts += 1
    await uow.session.flush()
    return Due(reminders=reminders, prompts=prompts)
