"""The monthly cycle's scheduled work (F-10.3): the survey invitations, and once the month is over the ranking —
computed, published once (compare-and-set on `PropertyResult.published_at`: the run whose UPDATE took the rows
publishes), posted to the community's groups (text + picture, outside the group quiet hours, each post with a
dedupe key), the evaluations closed for replies, and every deduction given its rectification deadline.

Settings (a community's `settings`): `property_publish_day` (default 5: the ranking of a month is published from
the 5th of the next, 09:00 local — the days between submission and then are the company's right of reply),
`property_fix_days` (default 30: a deduction's rectification deadline after publication, flows/property/rectify.py). The district's month
is read in the first community's zone (one district, one zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from flows import outbox, quiet
from flows.clock import local
from flows.property import ranking, rectify, survey
from flows.property.evaluation import indicators_for
from flows.property.notices import RankingPicture, RankingPosted
from storage.db import UnitOfWork
from storage.models import Chat, Community
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyResult

PUBLISH_DAY = 5
PUBLISH_HOUR = 9
PURPOSES = ("community", "building", "committee")
LIVE = ("member", "administrator")


@dataclass(frozen=True)
class Tick:
    invited: int = 0
    alerts: int = 0  # rungs of the rectification ladder climbed
    published: str = ""  # the month published by this run, if any
    posts: int = 0
    pictures: tuple[tuple[str, dict[str, Any]], ...] = ()  # (lang, params) to draw ahead


def _int(community: Community, key: str, default: int) -> int:
    value = (community.settings or {}).get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


async def due(uow: UnitOfWork, *, now: datetime) -> Tick:
    invited = await survey.due(uow, now=now)
    alerts = await rectify.tick(uow, now=now)
    quiet_tick = Tick(invited=invited, alerts=alerts)
    communities = list((await uow.session.exec(select(Community).order_by(col(Community.id)))).all())
    if not communities:
        return quiet_tick
    first = communities[0]
    here = local(now, first.timezone)
    month = ranking.shift(here.strftime("%Y-%m"), -1)
    if here.day < _int(first, "property_publish_day", PUBLISH_DAY) or \
            (here.day == _int(first, "property_publish_day", PUBLISH_DAY) and here.hour < PUBLISH_HOUR):
        return quiet_tick
    done = (await uow.session.exec(select(PropertyResult.id).where(
        PropertyResult.month == month, col(PropertyResult.published_at).is_not(None)).limit(1))).first()
    if done is not None:
        return quiet_tick
    if not await ranking.compute(uow, month=month, now=now):
        return quiet_tick
    evaluated = (await uow.session.exec(select(PropertyResult.id).where(
        PropertyResult.month == month,
        col(PropertyResult.items_part).is_not(None) | (col(PropertyResult.answers) > 0)).limit(1))).first()
    if evaluated is None:
        return quiet_tick  # nothing scored nor answered that month (e.g. before the first cycle): no post
    taken = await uow.session.exec(update(PropertyResult).where(
        col(PropertyResult.month) == month, col(PropertyResult.published_at).is_(None)).values(published_at=now))
    if not taken.rowcount:
        return quiet_tick  # another process published it
    posts, pictures = await _publish(uow, communities, month, now)
    return Tick(invited=invited, alerts=alerts, published=month, posts=posts, pictures=tuple(pictures))


async def _publish(uow: UnitOfWork, communities: list[Community], month: str,
                   now: datetime) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    evaluations = list((await uow.session.exec(select(PropertyEvaluation).where(
        PropertyEvaluation.month == month, PropertyEvaluation.state == "submitted"))).all())
    by_project = {e.project_id: e for e in evaluations}
    await uow.session.exec(update(PropertyEvaluation).where(
        col(PropertyEvaluation.month) == month, col(PropertyEvaluation.state) == "submitted")
        .values(state="published"))
    lines = await ranking.board(uow, month=month)
    ranked = [ln for ln in lines if ln.rank is not None]
    district = {"ranked": len(ranked), "unranked": len(lines) - len(ranked),
                "top": [_line(ln) for ln in ranked[:3]], "bottom": [_line(ln) for ln in ranked[-3:]]}
    posts = 0
    pictures: list[tuple[str, dict[str, Any]]] = []
    for community in communities:
        ind = indicators_for(community)
        rows = []
        for ln in (x for x in lines if x.community_id == community.id):
            row = _line(ln)
            evaluation = by_project.get(ln.project_id)
            row["replies"] = []
            if evaluation is not None:
                scores = (await uow.session.exec(select(PropertyItemScore).where(
                    PropertyItemScore.evaluation_id == evaluation.id).order_by(col(PropertyItemScore.code)))).all()
                for s in scores:
                    item = ind.item(s.code)
                    if item is not None and s.points < item.weight - 1e-9:
                        rectify.start(s, community, now)
                        uow.session.add(s)
                        if s.reply:
                            row["replies"].append({"code": s.code, "points": s.points, "weight": item.weight,
                                                   "reply": s.reply})
            rows.append(row)
        if not rows:
            continue
        chats = (await uow.session.exec(select(Chat).where(
            Chat.community_id == community.id, col(Chat.purpose).in_(PURPOSES),
            col(Chat.bot_status).in_(LIVE)).order_by(col(Chat.id)))).all()
        at = quiet.group_post_time(community, now)
        text = RankingPosted(community=community.name, month=month, rows=rows, shares=dict(ind.shares), **district)
        picture = RankingPicture(community=community.name, month=month, rows=rows, shares=dict(ind.shares))
        for chat in chats:
            for notice, kind in ((text, "t"), (picture, "p")):
                row = outbox.notify(uow, tg_chat_id=chat.tg_chat_id, notice=notice, lang=community.locale, now=now,
                                    community_id=community.id, dedupe_key=f"pp-rank:{month}:{chat.id}:{kind}")
                row.not_before = at
                posts += 1
        if chats:
            pictures.append((community.locale, picture.params()))
    return posts, pictures


def _line(ln: ranking.Line) -> dict[str, Any]:
    return {"number": ln.number, "estate": ln.estate, "company": ln.company, "rank": ln.rank, "total": ln.total,
            "trend": ln.trend, "rate": ln.rate, "rate_last_year": ln.rate_last_year, "answers": ln.answers,
            "required": ln.required, "flagged": ln.flagged}
