"""Statistics of closed-loop requests (F-7.5), per community or for the whole district, for one local year.

Counted from the requests and their timeline (`RequestEvent`), never from who reported them: how many were
reported, solved (confirmed 满意, and closed without an answer 默认满意, counted apart) — per kind, so the
seed's "requests solved, disputes mediated, hazards fixed" —, declined and merged; the reopen rate (the share
of requests resolved at least once that were reopened), the satisfaction (the share of the reporters' answers
that were 满意), and the median time of each stage: assessing (reported → assigned), resolving (assigned →
first resolved) and confirming (last resolved → closed)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from flows.actors import Actor
from flows.clock import local
from flows.errors import Forbidden
from flows.roles import Role
from storage.db import UnitOfWork
from storage.models import Community
from storage.models_requests import Request, RequestEvent

SOLVED = ("confirmed", "closed_default")


@dataclass(frozen=True)
class Stats:
    year: int
    communities: int
    reported: int
    open: int
    solved: dict[str, int] = field(default_factory=dict)  # per kind: confirmed + closed_default
    by_default: int = 0  # of the solved, closed without the reporter's answer
    declined: int = 0
    merged: int = 0
    reopen_rate: float | None = None
    satisfaction: float | None = None
    median: dict[str, timedelta | None] = field(default_factory=dict)  # assess | resolve | confirm


def _median(values: list[timedelta]) -> timedelta | None:
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values)) if values else None


async def compute(uow: UnitOfWork, *, community_ids: list[int], year: int) -> Stats:
    where = [col(Request.community_id).in_(community_ids), Request.year == year]
    counts = {(s, k): int(n) for s, k, n in (await uow.session.exec(
        select(Request.state, Request.kind, func.count()).where(*where)
        .group_by(col(Request.state), col(Request.kind)))).all()}
    total = sum(counts.values())
    solved = {k: sum(n for (s, kk), n in counts.items() if kk == k and s in SOLVED) for k in ("request", "dispute",
                                                                                                "hazard")}
    state = {s: sum(n for (ss, _), n in counts.items() if ss == s) for s in {s for s, _ in counts}}
    events = (await uow.session.exec(
        select(RequestEvent.request_id, RequestEvent.action, RequestEvent.at)
        .join(Request, col(Request.id) == col(RequestEvent.request_id)).where(*where)
        .order_by(col(RequestEvent.request_id), col(RequestEvent.at), col(RequestEvent.id)))).all()
    firsts: dict[int, dict[str, datetime]] = {}
    answers = {"confirm": 0, "reopen": 0}
    resolved_once: set[int] = set()
    reopened: set[int] = set()
    for request_id, action, at in events:
        seen = firsts.setdefault(request_id, {})
        seen.setdefault(action, at)
        if action in answers:
            answers[action] += 1
        if action == "resolve":
            resolved_once.add(request_id)
            seen["resolved_last"] = at
        if action == "reopen":
            reopened.add(request_id)
        if action in ("confirm", "close_default"):
            seen["closed"] = at
    assess = [f["assign"] - f["report"] for f in firsts.values() if "assign" in f and "report" in f]
    resolve = [f["resolve"] - f["assign"] for f in firsts.values() if "resolve" in f and "assign" in f]
    confirm = [f["closed"] - f["resolved_last"] for f in firsts.values() if "closed" in f and "resolved_last" in f]
    given = answers["confirm"] + answers["reopen"]
    return Stats(year=year, communities=len(community_ids), reported=total,
                 open=sum(n for s, n in state.items() if s in ("new", "assigned", "accepted", "resolved", "reopened")),
                 solved=solved, by_default=state.get("closed_default", 0), declined=state.get("rejected", 0),
                 merged=state.get("merged", 0),
                 reopen_rate=len(reopened) / len(resolved_once) if resolved_once else None,
                 satisfaction=answers["confirm"] / given if given else None,
                 median={"assess": _median(assess), "resolve": _median(resolve), "confirm": _median(confirm)})


async def of_community(uow: UnitOfWork, *, actor: Actor, now: datetime, year: int | None = None) -> Stats:
    """The actor's community (a group's: anyone there may see them — they hold no personal data)."""
    community = actor.home()
    return await compute(uow, community_ids=[community.id or 0],
                         year=year or local(now, community.timezone).year)


async def of_district(uow: UnitOfWork, *, actor: Actor, now: datetime, year: int | None = None) -> Stats:
    """Every community of the deployment (one deployment serves a district): district admins only."""
    actor.registered()
    if Role.DISTRICT_ADMIN.value not in actor.roles:
        raise Forbidden("district")
    ids = [c for c in (await uow.session.exec(select(Community.id))).all() if c is not None]
    return await compute(uow, community_ids=ids, year=year or local(now, actor.home().timezone).year)
