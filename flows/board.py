"""The projects board (实事进度公示栏, F-3): the year's projects with their computed colour, a project's
timeline, the monthly post to the groups and the committee's weekly and monthly digests.

Colours for many projects are computed in a fixed number of queries (projects, milestones, "after"
photos, and for a past moment the last report), never one query per project: a district's board
(100 communities × 10 projects) costs the same few round trips as one community's.

Settings (Community.settings, defaults below): "board_post_day" (day of the month the board is posted
to every linked group, from 09:00 local time, 1–28), "digest_weekday" (ISO weekday of the committee's weekly
digest, 1 = Monday, from 09:00); a post missed on its day (the bot was down) goes out later that month
(week), "project_stale_days" (see flows/project_colour.py, whose colour rule and batched facts this module uses)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import membership, outbox, project_colour
from flows.clock import local
from flows.errors import NotFound
from flows.project_colour import Colour, Verdict
from flows.project_notices import BoardPicture, BoardPosted, MonthlyBlockers, WeeklyDigest
from storage.db import UnitOfWork
from storage.models import (
    Chat,
    Community,
    Member,
    OutboxMessage,
    Project,
    ProjectLike,
    ProjectMilestone,
    ProjectPhoto,
    ProjectPost,
    ProjectRating,
    ProjectReport,
    User,
)

BOARD_POST_DAY = 1
DIGEST_WEEKDAY = 1  # ISO: Monday
POST_FROM = time(9, 0)
WEEK = timedelta(days=7)
GROUP_TYPES = ("group", "supergroup")
LIVE = ("member", "administrator")
MAX_LISTED = 20  # lines of a digest section; the rest is counted
REFRESH_EVERY = timedelta(hours=1)  # a posted board is edited at most this often (changes in between coalesce)


def _setting(community: Community, key: str, default: int, low: int, high: int) -> int:
    value = (community.settings or {}).get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else default


def post_day(community: Community) -> int:
    return _setting(community, "board_post_day", BOARD_POST_DAY, 1, 28)


def digest_weekday(community: Community) -> int:
    return _setting(community, "digest_weekday", DIGEST_WEEKDAY, 1, 7)


# ---------------------------------------------------------------- colours, in a few queries


async def verdicts(uow: UnitOfWork, projects: Sequence[Project], *, now: datetime,
                   as_of: datetime | None = None) -> dict[int, Verdict]:
    """Each project's colour now (or as it was at `as_of`) in a few queries (flows.project_colour.verdicts); projects
    made after `as_of` are left out. Their communities should be loaded in this unit of work already."""
    at = as_of or now
    return await project_colour.verdicts(uow, [p for p in projects if p.created_at <= at], at)


async def district_colours(uow: UnitOfWork, *, year: int, now: datetime,
                           community_ids: Iterable[int] | None = None) -> dict[int, Verdict]:
    """Every project's colour of a year across communities (the district's overview): four queries."""
    cq = select(Community)
    if community_ids is not None:
        cq = cq.where(col(Community.id).in_(list(community_ids)))
    communities = {c.id or 0: c for c in (await uow.session.exec(cq)).all()}
    projects = (await uow.session.exec(select(Project).where(
        Project.year == year, col(Project.community_id).in_(list(communities))))).all()
    return await verdicts(uow, projects, now=now)


# ---------------------------------------------------------------- the board


@dataclass(frozen=True)
class Row:
    """One line of the board (also the parameters of the posted board: plain JSON values)."""

    id: int
    number: int
    title: str
    colour: str  # Colour value
    reasons: tuple[str, ...]
    percent: int
    owner: str | None
    next_title: str | None
    next_due: str | None  # ISO date
    completed: bool
    likes: int
    rating: float | None  # average stars, one decimal
    raters: int
    override_reason: str | None = None
    overdue: int = 0

    def params(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        return out

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> Row:
        return cls(**{**p, "reasons": tuple(p.get("reasons") or ())})


@dataclass(frozen=True)
class Board:
    community_id: int
    community: str
    year: int
    rows: list[Row]

    def params(self) -> dict[str, Any]:
        return {"community": self.community, "year": self.year, "rows": [r.params() for r in self.rows]}

    def count(self, c: Colour) -> int:
        return sum(1 for r in self.rows if r.colour == c.value)


async def _names(uow: UnitOfWork, member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = (await uow.session.exec(select(Member.id, Member.display_name, User.first_name)
                                   .join(User, col(User.id) == col(Member.user_id))
                                   .where(col(Member.id).in_(list(member_ids))))).all()
    return {mid: (display or first or "") for mid, display, first in rows}


@dataclass(frozen=True)
class Signals:
    """What the board shows beside each project's colour, by project id (the web's board reads the same within its
    one query of a community's projects, flows.public._read)."""

    upcoming: dict[int, tuple[str, date]]  # the next open milestone: title, due day
    likes: dict[int, int]
    ratings: dict[int, tuple[float | None, int, datetime | None]]  # average ⭐, raters, last rated


async def signals(uow: UnitOfWork, ids: Sequence[int]) -> Signals:
    """Three grouped queries for any number of projects."""
    upcoming: dict[int, tuple[str, date]] = {}
    for pid, title, due in (await uow.session.exec(
            select(ProjectMilestone.project_id, ProjectMilestone.title, ProjectMilestone.due_on)
            .where(col(ProjectMilestone.project_id).in_(ids), col(ProjectMilestone.done_on).is_(None))
            .order_by(col(ProjectMilestone.due_on), col(ProjectMilestone.position)))).all():
        upcoming.setdefault(pid, (title, due))
    likes = {pid: int(n) for pid, n in (await uow.session.exec(
        select(ProjectLike.project_id, func.count()).where(col(ProjectLike.project_id).in_(ids))
        .group_by(col(ProjectLike.project_id)))).all()}
    ratings = {pid: (float(avg) if avg is not None else None, int(n), at) for pid, avg, n, at in (
        await uow.session.exec(
            select(ProjectRating.project_id, func.avg(ProjectRating.stars), func.count(),
                   func.max(ProjectRating.updated_at))
            .where(col(ProjectRating.project_id).in_(ids)).group_by(col(ProjectRating.project_id)))).all()}
    return Signals(upcoming=upcoming, likes=likes, ratings=ratings)


async def _rows(uow: UnitOfWork, community: Community, projects: Sequence[Project], now: datetime) -> list[Row]:
    ids = [p.id or 0 for p in projects]
    if not ids:
        return []
    verdict = await verdicts(uow, projects, now=now)
    names = await _names(uow, {p.owner_member_id for p in projects if p.owner_member_id})
    seen = await signals(uow, ids)
    rows = []
    for p in projects:
        v = verdict.get(p.id or 0) or Verdict(Colour.YELLOW, ())
        nxt = seen.upcoming.get(p.id or 0)
        avg, raters, _ = seen.ratings.get(p.id or 0, (None, 0, None))
        rows.append(Row(
            id=p.id or 0, number=p.number, title=p.title, colour=v.colour.value, reasons=v.reasons,
            percent=p.percent, owner=names.get(p.owner_member_id) if p.owner_member_id else None,
            next_title=nxt[0] if nxt else None, next_due=nxt[1].isoformat() if nxt else None,
            completed=p.completed_at is not None, likes=seen.likes.get(p.id or 0, 0),
            rating=round(float(avg), 1) if avg is not None else None, raters=int(raters),
            override_reason=p.override_reason if "override" in v.reasons else None,
            overdue=v.overdue_milestones))
    return rows


def board_year(community: Community, now: datetime) -> int:
    return local(now, community.timezone).year


async def board(uow: UnitOfWork, *, community: Community, now: datetime, year: int | None = None) -> Board:
    """The year's board of a community (the projects in their number order)."""
    year = year if year is not None else board_year(community, now)
    projects = (await uow.session.exec(select(Project).where(
        Project.community_id == community.id, Project.year == year).order_by(col(Project.number)))).all()
    return Board(community_id=community.id or 0, community=community.name, year=year,
                 rows=await _rows(uow, community, projects, now))


# ---------------------------------------------------------------- a project's page


@dataclass(frozen=True)
class Milestone:
    title: str
    due_on: date
    done_on: date | None


@dataclass(frozen=True)
class Report:
    at: datetime
    percent: int
    note: str
    photos: int


@dataclass(frozen=True)
class Page:
    row: Row
    category: str
    deadline: date | None
    budget_yuan: int | None
    funding: str | None
    started_at: datetime
    completed_at: datetime | None
    milestones: list[Milestone]
    reports: list[Report]  # newest first
    photos: dict[str, int] = field(default_factory=dict)  # kind → count


async def page(uow: UnitOfWork, *, community: Community, project_id: int, now: datetime,
               reports: int = 5) -> Page:
    """A project of this community with its timeline (its latest `reports` reports)."""
    project = await uow.session.get(Project, project_id)
    if project is None or project.community_id != community.id:
        raise NotFound("project", project_id)
    row = (await _rows(uow, community, [project], now))[0]
    milestones = [Milestone(m.title, m.due_on, m.done_on) for m in (await uow.session.exec(
        select(ProjectMilestone).where(ProjectMilestone.project_id == project_id)
        .order_by(col(ProjectMilestone.due_on), col(ProjectMilestone.position)))).all()]
    photos = dict((await uow.session.exec(select(ProjectPhoto.kind, func.count()).where(
        ProjectPhoto.project_id == project_id).group_by(col(ProjectPhoto.kind)))).all())
    per_report = dict((await uow.session.exec(select(ProjectPhoto.report_id, func.count()).where(
        ProjectPhoto.project_id == project_id, col(ProjectPhoto.report_id).is_not(None))
        .group_by(col(ProjectPhoto.report_id)))).all())
    latest = (await uow.session.exec(select(ProjectReport).where(ProjectReport.project_id == project_id)
                                     .order_by(col(ProjectReport.created_at).desc(), col(ProjectReport.id).desc())
                                     .limit(reports))).all()
    return Page(row=row, category=project.category, deadline=project.deadline, budget_yuan=project.budget_yuan,
                funding=project.funding, started_at=project.created_at, completed_at=project.completed_at,
                milestones=milestones,
                reports=[Report(r.created_at, r.percent, r.note, int(per_report.get(r.id, 0))) for r in latest],
                photos={k: int(n) for k, n in photos.items()})


async def page_of_member(uow: UnitOfWork, *, user: User, project_id: int, now: datetime) -> tuple[Page, Community]:
    """A project's page for a member of its community, whichever community they are in now (a group's board
    link opens it in private: the group's community is the project's)."""
    project = await uow.session.get(Project, project_id)
    community = await uow.session.get(Community, project.community_id) if project is not None else None
    if community is None or await membership.membership(uow, user=user, community_id=community.id or 0) is None:
        raise NotFound("project", project_id)
    return await page(uow, community=community, project_id=project_id, now=now), community


# ---------------------------------------------------------------- digests


@dataclass(frozen=True)
class Weekly:
    changed: list[dict[str, Any]]  # number, title, reports, percent
    turned_red: list[dict[str, Any]]  # number, title, reasons
    overdue: list[dict[str, Any]]  # number, title, milestone, due

    @property
    def empty(self) -> bool:
        return not (self.changed or self.turned_red or self.overdue)


async def weekly(uow: UnitOfWork, *, community: Community, now: datetime, year: int | None = None) -> Weekly:
    """What changed in the last seven days, what turned red, and the milestones overdue now."""
    year = year if year is not None else board_year(community, now)
    projects = (await uow.session.exec(select(Project).where(
        Project.community_id == community.id, Project.year == year).order_by(col(Project.number)))).all()
    if not projects:
        return Weekly([], [], [])
    ids = [p.id or 0 for p in projects]
    by_id = {p.id: p for p in projects}
    now_v = await verdicts(uow, projects, now=now)
    then_v = await verdicts(uow, projects, now=now, as_of=now - WEEK)
    reports = (await uow.session.exec(
        select(ProjectReport.project_id, func.count(), func.max(ProjectReport.percent))
        .where(col(ProjectReport.project_id).in_(ids), col(ProjectReport.created_at) > now - WEEK,
               col(ProjectReport.created_at) <= now)
        .group_by(col(ProjectReport.project_id)))).all()
    changed = sorted(({"number": by_id[pid].number, "title": by_id[pid].title, "reports": int(n),
                       "percent": by_id[pid].percent} for pid, n, _ in reports), key=lambda d: d["number"])
    turned = []
    for p in projects:
        v, old = now_v.get(p.id or 0), then_v.get(p.id or 0)
        if v is not None and v.colour == Colour.RED and (old is None or old.colour != Colour.RED):
            turned.append({"number": p.number, "title": p.title, "reasons": list(v.reasons)})
    today = local(now, community.timezone).date()
    overdue = [{"number": by_id[pid].number, "title": by_id[pid].title, "milestone": title, "due": due.isoformat()}
               for pid, title, due in (await uow.session.exec(
                   select(ProjectMilestone.project_id, ProjectMilestone.title, ProjectMilestone.due_on)
                   .where(col(ProjectMilestone.project_id).in_(ids), col(ProjectMilestone.done_on).is_(None),
                          col(ProjectMilestone.due_on) < today)
                   .order_by(col(ProjectMilestone.due_on)))).all()
               if by_id[pid].completed_at is None]
    return Weekly(changed, turned, overdue)


def blockers(b: Board) -> list[dict[str, Any]]:
    """The red projects with their reasons (the monthly digest's agenda)."""
    return [{"number": r.number, "title": r.title, "reasons": list(r.reasons), "owner": r.owner,
             "overdue": r.overdue, "override_reason": r.override_reason}
            for r in b.rows if r.colour == Colour.RED.value]


# ---------------------------------------------------------------- the scheduler's job


@dataclass
class Tick:
    boards: int = 0  # board messages queued (text and picture count once each)
    weekly: int = 0
    monthly: int = 0
    edits: int = 0  # boards edited in place because what they show changed
    #: (language, parameters) of each community's board picture queued: bot/ may draw them ahead of the sender
    pictures: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _due_now(community: Community, now: datetime) -> tuple[bool, bool]:
    """(the month's board, the week's digest) fall due: from 09:00 local time on the day, and on any later
    day of the month (of the week) until they went out — a bot that was down on the day catches up."""
    here = local(now, community.timezone)
    after = here.time() >= POST_FROM
    board_due = here.day > post_day(community) or (here.day == post_day(community) and after)
    digest_due = (here.isoweekday() > digest_weekday(community)
                  or (here.isoweekday() == digest_weekday(community) and after))
    return board_due, digest_due


async def _chats(uow: UnitOfWork, community_id: int) -> list[Chat]:
    return list((await uow.session.exec(select(Chat).where(
        Chat.community_id == community_id, col(Chat.purpose).is_not(None), col(Chat.type).in_(GROUP_TYPES),
        col(Chat.bot_status).in_(LIVE)).order_by(col(Chat.id)))).all())


async def _taken(uow: UnitOfWork, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set((await uow.session.exec(select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.dedupe_key).in_(keys)))).all())  # type: ignore[arg-type]


async def _posts(uow: UnitOfWork, chats: list[Chat]) -> dict[tuple[int, str], ProjectPost]:
    """The chats' board posts (by chat, whatever community the chat was linked to when they were made)."""
    rows = (await uow.session.exec(select(ProjectPost).where(
        col(ProjectPost.tg_chat_id).in_([c.tg_chat_id for c in chats]),
        col(ProjectPost.kind).in_(("board", "board_pic")), ProjectPost.project_id == 0))).all()
    return {(p.tg_chat_id, p.kind): p for p in rows}


async def learn_message_ids(uow: UnitOfWork, posts: Iterable[ProjectPost]) -> None:
    """Copy Telegram's message id from each post's outbox row once it was sent."""
    waiting = {p.outbox_id: p for p in posts if p.outbox_id is not None}
    if not waiting:
        return
    for oid, mid in (await uow.session.exec(select(OutboxMessage.id, OutboxMessage.tg_message_id).where(
            col(OutboxMessage.id).in_(list(waiting)), OutboxMessage.status == "sent"))).all():
        post = waiting[oid]
        if mid is not None and post.message_id != mid:
            post.message_id = mid
            uow.session.add(post)


async def post_board(uow: UnitOfWork, *, community: Community, now: datetime,
                     pictures: list[tuple[str, dict[str, Any]]] | None = None) -> int:
    """Queue this month's board to every linked group: the text (edited in place where the bot posted
    one before, pinned when it is new and the bot is an administrator) and the picture (posted anew).
    Idempotent per chat and month; returns the messages queued."""
    month = local(now, community.timezone).strftime("%Y-%m")
    chats = await _chats(uow, community.id or 0)
    keys = {c.tg_chat_id: (f"board:{c.tg_chat_id}:{month}", f"board_pic:{c.tg_chat_id}:{month}") for c in chats}
    taken = await _taken(uow, [k for pair in keys.values() for k in pair])
    if len(taken) == 2 * len(keys):
        return 0
    b = await board(uow, community=community, now=now)
    if not b.rows:
        return 0
    posts = await _posts(uow, chats)
    await learn_message_ids(uow, posts.values())
    params = b.params()
    shown = fingerprint(b)
    added: list[tuple[ProjectPost, OutboxMessage]] = []
    for chat in chats:
        text_key, pic_key = keys[chat.tg_chat_id]
        admin = chat.bot_status == "administrator"
        if text_key not in taken:
            post = posts.get((chat.tg_chat_id, "board")) or ProjectPost(
                community_id=community.id or 0, tg_chat_id=chat.tg_chat_id, kind="board", project_id=0)
            row = outbox.notify(uow, tg_chat_id=chat.tg_chat_id, notice=BoardPosted(month=month, **params),
                                lang=community.locale, now=now, community_id=community.id, dedupe_key=text_key)
            # pin a new message, or the old one if it was never pinned (the bot was not an administrator then)
            row.payload = {**row.payload, "op": "edit_or_send", "message_id": post.message_id, "pin": admin,
                           "pin_edited": admin and not post.pinned}
            post.pinned = post.pinned or admin
            post.shown = shown
            added.append((post, row))
        if pic_key not in taken:
            pic = posts.get((chat.tg_chat_id, "board_pic")) or ProjectPost(
                community_id=community.id or 0, tg_chat_id=chat.tg_chat_id, kind="board_pic", project_id=0)
            row = outbox.notify(uow, tg_chat_id=chat.tg_chat_id, notice=BoardPicture(month=month, **params),
                                lang=community.locale, now=now, community_id=community.id, dedupe_key=pic_key)
            pic.message_id = None
            added.append((pic, row))
            if pictures is not None and sum(1 for p, _ in added if p.kind == "board_pic") == 1:
                pictures.append((community.locale, row.payload["params"]))
    await uow.session.flush()  # the outbox rows' ids, in one round trip
    for post, row in added:
        post.community_id, post.outbox_id, post.updated_at = community.id or 0, row.id, now
        uow.session.add(post)
    return len(added)


def fingerprint(b: Board) -> str:
    """What a posted board shows (colours, percents, owners, milestones, likes …), as a short digest."""
    return hashlib.sha256(json.dumps(b.params(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def refresh(uow: UnitOfWork, *, now: datetime) -> int:
    """Edit each group's posted board in place when what it shows changed (a project's colour or percent, a
    completion …) — at most once per `REFRESH_EVERY` per chat: changes in between coalesce into one edit. A board
    whose first post has not gone out yet is left to it. Compare-and-set on the post (two schedulers edit once);
    returns the edits queued."""
    posts = (await uow.session.exec(select(ProjectPost).where(
        ProjectPost.kind == "board", ProjectPost.project_id == 0, col(ProjectPost.outbox_id).is_not(None))
        .order_by(col(ProjectPost.community_id), col(ProjectPost.id)))).all()
    by_community: dict[int, list[ProjectPost]] = {}
    for post in posts:
        by_community.setdefault(post.community_id, []).append(post)
    edits = 0
    for community_id, mine in by_community.items():
        quiet = [p for p in mine if p.updated_at <= now - REFRESH_EVERY]
        community = await uow.session.get(Community, community_id) if quiet else None
        if community is None:
            continue
        live = {c.tg_chat_id: c for c in await _chats(uow, community_id)}
        quiet = [p for p in quiet if p.tg_chat_id in live]
        await learn_message_ids(uow, quiet)
        quiet = [p for p in quiet if p.message_id is not None]
        if not quiet:
            continue
        b = await board(uow, community=community, now=now)
        shown = fingerprint(b)
        stamp = local(now, community.timezone)
        for post in quiet:
            if post.shown == shown:
                continue
            taken = await uow.session.execute(update(ProjectPost).where(
                col(ProjectPost.id) == post.id, col(ProjectPost.updated_at) == post.updated_at)
                .values(updated_at=now, shown=shown).execution_options(synchronize_session=False))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another scheduler edits it
            row = outbox.notify(uow, tg_chat_id=post.tg_chat_id, lang=community.locale, now=now,
                                community_id=community_id, notice=BoardPosted(month=stamp.strftime("%Y-%m-%d %H:%M"),
                                                                              **b.params()),
                                dedupe_key=f"board_edit:{post.tg_chat_id}:{stamp.strftime('%Y%m%d%H')}")
            row.payload = {**row.payload, "op": "edit_or_send", "message_id": post.message_id, "pin": False,
                           "pin_edited": False}
            await uow.session.flush()
            await uow.session.execute(update(ProjectPost).where(col(ProjectPost.id) == post.id)
                                      .values(outbox_id=row.id).execution_options(synchronize_session=False))
            edits += 1
    return edits


async def _committee(uow: UnitOfWork, community_id: int) -> list[Chat]:
    return [c for c in await _chats(uow, community_id) if c.purpose == "committee"]


async def send_weekly(uow: UnitOfWork, *, community: Community, now: datetime) -> int:
    """The committee's weekly digest (once per chat and ISO week; nothing when nothing happened)."""
    chats = await _committee(uow, community.id or 0)
    if not chats:
        return 0
    iso = local(now, community.timezone).isocalendar()
    keys = {c.tg_chat_id: f"board_weekly:{c.tg_chat_id}:{iso.year}-W{iso.week:02d}" for c in chats}
    taken = await _taken(uow, list(keys.values()))
    if len(taken) == len(keys):
        return 0
    digest = await weekly(uow, community=community, now=now)
    if digest.empty:
        return 0
    sent = 0
    for chat in chats:
        if keys[chat.tg_chat_id] in taken:
            continue
        outbox.notify(uow, tg_chat_id=chat.tg_chat_id, lang=community.locale, now=now, community_id=community.id,
                      dedupe_key=keys[chat.tg_chat_id], notice=WeeklyDigest(
                          community=community.name, changed=digest.changed[:MAX_LISTED],
                          turned_red=digest.turned_red[:MAX_LISTED], overdue=digest.overdue[:MAX_LISTED],
                          more=max(0, len(digest.changed) - MAX_LISTED) + max(0, len(digest.turned_red) - MAX_LISTED)
                          + max(0, len(digest.overdue) - MAX_LISTED)))
        sent += 1
    return sent


async def send_monthly(uow: UnitOfWork, *, community: Community, now: datetime) -> int:
    """The committee's monthly digest: the blockers to discuss (with the board, once per chat and month)."""
    chats = await _committee(uow, community.id or 0)
    if not chats:
        return 0
    month = local(now, community.timezone).strftime("%Y-%m")
    keys = {c.tg_chat_id: f"board_blockers:{c.tg_chat_id}:{month}" for c in chats}
    taken = await _taken(uow, list(keys.values()))
    if len(taken) == len(keys):
        return 0
    b = await board(uow, community=community, now=now)
    if not b.rows:
        return 0
    red = blockers(b)
    sent = 0
    for chat in chats:
        if keys[chat.tg_chat_id] in taken:
            continue
        outbox.notify(uow, tg_chat_id=chat.tg_chat_id, lang=community.locale, now=now, community_id=community.id,
                      dedupe_key=keys[chat.tg_chat_id], notice=MonthlyBlockers(
                          community=community.name, year=b.year, month=month, blockers=red, total=len(b.rows),
                          green=b.count(Colour.GREEN), yellow=b.count(Colour.YELLOW), red=len(red)))
        sent += 1
    return sent


async def due(uow: UnitOfWork, *, now: datetime) -> Tick:
    """What falls due now in every community: the monthly board and blockers, the weekly digest; and the
    boards already posted are brought up to date (`refresh`)."""
    result = Tick()
    for community in (await uow.session.exec(select(Community).order_by(col(Community.id)))).all():
        board_day, digest_day = _due_now(community, now)
        if board_day:
            result.boards += await post_board(uow, community=community, now=now, pictures=result.pictures)
            result.monthly += await send_monthly(uow, community=community, now=now)
        if digest_day:
            result.weekly += await send_weekly(uow, community=community, now=now)
    result.edits = await refresh(uow, now=now)
    return result
