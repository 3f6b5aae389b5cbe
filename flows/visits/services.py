"""Services for key persons (F-5.4): 助医 medical escort, 助洁 cleaning, 助行 mobility help, 助急 urgent help.

A person's volunteer, the grid worker or an admin asks for a service at a time; it goes in private to the members
who offer that kind and to the volunteers' groups (the building, the kind and the time only, and a claim
button); the first press takes it (one conditional UPDATE: exactly one winner), and only then does the claimer
see alias and room (audited). The claimer marks it done with a note (sealed); the requester or the person's
volunteer confirms. While unclaimed it climbs the shared deadline ladder: in days (grid worker → admins), or for
助急 in minutes — the grid worker at once, 10 min: the grid worker again and the admins, 30 min: the district;
助急 notices go before everything else queued for a chat, and its group post ignores quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, delete, select

from flows import audit, ladder, outbox, quiet
from flows.care.ledger import SERVICES, clean, is_admin
from flows.errors import FlowError, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.roles import Org, Purpose, Role
from flows.visits import family
from flows.visits.access import holds, label, person_for
from flows.visits.notices import (
    ServiceAlert,
    ServiceAsked,
    ServiceClaimed,
    ServiceDone,
    ServiceGroupPost,
    ServiceNotDone,
)
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import Chat, Community, KeyPerson, Member, OutboxMessage, RoleGrant, User
from storage.models_visits import ServiceOffer, ServiceRequest

URGENT = "emergency"
OPEN, CLAIMED, DONE, CONFIRMED, CANCELLED = "open", "claimed", "done", "confirmed", "cancelled"
TRACK = ladder.Track(ServiceRequest, kind="service", state="state", open=(OPEN,), rung="rung", next_at="next_at")
LADDER = ladder.Ladder((
    ladder.Rung(timedelta(days=1), (ladder.Audience.GRID_WORKER,)),
    ladder.Rung(timedelta(days=1), (ladder.Audience.ADMINS,)),
))
URGENT_LADDER = ladder.Ladder((
    ladder.Rung(timedelta(0), (ladder.Audience.GRID_WORKER,)),  # at once
    ladder.Rung(timedelta(minutes=10), (ladder.Audience.GRID_WORKER, ladder.Audience.ADMINS)),
    ladder.Rung(timedelta(minutes=20), (ladder.Audience.DISTRICT,)),  # 30 min after the request
))
#: a claimed service not done climbs its own ladder (stopped by ✅ done, or a cancel): 助急 from the claim — 60 min:
#: the grid worker and the admins, 2 h: the district; the others a day after the wanted time: the grid worker once
CLAIMED_TRACK = ladder.Track(ServiceRequest, kind="service", state="state", open=(CLAIMED,), rung="rung",
                             next_at="next_at")
CLAIMED_LADDER = ladder.Ladder((ladder.Rung(timedelta(days=1), (ladder.Audience.GRID_WORKER,)),))
CLAIMED_URGENT_LADDER = ladder.Ladder((
    ladder.Rung(timedelta(minutes=60), (ladder.Audience.GRID_WORKER, ladder.Audience.ADMINS)),
    ladder.Rung(timedelta(minutes=60), (ladder.Audience.DISTRICT,)),  # 2 h after the claim
))
MAX_AHEAD = timedelta(days=60)
#: who may offer services: volunteers, grid workers, admins, and members of a resident unit (驻区单位)
OFFERING = (Role.VOLUNTEER, Role.GRID_WORKER, Role.ADMIN, Role.DISTRICT_ADMIN)


class ServiceRefused(FlowError):
    """A press that changes nothing: `reason` (taken, not_claimer, not_done, not_yours, state)."""

    code = "service_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason=reason)
        self.reason = reason


def ladder_of(kind: str) -> ladder.Ladder:
    return URGENT_LADDER if kind == URGENT else LADDER


def claimed_ladder_of(kind: str) -> ladder.Ladder:
    return CLAIMED_URGENT_LADDER if kind == URGENT else CLAIMED_LADDER


def _kind(kind: str) -> str:
    if kind not in SERVICES:
        raise Invalid("service", "unknown")
    return kind


async def _may_offer(uow: UnitOfWork, member_id: int) -> bool:
    if await holds(uow, member_id, *OFFERING):
        return True
    row = (await uow.session.exec(select(RoleGrant.id).where(
        RoleGrant.member_id == member_id, RoleGrant.organisation == Org.UNIT.value,
        col(RoleGrant.revoked_at).is_(None)))).first()
    return row is not None


# ---------------------------------------------------------------- offers


async def offers(uow: UnitOfWork, *, actor: Actor) -> list[str]:
    me = actor.registered()
    rows = (await uow.session.exec(select(ServiceOffer.kind).where(ServiceOffer.member_id == me.id))).all()
    return [k for k in SERVICES if k in rows]


async def set_offers(uow: UnitOfWork, *, actor: Actor, kinds: list[str], now: datetime) -> list[str]:
    """Declare the services one offers (replacing the earlier declaration)."""
    me = actor.registered()
    if not await _may_offer(uow, me.id or 0):
        raise Forbidden("services:offer")
    chosen = [k for k in SERVICES if k in {_kind(k) for k in kinds}]
    await uow.session.execute(delete(ServiceOffer).where(col(ServiceOffer.member_id) == me.id))
    for k in chosen:
        uow.session.add(ServiceOffer(community_id=me.community_id, member_id=me.id or 0, kind=k, created_at=now))
    audit.record(uow, action="service.offer", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 kinds=chosen)
    return chosen


async def offerers(uow: UnitOfWork, *, community_id: int, kind: str) -> list[int]:
    """Members offering `kind` who may still offer (a revoked role ends the offer's notices)."""
    ids = (await uow.session.exec(select(ServiceOffer.member_id).where(
        ServiceOffer.community_id == community_id, ServiceOffer.kind == kind).order_by(col(ServiceOffer.member_id)))).all()
    return [m for m in ids if await _may_offer(uow, m)]


# ---------------------------------------------------------------- asking


def _when(at: datetime, tz: str) -> tuple[str, int]:
    local = at.astimezone(ladder.zone(tz))
    return f"{local:%m-%d %H:%M}", local.weekday()


async def ask(uow: UnitOfWork, *, actor: Actor, person_id: int, kind: str, wanted_at: datetime,
              now: datetime) -> ServiceRequest:
    """Ask for a service for a person the actor looks after, numbered per community (S-12)."""
    kind = _kind(kind)
    try:
        person, _ = await person_for(uow, actor=actor, person_id=person_id)
    except Forbidden:  # a family member linked to this person (and to no other) asks too
        if not await family.linked(uow, member_id=actor.registered().id, person_id=person_id):
            raise
        found = await uow.session.get(KeyPerson, person_id)
        assert found is not None
        person = found
    if wanted_at.tzinfo is None:
        raise Invalid("when", "format")
    if wanted_at < now - timedelta(minutes=5) and kind != URGENT:
        raise Invalid("when", "past")
    if wanted_at > now + MAX_AHEAD:
        raise Invalid("when", "too_far", days=MAX_AHEAD.days)
    c = await uow.session.get(Community, person.community_id)
    assert c is not None and c.id is not None
    # numbered per community, race-free: the community's row is locked first (PostgreSQL; SQLite's writes are one
    # at a time anyway), so a concurrent ask waits and then reads the number this one took
    await uow.session.execute(select(Community.id).where(col(Community.id) == c.id).with_for_update())
    last = (await uow.session.exec(select(func.max(ServiceRequest.number))
                                   .where(ServiceRequest.community_id == c.id))).one()
    me = actor.registered()
    req = ServiceRequest(community_id=c.id, number=int(last or 0) + 1, person_id=person_id, kind=kind,
                         wanted_at=wanted_at, requester_member_id=me.id or 0, rung=0,
                         next_at=ladder_of(kind).first_due(now, c.timezone), created_at=now)
    uow.session.add(req)
    await uow.session.flush()
    audit.record(uow, action="service.ask", now=now, community_id=c.id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person_id, request=req.number, kind=kind)
    await _dispatch(uow, c, req, person, exclude=me.id, now=now)
    if kind == URGENT:  # the grid worker at once, in this transaction
        await tick(uow, now=now, only=req.id)
    return req


async def _dispatch(uow: UnitOfWork, c: Community, req: ServiceRequest, person: KeyPerson, *, exclude: int | None,
                    now: datetime) -> None:
    when, weekday = _when(req.wanted_at, c.timezone)
    building = await label(uow, person.building_id)
    urgent = req.kind == URGENT
    ids = [m for m in await offerers(uow, community_id=c.id or 0, kind=req.kind) if m != exclude]
    for r in (await ladder.people(uow, ids, locale=c.locale)).values():
        row = outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, lang=r.lang,
                            now=now, dedupe_key=f"service:{req.id}:asked:{r.tg_id}",
                            notice=ServiceAsked(request_id=req.id or 0, number=req.number, service=req.kind,
                                                building=building, when=when, weekday=weekday, urgent=urgent))
        if urgent:
            row.priority = outbox.REPLY  # skips the chat's queue
    groups = (await uow.session.exec(select(Chat).where(Chat.community_id == c.id, Chat.purpose ==
                                                        Purpose.VOLUNTEERS.value))).all()
    for g in groups:
        row = outbox.notify(uow, tg_chat_id=g.tg_chat_id, community_id=c.id, lang=c.locale, now=now,
                            dedupe_key=f"service:{req.id}:group:{g.tg_chat_id}",
                            notice=ServiceGroupPost(request_id=req.id or 0, number=req.number, service=req.kind,
                                                    building=building, when=when, weekday=weekday, urgent=urgent))
        if urgent:
            row.priority = outbox.REPLY
        else:
            row.not_before = quiet.group_post_time(c, now)


# ---------------------------------------------------------------- claiming, done, confirmed


@dataclass(frozen=True)
class ServiceView:
    id: int
    number: int
    kind: str
    state: str
    wanted_at: datetime
    tz: str
    building: str
    alias: str = ""  # only for the claimer, the requester and those who look after the person
    room: str = ""


async def _request(uow: UnitOfWork, actor: Actor, request_id: int) -> ServiceRequest:
    me = actor.registered()
    req = await uow.session.get(ServiceRequest, request_id, populate_existing=True)
    if req is None or req.community_id != me.community_id:
        raise NotFound("service", request_id)
    return req


async def _view(uow: UnitOfWork, req: ServiceRequest, *, opened: bool) -> ServiceView:
    person = await uow.session.get(KeyPerson, req.person_id)
    c = await uow.session.get(Community, req.community_id)
    assert person is not None and c is not None
    return ServiceView(id=req.id or 0, number=req.number, kind=req.kind, state=req.state, wanted_at=req.wanted_at,
                       tz=c.timezone, building=await label(uow, person.building_id),
                       alias=person.alias if opened else "", room=person.room if opened else "")


async def claim(uow: UnitOfWork, *, actor: Actor, request_id: int, now: datetime) -> ServiceView:
    """Take the service: one conditional UPDATE (state open → claimed), the rowcount decides the one winner. The
    claimer must offer this kind (or look after the person); they then see alias and room, audited."""
    me = actor.registered()
    req = await _request(uow, actor, request_id)
    offered = (await uow.session.exec(select(ServiceOffer.id).where(
        ServiceOffer.member_id == me.id, ServiceOffer.kind == req.kind))).first()
    if offered is None or not await _may_offer(uow, me.id or 0):
        try:
            await person_for(uow, actor=actor, person_id=req.person_id)
        except (Forbidden, NotFound):
            raise Forbidden("services:claim") from None
    c = await uow.session.get(Community, req.community_id)
    tz = c.timezone if c is not None else ladder.DEFAULT_ZONE
    # the completion clock starts: 助急 from the claim, the others from the wanted time
    start = now if req.kind == URGENT else req.wanted_at
    took = await uow.session.execute(
        update(ServiceRequest).where(col(ServiceRequest.id) == request_id, ServiceRequest.state == OPEN)
        .values(state=CLAIMED, claimer_member_id=me.id, claimed_at=now, rung=0,
                next_at=claimed_ladder_of(req.kind).first_due(start, tz))
        .execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise ServiceRefused("taken")
    audit.record(uow, action="service.claim", now=now, community_id=req.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=req.person_id, request=req.number)
    audit.record(uow, action="person.read", now=now, community_id=req.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=req.person_id, via="service")
    await _tell(uow, req, [req.requester_member_id], now=now, stage="claimed",
                notice=lambda name: ServiceClaimed(number=req.number, service=req.kind, name=name), name_of=me.id)
    req = await _request(uow, actor, request_id)
    return await _view(uow, req, opened=True)


async def done(uow: UnitOfWork, *, actor: Actor, sealer: Sealer, request_id: int, note: str,
               now: datetime) -> ServiceView:
    """The claimer marks it done with a note (sealed); the requester and the person's volunteer are asked to
    confirm."""
    me = actor.registered()
    req = await _request(uow, actor, request_id)
    if req.claimer_member_id != me.id:
        raise ServiceRefused("not_claimer")
    note = clean("notes", note)
    if not note:
        raise Invalid("note", "empty")
    took = await uow.session.execute(
        update(ServiceRequest).where(col(ServiceRequest.id) == request_id, ServiceRequest.state == CLAIMED,
                                     ServiceRequest.claimer_member_id == me.id)
        .values(state=DONE, done_at=now, done_note_enc=sealer.seal(note), next_at=None).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise ServiceRefused("state")
    audit.record(uow, action="service.done", now=now, community_id=req.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=req.person_id, request=req.number)
    person = await uow.session.get(KeyPerson, req.person_id)
    assert person is not None
    await _tell(uow, req, [req.requester_member_id, person.primary_volunteer_id], now=now, stage="done",
                notice=lambda name: ServiceDone(request_id=req.id or 0, number=req.number, service=req.kind,
                                                name=name), name_of=me.id)
    return await _view(uow, await _request(uow, actor, request_id), opened=True)


async def confirm(uow: UnitOfWork, *, actor: Actor, request_id: int, now: datetime) -> ServiceView:
    """The requester or the person's primary volunteer confirms the service was done."""
    me = actor.registered()
    req = await _request(uow, actor, request_id)
    person = await uow.session.get(KeyPerson, req.person_id)
    assert person is not None
    if me.id not in (req.requester_member_id, person.primary_volunteer_id):
        raise ServiceRefused("not_yours")
    if me.id != person.primary_volunteer_id and await family.cut_off(uow, member_id=me.id, person_id=person.id or 0):
        raise ServiceRefused("not_yours")  # a family member whose link was removed: their buttons stop
    took = await uow.session.execute(
        update(ServiceRequest).where(col(ServiceRequest.id) == request_id, ServiceRequest.state == DONE)
        .values(state=CONFIRMED, confirmed_at=now, confirmed_by=me.id).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise ServiceRefused("not_done")
    audit.record(uow, action="service.confirm", now=now, community_id=req.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=req.person_id, request=req.number)
    return await _view(uow, await _request(uow, actor, request_id), opened=True)


async def cancel(uow: UnitOfWork, *, actor: Actor, request_id: int, now: datetime) -> ServiceView:
    """The requester (or an admin) withdraws a service not yet done."""
    me = actor.registered()
    req = await _request(uow, actor, request_id)
    if me.id != req.requester_member_id and not is_admin(actor):
        raise ServiceRefused("not_yours")
    took = await uow.session.execute(
        update(ServiceRequest).where(col(ServiceRequest.id) == request_id, col(ServiceRequest.state).in_((OPEN, CLAIMED)))
        .values(state=CANCELLED, next_at=None).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise ServiceRefused("state")
    audit.record(uow, action="service.cancel", now=now, community_id=req.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=req.person_id, request=req.number)
    return await _view(uow, await _request(uow, actor, request_id), opened=False)


async def _tell(uow: UnitOfWork, req: ServiceRequest, member_ids: list[int | None], *, now: datetime, stage: str,
                notice: object, name_of: int | None) -> None:
    c = await uow.session.get(Community, req.community_id)
    assert c is not None
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == name_of))).first()
    name = (row[0].display_name or row[1].first_name) if row else ""
    ids = [m for m in member_ids if m != name_of
           and not await family.cut_off(uow, member_id=m, person_id=req.person_id)]  # a removed family link
    for r in (await ladder.people(uow, ids, locale=c.locale)).values():
        outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, lang=r.lang, now=now,
                      dedupe_key=f"service:{req.id}:{stage}:{r.tg_id}", notice=notice(name))  # type: ignore[operator]


async def mine(uow: UnitOfWork, *, actor: Actor, limit: int = 20) -> list[ServiceView]:
    """The services the actor asked for or claimed that are not finished, and those open for the kinds they
    offer (without alias)."""
    me = actor.registered()
    kinds = await offers(uow, actor=actor)
    rows = (await uow.session.exec(select(ServiceRequest).where(
        ServiceRequest.community_id == me.community_id, col(ServiceRequest.state).in_((OPEN, CLAIMED, DONE)))
        .order_by(col(ServiceRequest.kind) != URGENT, col(ServiceRequest.wanted_at)).limit(200))).all()
    out: list[ServiceView] = []
    for r in rows:
        involved = me.id in (r.requester_member_id, r.claimer_member_id)
        if involved or (r.state == OPEN and r.kind in kinds):
            out.append(await _view(uow, r, opened=involved))
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------- the ladder


async def tick(uow: UnitOfWork, *, now: datetime, only: int | None = None) -> int:
    """Unclaimed services climb their ladder (in days, 助急 in minutes): the grid worker, the admins, the district."""
    communities = {c.id: c for c in (await uow.session.exec(select(Community))).all()}

    def plan(row: ServiceRequest) -> tuple[ladder.Ladder, str]:
        c = communities.get(row.community_id)
        return ladder_of(row.kind), c.timezone if c is not None else ladder.DEFAULT_ZONE

    async def step(row: ServiceRequest, index: int, rung: ladder.Rung) -> None:
        c = communities[row.community_id]
        person = await uow.session.get(KeyPerson, row.person_id)
        building_id = person.building_id if person is not None else None
        ids = await ladder.members(uow, rung.tell, community_id=c.id or 0, building_id=building_id)
        when, _ = _when(row.wanted_at, c.timezone)
        building = await label(uow, building_id)
        for r in (await ladder.people(uow, ids, locale=c.locale)).values():
            if r.member_id == row.requester_member_id and index > 0:
                continue
            key = f"service:{row.id}:{index}:{r.tg_id}"
            told = await ladder.alert(uow, TRACK, item_id=row.id or 0, rung=index, community_id=c.id or 0, now=now,
                                      tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=r.member_id,
                                      lang=r.lang, dedupe_key=key,
                                      notice=ServiceAlert(request_id=row.id or 0, number=row.number,
                                                          service=row.kind, building=building, when=when, rung=index,
                                                          urgent=row.kind == URGENT))
            if told and row.kind == URGENT:  # 助急 goes before whatever else is queued for the chat
                await uow.session.execute(update(OutboxMessage).where(col(OutboxMessage.dedupe_key) == key)
                                          .values(priority=outbox.REPLY))

    where = [col(ServiceRequest.id) == only] if only is not None else []
    climbed = await ladder.run(uow, TRACK, now=now, plan=plan, on_rung=step, where=where)
    return climbed + await _tick_claimed(uow, communities, now=now, where=where)


async def _tick_claimed(uow: UnitOfWork, communities: dict[int | None, Community], *, now: datetime,
                        where: list[object]) -> int:
    """Claimed services not done climb the completion ladder (stage "claimed"): told once per rung and chat."""

    def plan(row: ServiceRequest) -> tuple[ladder.Ladder, str]:
        c = communities.get(row.community_id)
        return claimed_ladder_of(row.kind), c.timezone if c is not None else ladder.DEFAULT_ZONE

    async def step(row: ServiceRequest, index: int, rung: ladder.Rung) -> None:
        c = communities[row.community_id]
        person = await uow.session.get(KeyPerson, row.person_id)
        building_id = person.building_id if person is not None else None
        ids = await ladder.members(uow, rung.tell, community_id=c.id or 0, building_id=building_id)
        when, _ = _when(row.wanted_at, c.timezone)
        building = await label(uow, building_id)
        urgent = row.kind == URGENT
        for r in (await ladder.people(uow, ids, locale=c.locale)).values():
            key = f"service:{row.id}:claimed:{index}:{r.tg_id}"
            told = await ladder.alert(uow, CLAIMED_TRACK, item_id=row.id or 0, rung=index, community_id=c.id or 0,
                                      now=now, tg_chat_id=r.tg_id, recipient_user_id=r.user_id,
                                      member_id=r.member_id, lang=r.lang, stage="claimed", dedupe_key=key,
                                      notice=ServiceNotDone(number=row.number, service=row.kind, building=building,
                                                            when=when, rung=index, urgent=urgent))
            if told and urgent:
                await uow.session.execute(update(OutboxMessage).where(col(OutboxMessage.dedupe_key) == key)
                                          .values(priority=outbox.REPLY))

    return await ladder.run(uow, CLAIMED_TRACK, now=now, plan=plan, on_rung=step, where=where)


__all__ = ["CANCELLED", "CLAIMED", "CLAIMED_LADDER", "CLAIMED_TRACK", "CLAIMED_URGENT_LADDER", "CONFIRMED", "DONE", "LADDER", "OPEN", "TRACK", "URGENT", "URGENT_LADDER",
           "ServiceRefused", "ServiceView", "ask", "cancel", "claim", "confirm", "done", "mine", "offerers", "offers",
           "set_offers", "tick"]
