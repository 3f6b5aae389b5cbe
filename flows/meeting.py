"""The weekly multi-committee meeting (多委联合办公会, F-8.2): attendance, decisions that become assignments on
the deadline ladder, and the minutes. Its weekly time, reminder and agenda: flows/meeting_agenda.py.

A committee member or admin opens the meeting (`open_meeting`, in the committee group or in private) and chairs
it; the agenda is frozen into its items. Members mark attendance; the chair (or an admin) records a decision per
item — an organisation, a deadline in local days, a note. For a request that is its assignment
(request_work.assign for a new one; an assigned one keeps its organisation, and its ladder's next rung waits for
the meeting's deadline); any other item becomes an assignment row of the meeting, owned by the organisation's
committee member, climbing ITEM_LADDER from its deadline (owner → admins → district) until its owner marks it
done. Closing posts the minutes to the committee group (or the admins); they are kept. Every state change is
compare-and-set; one open meeting per community is a unique key of the schema (`Meeting.open_slot`)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import col, select

from flows import audit, ladder, outbox, request_work, requests
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.meeting_agenda import ADMINS, MEMBERS, agenda, remind
from flows.membership import Actor
from flows.notices import Notice
from flows.roles import Purpose, Role
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Chat, Community, Member, RoleGrant, User
from storage.models_meeting import Meeting, MeetingAttendance, MeetingItem
from storage.models_requests import Request

DEADLINE_DAYS = (3, 7, 14, 30)  # the deadlines offered by button; 1 … MAX_DAYS are accepted
MAX_DAYS = 90
NOTE_LIMIT = 300
OWNER = "owner"
ITEM_LADDER = ladder.Ladder((ladder.Rung(timedelta(0), (OWNER,)), ladder.Rung(timedelta(days=1), (ladder.Audience.ADMINS,)),
                             ladder.Rung(timedelta(days=2), (ladder.Audience.DISTRICT,))))
TRACK = ladder.Track(MeetingItem, kind="meeting_item", state="state", open=("assigned",), rung="rung", next_at="due_at")


# ---------------------------------------------------------------- notices


@dataclass(frozen=True)
class MeetingTask(Notice, kind="meeting_task"):
    """To an item's owner: the meeting assigned it to them, with a deadline (local ISO date)."""

    item_id: int
    meeting: int
    label: str
    source: str
    org: str | None
    deadline: str
    note: str | None


@dataclass(frozen=True)
class MeetingItemOverdue(Notice, kind="meeting_item_overdue"):
    """An assignment of a meeting past its deadline, to one rung's audience (owner | admins | district)."""

    item_id: int
    meeting: int
    community: str
    label: str
    org: str | None
    deadline: str
    audience: str


@dataclass(frozen=True)
class MeetingMinutes(Notice, kind="meeting_minutes"):
    """The minutes, to the committee group (or the admins) when the chair closes the meeting."""

    community: str
    meeting: int
    opened: str
    closed: str
    chair: str
    present: list[str]
    items: list[dict[str, Any]]


# ---------------------------------------------------------------- who may


def member_of(actor: Actor) -> Member:
    """A committee member or admin of the actor's community, or Forbidden("meeting")."""
    me = actor.registered()
    if not MEMBERS & actor.roles:
        raise Forbidden("meeting")
    return me


def _in_community(actor: Actor, meeting: Meeting) -> Member:
    me = member_of(actor)
    if meeting.community_id != me.community_id:
        raise Forbidden("meeting:community")
    return me


def _chair(actor: Actor, meeting: Meeting) -> Member:
    me = _in_community(actor, meeting)
    if me.id != meeting.chair_member_id and not ADMINS & actor.roles:
        raise Forbidden("meeting:chair")
    return me


# ---------------------------------------------------------------- the ladder of the assignments (the scheduler)


async def tick(uow: UnitOfWork, *, now: datetime) -> int:
    """The meetings' assignments past their deadline climb ITEM_LADDER (compare-and-set), a rung a pass."""
    zones: dict[int, Community | None] = {}

    async def community_of(cid: int) -> Community | None:
        if cid not in zones:
            zones[cid] = await uow.session.get(Community, cid)
        return zones[cid]

    for row in await ladder.due(uow, TRACK, now=now):
        await community_of(row.community_id)

    def plan(row: MeetingItem) -> tuple[ladder.Ladder, str] | None:
        c = zones.get(row.community_id)
        return None if c is None else (ITEM_LADDER, c.timezone)

    async def step(row: MeetingItem, index: int, rung: ladder.Rung) -> None:
        c = zones[row.community_id]
        assert c is not None
        meeting = await uow.session.get(Meeting, row.meeting_id)
        owners = [row.owner_member_id] if await _still_committee(uow, row.owner_member_id) else await ladder.members(
            uow, (ladder.Audience.ADMINS,), community_id=row.community_id)  # none, or their role was taken away
        ids = await ladder.members(uow, rung.tell, community_id=row.community_id, custom={OWNER: owners})
        notice = MeetingItemOverdue(item_id=row.id or 0, meeting=meeting.number if meeting else 0, community=c.name,
                                    label=row.label, org=row.organisation, audience=str(rung.tell[0]),
                                    deadline=_day(row.deadline, c.timezone))
        for r in (await ladder.people(uow, ids, locale=c.locale)).values():
            await ladder.alert(uow, TRACK, item_id=row.id or 0, rung=index, community_id=c.id or 0, now=now,
                               tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=r.member_id, lang=r.lang,
                               notice=notice)

    return await ladder.run(uow, TRACK, now=now, plan=plan, on_rung=step)


async def _still_committee(uow: UnitOfWork, member_id: int | None) -> bool:
    """Whether the owner still holds a committee role (when it was taken away, the admins are told instead)."""
    if member_id is None:
        return False
    return (await uow.session.exec(select(RoleGrant.id).where(
        RoleGrant.member_id == member_id, RoleGrant.role == Role.COMMITTEE.value,
        col(RoleGrant.revoked_at).is_(None)))).first() is not None


async def due(uow: UnitOfWork, *, now: datetime) -> int:
    return await remind(uow, now=now) + await tick(uow, now=now)


def _day(at: datetime | None, tz: str) -> str:
    return local(at, tz).date().isoformat() if at is not None else ""


# ---------------------------------------------------------------- the meeting


@dataclass(frozen=True)
class View:
    meeting: Meeting
    items: list[MeetingItem]
    present: list[str]
    chair: str
    owners: dict[int, str] = field(default_factory=dict)  # member id → name
    timezone: str = ladder.DEFAULT_ZONE


async def _names(uow: UnitOfWork, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                   .where(col(Member.id).in_(ids)))).all()
    return {m.id or 0: m.display_name or u.first_name for m, u in rows}


async def view(uow: UnitOfWork, meeting: Meeting) -> View:
    items = list((await uow.session.exec(select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)
                                         .order_by(col(MeetingItem.position)))).all())
    present_ids = list((await uow.session.exec(select(MeetingAttendance.member_id).where(
        MeetingAttendance.meeting_id == meeting.id).order_by(col(MeetingAttendance.id)))).all())
    names = await _names(uow, [*present_ids, meeting.chair_member_id, *(i.owner_member_id for i in items
                                                                         if i.owner_member_id)])
    community = await uow.session.get(Community, meeting.community_id)
    return View(meeting, items, [names.get(m, "") for m in present_ids], names.get(meeting.chair_member_id, ""),
                names, community.timezone if community else ladder.DEFAULT_ZONE)


async def _meeting(uow: UnitOfWork, meeting_id: int) -> Meeting:
    row = (await uow.session.exec(select(Meeting).where(Meeting.id == meeting_id)
                                  .execution_options(populate_existing=True))).first()
    if row is None:
        raise NotFound("meeting", meeting_id)
    return row


async def current(uow: UnitOfWork, *, actor: Actor) -> Meeting | None:
    me = member_of(actor)
    return (await uow.session.exec(select(Meeting).where(Meeting.community_id == me.community_id,
                                                         Meeting.state == "open"))).first()


async def open_meeting(uow: UnitOfWork, *, actor: Actor, tg_chat_id: int, in_group: bool, now: datetime
                       ) -> tuple[Meeting, bool]:
    """The community's open meeting, or a new one chaired by the actor with the agenda frozen into its items.
    In a group only the community's committee group (the group's community is the actor's here). Returns the
    meeting and whether this call opened it."""
    me = member_of(actor)
    community = actor.home()
    if in_group:
        purpose = (await uow.session.exec(select(Chat.purpose).where(Chat.tg_chat_id == tg_chat_id))).first()
        if purpose != Purpose.COMMITTEE.value:
            raise Forbidden("meeting:chat")
    existing = await current(uow, actor=actor)
    if existing is not None:
        return existing, False
    number = int((await uow.session.exec(select(func.coalesce(func.max(Meeting.number), 0)).where(
        Meeting.community_id == me.community_id))).one()) + 1
    taken = await uow.session.execute(insert_ignoring(uow, Meeting, ["open_slot"]).values(
        community_id=me.community_id, number=number, state="open", open_slot=me.community_id,
        chair_member_id=me.id, tg_chat_id=tg_chat_id, opened_at=now))
    meeting = await current(uow, actor=actor)
    if meeting is None:
        raise AlreadyDone("meeting_closed")
    if not taken.rowcount:  # type: ignore[attr-defined]
        return meeting, False  # opened by someone else a moment ago
    rows = [{"community_id": me.community_id, "meeting_id": meeting.id, "position": position, "source": item.source,
             "ref_id": item.ref_id, "label": item.label[:60], "detail": item.kind, "organisation": item.org,
             "state": "pending", "rung": 0}
            for position, item in enumerate(await agenda(uow, community, now), start=1)]
    for i in range(0, len(rows), ladder.BATCH):  # one statement per batch (a busy agenda has hundreds of items)
        await uow.session.execute(insert(MeetingItem), rows[i:i + ladder.BATCH])
    audit.record(uow, action="meeting.open", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="meeting", subject_id=meeting.id, number=number)
    return meeting, True


async def get(uow: UnitOfWork, *, actor: Actor, meeting_id: int, open_only: bool = True) -> Meeting:
    meeting = await _meeting(uow, meeting_id)
    _in_community(actor, meeting)
    if open_only and meeting.state != "open":
        raise AlreadyDone("meeting_closed")
    return meeting


async def attend(uow: UnitOfWork, *, actor: Actor, meeting_id: int, now: datetime) -> bool:
    """Mark the actor present (once); True when this call did."""
    meeting = await get(uow, actor=actor, meeting_id=meeting_id)
    me = _in_community(actor, meeting)
    added = await uow.session.execute(insert_ignoring(uow, MeetingAttendance, ["meeting_id", "member_id"]).values(
        meeting_id=meeting.id, member_id=me.id, at=now))
    return bool(added.rowcount)  # type: ignore[attr-defined]


async def item_of(uow: UnitOfWork, *, actor: Actor, meeting_id: int, item_id: int) -> tuple[Meeting, MeetingItem]:
    """A pending item of an open meeting, for its chair."""
    meeting = await get(uow, actor=actor, meeting_id=meeting_id)
    _chair(actor, meeting)
    item = await uow.session.get(MeetingItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise NotFound("meeting_item", item_id)
    if item.state != "pending":
        raise AlreadyDone("meeting_item")
    return meeting, item


def _note(text: str | None) -> str | None:
    value = "".join(c for c in (text or "") if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")).strip()
    if len(value) > NOTE_LIMIT:
        raise Invalid("note", "too_long", limit=NOTE_LIMIT)
    return value or None


async def decide(uow: UnitOfWork, *, actor: Actor, meeting_id: int, item_id: int, org: str, days: int,
                 now: datetime, note: str | None = None) -> MeetingItem:
    """The chair's decision on an item: assigned to `org` with a deadline `days` local days from now, and a note.
    A request is assigned (a new one) or keeps its organisation with its next rung at the deadline; any other
    item becomes an assignment of the meeting on ITEM_LADDER, owned by the organisation's committee member."""
    meeting, item = await item_of(uow, actor=actor, meeting_id=meeting_id, item_id=item_id)
    me = _chair(actor, meeting)
    community = actor.home()
    if org not in requests.organisations(community):
        raise Invalid("organisation", "unknown")
    if not 1 <= days <= MAX_DAYS:
        raise Invalid("deadline", "range", limit=MAX_DAYS)
    why = _note(note)
    deadline = ladder.later(now, timedelta(days=days), community.timezone)
    state, due_at, owner = "assigned", deadline, None
    if item.source in ("new_request", "overdue_request"):
        state, due_at = "request", None  # the request's own ladder carries it
        await _decide_request(uow, actor, item, org=org, deadline=deadline, now=now)
    else:
        heads = await requests.org_heads(uow, community_id=community.id or 0, org=org)
        owner = heads[0][0].id if heads else None
    done = await uow.session.execute(
        update(MeetingItem).where(col(MeetingItem.id) == item.id, col(MeetingItem.state) == "pending")
        .values(state=state, organisation=org, owner_member_id=owner, deadline=deadline, note=why,
                decided_by_member_id=me.id, decided_at=now, rung=0, due_at=due_at)
        .execution_options(synchronize_session=False))
    if not done.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("meeting_item")
    await uow.session.refresh(item)
    audit.record(uow, action="meeting.decide", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="meeting_item", subject_id=item.id, meeting=meeting.number, organisation=org, days=days)
    if owner is not None:
        for r in (await ladder.people(uow, [owner], locale=community.locale)).values():
            outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=community.id,
                          lang=r.lang, now=now, dedupe_key=f"meeting_task:{item.id}:{r.member_id}",
                          notice=MeetingTask(item_id=item.id or 0, meeting=meeting.number, label=item.label,
                                             source=item.source, org=org, deadline=_day(deadline, community.timezone),
                                             note=why))
    return item


async def _decide_request(uow: UnitOfWork, actor: Actor, item: MeetingItem, *, org: str, deadline: datetime,
                          now: datetime) -> None:
    row = await requests.get(uow, community_id=item.community_id, request_id=item.ref_id)
    if row.state == "new":
        await request_work.assign(uow, actor=actor, request_id=row.id or 0, org=org, now=now)
        await uow.session.refresh(row)
    elif row.state not in requests.STAGES:
        raise AlreadyDone("request_state")
    elif row.organisation != org:
        raise Invalid("organisation", "request_elsewhere", org=row.organisation)
    # the ladder's next rung waits for the meeting's deadline (compare-and-set on the state and rung read)
    moved = await uow.session.execute(
        update(Request).where(col(Request.id) == row.id, col(Request.state) == row.state, col(Request.rung) == row.rung)
        .values(due_at=deadline, updated_at=now).execution_options(synchronize_session=False))
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("request_state")


async def by_position(uow: UnitOfWork, *, actor: Actor, position: int) -> tuple[Meeting, MeetingItem]:
    """The item at `position` of the community's open meeting (its chair only)."""
    meeting = await current(uow, actor=actor)
    if meeting is None:
        raise NotFound("meeting_open")
    _chair(actor, meeting)
    item = (await uow.session.exec(select(MeetingItem).where(MeetingItem.meeting_id == meeting.id,
                                                             MeetingItem.position == position))).first()
    if item is None:
        raise NotFound("meeting_item", position)
    return meeting, item


async def note(uow: UnitOfWork, *, actor: Actor, position: int, text: str, now: datetime) -> MeetingItem:
    """The chair adds (or replaces) the note of an item of the open meeting, decided or not, for the minutes."""
    meeting, item = await by_position(uow, actor=actor, position=position)
    why = _note(text)
    if why is None:
        raise Invalid("note", "empty")
    await uow.session.execute(update(MeetingItem).where(col(MeetingItem.id) == item.id).values(note=why)
                              .execution_options(synchronize_session=False))
    await uow.session.refresh(item)
    audit.record(uow, action="meeting.note", now=now, community_id=meeting.community_id, actor_user_id=actor.user.id,
                 subject_type="meeting_item", subject_id=item.id)
    return item


async def done(uow: UnitOfWork, *, actor: Actor, item_id: int, now: datetime) -> MeetingItem:
    """The owner (or an admin) marks a meeting's assignment done: it leaves the ladder."""
    me = actor.registered()
    item = await uow.session.get(MeetingItem, item_id)
    if item is None or item.community_id != me.community_id:
        raise NotFound("meeting_item", item_id)
    if item.owner_member_id != me.id and not ADMINS & actor.roles:
        raise Forbidden("meeting:owner")
    took = await ladder.take(uow, TRACK, [item_id], expect={"state": "assigned"}, state="done", due_at=None)
    if not took:
        raise AlreadyDone("meeting_item")
    await uow.session.refresh(item)
    audit.record(uow, action="meeting.done", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="meeting_item", subject_id=item_id)
    return item


async def close(uow: UnitOfWork, *, actor: Actor, meeting_id: int, now: datetime) -> View:
    """The chair closes the meeting (items left undecided are noted as such); the minutes go to the committee."""
    meeting = await get(uow, actor=actor, meeting_id=meeting_id)
    _chair(actor, meeting)
    closed = await uow.session.execute(
        update(Meeting).where(col(Meeting.id) == meeting.id, col(Meeting.state) == "open")
        .values(state="closed", open_slot=None, closed_at=now).execution_options(synchronize_session=False))
    if not closed.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("meeting_closed")
    await uow.session.execute(update(MeetingItem).where(col(MeetingItem.meeting_id) == meeting.id,
                                                        col(MeetingItem.state) == "pending")
                              .values(state="noted").execution_options(synchronize_session=False))
    meeting = await _meeting(uow, meeting_id)
    shown = await view(uow, meeting)
    community = actor.home()
    await requests.tell_committee(uow, community=community, notice=minutes_notice(shown, community.name), now=now,
                                  key=f"meeting_minutes:{meeting.id}")
    audit.record(uow, action="meeting.close", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="meeting", subject_id=meeting.id, number=meeting.number)
    return shown


def minutes_notice(v: View, community: str) -> MeetingMinutes:
    tz = v.timezone
    items = [{"label": i.label, "source": i.source, "kind": i.detail, "state": i.state, "org": i.organisation,
              "owner": v.owners.get(i.owner_member_id or 0), "deadline": _day(i.deadline, tz), "note": i.note}
             for i in v.items]
    return MeetingMinutes(community=community, meeting=v.meeting.number,
                          opened=local(v.meeting.opened_at, tz).isoformat(timespec="minutes"),
                          closed=local(v.meeting.closed_at or v.meeting.opened_at, tz).isoformat(timespec="minutes"),
                          chair=v.chair, present=v.present, items=items)


async def past(uow: UnitOfWork, *, actor: Actor, limit: int = 10) -> list[Meeting]:
    """The community's closed meetings, the latest first."""
    me = member_of(actor)
    return list((await uow.session.exec(select(Meeting).where(Meeting.community_id == me.community_id,
                                                              Meeting.state == "closed")
                                        .order_by(col(Meeting.number).desc()).limit(limit))).all())


async def minutes(uow: UnitOfWork, *, actor: Actor, number: int) -> MeetingMinutes:
    """The minutes of the community's closed meeting no. `number`."""
    me = member_of(actor)
    meeting = (await uow.session.exec(select(Meeting).where(Meeting.community_id == me.community_id,
                                                            Meeting.number == number))).first()
    if meeting is None or meeting.state != "closed":
        raise NotFound("meeting", number)
    return minutes_notice(await view(uow, meeting), actor.home().name)
