"""Check-ins: planning the prompts of a local day (insert-if-absent, so any number of planners may run)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from flows.checkins.people import away_set, effective_assignee
from flows.checkins.settings import Stage, Status, due_at, settings_of, slot_times
from storage.db import UnitOfWork, insert_ignoring
from storage.models import CheckinPrompt, Community, KeyPerson


def _insert_ignore(uow: UnitOfWork, rows: list[dict[str, Any]]) -> Any:
    return insert_ignoring(uow, CheckinPrompt, ["person_id", "local_date", "slot"]).values(rows)


async def plan(uow: UnitOfWork, *, community: Community, local_date: date, now: datetime) -> int:
    """Create the prompts of one local day for every active person with a volunteer; returns how
    many were new. Idempotent, and a concurrent planner's rows are tolerated (insert-if-absent)."""
    cfg = settings_of(community)
    day = local_date.isoformat()
    persons = (await uow.session.exec(
        select(KeyPerson).where(KeyPerson.community_id == community.id, col(KeyPerson.active).is_(True),
                                col(KeyPerson.primary_volunteer_id).is_not(None)))).all()
    if not persons:
        return 0
    have = set((await uow.session.exec(
        select(CheckinPrompt.person_id, CheckinPrompt.slot).where(
            CheckinPrompt.community_id == community.id, CheckinPrompt.local_date == day))).all())
    away = await away_set(uow, community.id or 0, [day])
    rows: list[dict[str, Any]] = []
    for p in persons:
        for slot, at in slot_times(p, cfg).items():
            due = due_at(local_date, at, community.timezone)
            if (p.id, slot) in have or (p.created_at is not None and due < p.created_at):
                continue  # planned already, or the person was not in the ledger yet at that time
            rows.append({"community_id": community.id, "person_id": p.id, "local_date": day, "slot": str(slot),
                         "due_at": due, "status": Status.SCHEDULED.value, "stage": Stage.ASKED.value,
                         "assignee_member_id": effective_assignee(p, day, away), "created_at": now})
    for i in range(0, len(rows), 500):
        await uow.session.execute(_insert_ignore(uow, rows[i:i + 500]))
    return len(rows)
