"""Rectification (整改, F-10.3): the deductions of a published evaluation are the company's tasks, each with its
deadline (`fix_due_at`, set on publication); the company reports one fixed (compare-and-set on `fixed_at`). The
weekly meeting's agenda shows, through the seam `flows.meeting_agenda.RECTIFICATIONS`, the tasks past their
deadline and the projects in the district's bottom three three months running (约谈)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from flows import audit
from flows.actors import Actor
from flows.errors import AlreadyDone, Forbidden, NotFound
from flows.property import projects as pp
from flows.property import ranking
from flows.property.evaluation import indicators_for
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Community
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyProject, PropertyResult


async def tasks(uow: UnitOfWork, *, actor: Actor) -> list[tuple[PropertyProject, PropertyItemScore]]:
    """The company's open rectification tasks (its projects' deductions with a deadline, not yet fixed)."""
    mine = {p.id: p for p in await pp.staff_projects(uow, actor=actor)}
    if not mine:
        return []
    rows = (await uow.session.exec(
        select(PropertyItemScore, PropertyEvaluation.project_id)
        .join(PropertyEvaluation, col(PropertyEvaluation.id) == col(PropertyItemScore.evaluation_id))
        .where(col(PropertyEvaluation.project_id).in_(list(mine)), col(PropertyItemScore.fix_due_at).is_not(None),
               col(PropertyItemScore.fixed_at).is_(None))
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
        col(PropertyItemScore.id) == score_id, col(PropertyItemScore.fixed_at).is_(None)).values(fixed_at=now))
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
        .where(PropertyItemScore.community_id == community.id, col(PropertyItemScore.fixed_at).is_(None),
               col(PropertyItemScore.fix_due_at).is_not(None), col(PropertyItemScore.fix_due_at) <= now)
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
