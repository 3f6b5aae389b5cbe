"""The monthly evaluation of a property project (F-10.2): the Party organisation or a committee member scores
the indicator items one by one (resumable: what is scored stays), then submits the whole once (compare-and-set:
open → submitted). Before publication the company's members see the deductions with the evidence and may reply
to each (the right of reply, shown beside the score when published)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import audit, outbox
from flows.actors import Actor
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.property import projects as pp
from flows.property.indicators import GRADES, Indicators, Item
from flows.property.notices import PropertyScored
from flows.roles import Perm
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Community
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyProject

MAX_NOTE = 500
MAX_COUNT = 99


def month_of(now: datetime, tz: str) -> str:
    """The month (YYYY-MM) of a moment in the community's zone."""
    return now.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


def indicators_for(community: Community) -> Indicators:
    """The community's indicator file (its settings' `property_indicators`, the text of a checked file), else the
    district default."""
    from flows.property.indicators import district, loads_indicators

    text = (community.settings or {}).get("property_indicators")
    return loads_indicators(text) if isinstance(text, str) and text.strip() else district()


@dataclass(frozen=True)
class Sheet:
    evaluation: PropertyEvaluation
    project: PropertyProject
    scores: dict[str, PropertyItemScore]  # by item code

    def next_code(self, ind: Indicators, after: str | None = None) -> str | None:
        """The first unscored item (after `after`, wrapping), or None when all are scored."""
        codes = [i.code for i in ind.items]
        start = codes.index(after) + 1 if after in codes else 0
        for code in codes[start:] + codes[:start]:
            if code not in self.scores:
                return code
        return None


async def _sheet(uow: UnitOfWork, evaluation: PropertyEvaluation) -> Sheet:
    project = await uow.session.get(PropertyProject, evaluation.project_id)
    assert project is not None
    rows = (await uow.session.exec(select(PropertyItemScore).where(
        PropertyItemScore.evaluation_id == evaluation.id))).all()
    return Sheet(evaluation=evaluation, project=project, scores={r.code: r for r in rows})


async def open_sheet(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Sheet:
    """This month's evaluation of project `number`, started if need be (one per project and month)."""
    me = actor.require(Perm.PROPERTY_SCORE)
    community = actor.home()
    project = await pp.get_project(uow, community_id=me.community_id, number=number)
    month = month_of(now, community.timezone)
    # insert-or-ignore: two scorers opening it at once share one evaluation
    await uow.session.execute(insert_ignoring(uow, PropertyEvaluation, ["project_id", "month"]).values(
        community_id=me.community_id, project_id=project.id or 0, month=month, state="open", started_by=me.id,
        started_at=now))
    evaluation = (await uow.session.exec(select(PropertyEvaluation).where(
        PropertyEvaluation.project_id == project.id, PropertyEvaluation.month == month))).one()
    return await _sheet(uow, evaluation)


async def sheet(uow: UnitOfWork, *, actor: Actor, evaluation_id: int) -> Sheet:
    """An evaluation of the actor's community, for a scorer or (once submitted) the project's company."""
    member = actor.registered()
    evaluation = await uow.session.get(PropertyEvaluation, evaluation_id)
    if evaluation is None or evaluation.community_id != member.community_id:
        raise NotFound("evaluation", evaluation_id)
    if not actor.can(Perm.PROPERTY_SCORE):
        mine = {p.id for p in await pp.staff_projects(uow, actor=actor)}
        if evaluation.project_id not in mine or evaluation.state == "open":
            raise Forbidden(Perm.PROPERTY_SCORE.value)
    return await _sheet(uow, evaluation)


async def score_item(uow: UnitOfWork, *, actor: Actor, ind: Indicators, evaluation_id: int, code: str,
                     grade: str | None = None, count: int | None = None, note: str | None = None,
                     photo: str | None = None, now: datetime) -> PropertyItemScore:
    """Score one item (again, while the evaluation is open): a grade or a count by the item's rule, with a note
    or a photo as evidence (kept when not given again)."""
    me = actor.require(Perm.PROPERTY_SCORE)
    evaluation = await uow.session.get(PropertyEvaluation, evaluation_id)
    if evaluation is None or evaluation.community_id != me.community_id:
        raise NotFound("evaluation", evaluation_id)
    if evaluation.state != "open":
        raise AlreadyDone("evaluation")
    item = ind.item(code)
    if item is None:
        raise NotFound("item", code)
    points = _points(item, grade, count)
    if note is not None:
        note = check_note(note)
    await uow.session.execute(insert_ignoring(uow, PropertyItemScore, ["evaluation_id", "code"]).values(
        community_id=me.community_id, evaluation_id=evaluation_id, code=code, points=points, note="", fix_rung=0,
        scored_by=me.id, scored_at=now))
    values: dict[str, object] = {"grade": grade if item.rule.kind == "grade" else None,
                                 "count": count if item.rule.kind == "per" else None, "points": points,
                                 "scored_by": me.id, "scored_at": now}
    if note is not None:
        values["note"] = note
    if photo is not None:
        values["photo"] = photo
    # written only while the evaluation is open: a score racing the submission changes nothing after it
    still_open = select(PropertyEvaluation.id).where(PropertyEvaluation.id == evaluation_id,
                                                     PropertyEvaluation.state == "open")
    result = await uow.session.exec(update(PropertyItemScore).where(
        col(PropertyItemScore.evaluation_id) == evaluation_id, col(PropertyItemScore.code) == code,
        col(PropertyItemScore.evaluation_id).in_(still_open)).values(**values))
    if result.rowcount != 1:
        raise AlreadyDone("evaluation")
    row = (await uow.session.exec(select(PropertyItemScore).where(
        PropertyItemScore.evaluation_id == evaluation_id, PropertyItemScore.code == code)
        .execution_options(populate_existing=True))).one()
    return row


def check_note(note: str) -> str:
    """A note of evidence as kept (trimmed), or Invalid when too long."""
    if len(note) > MAX_NOTE:
        raise Invalid("note", "too_long", limit=MAX_NOTE)
    return note.strip()


async def add_evidence(uow: UnitOfWork, *, actor: Actor, ind: Indicators, evaluation_id: int, code: str,
                       note: str, photo: str | None, now: datetime) -> PropertyItemScore | None:
    """Evidence for an item already scored (its points kept); None when the item is not scored yet (the caller
    keeps the evidence until the score is given)."""
    current = await sheet(uow, actor=actor, evaluation_id=evaluation_id)
    row = current.scores.get(code)
    if row is None:
        check_note(note)
        return None
    return await score_item(uow, actor=actor, ind=ind, evaluation_id=evaluation_id, code=code, grade=row.grade,
                            count=row.count, note=note or None, photo=photo, now=now)


def _points(item: Item, grade: str | None, count: int | None) -> float:
    if item.rule.kind == "per":
        if count is None or not 0 <= count <= MAX_COUNT:
            raise Invalid("count", "out_of_range", limit=MAX_COUNT)
        return item.rule.points(item.weight, count=count)
    if grade not in GRADES:
        raise Invalid("grade", "unknown")
    return item.rule.points(item.weight, grade=grade)


async def submit(uow: UnitOfWork, *, actor: Actor, ind: Indicators, evaluation_id: int, now: datetime) -> float:
    """Submit the whole sheet once every item is scored: open → submitted, the sum of points written with it
    (one conditional UPDATE: a second press, or a second scorer, gets AlreadyDone). Returns the sum."""
    me = actor.require(Perm.PROPERTY_SCORE)
    evaluation = await uow.session.get(PropertyEvaluation, evaluation_id)
    if evaluation is None or evaluation.community_id != me.community_id:
        raise NotFound("evaluation", evaluation_id)
    current = await _sheet(uow, evaluation)
    missing = [i.code for i in ind.items if i.code not in current.scores]
    if missing:
        raise Invalid("items", "unscored", count=len(missing), first=missing[0])
    total = round(sum(current.scores[i.code].points for i in ind.items), 4)
    result = await uow.session.exec(update(PropertyEvaluation).where(
        col(PropertyEvaluation.id) == evaluation_id, col(PropertyEvaluation.state) == "open")
        .values(state="submitted", items_points=total, submitted_by=me.id, submitted_at=now))
    if result.rowcount != 1:
        raise AlreadyDone("evaluation")
    audit.record(uow, action="property.evaluation_submit", now=now, community_id=me.community_id,
                 actor_user_id=actor.user.id, subject_type="property_evaluation", subject_id=evaluation_id,
                 points=total)
    notice = PropertyScored(estate=current.project.estate, month=evaluation.month, evaluation_id=evaluation_id,
                            points=total, deductions=len(deductions(ind, current)))
    for member, user in await pp.staff_of(uow, project_id=current.project.id or 0):
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or actor.home().locale, now=now,
                      community_id=me.community_id, recipient_user_id=user.id, notice=notice,
                      dedupe_key=f"pp-scored:{evaluation_id}:{member.id}")
    return total


def deductions(ind: Indicators, current: Sheet) -> list[tuple[Item, PropertyItemScore]]:
    """The items scored below their weight, in the file's order, with their scores."""
    return [(i, current.scores[i.code]) for i in ind.items
            if i.code in current.scores and current.scores[i.code].points < i.weight - 1e-9]


async def reply(uow: UnitOfWork, *, actor: Actor, ind: Indicators, evaluation_id: int, code: str, text: str,
                now: datetime) -> PropertyItemScore:
    """The company's answer to one deduction, before publication (it may be rewritten until then)."""
    me = actor.require(Perm.PROPERTY_REPLY)
    current = await sheet(uow, actor=actor, evaluation_id=evaluation_id)
    if current.evaluation.project_id not in {p.id for p in await pp.staff_projects(uow, actor=actor)}:
        raise Forbidden(Perm.PROPERTY_REPLY.value)
    words = " ".join(text.split())
    if not words:
        raise Invalid("reply", "empty")
    if len(words) > MAX_NOTE:
        raise Invalid("reply", "too_long", limit=MAX_NOTE)
    row = current.scores.get(code)
    item = ind.item(code)
    if row is None or item is None or row.points >= item.weight - 1e-9:
        raise NotFound("deduction", code)
    result = await uow.session.exec(update(PropertyItemScore).where(
        col(PropertyItemScore.id) == row.id,
        col(PropertyItemScore.evaluation_id).in_(select(PropertyEvaluation.id).where(
            PropertyEvaluation.id == evaluation_id, PropertyEvaluation.state == "submitted")))
        .values(reply=words, replied_by=me.id, replied_at=now))
    if result.rowcount != 1:
        raise AlreadyDone("evaluation")
    await uow.session.refresh(row)
    audit.record(uow, action="property.reply", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="property_evaluation", subject_id=evaluation_id, code=code)
    return row





async def progress(uow: UnitOfWork, *, community_id: int, month: str) -> dict[int, tuple[str, int]]:
    """This month's evaluations of a community's projects: project id → (state, items scored)."""
    rows = (await uow.session.exec(
        select(PropertyEvaluation.project_id, PropertyEvaluation.state, func.count(col(PropertyItemScore.id)))
        .join(PropertyItemScore, col(PropertyItemScore.evaluation_id) == col(PropertyEvaluation.id), isouter=True)
        .where(PropertyEvaluation.community_id == community_id, PropertyEvaluation.month == month)
        .group_by(col(PropertyEvaluation.project_id), col(PropertyEvaluation.state)))).all()
    return {pid: (state, count) for pid, state, count in rows}


async def latest_for_staff(uow: UnitOfWork, *, actor: Actor) -> list[tuple[PropertyProject, PropertyEvaluation]]:
    """The company's projects with their latest submitted (not yet published, or published) evaluation."""
    out = []
    for project in await pp.staff_projects(uow, actor=actor):
        evaluation = (await uow.session.exec(select(PropertyEvaluation).where(
            PropertyEvaluation.project_id == project.id, col(PropertyEvaluation.state) != "open")
            .order_by(col(PropertyEvaluation.month).desc()))).first()
        if evaluation is not None:
            out.append((project, evaluation))
    return out
