"""Announcements to the community's groups (#14, F-11.4): who may announce to whom, when it goes out, and taking
it back or correcting it everywhere.

Community admins announce to any of their community's audiences: every building group, one grid's building groups,
the volunteers' group, chosen buildings' groups. A grid worker announces only to the building groups of their own
grid(s). The text (or a photo's caption) keeps Telegram's limits (4096 / 1024 characters).

`publish` writes the announcement and queues one typed notice per group through the outbox (dedupe key per
announcement and chat), due at the chosen time (`send_time`: now, tomorrow 9:00 or a typed `YYYY-MM-DD HH:MM`, all in
the community's time zone) — and, unless urgent, never in the quiet hours (flows/quiet.py: 21:00–07:30 local by
default): a post due then waits until they end. One `AnnouncementPost` per group points at its outbox row; the sender
writes Telegram's message id there and the post learns it (`_learn`), the way the board's posts do (flows/board.py).

`edit` and `delete` act on every group: a post not sent yet has its queued row changed (or dropped) in place, a sent
one is edited (the outbox's "edit_or_send" op) or deleted (the "delete" op) by its message id. Both are
compare-and-set on the announcement (two admins at once: one wins, the other is told it changed).

`day_counts` counts the bot's messages per group in one local day, from the outbox (F-11.4: an ordinary day stays
within `PER_DAY` per building group)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, update
from sqlmodel import col, select

from flows import outbox, quiet
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.numbering import next_number
from flows.roles import Perm, Purpose, Role
from storage.db import UnitOfWork
from storage.models import Building, Chat, Community, Grid, OutboxMessage
from storage.models_announce import Announcement, AnnouncementPost

ALL, GRID, VOLUNTEERS, BUILDINGS = "all", "grid", "volunteers", "buildings"
AUDIENCES = (ALL, GRID, VOLUNTEERS, BUILDINGS)
#: Telegram's limits: a message's text, a photo's caption.
TEXT_MAX, CAPTION_MAX = 4096, 1024
#: The send time choices: now, tomorrow at MORNING local time, a typed local date and time.
NOW, TOMORROW, AT = "now", "tomorrow", "at"
MORNING = time(9, 0)
#: An ordinary day's bot messages per building group stay within this (F-11.4).
PER_DAY = 3
GROUP_TYPES = ("group", "supergroup")
LIVE = ("member", "administrator")


@dataclass(frozen=True)
class AnnouncementPosted(Notice, kind="announcement"):
    """An announcement as a group sees it (`photo`: a photo's file_id, the text its caption)."""

    number: int
    community: str
    text: str
    photo: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Draft:
    audience: str
    targets: tuple[int, ...] = ()
    text: str = ""
    photo: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Scope:
    """What the actor may announce to: `grids` None for an admin (everything of the community)."""

    community: Community
    member_id: int
    grids: frozenset[int] | None


async def scope(uow: UnitOfWork, *, actor: Actor) -> Scope:
    """The actor's right to announce: a community admin, or a grid worker (their own grids only)."""
    member = actor.registered()
    community = actor.home()
    if not actor.can(Perm.ANNOUNCE):
        raise Forbidden("announce")
    if actor.roles & {Role.ADMIN.value, Role.DISTRICT_ADMIN.value}:
        return Scope(community, member.id or 0, None)
    if Role.GRID_WORKER.value in actor.roles:
        grids = (await uow.session.exec(select(Grid.id).where(
            Grid.community_id == community.id, Grid.worker_member_id == member.id))).all()
        if grids:
            return Scope(community, member.id or 0, frozenset(g for g in grids if g is not None))
    raise Forbidden("announce")


async def grids_of(uow: UnitOfWork, s: Scope) -> list[Grid]:
    """The grids the actor may choose (buttons)."""
    q = select(Grid).where(Grid.community_id == s.community.id).order_by(col(Grid.name))
    return [g for g in (await uow.session.exec(q)).all() if s.grids is None or g.id in s.grids]


async def buildings_of(uow: UnitOfWork, s: Scope) -> list[Building]:
    """The buildings the actor may choose (buttons)."""
    q = select(Building).where(Building.community_id == s.community.id).order_by(col(Building.sort_key),
                                                                                 col(Building.label))
    return [b for b in (await uow.session.exec(q)).all() if s.grids is None or b.grid_id in s.grids]


async def audience_chats(uow: UnitOfWork, *, s: Scope, audience: str, targets: Sequence[int]) -> list[Chat]:
    """The groups an audience reaches, refused (Forbidden) when it is not the actor's to address."""
    if audience not in AUDIENCES:
        raise Invalid("audience", "unknown")
    if s.grids is not None and audience not in (GRID, BUILDINGS):
        raise Forbidden("announce:community")
    live = (Chat.community_id == s.community.id, col(Chat.type).in_(GROUP_TYPES), col(Chat.bot_status).in_(LIVE))
    if audience == VOLUNTEERS:
        return list((await uow.session.exec(select(Chat).where(
            *live, Chat.purpose == Purpose.VOLUNTEERS.value).order_by(col(Chat.id)))).all())
    buildings = select(Building.id).where(Building.community_id == s.community.id)
    if audience == GRID:
        grids = set(targets)
        if not grids:
            raise Invalid("audience", "empty")
        known = set((await uow.session.exec(select(Grid.id).where(
            Grid.community_id == s.community.id, col(Grid.id).in_(grids)))).all())
        if known != grids:
            raise NotFound("grid")
        if s.grids is not None and not grids <= s.grids:
            raise Forbidden("announce:grid")
        buildings = buildings.where(col(Building.grid_id).in_(grids))
    elif audience == BUILDINGS:
        chosen = set(targets)
        if not chosen:
            raise Invalid("audience", "empty")
        rows = (await uow.session.exec(select(Building.id, Building.grid_id).where(
            Building.community_id == s.community.id, col(Building.id).in_(chosen)))).all()
        if len(rows) != len(chosen):
            raise NotFound("building")
        if s.grids is not None and any(g not in s.grids for _, g in rows):
            raise Forbidden("announce:grid")
        buildings = buildings.where(col(Building.id).in_(chosen))
    return list((await uow.session.exec(select(Chat).where(
        *live, Chat.purpose == Purpose.BUILDING.value, col(Chat.building_id).in_(buildings))
        .order_by(col(Chat.id)))).all())


def check_text(text: str, *, photo: str | None) -> str:
    text = text.strip()
    if not text and photo is None:
        raise Invalid("text", "empty")
    limit = CAPTION_MAX if photo is not None else TEXT_MAX
    if len(text) > limit:
        raise Invalid("text", "too_long", limit=limit, length=len(text))
    return text


def send_time(community: Community, *, choice: str, now: datetime, typed: str = "") -> datetime:
    """When the announcement is due: now, tomorrow 9:00 or the typed `YYYY-MM-DD HH:MM`, in the community's zone."""
    zone = ZoneInfo(community.timezone)
    if choice == NOW:
        return now
    if choice == TOMORROW:
        day = local(now, community.timezone).date() + timedelta(days=1)
        return datetime.combine(day, MORNING, tzinfo=zone).astimezone(UTC)
    if choice != AT:
        raise Invalid("when", "unknown")
    try:
        at = datetime.strptime(typed.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise Invalid("when", "format") from None
    if at <= now:
        raise Invalid("when", "past")
    if at > now + timedelta(days=366):
        raise Invalid("when", "too_far")
    return at


def due_at(community: Community, *, send_at: datetime, urgent: bool) -> datetime:
    """When the group posts may go out: `send_at`, moved past the quiet hours unless urgent."""
    return send_at if urgent else quiet.group_post_time(community, send_at)


@dataclass(frozen=True)
class Published:
    announcement: Announcement
    groups: int
    due: datetime


def _notice(community: Community, a: Announcement) -> AnnouncementPosted:
    return AnnouncementPosted(number=a.number, community=community.name, text=a.text, photo=a.photo, urgent=a.urgent)


async def publish(uow: UnitOfWork, *, actor: Actor, draft: Draft, send_at: datetime, now: datetime) -> Published:
    """Write the announcement and queue it to every group of its audience (Invalid "audience"/"empty" when none)."""
    s = await scope(uow, actor=actor)
    text = check_text(draft.text, photo=draft.photo)
    chats = await audience_chats(uow, s=s, audience=draft.audience, targets=draft.targets)
    if not chats:
        raise Invalid("audience", "no_groups")
    community = s.community
    number = await next_number(uow, community_id=community.id or 0, number=Announcement.number,
                               community_column=Announcement.community_id)
    a = Announcement(community_id=community.id or 0, number=number, author_member_id=s.member_id,
                     audience=draft.audience, targets=sorted(set(draft.targets)), text=text, photo=draft.photo,
                     urgent=draft.urgent, send_at=send_at, created_at=now)
    uow.session.add(a)
    await uow.session.flush()
    due = due_at(community, send_at=send_at, urgent=draft.urgent)
    for chat in chats:
        row = outbox.notify(uow, tg_chat_id=chat.tg_chat_id, lang=community.locale, now=now,
                            community_id=community.id, notice=_notice(community, a),
                            dedupe_key=f"announce:{a.id}:{chat.tg_chat_id}")
        row.not_before = due
        await uow.session.flush()
        uow.session.add(AnnouncementPost(announcement_id=a.id or 0, community_id=community.id or 0,
                                         tg_chat_id=chat.tg_chat_id, outbox_id=row.id))
    await uow.session.flush()
    return Published(a, len(chats), due)


async def listing(uow: UnitOfWork, *, actor: Actor, limit: int = 10) -> list[Announcement]:
    """The latest announcements the actor may change (an admin: the community's; a grid worker: their own)."""
    s = await scope(uow, actor=actor)
    q = select(Announcement).where(Announcement.community_id == s.community.id, Announcement.state == "sent")
    if s.grids is not None:
        q = q.where(Announcement.author_member_id == s.member_id)
    return list((await uow.session.exec(q.order_by(col(Announcement.number).desc()).limit(limit))).all())


async def get(uow: UnitOfWork, *, actor: Actor, number: int) -> Announcement:
    s = await scope(uow, actor=actor)
    a = (await uow.session.exec(select(Announcement).where(
        Announcement.community_id == s.community.id, Announcement.number == number))).first()
    if a is None or a.state != "sent":
        raise NotFound("announcement", number)
    if s.grids is not None and a.author_member_id != s.member_id:
        raise Forbidden("announce:others")
    return a


async def _learn(uow: UnitOfWork, posts: Iterable[AnnouncementPost]) -> None:
    """Copy the message ids the sender wrote on the posts' outbox rows into the posts."""
    waiting = {p.outbox_id: p for p in posts if p.outbox_id is not None and p.message_id is None}
    if not waiting:
        return
    for oid, mid in (await uow.session.exec(select(OutboxMessage.id, OutboxMessage.tg_message_id).where(
            col(OutboxMessage.id).in_(list(waiting)), col(OutboxMessage.tg_message_id).is_not(None)))).all():
        post = waiting[oid or 0]
        post.message_id = mid
        uow.session.add(post)


async def _posts(uow: UnitOfWork, a: Announcement) -> list[AnnouncementPost]:
    posts = list((await uow.session.exec(select(AnnouncementPost).where(
        AnnouncementPost.announcement_id == a.id).order_by(col(AnnouncementPost.id)))).all())
    await _learn(uow, posts)
    return posts


async def _claim(uow: UnitOfWork, a: Announcement, **values: object) -> None:
    """Compare-and-set on the announcement (still sent, not edited meanwhile)."""
    result = await uow.session.execute(
        update(Announcement).where(col(Announcement.id) == a.id, col(Announcement.state) == "sent",
                                   col(Announcement.edits) == a.edits)
        .values(**values).execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("announcement")
    await uow.session.refresh(a)


async def _still_queued(uow: UnitOfWork, post: AnnouncementPost) -> OutboxMessage | None:
    if post.outbox_id is None:
        return None
    row = await uow.session.get(OutboxMessage, post.outbox_id)
    return row if row is not None and row.status == "pending" and row.tg_message_id is None else None


async def edit(uow: UnitOfWork, *, actor: Actor, number: int, text: str, now: datetime) -> int:
    """Replace the announcement's text in every group; returns the groups changed."""
    a = await get(uow, actor=actor, number=number)
    text = check_text(text, photo=a.photo)
    community = await uow.session.get(Community, a.community_id)
    assert community is not None
    await _claim(uow, a, text=text, edits=a.edits + 1)
    changed = 0
    for post in await _posts(uow, a):
        queued = await _still_queued(uow, post)
        if queued is not None:  # not sent yet: the queued post carries the new text
            result = await uow.session.execute(
                update(OutboxMessage).where(col(OutboxMessage.id) == queued.id, col(OutboxMessage.status) == "pending")
                .values(payload={**queued.payload, "params": _notice(community, a).params()})
                .execution_options(synchronize_session=False))
            changed += int(bool(result.rowcount))  # type: ignore[attr-defined]
            continue
        if post.message_id is None:
            continue  # being sent right now, or failed: nothing to edit
        row = outbox.notify(uow, tg_chat_id=post.tg_chat_id, lang=community.locale, now=now,
                            community_id=community.id, notice=_notice(community, a),
                            dedupe_key=f"announce_edit:{a.id}:{post.tg_chat_id}:{a.edits}")
        row.payload = {**row.payload, "op": "edit_or_send", "message_id": post.message_id, "pin": False,
                       "pin_edited": False}
        changed += 1
    await uow.session.flush()
    return changed


async def delete(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> int:
    """Take the announcement back from every group; returns the groups it is removed from (or never reaches)."""
    a = await get(uow, actor=actor, number=number)
    await _claim(uow, a, state="deleted", deleted_at=now, edits=a.edits + 1)
    removed = 0
    for post in await _posts(uow, a):
        queued = await _still_queued(uow, post)
        if queued is not None:
            result = await uow.session.execute(
                sql_delete(OutboxMessage).where(col(OutboxMessage.id) == queued.id,
                                                col(OutboxMessage.status) == "pending")
                .execution_options(synchronize_session=False))
            if result.rowcount:  # type: ignore[attr-defined]
                post.outbox_id = None
                uow.session.add(post)
                removed += 1
            continue
        if post.message_id is None:
            continue
        uow.session.add(OutboxMessage(
            community_id=a.community_id, tg_chat_id=post.tg_chat_id,
            payload={"op": "delete", "message_id": post.message_id},
            dedupe_key=f"announce_delete:{a.id}:{post.tg_chat_id}", status="pending", not_before=now,
            created_at=now, priority=outbox.NOTICE))
        removed += 1
    await uow.session.flush()
    return removed


#: Outbox rows that put no new message in a chat (an edit in place, a deletion, a pin, a menu).
NOT_MESSAGES = ("edit_or_send", "delete", "pin", "menu")


async def day_counts(uow: UnitOfWork, *, community: Community, day: date,
                     purpose: str | None = Purpose.BUILDING.value) -> dict[int, int]:
    """The bot's messages per group (tg chat id → count) in one local day of the community, from the outbox: every
    row to the group that was sent, or is due, that day (an edit of a message already posted is not a new one)."""
    zone = ZoneInfo(community.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    q = select(Chat.tg_chat_id).where(Chat.community_id == community.id, col(Chat.type).in_(GROUP_TYPES))
    if purpose is not None:
        q = q.where(Chat.purpose == purpose)
    chats = set((await uow.session.exec(q)).all())
    counts = dict.fromkeys(chats, 0)
    if not chats:
        return counts
    when = func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.not_before))
    rows = (await uow.session.exec(select(OutboxMessage.tg_chat_id, OutboxMessage.payload).where(
        col(OutboxMessage.tg_chat_id).in_(chats), col(OutboxMessage.status).in_(("pending", "sending", "sent")),
        when >= start, when < end))).all()
    for chat_id, payload in rows:
        op = (payload or {}).get("op")
        if op in NOT_MESSAGES and (op != "edit_or_send" or (payload or {}).get("message_id")):
            continue  # an edit in place of a message already posted, a deletion, a pin, a menu
        counts[chat_id] += 1
    return counts


async def day_report(uow: UnitOfWork, *, actor: Actor, day: date) -> list[tuple[str, int]]:
    """The community's building groups with the bot's messages of one local day (an admin's view), busiest first."""
    s = await scope(uow, actor=actor)
    if s.grids is not None:
        raise Forbidden("announce:community")
    counts = await day_counts(uow, community=s.community, day=day)
    titles = dict((await uow.session.exec(select(Chat.tg_chat_id, Chat.title).where(
        col(Chat.tg_chat_id).in_(list(counts))))).all())
    return sorted(((titles.get(k) or str(k), n) for k, n in counts.items()), key=lambda x: (-x[1], x[0]))
