"""The loop of a request after it was reported (F-7.2–F-7.4): joint assessment, handling, the reporter's answer.

- Joint assessment (Perm.REQUESTS_ASSESS: committee members and admins of the request's community):
  `assign` to an organisation, `merge` into another open request (its reporters carry over), `reject` with a
  reason. Only a new request is assessed.
- The organisation's handlers (Role.HANDLER with that organisation; admins may act for any) `accept` it, post
  `progress` (text and/or photo) and `resolve` it with a note — a safety hazard only with an "after" photo.
- The reporters are told at every step and answer the resolution: `confirm` (满意) closes it, `reopen`
  (没解决, with a reason) sends it back to the same organisation and counts; `due` (the scheduler) closes a
  resolution nobody answered in three days as 默认满意 (closed_default, counted apart).

Every state change is a compare-and-set: ``UPDATE request SET state = new … WHERE id = … AND state IN (old)``;
a row count of 0 means somebody else moved it first (AlreadyDone("request_state")), so two presses at once
never both act. Each step is a RequestEvent (the timeline, the statistics) and an audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from flows import audit, outbox, request_clocks
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.requests import (
    CONFIRM_WITHIN,
    OPEN,
    by_code,
    clean,
    clock_start,
    code,
    get,
    handler_org,
    handlers_of,
    organisations,
)
from flows.roles import Perm, Role
from storage.db import UnitOfWork
from storage.models import Building, Community, Member, User
from storage.models_requests import Request, RequestEvent, RequestReporter

# ---------------------------------------------------------------- notices


@dataclass(frozen=True)
class RequestStep(Notice, kind="request_step"):
    """To a reporter: what happened to their request. step: assigned|accepted|progress|rejected|merged|
    confirmed|closed_default; `org` the organisation, `note` a reason or progress note, `into` the code merged into."""

    code: str
    step: str
    org: str | None = None
    note: str | None = None
    photo: str | None = None
    into: str | None = None


@dataclass(frozen=True)
class RequestResolved(Notice, kind="request_resolved"):
    """To a reporter: it is resolved — with the 满意 / 没解决 buttons."""

    request_id: int
    code: str
    org: str | None
    note: str
    photo: str | None = None


@dataclass(frozen=True)
class RequestToHandle(Notice, kind="request_to_handle"):
    """To a handler of the organisation: a request assigned (or reopened) to them, with the accept button.
    The reporter's name is for them to get in touch (a private chat only)."""

    request_id: int
    code: str
    request_kind: str  # (`kind` is the notice's own)
    category: str
    building: str | None
    text: str
    reporter: str
    reopened: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class RequestClosed(Notice, kind="request_closed"):
    """To the handlers: the reporter confirmed (how="confirmed") or nobody answered (how="closed_default")."""

    code: str
    how: str


# ---------------------------------------------------------------- compare-and-set


async def _move(uow: UnitOfWork, row: Request, *, old: tuple[str, ...], new: str, now: datetime,
                **values: Any) -> None:
    """Move the request from one of `old` to `new`, or AlreadyDone when someone moved it first."""
    result = await uow.session.execute(
        update(Request).where(col(Request.id) == row.id, col(Request.state).in_(old))
        .values(state=new, updated_at=now, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise AlreadyDone("request_state")
    await uow.session.refresh(row)


def _event(uow: UnitOfWork, row: Request, *, action: str, now: datetime, member_id: int | None,
           from_state: str | None = None, to_state: str | None = None, note: str | None = None,
           photo: str | None = None) -> RequestEvent:
    event = RequestEvent(community_id=row.community_id, request_id=row.id or 0, at=now, actor_member_id=member_id,
                         action=action, from_state=from_state, to_state=to_state, organisation=row.organisation,
                         note=note, photo_file_id=photo)
    uow.session.add(event)
    return event


async def reporters(uow: UnitOfWork, request_id: int) -> list[tuple[Member, User]]:
    return list((await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .join(RequestReporter, col(RequestReporter.member_id) == col(Member.id))
        .where(RequestReporter.request_id == request_id).order_by(col(RequestReporter.id)))).all())


async def _tell_reporters(uow: UnitOfWork, row: Request, notice: Notice, now: datetime, key: str) -> None:
    community = await uow.session.get(Community, row.community_id)
    for _member, user in await reporters(uow, row.id or 0):
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or (community.locale if community else "zh_CN"),
                      now=now, community_id=row.community_id, recipient_user_id=user.id,
                      dedupe_key=f"{key}:{row.id}:{user.id}", notice=notice)


async def _tell_handlers(uow: UnitOfWork, row: Request, notice: Notice, now: datetime, key: str) -> int:
    community = await uow.session.get(Community, row.community_id)
    people = await handlers_of(uow, community_id=row.community_id, org=row.organisation or "")
    for _member, user in people:
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or (community.locale if community else "zh_CN"),
                      now=now, community_id=row.community_id, recipient_user_id=user.id,
                      dedupe_key=f"{key}:{user.id}", notice=notice)
    return len(people)


async def _to_handle(uow: UnitOfWork, row: Request, *, reason: str | None = None) -> RequestToHandle:
    building = await uow.session.get(Building, row.building_id) if row.building_id else None
    first = (await reporters(uow, row.id or 0))[:1]
    name = (first[0][0].display_name or first[0][1].first_name) if first else ""
    return RequestToHandle(request_id=row.id or 0, code=code(row.year, row.number), request_kind=row.kind,
                           category=row.category, building=building.label if building else None, text=row.text,
                           reporter=name, reopened=reason is not None, reason=reason)


# ---------------------------------------------------------------- joint assessment


async def _assessable(uow: UnitOfWork, actor: Actor, request_id: int) -> tuple[Member, Request]:
    me = actor.require(Perm.REQUESTS_ASSESS)
    row = await get(uow, community_id=me.community_id, request_id=request_id)
    if row.state != "new":
        raise AlreadyDone("request_state")
    return me, row


@dataclass(frozen=True)
class Assigned:
    request: Request
    handlers: int  # how many were told (0: the organisation has nobody to handle it yet)


async def assign(uow: UnitOfWork, *, actor: Actor, request_id: int, org: str, now: datetime) -> Assigned:
    me, row = await _assessable(uow, actor, request_id)
    community = actor.home()
    if org not in organisations(community):
        raise Invalid("organisation", "unknown")
    await _move(uow, row, old=("new",), new="assigned", now=now, organisation=org,
                **clock_start(community, row.kind, "assigned", now))
    _event(uow, row, action="assign", now=now, member_id=me.id, from_state="new", to_state="assigned")
    audit.record(uow, action="request.assign", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number, organisation=org)
    await _tell_reporters(uow, row, RequestStep(code=code(row.year, row.number), step="assigned", org=org), now,
                          "request_assigned")
    told = await _tell_handlers(uow, row, await _to_handle(uow, row), now, f"request_to_handle:{row.id}:0")
    return Assigned(request=row, handlers=told)


async def merge(uow: UnitOfWork, *, actor: Actor, request_id: int, into: str, now: datetime) -> Request:
    """Merge a new request into another open one of the community (typed as R-2027-0012 or 12); its reporters
    become the other's reporters and are told."""
    me, row = await _assessable(uow, actor, request_id)
    target = await by_code(uow, community=actor.home(), text=into, now=now)
    if target.id == row.id:
        raise Invalid("merge", "same")
    if target.state not in OPEN:
        raise Invalid("merge", "target_closed", number=code(target.year, target.number))
    await _move(uow, row, old=("new",), new="merged", now=now, merged_into_id=target.id, closed_at=now, due_at=None)
    have = set((await uow.session.exec(select(RequestReporter.member_id)
                                       .where(RequestReporter.request_id == target.id))).all())
    movers = [m for m, _ in await reporters(uow, row.id or 0) if m.id not in have]
    for member in movers:
        uow.session.add(RequestReporter(request_id=target.id or 0, member_id=member.id or 0, merged_from_id=row.id,
                                        joined_at=now))
    _event(uow, row, action="merge", now=now, member_id=me.id, from_state="new", to_state="merged",
           note=code(target.year, target.number))
    _event(uow, target, action="merged_in", now=now, member_id=me.id, note=code(row.year, row.number))
    audit.record(uow, action="request.merge", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number, into=target.number,
                 carried=len(movers))
    await _tell_reporters(uow, row, RequestStep(code=code(row.year, row.number), step="merged",
                                                into=code(target.year, target.number)), now, "request_merged")
    return row


async def reject(uow: UnitOfWork, *, actor: Actor, request_id: int, reason: str, now: datetime) -> Request:
    me, row = await _assessable(uow, actor, request_id)
    why = clean("reason", reason)
    await _move(uow, row, old=("new",), new="rejected", now=now, reject_reason=why, closed_at=now, due_at=None)
    _event(uow, row, action="reject", now=now, member_id=me.id, from_state="new", to_state="rejected", note=why)
    audit.record(uow, action="request.reject", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number)
    await _tell_reporters(uow, row, RequestStep(code=code(row.year, row.number), step="rejected", note=why), now,
                          "request_rejected")
    return row


# ---------------------------------------------------------------- handling


def _admin(actor: Actor) -> bool:
    return bool({Role.ADMIN.value, Role.DISTRICT_ADMIN.value} & actor.roles)


async def _handled(uow: UnitOfWork, actor: Actor, request_id: int) -> tuple[Member, Request]:
    """A request of the actor's community assigned to the organisation they handle for (admins: any)."""
    me = actor.require(Perm.REQUESTS_HANDLE)
    row = await get(uow, community_id=me.community_id, request_id=request_id)
    if not _admin(actor) and (row.organisation is None or await handler_org(uow, me.id) != row.organisation):
        raise Forbidden("requests_handle:org")
    return me, row


async def accept(uow: UnitOfWork, *, actor: Actor, request_id: int, now: datetime) -> Request:
    me, row = await _handled(uow, actor, request_id)
    before = row.state
    await _move(uow, row, old=("assigned", "reopened"), new="accepted", now=now)
    _event(uow, row, action="accept", now=now, member_id=me.id, from_state=before, to_state="accepted")
    audit.record(uow, action="request.accept", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number)
    await _tell_reporters(uow, row, RequestStep(code=code(row.year, row.number), step="accepted",
                                                org=row.organisation), now, f"request_accepted:{row.reopen_count}")
    return row


async def progress(uow: UnitOfWork, *, actor: Actor, request_id: int, now: datetime, note: str = "",
                   photo: str | None = None) -> Request:
    """A progress update (text and/or a photo) on an accepted request; the reporters see it."""
    me, row = await _handled(uow, actor, request_id)
    if row.state != "accepted":
        raise Invalid("request", "not_accepted")
    text = clean("note", note) if note.strip() or not photo else ""
    event = _event(uow, row, action="progress", now=now, member_id=me.id, note=text or None, photo=photo)
    await uow.session.flush()
    await _tell_reporters(uow, row, RequestStep(code=code(row.year, row.number), step="progress",
                                                org=row.organisation, note=text or None, photo=photo), now,
                          f"request_progress:{event.id}")
    return row


async def resolve(uow: UnitOfWork, *, actor: Actor, request_id: int, note: str, now: datetime,
                  photo: str | None = None) -> Request:
    """Mark it resolved with a note (a safety hazard also with an "after" photo); the reporters are asked."""
    me, row = await _handled(uow, actor, request_id)
    text = clean("note", note)
    if row.kind == "hazard" and not photo:
        raise Invalid("photo", "required")
    await _move(uow, row, old=("accepted",), new="resolved", now=now, due_at=now + CONFIRM_WITHIN)
    _event(uow, row, action="resolve", now=now, member_id=me.id, from_state="accepted", to_state="resolved",
           note=text, photo=photo)
    audit.record(uow, action="request.resolve", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number)
    await _tell_reporters(uow, row, RequestResolved(request_id=row.id or 0, code=code(row.year, row.number),
                                                    org=row.organisation, note=text, photo=photo),
                          now, f"request_resolved:{row.reopen_count}")
    return row


# ---------------------------------------------------------------- the reporter's answer


async def own(uow: UnitOfWork, actor: Actor, request_id: int) -> tuple[Member, Request]:
    """A request the actor is a reporter of (in whatever community it is: the answer comes in private)."""
    if actor.user.id is None:
        raise NotFound("request", request_id)
    row = await uow.session.get(Request, request_id)
    mine = None
    if row is not None:
        mine = (await uow.session.exec(select(Member).join(RequestReporter, col(RequestReporter.member_id)
                                                           == col(Member.id))
                                       .where(RequestReporter.request_id == row.id,
                                              Member.user_id == actor.user.id))).first()
    if row is None or mine is None:
        raise NotFound("request", request_id)
    return mine, row


async def confirm(uow: UnitOfWork, *, actor: Actor, request_id: int, now: datetime) -> Request:
    me, row = await own(uow, actor, request_id)
    await _move(uow, row, old=("resolved",), new="confirmed", now=now, closed_at=now, due_at=None)
    _event(uow, row, action="confirm", now=now, member_id=me.id, from_state="resolved", to_state="confirmed")
    audit.record(uow, action="request.confirm", now=now, community_id=row.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number)
    await _tell_handlers(uow, row, RequestClosed(code=code(row.year, row.number), how="confirmed"), now,
                         f"request_closed:{row.id}")
    return row


async def reopen(uow: UnitOfWork, *, actor: Actor, request_id: int, reason: str, now: datetime) -> Request:
    """没解决: back to the same organisation (to accept again), the reopening counted."""
    me, row = await own(uow, actor, request_id)
    why = clean("reason", reason)
    community = await uow.session.get(Community, row.community_id)
    assert community is not None
    await _move(uow, row, old=("resolved",), new="reopened", now=now, reopen_count=row.reopen_count + 1,
                **clock_start(community, row.kind, "reopened", now))
    _event(uow, row, action="reopen", now=now, member_id=me.id, from_state="resolved", to_state="reopened", note=why)
    audit.record(uow, action="request.reopen", now=now, community_id=row.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=row.number, times=row.reopen_count)
    await _tell_handlers(uow, row, await _to_handle(uow, row, reason=why), now,
                         f"request_to_handle:{row.id}:{row.reopen_count}")
    return row


async def due(uow: UnitOfWork, *, now: datetime, limit: int = 500) -> int:
    """The scheduler's pass: the clocks climb their ladders (flows/request_clocks.py), and resolutions nobody
    answered within CONFIRM_WITHIN close as 默认满意 (closed_default; the reporters and the handlers are told).
    Idempotent (compare-and-set per request); returns how many rungs were climbed and requests closed."""
    climbed = await request_clocks.tick(uow, now=now, limit=limit)
    rows = (await uow.session.exec(select(Request).where(Request.state == "resolved", col(Request.due_at) <= now)
                                   .order_by(col(Request.due_at)).limit(limit))).all()
    closed = 0
    for row in rows:
        try:
            await _move(uow, row, old=("resolved",), new="closed_default", now=now, closed_at=now, due_at=None)
        except AlreadyDone:
            continue  # answered meanwhile
        _event(uow, row, action="close_default", now=now, member_id=None, from_state="resolved",
               to_state="closed_default")
        await _tell_reporters(uow, row, RequestStep(code=code(row.year, row.number), step="closed_default",
                                                    org=row.organisation), now, "request_closed_default")
        await _tell_handlers(uow, row, RequestClosed(code=code(row.year, row.number), how="closed_default"), now,
                             f"request_closed:{row.id}")
        closed += 1
    return climbed + closed


# ---------------------------------------------------------------- reading (staff)


@dataclass(frozen=True)
class Timeline:
    request: Request
    building: str | None
    events: list[RequestEvent]


async def timeline(uow: UnitOfWork, *, actor: Actor, request_id: int) -> Timeline:
    """A request with its steps, for the staff (assessors and handlers of its community)."""
    me = actor.registered()
    if not (actor.can(Perm.REQUESTS_ASSESS) or actor.can(Perm.REQUESTS_HANDLE)):
        raise Forbidden(Perm.REQUESTS_ASSESS.value)
    row = await get(uow, community_id=me.community_id, request_id=request_id)
    building = await uow.session.get(Building, row.building_id) if row.building_id else None
    events = list((await uow.session.exec(select(RequestEvent).where(RequestEvent.request_id == row.id)
                                          .order_by(col(RequestEvent.at), col(RequestEvent.id)))).all())
    return Timeline(request=row, building=building.label if building else None, events=events)


async def to_assess(uow: UnitOfWork, *, actor: Actor, limit: int = 20) -> list[Request]:
    """The community's new requests waiting for the joint assessment, oldest first."""
    me = actor.require(Perm.REQUESTS_ASSESS)
    return list((await uow.session.exec(select(Request).where(Request.community_id == me.community_id,
                                                              Request.state == "new")
                                        .order_by(col(Request.created_at), col(Request.id)).limit(limit))).all())


async def mine(uow: UnitOfWork, *, actor: Actor, limit: int = 10) -> list[Request]:
    """The requests the actor reported (or follows after a merge) in their community, newest first."""
    me = actor.registered()
    return list((await uow.session.exec(
        select(Request).join(RequestReporter, col(RequestReporter.request_id) == col(Request.id))
        .where(Request.community_id == me.community_id, RequestReporter.member_id == me.id)
        .order_by(col(Request.created_at).desc(), col(Request.id).desc()).limit(limit))).all())


async def worklist(uow: UnitOfWork, *, actor: Actor) -> list[Request]:
    """The open requests of the organisation the actor handles for (admins: every assigned one)."""
    me = actor.require(Perm.REQUESTS_HANDLE)
    org = await handler_org(uow, me.id)
    where: list[Any] = [Request.community_id == me.community_id,
                        col(Request.state).in_(("assigned", "accepted", "reopened", "resolved"))]
    if not _admin(actor):
        where.append(Request.organisation == (org or ""))
    return list((await uow.session.exec(select(Request).where(*where).order_by(col(Request.created_at))
                                        .limit(20))).all())

