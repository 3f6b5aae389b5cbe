"""Check-ins: a volunteer's time away (`/away FROM TO`): their checks of those local days go to the backups, and
they are welcomed back when it ends."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from flows import audit, outbox
from flows.checkins.climbing import TickResult, cas, hand_to_backup
from flows.checkins.notices import WelcomeBack
from flows.checkins.people import recipients
from flows.checkins.settings import (
    MAX_AWAY_DAYS,
    CheckinRefused,
    Stage,
    Status,
    local_now,
    local_today,
    morning_of,
    settings_of,
)
from flows.errors import Invalid
from flows.membership import Actor
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Absence, CheckinPrompt, Community, KeyPerson


def parse_day(text: str, today: date) -> date:
    text = text.strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", text)
        if m:
            d = date(today.year, int(m.group(1)), int(m.group(2)))
            return d if d >= today else date(today.year + 1, d.month, d.day)
    except ValueError as exc:
        raise Invalid("date", "format", value=text[:12]) from exc
    raise Invalid("date", "format", value=text[:12])


async def add_absence(uow: UnitOfWork, *, actor: Actor, first: str, last: str, now: datetime) -> Absence:
    """`/away FROM TO`: every check of those local days goes to the backups."""
    member = actor.require(Perm.CHECK)
    assert actor.community is not None
    c = actor.community
    today = local_today(now, c.timezone)
    d1 = parse_day(first, today)
    d2 = parse_day(last, d1 if len(last.strip()) <= 5 else today)
    if d1 < today:
        raise Invalid("date", "past")
    if d2 < d1:
        raise Invalid("date", "order")
    if (d2 - d1).days + 1 > MAX_AWAY_DAYS:
        raise Invalid("date", "too_long", limit=MAX_AWAY_DAYS)
    a = Absence(community_id=c.id, member_id=member.id, first_day=d1.isoformat(), last_day=d2.isoformat(),
                created_at=now)
    uow.session.add(a)
    await uow.session.flush()
    audit.record(uow, action="checkin.away", now=now, community_id=c.id, actor_user_id=actor.user.id,
                 subject_type="absence", subject_id=a.id, first_day=a.first_day, last_day=a.last_day)
    cfg = settings_of(c)
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.community_id == c.id, CheckinPrompt.assignee_member_id == member.id,
               col(CheckinPrompt.status).in_((Status.SCHEDULED.value, Status.PENDING.value)),
               CheckinPrompt.local_date >= a.first_day, CheckinPrompt.local_date <= a.last_day))).all()
    for pr, p in rows:
        backup = p.backup_volunteer_id
        if backup is None or backup == member.id:
            continue
        if pr.status == Status.SCHEDULED:
            await cas(uow, pr.id or 0, {"status": Status.SCHEDULED}, assignee_member_id=backup)
        elif pr.stage < Stage.BACKUP:
            await hand_to_backup(uow, c, cfg, pr, p, now, expect_stage=pr.stage, key="h", expect_assignee=member.id)
    return a


async def list_absences(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[Absence]:
    member = actor.require(Perm.CHECK)
    assert actor.community is not None
    today = local_today(now, actor.community.timezone).isoformat()
    return list((await uow.session.exec(
        select(Absence).where(Absence.member_id == member.id, Absence.last_day >= today)
        .order_by(col(Absence.first_day)))).all())


async def cancel_absence(uow: UnitOfWork, *, actor: Actor, absence_id: int, now: datetime) -> Absence:
    member = actor.require(Perm.CHECK)
    assert actor.community is not None
    a = await uow.session.get(Absence, absence_id)
    if a is None or a.member_id != member.id:
        raise CheckinRefused("not_found")
    today = local_today(now, actor.community.timezone)
    audit.record(uow, action="checkin.away_cancel", now=now, community_id=a.community_id,
                 actor_user_id=actor.user.id, subject_type="absence", subject_id=a.id)
    if a.first_day >= today.isoformat():
        await uow.session.delete(a)
    else:  # already begun: it ends yesterday (today's checks stay with the backups)
        a.last_day = (today - timedelta(days=1)).isoformat()
        uow.session.add(a)
    return a


async def welcome_back(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    """The morning after their time away, each volunteer is told their checks come to them again (once)."""
    rows = (await uow.session.exec(select(Absence).where(col(Absence.ended_notice_sent).is_(False)))).all()
    for a in rows:
        c = comms[a.community_id]
        here = local_now(now, c.timezone)
        if a.last_day >= here.date().isoformat() or here.time() < morning_of(c):
            continue
        result = await uow.session.execute(
            update(Absence).where(col(Absence.id) == a.id, col(Absence.ended_notice_sent).is_(False))
            .values(ended_notice_sent=True).execution_options(synchronize_session=False))
        if not result.rowcount:  # type: ignore[attr-defined]
            continue
        r = (await recipients(uow, {a.member_id}, c)).get(a.member_id)
        if r is not None:
            outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, lang=r.lang,
                          now=now, dedupe_key=f"away:{a.id}",
                          notice=WelcomeBack(first_day=a.first_day, last_day=a.last_day))
        res.welcomed += 1
