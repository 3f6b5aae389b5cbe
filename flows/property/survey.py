"""The residents' monthly satisfaction survey of their property project (F-10.2): 5 questions, 1–5 by buttons,
in a private chat, once per household and month.

A household is a (building, room) of a building the project serves (`flows/property/household.py`): a member
gives their room once (buttons from the roster, or typed) before their first answer; the last answer claims the
household for the month, so a second member of the household is told it is done and nothing of theirs is written,
and the other members' open surveys close. From the community's survey day (settings
`property_survey_day`, default 15) the scheduler (`due`) invites them through the outbox — after the private
quiet hours (21:00–08:00) — all of them but the project's own company members, or a random sample of `property_survey_sample` (never fewer than the
indicators' minimum of answers) when that setting is given. The invitation and each answer are rows of
`PropertySurvey` (unique per project, month and member): a second run invites nobody twice; each press is a
compare-and-set on `step`, so a double press counts once. A member who moved out of the served buildings, or
left, can no longer answer."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from flows import outbox
from flows.actors import Actor
from flows.clock import local
from flows.errors import AlreadyDone, Expired, Forbidden, Invalid, NotFound
from flows.needs_loop import after_quiet_hours
from flows.property import household as hh
from flows.property import projects as pp
from flows.property import scoring
from flows.property.evaluation import indicators_for, month_of
from flows.property.notices import SurveyInvite
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Community, Member, User
from storage.models_property import PropertyBuilding, PropertyProject, PropertySurvey

QUESTIONS = 5
SURVEY_DAY = 15


def _setting(community: Community, key: str, default: int) -> int:
    value = (community.settings or {}).get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


async def due(uow: UnitOfWork, *, now: datetime) -> int:
    """Invite the households of every project whose community's survey day has come this month (idempotent).
    Returns how many invitations were queued."""
    queued = 0
    for community in (await uow.session.exec(select(Community))).all():
        if local(now, community.timezone).day < _setting(community, "property_survey_day", SURVEY_DAY):
            continue
        month = month_of(now, community.timezone)
        projects = (await uow.session.exec(select(PropertyProject).where(
            PropertyProject.community_id == community.id, col(PropertyProject.active)))).all()
        for project in projects:
            queued += await _invite(uow, community, project, month, now)
    return queued


async def _invite(uow: UnitOfWork, community: Community, project: PropertyProject, month: str,
                  now: datetime) -> int:
    asked = set((await uow.session.exec(select(PropertySurvey.member_id).where(
        PropertySurvey.project_id == project.id, PropertySurvey.month == month))).all())
    sample = _setting(community, "property_survey_sample", 0)
    if sample and asked:
        return 0  # a sample is drawn once a month
    residents = (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .join(PropertyBuilding, col(PropertyBuilding.building_id) == col(Member.building_id))
        .where(PropertyBuilding.project_id == project.id, col(User.unreachable_at).is_(None))
        .order_by(col(Member.id)))).all()
    staff = {m.id for m, _ in await pp.staff_of(uow, project_id=project.id or 0)}  # the company rates not itself
    done = await hh.answered_members(uow, project_id=project.id or 0, month=month)  # their household answered
    chosen = [(m, u) for m, u in residents if m.id not in asked and m.id not in staff and m.id not in done]
    if sample:
        counted = (await hh.households(uow, [project]))[project.id or 0]
        size = max(sample, scoring.required_answers(indicators_for(community), counted))
        if len(chosen) > size:
            chosen = random.Random(f"{project.id}:{month}").sample(chosen, size)
    invited = 0
    for member, user in chosen:
        # insert-or-ignore: a second scheduler at the same moment invites nobody twice
        taken = await uow.session.execute(insert_ignoring(uow, PropertySurvey, ["project_id", "month", "member_id"])
                                          .values(community_id=community.id or 0, project_id=project.id or 0,
                                                  month=month, member_id=member.id or 0, answers=[], step=0,
                                                  sent_at=now))
        if not taken.rowcount:  # type: ignore[attr-defined]
            continue
        survey_id = (await uow.session.exec(select(PropertySurvey.id).where(
            PropertySurvey.project_id == project.id, PropertySurvey.month == month,
            PropertySurvey.member_id == member.id))).one()
        message = outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                                community_id=community.id, recipient_user_id=user.id,
                                notice=SurveyInvite(survey_id=survey_id or 0, estate=project.estate, month=month),
                                dedupe_key=f"pp-survey:{project.id}:{month}:{member.id}")
        message.not_before = after_quiet_hours(now, community.timezone)
        invited += 1
    return invited


@dataclass(frozen=True)
class Answered:
    survey: PropertySurvey
    estate: str
    done: bool  # all five in
    room: str | None = None  # the member's room (None: to be asked before the first answer)


async def _mine(uow: UnitOfWork, actor: Actor, survey_id: int) -> tuple[PropertySurvey, PropertyProject]:
    member = actor.registered()
    survey = await uow.session.get(PropertySurvey, survey_id)
    if survey is None or survey.member_id != member.id:
        raise NotFound("survey", survey_id)
    project = await uow.session.get(PropertyProject, survey.project_id)
    assert project is not None
    served = (await uow.session.exec(select(PropertyBuilding.id).where(
        PropertyBuilding.project_id == project.id, PropertyBuilding.building_id == member.building_id))).first()
    if served is None:
        raise Forbidden("survey")  # moved out of the buildings served: the survey is no longer theirs
    return survey, project


async def current(uow: UnitOfWork, *, actor: Actor, survey_id: int, now: datetime) -> Answered:
    survey, project = await _mine(uow, actor, survey_id)
    community = actor.home()
    if survey.month != month_of(now, community.timezone):
        raise Expired("survey")
    member = actor.registered()
    room = await hh.room_of_member(uow, member)
    if room is not None and survey.answered_at is None and await hh.answered_by(
            uow, project_id=project.id or 0, month=survey.month, building_id=member.building_id or 0,
            room=room) is not None:
        raise AlreadyDone("survey_household")  # a family member answered for the household this month
    return Answered(survey=survey, estate=project.estate, done=survey.answered_at is not None, room=room)


async def answer(uow: UnitOfWork, *, actor: Actor, survey_id: int, question: int, value: int,
                 now: datetime) -> Answered:
    """Answer question `question` (0-based) with 1–5: counted once (compare-and-set on the step)."""
    state = await current(uow, actor=actor, survey_id=survey_id, now=now)
    if not 1 <= value <= 5 or not 0 <= question < QUESTIONS:
        raise NotFound("answer", value)
    survey = state.survey
    if state.room is None:
        raise Invalid("room", "needed")  # the household is asked first
    if survey.step != question:
        raise AlreadyDone("survey_answer")
    answers = [*survey.answers, value]
    last = question == QUESTIONS - 1
    if last and not await hh.claim(uow, community_id=survey.community_id, project_id=survey.project_id,
                                   month=survey.month, building_id=actor.registered().building_id or 0,
                                   room=state.room, survey_id=survey_id, now=now):
        raise AlreadyDone("survey_household")  # another member of the household was first: nothing written
    result = await uow.session.exec(update(PropertySurvey).where(
        col(PropertySurvey.id) == survey_id, col(PropertySurvey.step) == question)
        .values(answers=answers, step=question + 1, answered_at=now if last else None))
    if result.rowcount != 1:
        raise AlreadyDone("survey_answer")  # the unit of work rolls back, the household's claim with it
    await uow.session.refresh(survey)
    return Answered(survey=survey, estate=state.estate, done=last, room=state.room)


async def waiting(uow: UnitOfWork, *, actor: Actor, now: datetime) -> Answered | None:
    """The actor's unfinished survey of this month, if any (their invitation's buttons may have expired)."""
    member = actor.registered()
    rows = (await uow.session.exec(select(PropertySurvey).where(
        PropertySurvey.member_id == member.id, PropertySurvey.month == month_of(now, actor.home().timezone),
        col(PropertySurvey.answered_at).is_(None)).order_by(col(PropertySurvey.id)))).all()
    room = await hh.room_of_member(uow, member)
    for row in rows:
        if room is None or await hh.answered_by(uow, project_id=row.project_id, month=row.month,
                                                building_id=member.building_id or 0, room=room) is None:
            return await current(uow, actor=actor, survey_id=row.id or 0, now=now)
    return None  # none, or closed: the household has answered
