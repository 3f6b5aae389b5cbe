"""Who answered a check, for a volunteer whose press came too late ("answered" refusal of flows.checkins.answer).

A prompt closed by someone else — the grid worker closing the incident it became, or the other volunteer —
is explained with their name in the community and the time, never with anything of the care ledger (no
name of the person checked, no outcome of the incident)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from flows.checkins.settings import Answer, Status
from storage.db import UnitOfWork
from storage.models import CheckinPrompt, Community, KeyPerson, Member, User


@dataclass(frozen=True)
class Answered:
    by_me: bool  # the asker answered it themselves (a second press, another device)
    by_name: str  # the name in the community of who answered or closed it
    at: datetime
    tz: str
    via_incident: bool  # closed with the incident it had become (by the grid worker or an admin)


async def who_answered(uow: UnitOfWork, *, user: User, prompt_id: int) -> Answered | None:
    """Who answered the prompt and when, for someone it was addressed to (its volunteers or its assignee); None
    for anyone else, or a prompt not answered."""
    pr = await uow.session.get(CheckinPrompt, prompt_id)
    if pr is None or pr.status != Status.ANSWERED or pr.answered_by is None or pr.answered_at is None:
        return None
    me = (await uow.session.exec(select(Member).where(Member.user_id == user.id,
                                                      Member.community_id == pr.community_id))).first()
    person = await uow.session.get(KeyPerson, pr.person_id)
    if me is None or person is None or me.id not in (person.primary_volunteer_id, person.backup_volunteer_id,
                                                     pr.assignee_member_id):
        return None
    by = await uow.session.get(Member, pr.answered_by)
    community = await uow.session.get(Community, pr.community_id)
    name = ""
    if by is not None:
        name = by.display_name or ((await uow.session.get(User, by.user_id)) or User(first_name="")).first_name
    return Answered(by_me=by is not None and by.id == me.id, by_name=name, at=pr.answered_at,
                    tz=community.timezone if community else "Asia/Shanghai", via_incident=pr.answer == Answer.INCIDENT)
