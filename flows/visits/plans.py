"""Visits (五常五送, F-5.3): every active key person has a plan — when the next visit falls due, by risk colour —
and a visit recorded by a button moves it. Missed visits climb the shared deadline ladder (flows/ladder.py):
due (the paired volunteer) → reminder → the grid worker → the community admins.

Who is told is decided when a rung falls due: the person's primary volunteer while paired and still holding the
volunteer role (else the grid worker), so removing a pairing or a role stops their reminders at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, update
from sqlmodel import col, select

from flows import audit, ladder
from flows.care.ledger import RISKS, clean, parse_risk
from flows.clock import local
from flows.errors import FlowError, Invalid
from flows.membership import Actor
from flows.paging import Page, clamp
from flows.roles import Role
from flows.visits.access import ON_TIME, holds, interval, label, person_for, scope
from flows.visits.notices import VisitDue
from storage.crypto import Sealer
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Building, Community, Grid, KeyPerson
from storage.models_visits import Visit, VisitPlan

OUTCOMES = ("home", "away", "hospital")  # at home / not at home / in hospital
TRACK = ladder.Track(VisitPlan, kind="visit", state="status", open=("open",), rung="rung", next_at="next_at")
LADDER = ladder.Ladder((
    ladder.Rung(timedelta(0), (ladder.Audience.ASSIGNEE,)),  # the visit is due: the paired volunteer
    ladder.Rung(ON_TIME, (ladder.Audience.ASSIGNEE,)),  # the reminder
    ladder.Rung(timedelta(days=2), (ladder.Audience.GRID_WORKER,)),
    ladder.Rung(timedelta(days=3), (ladder.Audience.ADMINS,)),
))


class VisitRefused(FlowError):
    """A press that changes nothing: `reason` (recorded: someone recorded a visit since the button was sent)."""

    code = "visit_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason=reason)
        self.reason = reason


# ---------------------------------------------------------------- the plans


#: A person new on the ledger is due a first visit at once. The persons already on it when visits start (older than
#: `NEW_FOR`) are spread over at most a week, each at this local time, so a district's first day does not tell every
#: volunteer at once, nor at night.
NEW_FOR = timedelta(days=1)
FIRST_VISIT_AT = time(9, 0)
FIRST_SPREAD_DAYS = 7


def first_due(community: Community, person_id: int, risk: str, created_at: datetime | None, now: datetime) -> datetime:
    """A person's first visit: now for a person new on the ledger; for one who was on it before, 09:00 local on one
    of the next days (the id spreads them over the shorter of a week and their colour's interval), never before now."""
    if created_at is None or created_at >= now - NEW_FOR:
        return now
    here = local(now, community.timezone)
    days = max(1, min(FIRST_SPREAD_DAYS, interval(community, risk).days))
    day = here.date() + timedelta(days=person_id % days)
    at = datetime.combine(day, FIRST_VISIT_AT, tzinfo=ZoneInfo(community.timezone))
    if at <= here:
        at += timedelta(days=1)
    return at.astimezone(UTC)


async def ensure_plans(uow: UnitOfWork, *, now: datetime) -> int:
    """Give every active person without a plan one (its first visit at `first_due`) and reopen the plans of persons
    back on the ledger (due at once). One statement when nobody is new, whatever the number of persons."""
    has_plan = exists().where(VisitPlan.person_id == KeyPerson.id)
    new = (await uow.session.execute(select(KeyPerson.community_id, KeyPerson.id, KeyPerson.risk,
                                            KeyPerson.created_at).where(col(KeyPerson.active).is_(True),
                                                                        ~has_plan))).all()
    added = 0
    if new:
        communities = {c.id: c for c in (await uow.session.exec(select(Community).where(
            col(Community.id).in_({row[0] for row in new})))).all()}
        rows = []
        for community_id, person_id, risk, created_at in new:
            due = first_due(communities[community_id], person_id, risk, created_at, now)
            rows.append({"community_id": community_id, "person_id": person_id, "status": "open", "due_at": due,
                         "rung": 0, "next_at": due, "visits": 0})
        for i in range(0, len(rows), 1000):  # a plan another process made meanwhile stays as it is (unique per person)
            done = await uow.session.execute(insert_ignoring(uow, VisitPlan, ["person_id"]).values(rows[i:i + 1000]))
            added += int(done.rowcount or 0)  # type: ignore[attr-defined]
    back = await uow.session.execute(
        update(VisitPlan).where(VisitPlan.status == "stopped", col(VisitPlan.person_id).in_(
            select(KeyPerson.id).where(col(KeyPerson.active).is_(True))))
        .values(status="open", due_at=now, rung=0, next_at=now).execution_options(synchronize_session=False))
    return added + int(back.rowcount or 0)  # type: ignore[attr-defined]


async def due_plans(uow: UnitOfWork, *, now: datetime, limit: int = ladder.BATCH) -> list[VisitPlan]:
    """The plans whose ladder is due (the index ix_visitplan_due)."""
    return await ladder.due(uow, TRACK, now=now, limit=limit)


async def tick(uow: UnitOfWork, *, now: datetime) -> int:
    """The scheduler's pass: new plans, then every due plan climbs a rung and tells its audience. Idempotent and
    safe with several processes (compare-and-set climbs, alert rows unique per item, rung and chat)."""
    await ensure_plans(uow, now=now)
    communities: dict[int, Community] = {}

    def plan(row: VisitPlan) -> tuple[ladder.Ladder, str] | None:
        c = communities.get(row.community_id)
        return LADDER, c.timezone if c is not None else ladder.DEFAULT_ZONE

    async def step(row: VisitPlan, index: int, rung: ladder.Rung) -> None:
        person = await uow.session.get(KeyPerson, row.person_id)
        if person is None or not person.active:  # left the ledger: the plan stops
            await uow.session.execute(update(VisitPlan).where(col(VisitPlan.id) == row.id)
                                      .values(status="stopped", next_at=None))
            return
        c = communities[row.community_id]
        primary = person.primary_volunteer_id
        assignee = primary if await holds(uow, primary, Role.VOLUNTEER) else None
        tell = rung.tell if assignee is not None or ladder.Audience.ASSIGNEE not in rung.tell else (
            ladder.Audience.GRID_WORKER,)
        ids = await ladder.members(uow, tell, community_id=c.id or 0, building_id=person.building_id,
                                   assignee=assignee)
        where = await label(uow, person.building_id)
        due_date = row.due_at.astimezone(ladder.zone(c.timezone)).date().isoformat()
        for r in (await ladder.people(uow, ids, locale=c.locale)).values():
            await ladder.alert(uow, TRACK, item_id=row.id or 0, rung=index, community_id=c.id or 0, now=now,
                               stage=f"v{row.visits}", tg_chat_id=r.tg_id, recipient_user_id=r.user_id,
                               member_id=r.member_id, lang=r.lang,
                               notice=VisitDue(person_id=person.id or 0, alias=person.alias, room=person.room,
                                               building=where, rung=index, due_date=due_date))

    for c in (await uow.session.exec(select(Community))).all():  # a district: a few dozen rows
        communities[c.id or 0] = c
    return await ladder.run(uow, TRACK, now=now, plan=plan, on_rung=step)


# ---------------------------------------------------------------- recording a visit


async def version_of(uow: UnitOfWork, *, person_id: int) -> int:
    """How many visits the person's plan counts (what a record button compares against)."""
    row = (await uow.session.exec(select(VisitPlan.visits).where(VisitPlan.person_id == person_id))).first()
    return int(row or 0)


@dataclass(frozen=True)
class Recorded:
    visit_id: int
    person_id: int
    alias: str
    outcome: str
    risk_before: str
    risk_after: str
    next_due: datetime
    tz: str


async def record(uow: UnitOfWork, *, actor: Actor, sealer: Sealer, person_id: int, version: int, outcome: str,
                 now: datetime, note: str = "", voice_file_id: str = "", risk: str | None = None,
                 reason: str = "") -> Recorded:
    """Record a visit: the outcome, a note (sealed), optionally a new colour with its reason (sealed; the change is
    audited) — and the next visit falls due after the (new) colour's interval. Compare-and-set on the plan's
    count of visits (`version`, from the button): a second press, or a second recorder, is refused."""
    if outcome not in OUTCOMES:
        raise Invalid("outcome", "unknown")
    person, _ = await person_for(uow, actor=actor, person_id=person_id)
    note = clean("notes", note) if note else ""
    new_risk = parse_risk(risk) if risk else person.risk
    if new_risk != person.risk:
        reason = clean("notes", reason)
        if not reason:
            raise Invalid("reason", "empty")
    c = await uow.session.get(Community, person.community_id)
    assert c is not None
    plan = (await uow.session.exec(select(VisitPlan).where(VisitPlan.person_id == person_id))).first()
    due = plan.due_at if plan is not None else now
    next_due = ladder.later(now, interval(c, new_risk), c.timezone)
    if plan is None:
        if version != 0:
            raise VisitRefused("recorded")
        uow.session.add(VisitPlan(community_id=c.id or 0, person_id=person_id, status="open", due_at=next_due, rung=0,
                                  next_at=next_due, visits=1, last_visit_at=now))
    else:
        took = await uow.session.execute(
            update(VisitPlan).where(col(VisitPlan.id) == plan.id, VisitPlan.visits == version)
            .values(visits=version + 1, due_at=next_due, rung=0, next_at=next_due, last_visit_at=now, status="open")
            .execution_options(synchronize_session=False))
        if not took.rowcount:  # type: ignore[attr-defined]
            raise VisitRefused("recorded")
    me = actor.registered()
    visit = Visit(community_id=c.id or 0, person_id=person_id, member_id=me.id, at=now, due_at=due,
                  on_time=now <= due + ON_TIME, outcome=outcome, note_enc=sealer.seal(note) if note else "",
                  voice_enc=sealer.seal(voice_file_id) if voice_file_id else "", risk_before=person.risk,
                  risk_after=new_risk, risk_reason_enc=sealer.seal(reason) if new_risk != person.risk else "")
    uow.session.add(visit)
    await uow.session.flush()
    audit.record(uow, action="visit.record", now=now, community_id=c.id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person_id, visit=visit.id, outcome=outcome)
    before = person.risk
    if new_risk != before:
        person.risk, person.midday_check, person.updated_at = new_risk, new_risk == "red", now
        uow.session.add(person)
        audit.record(uow, action="person.risk", now=now, community_id=c.id, actor_user_id=actor.user.id,
                     subject_type="person", subject_id=person_id, visit=visit.id, before=before, after=new_risk)
    return Recorded(visit_id=visit.id or 0, person_id=person_id, alias=person.alias, outcome=outcome,
                    risk_before=before, risk_after=new_risk, next_due=next_due, tz=c.timezone)


# ---------------------------------------------------------------- /visits: what is due this week


@dataclass(frozen=True)
class DueLine:
    person_id: int
    alias: str
    building: str
    room: str
    grid: str
    risk: str
    due_at: datetime
    overdue: bool
    version: int


def week_end(now: datetime, tz: str) -> datetime:
    """The end of the local week (Monday 00:00 of the next week), aware UTC."""
    local = now.astimezone(ladder.zone(tz))
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return ladder.later(monday.astimezone(ladder.zone("UTC")), timedelta(days=7), tz)


async def due_this_week(uow: UnitOfWork, *, actor: Actor, now: datetime, page: int = 1,
                        size: int = 10) -> Page[DueLine]:
    """The visits due by the end of this local week that the actor looks after, per grid, overdue first; the
    lines read (alias, room) are audited like the ledger's lists."""
    me = actor.registered()
    c = actor.home()
    where = [*scope(actor), VisitPlan.status == "open", col(VisitPlan.due_at) < week_end(now, c.timezone)]
    base = (select(VisitPlan, KeyPerson, Building, Grid)
            .join(KeyPerson, col(KeyPerson.id) == col(VisitPlan.person_id))
            .join(Building, col(Building.id) == col(KeyPerson.building_id), isouter=True)
            .join(Grid, col(Grid.id) == col(Building.grid_id), isouter=True).where(*where))
    total = (await uow.session.exec(select(func.count()).select_from(
        base.with_only_columns(col(VisitPlan.id)).subquery()))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(base.order_by(col(Grid.name), col(VisitPlan.due_at), col(VisitPlan.id))
                                   .offset(offset).limit(size))).all()
    items = [DueLine(person_id=p.id or 0, alias=p.alias, building=b.label if b else "", room=p.room,
                     grid=g.name if g else "", risk=p.risk, due_at=v.due_at, overdue=v.due_at < now, version=v.visits)
             for v, p, b, g in rows]
    if items:
        audit.record(uow, action="person.read", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                     via="visits", person_ids=[x.person_id for x in items])
    return Page(items=items, page=page, pages=pages, total=total)


__all__ = ["LADDER", "OUTCOMES", "RISKS", "TRACK", "DueLine", "Recorded", "VisitRefused", "due_plans",
           "due_this_week", "ensure_plans", "person_for", "record", "version_of", "tick", "week_end"]
