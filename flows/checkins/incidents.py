"""Check-ins: incidents — taken (我去看看), escalated on request (需要帮助), closed with an outcome. Everyone alerted
is found in the ladder's alert rows (flows/ladder.py), never in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col

from flows import audit, ladder, outbox
from flows.checkins.climbing import INCIDENTS, cas, raise_level
from flows.checkins.notices import IncidentClosed, IncidentClosedGroup, IncidentTaken
from flows.checkins.people import building_label, member_in, perms_now
from flows.checkins.settings import OUTCOMES, Answer, CheckinRefused, IncidentStatus, Reason, Status
from flows.places import district_membership
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Community, Incident, KeyPerson, Member, User


@dataclass(frozen=True)
class IncidentView:
    incident_id: int
    alias: str
    room: str
    building: str
    status: str
    outcome: str | None
    taken_by: str


async def alerted(uow: UnitOfWork, incident_id: int) -> list[tuple[int, int | None, str]]:
    """(chat, user or None for a group, language) of everyone alerted about the incident, once each."""
    return [(a.tg_chat_id, a.user_id, a.lang) for a in await ladder.alerted(uow, INCIDENTS, incident_id)]


async def _incident_actor(uow: UnitOfWork, user: User, incident_id: int) -> tuple[Incident, KeyPerson, Community,
                                                                                  Member]:
    inc = await uow.session.get(Incident, incident_id)
    if inc is None:
        raise CheckinRefused("not_found")
    p = await uow.session.get(KeyPerson, inc.person_id)
    c = await uow.session.get(Community, inc.community_id)
    assert p is not None and c is not None
    member = await member_in(uow, user, inc.community_id)
    perms = await perms_now(uow, member) if member is not None else frozenset()
    if Perm.CHECKINS not in perms:  # a district admin alerted for a community without admins may act on it
        district = await district_membership(uow, user_id=user.id)
        if district is not None and await ladder.alerted(uow, INCIDENTS, inc.id or 0, user_id=user.id):
            member, perms = district, await perms_now(uow, district)
    if member is None:
        raise CheckinRefused("not_yours")
    if Perm.CHECKINS not in perms:  # roles are read now: a press after a revoke changes nothing
        if Perm.CHECK not in perms:
            raise CheckinRefused("no_role")
        if member.id not in (p.primary_volunteer_id, p.backup_volunteer_id):
            raise CheckinRefused("not_yours")
    if inc.status != IncidentStatus.OPEN:
        raise CheckinRefused("closed")
    return inc, p, c, member


def _iview(inc: Incident, p: KeyPerson, label: str, taker: str = "") -> IncidentView:
    return IncidentView(inc.id or 0, p.alias, p.room, label, inc.status, inc.outcome, taker)


async def take_incident(uow: UnitOfWork, *, user: User, incident_id: int, now: datetime) -> IncidentView:
    """我去看看: the presser is going; the others alerted are told."""
    inc, p, c, member = await _incident_actor(uow, user, incident_id)
    inc.taken_by = member.id
    uow.session.add(inc)
    audit.record(uow, action="incident.take", now=now, community_id=c.id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id)
    for chat_id, user_id, lang in await alerted(uow, inc.id or 0):
        if user_id is not None and user_id != user.id:
            outbox.notify(uow, tg_chat_id=chat_id, recipient_user_id=user_id, community_id=c.id, lang=lang, now=now,
                          dedupe_key=f"cit:{inc.id}:{member.id}:{chat_id}",
                          notice=IncidentTaken(alias=p.alias, name=member.display_name))
    return _iview(inc, p, await building_label(uow, p.building_id), member.display_name)


async def help_incident(uow: UnitOfWork, *, user: User, incident_id: int, now: datetime) -> IncidentView:
    """需要帮助: escalate to the admins now."""
    inc, p, c, member = await _incident_actor(uow, user, incident_id)
    await raise_level(uow, c, inc, p, now, kind=Reason.HELP)
    audit.record(uow, action="incident.help", now=now, community_id=c.id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id)
    return _iview(inc, p, await building_label(uow, p.building_id))


async def close_incident(uow: UnitOfWork, *, user: User, incident_id: int, outcome: str, now: datetime,
                         note_enc: str = "") -> IncidentView:
    if outcome not in OUTCOMES:
        raise CheckinRefused("not_found")
    inc, p, c, member = await _incident_actor(uow, user, incident_id)
    if not await close(uow, c, inc, p, member, outcome, now, note_enc=note_enc):
        raise CheckinRefused("closed")
    inc.status, inc.outcome = IncidentStatus.CLOSED.value, outcome
    return _iview(inc, p, await building_label(uow, p.building_id))


async def set_incident_note(uow: UnitOfWork, *, user: User, incident_id: int, note_enc: str, now: datetime) -> None:
    """The optional note after closing as "other" (already sealed by the caller)."""
    inc = await uow.session.get(Incident, incident_id)
    if inc is None or inc.closed_by is None:
        raise CheckinRefused("not_found")
    member = await member_in(uow, user, inc.community_id)
    if member is None or member.id != inc.closed_by:
        member = await district_membership(uow, user_id=user.id)  # closed by a district admin (the last rung)
    if member is None or member.id != inc.closed_by:
        raise CheckinRefused("not_yours")
    inc.note_enc = note_enc
    uow.session.add(inc)
    audit.record(uow, action="incident.note", now=now, community_id=inc.community_id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id)


async def close(uow: UnitOfWork, c: Community, inc: Incident, p: KeyPerson, member: Member, outcome: str,
                now: datetime, *, note_enc: str = "", by_answer: bool = False) -> bool:
    """Close the incident (compare-and-set on its being open) and tell everyone alerted."""
    result = await uow.session.execute(
        update(Incident).where(col(Incident.id) == inc.id, col(Incident.status) == IncidentStatus.OPEN.value)
        .values(status=IncidentStatus.CLOSED.value, outcome=outcome, closed_at=now, closed_by=member.id,
                next_escalation_at=None, note_enc=note_enc).execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    if inc.prompt_id is not None and not by_answer:
        await cas(uow, inc.prompt_id, {"status": Status.PENDING}, status=Status.ANSWERED, answer=Answer.INCIDENT,
                  answered_by=member.id, answered_at=now, next_action_at=None)
    audit.record(uow, action="incident.close", now=now, community_id=c.id, actor_user_id=member.user_id,
                 subject_type="incident", subject_id=inc.id, outcome=outcome)
    for chat_id, user_id, lang in await alerted(uow, inc.id or 0):
        if user_id is None:  # a group: alias only, no outcome, no names
            outbox.notify(uow, tg_chat_id=chat_id, community_id=c.id, lang=lang, now=now,
                          dedupe_key=f"cic:{inc.id}:{chat_id}", notice=IncidentClosedGroup(alias=p.alias))
        else:
            outbox.notify(uow, tg_chat_id=chat_id, recipient_user_id=user_id, community_id=c.id, lang=lang, now=now,
                          dedupe_key=f"cic:{inc.id}:{chat_id}",
                          notice=IncidentClosed(alias=p.alias, outcome=str(outcome), name=member.display_name))
    return True
