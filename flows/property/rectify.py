"""Rectification (整改, F-10.3): the deductions of a published evaluation are the company's tasks, each with its
deadline (`fix_due_at`, set on publication) on the shared deadline ladder (flows/ladder.py, as requests): at the
deadline the company's members are told, 3 days later the community's admins, 7 more the district's admins —
each rung climbed once (compare-and-set), each person told once. The company reports a task fixed
(compare-and-set: open → fixed, the ladder stops). The weekly meeting's agenda shows, through the seam `flows.meeting_agenda.RECTIFICATIONS`, the tasks past their
deadline and the projects in the district's bottom three three months running (约谈)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from flows import audit, ladder
from flows.actors import Actor
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, NotFound
from flows.property import projects as pp
from flows.property import ranking
from flows.property.evaluation import indicators_for
from flows.property.notices import RectificationOverdue
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Community
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyProject, PropertyResult

TRACK = ladder.Track(PropertyItemScore, kind="rectification", state="fix_state", open=("open",), rung="fix_rung",
                     next_at="fix_next_at")
FIX_DAYS = 30


def fix_days(community: Community) -> int:
    value = (community.settings or {}).get("property_fix_days", FIX_DAYS)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else FIX_DAYS


def plan(community: Community) -> ladder.Ladder:
    """The rectification ladder of a community: the deadline (its `property_fix_days` after publication) tells
    the company, +3 days the admins, +7 days the district."""
    return ladder.Ladder((ladder.Rung(timedelta(days=fix_days(community)), ("company",)),
                          ladder.Rung(timedelta(days=3), (ladder.Audience.ADMINS,)),
                          ladder.Rung(timedelta(days=7), (ladder.Audience.DISTRICT,))))


def start(score: PropertyItemScore, community: Community, now: datetime) -> None:
    """Put a deduction on the ladder (in the publication's transaction)."""
    score.fix_state, score.fix_rung = "open", 0
    score.fix_next_at = score.fix_due_at = plan(community).first_due(now, community.timezone)


async def tick(uow: UnitOfWork, *, now: datetime) -> int:
    """The scheduler's pass: overdue tasks climb one rung and tell its people. Returns the rungs climbed."""
    communities = {c.id: c for c in (await uow.session.exec(select(Community))).all()}

    async def step(score: PropertyItemScore, index: int, rung: ladder.Rung) -> None:
        community = communities[score.community_id]
        evaluation = await uow.session.get(PropertyEvaluation, score.evaluation_id)
        project = await uow.session.get(PropertyProject, evaluation.project_id) if evaluation else None
        if project is None:
            return
        staff = [m.id or 0 for m, _ in await pp.staff_of(uow, project_id=project.id or 0)]
        ids = await ladder.members(uow, rung.tell, community_id=community.id or 0, custom={"company": staff})
        item = indicators_for(community).item(score.code)
        due = local(score.fix_due_at, community.timezone).strftime("%Y-%m-%d") if score.fix_due_at else ""
        notice = RectificationOverdue(estate=project.estate, code=score.code, item=item.zh if item else "", due=due,
                                      rung=index)
        for r in (await ladder.people(uow, ids, locale=community.locale)).values():
            await ladder.alert(uow, TRACK, item_id=score.id or 0, rung=index, community_id=community.id or 0,
                               now=now, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=r.member_id,
                               lang=r.lang, notice=notice)

    def planned(score: PropertyItemScore) -> tuple[ladder.Ladder, str] | None:
        community = communities.get(score.community_id)
        return None if community is None else (plan(community), community.timezone)

    return await ladder.run(uow, TRACK, now=now, plan=planned, on_rung=step)


async def tasks(uow: UnitOfWork, *, actor: Actor) -> list[tuple[PropertyProject, PropertyItemScore]]:
    """The company's open rectification tasks (its projects' deductions with a deadline, not yet fixed)."""
    mine = {p.id: p for p in await pp.staff_projects(uow, actor=actor)}
    if not mine:
        return []
    rows = (await uow.session.exec(
        select(PropertyItemScore, PropertyEvaluation.project_id)
        .join(PropertyEvaluation, col(PropertyEvaluation.id) == col(PropertyItemScore.evaluation_id))
        .where(col(PropertyEvaluation.project_id).in_(list(mine)), col(PropertyItemScore.fix_state) == "open")
        .order_by(col(PropertyItemScore.fix_due_at), col(PropertyItemScore.id)))).all()
    return [(mine[pid], score) for score, pid in rows]


async def mark_fixed(uow: UnitOfWork, *, actor: Actor, score_id: int, now: datetime) -> PropertyItemScore:
    me = actor.require(Perm.PROPERTY_REPLY)
    open_ids = {s.id for _, s in await tasks(uow, actor=actor)}
    row = await uow.session.get(PropertyItemScore, score_id)
    if row is None or row.community_id != me.community_id:
        raise NotFound("task", score_id)
    if score_id not in open_ids:
        if row.fixed_at is not None:
            raise AlreadyDone("task")
        raise Forbidden(Perm.PROPERTY_REPLY.value)
    result = await uow.session.exec(update(PropertyItemScore).where(
        col(PropertyItemScore.id) == score_id, col(PropertyItemScore.fix_state) == "open")
        .values(fixed_at=now, fix_state="fixed", fix_next_at=None))
    if result.rowcount != 1:
        raise AlreadyDone("task")
    await uow.session.refresh(row)
    audit.record(uow, action="property.fixed", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="property_item_score", subject_id=score_id)
    return row


async def agenda_items(uow: UnitOfWork, community: Community, now: datetime) -> list[Any]:
    """The meeting's agenda items: overdue rectification tasks of the community's projects, and its projects
    flagged for a talk (约谈) in the latest published ranking."""
    from flows.meeting_agenda import AgendaItem  # the agenda imports this module (its seam)

    ind = indicators_for(community)
    items: list[Any] = []
    overdue = (await uow.session.exec(
        select(PropertyItemScore, PropertyProject)
        .join(PropertyEvaluation, col(PropertyEvaluation.id) == col(PropertyItemScore.evaluation_id))
        .join(PropertyProject, col(PropertyProject.id) == col(PropertyEvaluation.project_id))
        .where(PropertyItemScore.community_id == community.id, col(PropertyItemScore.fix_state) == "open",
               col(PropertyItemScore.fix_due_at) <= now)
        .order_by(col(PropertyItemScore.fix_due_at), col(PropertyItemScore.id)))).all()
    for score, project in overdue:
        item = ind.item(score.code)
        name = item.zh if item is not None else ""
        items.append(AgendaItem("rectification", score.id or 0, f"{project.estate} {score.code} {name}".strip(),
                                state="overdue"))
    latest = (await uow.session.exec(select(PropertyResult.month).where(
        PropertyResult.community_id == community.id, col(PropertyResult.published_at).is_not(None))
        .order_by(col(PropertyResult.month).desc()).limit(1))).first()
    if latest is not None:
        for line in await ranking.board(uow, month=latest, community_id=community.id):
            if line.flagged:
                items.append(AgendaItem("rectification", line.project_id,
                                        f"{line.estate}（{line.company}）约谈", state="talk"))
    return items
