"""Check-ins: today's coverage per building (/checkins), the week's figures (/checkins week), and Monday's
thank-you to every volunteer who answered checks last week."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from flows import audit, outbox
from flows.checkins.notices import WeeklyThanks
from flows.checkins.people import communities, recipients
from flows.checkins.settings import (
    ANSWERS,
    IncidentStatus,
    Stage,
    Status,
    due_at,
    local_now,
    local_today,
    morning_of,
)
from flows.membership import Actor
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import AuditEntry, Building, CheckinPrompt, Community, Incident, KeyPerson


@dataclass
class BuildingDay:
    building: str
    done: int = 0
    scheduled: int = 0
    pending: int = 0
    escalated: int = 0
    missed: int = 0
    incidents: int = 0


async def today_overview(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[BuildingDay]:
    member = actor.require(Perm.CHECKINS)
    assert actor.community is not None
    day = local_today(now, actor.community.timezone).isoformat()
    rows = (await uow.session.exec(
        select(CheckinPrompt.status, CheckinPrompt.stage, KeyPerson.building_id)
        .join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.community_id == member.community_id, CheckinPrompt.local_date == day))).all()
    labels = {b.id: b.label for b in (await uow.session.exec(
        select(Building).where(Building.community_id == member.community_id))).all()}
    out: dict[int | None, BuildingDay] = {}
    for status, stage, bid in rows:
        line = out.setdefault(bid, BuildingDay(labels.get(bid, "")))
        if status == Status.ANSWERED:
            line.done += 1
        elif status == Status.SCHEDULED:
            line.scheduled += 1
        elif status == Status.PENDING:
            if stage >= Stage.REMINDED:
                line.escalated += 1
            else:
                line.pending += 1
        elif status == Status.MISSED:
            line.missed += 1
    incs = (await uow.session.exec(
        select(KeyPerson.building_id, func.count()).select_from(Incident)
        .join(KeyPerson, col(KeyPerson.id) == col(Incident.person_id))
        .where(Incident.community_id == member.community_id, col(Incident.status) == IncidentStatus.OPEN.value)
        .group_by(col(KeyPerson.building_id)))).all()
    for bid, n in incs:
        out.setdefault(bid, BuildingDay(labels.get(bid, ""))).incidents = n
    return sorted(out.values(), key=lambda b: (len(b.building), b.building))


@dataclass
class VolunteerWeek:
    member_id: int
    name: str
    answered: int = 0
    on_time: int = 0
    handed: int = 0


@dataclass
class WeekStats:
    first_day: str
    last_day: str
    checks: int = 0
    answered: int = 0
    on_time: int = 0
    missed: int = 0
    median_minutes: float | None = None
    incidents: dict[str, int] = field(default_factory=dict)
    volunteers: list[VolunteerWeek] = field(default_factory=list)


async def week_stats(uow: UnitOfWork, *, community: Community, first: date, last: date) -> WeekStats:
    stats = WeekStats(first.isoformat(), last.isoformat())
    rows = (await uow.session.exec(
        select(CheckinPrompt).where(CheckinPrompt.community_id == community.id,
                                    CheckinPrompt.local_date >= stats.first_day,
                                    CheckinPrompt.local_date <= stats.last_day,
                                    col(CheckinPrompt.status) != Status.CANCELLED.value))).all()
    minutes: list[float] = []
    vols: dict[int, VolunteerWeek] = {}
    for pr in rows:
        if pr.status == Status.SCHEDULED:
            continue
        stats.checks += 1
        if pr.status == Status.MISSED:
            stats.missed += 1
        if pr.status == Status.ANSWERED and pr.answer in ANSWERS and pr.answered_by is not None:
            stats.answered += 1
            v = vols.setdefault(pr.answered_by, VolunteerWeek(pr.answered_by, ""))
            v.answered += 1
            if pr.stage == Stage.ASKED:
                stats.on_time += 1
                v.on_time += 1
            if pr.sent_at and pr.answered_at:
                minutes.append((pr.answered_at - pr.sent_at).total_seconds() / 60)
    if minutes:
        stats.median_minutes = round(statistics.median(minutes), 1)
    start = due_at(first, time(0, 0), community.timezone)
    end = due_at(last + timedelta(days=1), time(0, 0), community.timezone)
    incs = (await uow.session.exec(
        select(Incident.status, Incident.outcome).where(Incident.community_id == community.id,
                                                        col(Incident.opened_at) >= start,
                                                        col(Incident.opened_at) < end))).all()
    for status, outcome in incs:
        key = outcome if status == IncidentStatus.CLOSED and outcome else "open"
        stats.incidents[key] = stats.incidents.get(key, 0) + 1
    people = await recipients(uow, set(vols), community)
    for mid, v in vols.items():
        v.name = people[mid].name if mid in people else ""
    stats.volunteers = sorted(vols.values(), key=lambda v: (-v.answered, v.member_id))
    return stats


async def week_overview(uow: UnitOfWork, *, actor: Actor, now: datetime) -> WeekStats:
    actor.require(Perm.CHECKINS)
    assert actor.community is not None
    today = local_today(now, actor.community.timezone)
    return await week_stats(uow, community=actor.community, first=today - timedelta(days=6), last=today)


async def weekly_thanks(uow: UnitOfWork, *, now: datetime) -> int:
    """On Monday morning (local), thank every volunteer who answered checks last week, with their
    own figures. Once per community and week (an audit entry marks it; dedupe keys per person)."""
    sent = 0
    for c in (await communities(uow)).values():
        here = local_now(now, c.timezone)
        if here.weekday() != 0 or here.time() < morning_of(c):
            continue
        monday = here.date()
        marker = (await uow.session.exec(select(AuditEntry.id).where(
            AuditEntry.community_id == c.id, AuditEntry.action == "checkin.weekly_thanks",
            AuditEntry.subject_id == int(monday.strftime("%Y%m%d"))))).first()
        if marker is not None:
            continue
        audit.record(uow, action="checkin.weekly_thanks", now=now, community_id=c.id, subject_type="week",
                     subject_id=int(monday.strftime("%Y%m%d")))
        stats = await week_stats(uow, community=c, first=monday - timedelta(days=7), last=monday - timedelta(days=1))
        people = await recipients(uow, {v.member_id for v in stats.volunteers}, c)
        for v in stats.volunteers:
            r = people.get(v.member_id)
            if r is None:
                continue
            outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, lang=r.lang,
                          now=now, dedupe_key=f"cky:{c.id}:{monday}:{v.member_id}",
                          notice=WeeklyThanks(answered=v.answered, on_time=v.on_time, first_day=stats.first_day,
                                              last_day=stats.last_day))
            sent += 1
    return sent
