"""Check-ins: a volunteer's press on a prompt (✅ / ⚠️ / 🚪 / ❌), and a volunteer who lost the role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from flows import audit
from flows.checkins.climbing import alert, cas, escalate, hand_to_backup, incident_ladder, raise_level
from flows.checkins.incidents import close
from flows.checkins.people import admins, building_label, member_in, perms_now, workers
from flows.checkins.settings import (
    ANSWERS,
    Answer,
    CheckinRefused,
    IncidentStatus,
    Outcome,
    Reason,
    Result,
    Stage,
    Status,
    settings_of,
)
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import CheckinPrompt, Community, Incident, KeyPerson, User


@dataclass(frozen=True)
class AnswerView:
    prompt_id: int
    alias: str
    room: str
    building: str
    slot: str
    answer: str
    at: datetime
    tz: str
    outcome: str  # done | incident | handed | escalated


#: How long after its time a still-open check may be answered.
STALE_AFTER = timedelta(hours=12)


async def answer(uow: UnitOfWork, *, user: User, prompt_id: int, answer: str, now: datetime) -> AnswerView:
    """A volunteer's press on a prompt. Authorised here: only the current assignee, only while the
    check is open."""
    if answer not in ANSWERS:
        raise CheckinRefused("not_found")
    pr = await uow.session.get(CheckinPrompt, prompt_id)
    if pr is None:
        raise CheckinRefused("not_found")
    member = await member_in(uow, user, pr.community_id)
    p = await uow.session.get(KeyPerson, pr.person_id)
    c = await uow.session.get(Community, pr.community_id)
    assert p is not None and c is not None
    if member is None:
        raise CheckinRefused("not_yours")
    if Perm.CHECK not in await perms_now(uow, member):
        raise CheckinRefused("no_role")  # the role was taken away since the prompt was sent
    if member.id not in (p.primary_volunteer_id, p.backup_volunteer_id, pr.assignee_member_id):
        raise CheckinRefused("not_yours")
    if pr.status == Status.ANSWERED:
        raise CheckinRefused("answered")
    if pr.status != Status.PENDING or now - pr.due_at > STALE_AFTER:
        raise CheckinRefused("old_day")  # a late evening check may be answered after midnight, not days later
    if pr.assignee_member_id != member.id:
        raise CheckinRefused("handed_over")
    if member.id not in (p.primary_volunteer_id, p.backup_volunteer_id):
        raise CheckinRefused("not_yours")  # no longer paired with this person
    cfg = settings_of(c)
    label = await building_label(uow, p.building_id)
    stage = pr.stage

    def view(outcome: Result) -> AnswerView:  # only on success: a refused press leaves no trace
        audit.record(uow, action="checkin.answer", now=now, community_id=c.id, actor_user_id=user.id,
                     subject_type="checkin", subject_id=pr.id, answer=str(answer), stage=int(stage),
                     outcome=outcome.value)
        return AnswerView(pr.id or 0, p.alias, p.room, label, pr.slot, answer, now, c.timezone, outcome.value)

    if answer == Answer.CANNOT:
        passed = await _pass_on(uow, c, cfg, pr, p, member.id or 0, now)
        if passed is not None:
            return view(passed)
        raise CheckinRefused("answered")
    if not await cas(uow, pr.id or 0, {"status": Status.PENDING, "assignee_member_id": member.id},
                     status=Status.ANSWERED, answer=answer, answered_by=member.id, answered_at=now,
                     next_action_at=None):
        raise CheckinRefused("answered")
    existing = (await uow.session.exec(select(Incident).where(Incident.prompt_id == pr.id))).first()
    if answer in (Answer.OK, Answer.KNOCKED):
        if existing is not None and existing.status == IncidentStatus.OPEN:
            await close(uow, c, existing, p, member, Outcome.SAFE, now, by_answer=True)
        return view(Result.DONE)
    # not_ok: an incident at once, to the grid worker(s) and the other volunteer
    if existing is not None:
        if existing.status == IncidentStatus.OPEN:
            existing.reason = Reason.NOT_OK.value
            uow.session.add(existing)
            await raise_level(uow, c, existing, p, now, kind=Reason.NOT_OK)
        return view(Result.INCIDENT)
    inc = Incident(community_id=c.id, person_id=p.id, prompt_id=pr.id, reason=Reason.NOT_OK.value,
                   status=IncidentStatus.OPEN.value, level=0, opened_at=now,
                   next_escalation_at=incident_ladder(cfg).first_due(now, c.timezone))
    uow.session.add(inc)
    await uow.session.flush()
    audit.record(uow, action="incident.open", now=now, community_id=c.id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id, reason=Reason.NOT_OK.value)
    members = await workers(uow, c.id or 0, p.building_id) or await admins(uow, c.id or 0)
    members += [m for m in (p.backup_volunteer_id, p.primary_volunteer_id) if m is not None and m != member.id][:1]
    await alert(uow, c, inc, p, pr.slot, now, members=members, level=0, kind=Reason.NOT_OK)
    return view(Result.INCIDENT)


async def _pass_on(uow: UnitOfWork, c: Community, cfg: dict[str, Any], pr: CheckinPrompt, p: KeyPerson,
                   member_id: int, now: datetime) -> Result | None:
    """The assignee cannot do an open check: the backup volunteer gets it, or the ladder's top (the grid
    worker). "handed" or "escalated", or None when the check was no longer theirs to pass on."""
    if pr.stage < Stage.BACKUP and p.backup_volunteer_id not in (None, member_id):
        if await hand_to_backup(uow, c, cfg, pr, p, now, expect_stage=pr.stage, key="h", expect_assignee=member_id):
            return Result.HANDED
    elif pr.stage < Stage.ALERTED and await escalate(uow, c, pr, p, now, expect_stage=pr.stage,
                                                     expect_assignee=member_id):
        return Result.ESCALATED
    elif pr.stage == Stage.ALERTED:
        return Result.ESCALATED  # the grid worker already has it
    return None


async def release_volunteer(uow: UnitOfWork, *, community: Community, member_id: int, now: datetime) -> int:
    """A volunteer lost the role: their open checks pass on at once as if they had pressed ❌ (backup, else
    the grid worker), so their old buttons cover nothing. Call it before they are unpaired; returns how many
    checks were passed on. Their scheduled checks follow the new pairing when due (`send_due`)."""
    cfg = settings_of(community)
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.community_id == community.id, CheckinPrompt.assignee_member_id == member_id,
               CheckinPrompt.status == Status.PENDING, col(CheckinPrompt.stage) < Stage.ALERTED)
        .order_by(col(CheckinPrompt.id)))).all()
    n = 0
    for pr, p in rows:
        if await _pass_on(uow, community, cfg, pr, p, member_id, now) is not None:
            n += 1
    await uow.session.execute(
        update(CheckinPrompt).where(col(CheckinPrompt.community_id) == community.id,
                                    col(CheckinPrompt.assignee_member_id) == member_id,
                                    col(CheckinPrompt.status) == Status.SCHEDULED)
        .values(assignee_member_id=None).execution_options(synchronize_session=False))
    return n


async def prompt_view(uow: UnitOfWork, *, prompt_id: int) -> AnswerView | None:
    pr = await uow.session.get(CheckinPrompt, prompt_id)
    if pr is None:
        return None
    p = await uow.session.get(KeyPerson, pr.person_id)
    c = await uow.session.get(Community, pr.community_id)
    assert p is not None and c is not None
    return AnswerView(pr.id or 0, p.alias, p.room, await building_label(uow, p.building_id), pr.slot,
                      pr.answer or "", pr.answered_at or pr.due_at, c.timezone, pr.status)

