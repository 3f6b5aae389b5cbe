"""The monthly ranking of the district's property projects (F-10.3): computed once the month is over, from the
submitted evaluations, the residents' survey and the 12345 complaints (flows/property/scoring.py has the
formula); read for the groups, the web board and the benchmark.

`compute(uow, month=…)` is idempotent: it writes one `PropertyResult` per project and month (updated in place
when run again, ranks recomputed over the whole district), so a second run, or a second process, changes nothing
it should not. A published result is never recomputed (`published_at` set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from flows.property import household as hh
from flows.property import projects as pp
from flows.property import scoring
from flows.property.evaluation import indicators_for
from storage.db import UnitOfWork
from storage.models import Community
from storage.models_complaints import HotlineComplaint
from storage.models_property import PropertyEvaluation, PropertyProject, PropertyResult, PropertySurvey


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a local month."""
    year, mon = (int(p) for p in month.split("-"))
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def shift(month: str, months: int) -> str:
    year, mon = (int(p) for p in month.split("-"))
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def compute(uow: UnitOfWork, *, month: str, now: datetime) -> int:
    """Compute (or recompute) every active project's result for `month`, and the district's ranks. Returns how
    many results were written."""
    communities = {c.id: c for c in (await uow.session.exec(select(Community))).all()}
    projects = list((await uow.session.exec(select(PropertyProject).where(col(PropertyProject.active)))).all())
    if not projects:
        return 0
    for cid in {p.community_id for p in projects}:
        await pp.match_complaints(uow, community_id=cid)
    items = dict((await uow.session.exec(select(PropertyEvaluation.project_id, PropertyEvaluation.items_points)
                                         .where(PropertyEvaluation.month == month,
                                                col(PropertyEvaluation.state).in_(("submitted", "published"))))).all())
    survey: dict[int, tuple[int, float]] = {}
    for pid, answers in (await uow.session.exec(select(PropertySurvey.project_id, PropertySurvey.answers).where(
            PropertySurvey.month == month, col(PropertySurvey.answered_at).is_not(None)))).all():
        count, total = survey.get(pid, (0, 0.0))
        survey[pid] = (count + 1, total + sum(answers) / len(answers))
    complaints: dict[int, int] = {}
    by_zone: dict[str, list[int]] = {}
    for p in projects:
        by_zone.setdefault(communities[p.community_id].timezone, []).append(p.id or 0)
    for tz, ids in by_zone.items():
        start, end = month_bounds(month, tz)
        complaints.update(dict((await uow.session.exec(
            select(HotlineComplaint.property_project_id, func.count()).where(
                col(HotlineComplaint.property_project_id).in_(ids), col(HotlineComplaint.received_at) >= start,
                col(HotlineComplaint.received_at) < end).group_by(col(HotlineComplaint.property_project_id)))).all()))
    counted = await hh.households(uow, projects)
    existing = {r.project_id: r for r in (await uow.session.exec(
        select(PropertyResult).where(PropertyResult.month == month))).all()}
    results: list[PropertyResult] = []
    for p in projects:
        row = existing.get(p.id or 0)
        if row is not None and row.published_at is not None:
            results.append(row)
            continue
        count, total = survey.get(p.id or 0, (0, 0.0))
        s = scoring.score(indicators_for(communities[p.community_id]), items_points=items.get(p.id or 0),
                          satisfaction_mean=total / count if count else None, answers=count,
                          households=counted[p.id or 0], complaints=complaints.get(p.id or 0, 0))
        row = row or PropertyResult(community_id=p.community_id, project_id=p.id or 0, month=month)
        row.items_part, row.satisfaction_part, row.complaints_part = s.items_part, s.satisfaction_part, \
            s.complaints_part
        row.total, row.rate, row.answers, row.required = s.total, s.rate, s.answers, s.required
        row.complaints, row.sufficient, row.computed_at = complaints.get(p.id or 0, 0), s.sufficient, now
        results.append(row)
    ranked = scoring.ranks((r.project_id, r.total) for r in results)
    for r in results:
        if r.published_at is None:
            r.rank = ranked.get(r.project_id)
            uow.session.add(r)
    await uow.session.flush()
    return len(results)


@dataclass(frozen=True)
class Line:
    project_id: int
    community_id: int
    number: int
    company: str
    estate: str
    rank: int | None
    total: float | None
    sufficient: bool
    answers: int
    required: int
    rate: float | None
    rate_last_year: float | None
    trend: str  # ↑ ↓ → or ""
    flagged: bool  # bottom three three months running (约谈)


async def board(uow: UnitOfWork, *, month: str, community_id: int | None = None,
                streak: int = 3) -> list[Line]:
    """The month's ranking with trends (vs last month), last year's complaint rate and the 约谈 flag: ranked
    projects first by rank, then the "样本不足" ones. One query per month looked at (this one, the one before,
    the same one last year, the streak's)."""
    months = sorted({month, shift(month, -1), shift(month, -12), *(shift(month, -k) for k in range(streak))})
    rows = (await uow.session.exec(
        select(PropertyResult.project_id, PropertyResult.month, PropertyResult.total, PropertyResult.rank,
               PropertyResult.rate, PropertyResult.sufficient, PropertyResult.answers, PropertyResult.required)
        .where(col(PropertyResult.month).in_(months)))).all()
    by: dict[str, dict[int, tuple]] = {m: {} for m in months}
    for row in rows:
        by[row[1]][row[0]] = row
    history: Sequence[dict[int, int]] = [{pid: r[3] for pid, r in by[shift(month, -k)].items() if r[3]}
                                         for k in reversed(range(streak))]
    flagged = scoring.bottom_streak(history, streak)
    query = select(PropertyProject).where(col(PropertyProject.id).in_(list(by[month])))
    if community_id is not None:
        query = query.where(PropertyProject.community_id == community_id)
    lines: list[Line] = []
    for p in (await uow.session.exec(query)).all():
        now_row = by[month][p.id or 0]
        before = by[shift(month, -1)].get(p.id or 0)
        last_year = by[shift(month, -12)].get(p.id or 0)
        lines.append(Line(project_id=p.id or 0, community_id=p.community_id, number=p.number, company=p.company,
                          estate=p.estate, rank=now_row[3], total=now_row[2], sufficient=now_row[5],
                          answers=now_row[6], required=now_row[7], rate=now_row[4],
                          rate_last_year=last_year[4] if last_year else None,
                          trend=scoring.trend(now_row[2], before[2] if before else None),
                          flagged=(p.id or 0) in flagged))
    lines.sort(key=lambda ln: (ln.rank is None, ln.rank or 0, ln.community_id, ln.number))
    return lines


async def latest_published(uow: UnitOfWork) -> tuple[str | None, list[Line]]:
    """The latest published month and its ranking (for the public web board), or (None, [])."""
    month = (await uow.session.exec(select(PropertyResult.month).where(
        col(PropertyResult.published_at).is_not(None)).order_by(col(PropertyResult.month).desc()).limit(1))).first()
    if month is None:
        return None, []
    return month, await board(uow, month=month)
