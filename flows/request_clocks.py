"""The clocks of requests (F-7.3) on the shared deadline ladder (flows/ladder.py).

Each open stage has a time limit per kind (requests.CLOCKS, or the community's own "request_clocks"): a new
request must be assessed (hazards 2 h, others 1 day), an assigned one resolved (hazards 24 h, others 7 days —
whole days are local calendar days of the community). When a limit passes, the request climbs its stage's
ladder (requests.stage_ladder): a reminder (the committee group while assessing, the organisation's handlers
while resolving), then the organisation's head (its committee member), the community admins, the district.
Assigning starts the resolve ladder at rung 0; accepting keeps its clock running; a reopening starts it afresh;
resolving, merging and declining stop it (resolved waits for the reporter, request_work.due).

Climbing is the ladder's compare-and-set on (state, rung): two ticks at once, or a tick racing an assessment,
climb a rung once; after a restart an overdue request climbs one rung per tick. Who was told is in the ladder's
alert rows, each run of a ladder under its own stage name (`run_name`: assess, resolve, resolve#2 …)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from flows import ladder
from flows.notices import Notice
from flows.requests import (
    COMMITTEE,
    HANDLERS,
    ORG_HEAD,
    STAGES,
    code,
    committee_chats,
    handlers_of,
    org_heads,
    stage_ladder,
)
from storage.db import UnitOfWork
from storage.models import Community
from storage.models_requests import Request

TRACK = ladder.Track(Request, kind="request", state="state", open=tuple(STAGES), rung="rung", next_at="due_at")


@dataclass(frozen=True)
class RequestOverdue(Notice, kind="request_overdue"):
    """A request past its stage's time limit, to one rung's audience (committee|handlers|org_head|admins|district)."""

    request_id: int
    code: str
    request_kind: str
    category: str
    stage: str  # assess | resolve
    audience: str
    community: str
    org: str | None = None


def run_name(row: Request, stage: str) -> str:
    """The name of this run of the request's ladder, for the alert rows: "assess", "resolve", and "resolve#2" …
    after each reopening — so a reopened request's reminders are new alerts, not ones already sent."""
    return stage if stage == "assess" or not row.reopen_count else f"{stage}#{row.reopen_count + 1}"


async def tick(uow: UnitOfWork, *, now: datetime, limit: int = ladder.BATCH) -> int:
    """Every open request past a rung's time climbs one rung, and that rung's audience is told. Returns how many
    rungs were climbed (at most `limit` requests a pass)."""
    due = await ladder.due(uow, TRACK, now=now, limit=limit)
    if not due:
        return 0
    ids = sorted({r.community_id for r in due})
    communities = {c.id: c for c in (await uow.session.exec(select(Community).where(col(Community.id).in_(ids)))).all()}

    def plan(row: Request) -> tuple[ladder.Ladder, str] | None:
        community = communities.get(row.community_id)
        stage = STAGES.get(row.state)
        if community is None or stage is None:
            return None
        return stage_ladder(community, row.kind, stage), community.timezone

    async def step(row: Request, index: int, rung: ladder.Rung) -> None:
        community = communities[row.community_id]
        stage = STAGES[row.state]
        await _tell(uow, row, community, stage=stage, index=index, rung=rung, now=now)

    return await ladder.run(uow, TRACK, now=now, plan=plan, on_rung=step, limit=limit,
                            where=[col(Request.community_id).in_(ids)])


async def _tell(uow: UnitOfWork, row: Request, community: Community, *, stage: str, index: int, rung: ladder.Rung,
                now: datetime) -> None:
    run = run_name(row, stage)
    audience = rung.tell[0] if rung.tell else ""
    notice = RequestOverdue(request_id=row.id or 0, code=code(row.year, row.number), request_kind=row.kind,
                            category=row.category, stage=stage, audience=str(audience), community=community.name,
                            org=row.organisation)
    member_ids: list[int] = []
    if COMMITTEE in rung.tell:
        chats = await committee_chats(uow, community.id or 0)
        for chat in chats:
            await ladder.alert(uow, TRACK, item_id=row.id or 0, stage=run, rung=index, community_id=community.id or 0,
                               now=now, tg_chat_id=chat, lang=community.locale, notice=notice)
        if not chats:  # no committee group: the admins are reminded instead
            member_ids += await ladder.members(uow, (ladder.Audience.ADMINS,), community_id=community.id or 0)
    custom: dict[str, list[int]] = {}
    if HANDLERS in rung.tell or ORG_HEAD in rung.tell:
        org = row.organisation or ""
        custom[HANDLERS] = [m.id for m, _ in await handlers_of(uow, community_id=row.community_id, org=org) if m.id]
        custom[ORG_HEAD] = [m.id for m, _ in await org_heads(uow, community_id=row.community_id, org=org) if m.id]
    member_ids += await ladder.members(uow, rung.tell, community_id=community.id or 0, building_id=row.building_id,
                                       custom=custom)
    for r in (await ladder.people(uow, member_ids, locale=community.locale)).values():
        await ladder.alert(uow, TRACK, item_id=row.id or 0, stage=run, rung=index, community_id=community.id or 0,
                           now=now, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=r.member_id,
                           lang=r.lang, notice=notice)


