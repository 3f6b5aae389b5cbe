"""The sandbox demo's micro-governance (#16): building 3's team with its leader, two wishes (one open, one fulfilled
and thanked), a micro deed — and nothing of it goes out when the sandbox starts."""

from __future__ import annotations

from sqlmodel import col, select

from bot.sandbox import seed_database
from flows.clock import FixedClock
from storage.crypto import Sealer
from storage.db import Database
from storage.models import Member, OutboxMessage
from storage.models_micro import DigestItem, MicroPost, Team, TeamMember, Wish


async def test_the_demo_has_a_team_two_wishes_and_a_micro_deed(db: Database, clock: FixedClock) -> None:
    await seed_database(db, clock, Sealer(b"test-secret-key-0123456789abcdef"))
    async with db.uow() as uow:
        team = (await uow.session.exec(select(Team))).one()
        names = (await uow.session.exec(select(Member.display_name).join(
            TeamMember, col(TeamMember.member_id) == col(Member.id)).order_by(col(TeamMember.id)))).all()
        leader = await uow.session.get(Member, team.leader_member_id)
        states = (await uow.session.exec(select(Wish.state).order_by(col(Wish.number)))).all()
        posts = (await uow.session.exec(select(MicroPost.state))).all()
        outbox = (await uow.session.exec(select(OutboxMessage.payload))).all()
        held = (await uow.session.exec(select(DigestItem))).all()
    assert list(names) == ["孙大爷", "刘志愿"] and leader is not None and leader.display_name == "孙大爷"
    assert list(states) == ["open", "thanked"] and list(posts) == ["open"]
    assert not [p for p in outbox if str((p or {}).get("notice", "")).startswith(("wish", "micro", "team"))]
    assert held == []
