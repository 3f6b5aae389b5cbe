"""Issue #14, the public board's queries (flows/public.py) on SQLite and PostgreSQL: a fixed number of queries
whatever the number of communities and projects, owners by role (never a name), care counted only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from benchmarks.board import Scale, seed
from flows import public
from flows.errors import NotFound
from flows.roles import Org, Role
from storage.db import Database
from storage.models import Member, RoleGrant

NOW = datetime(2027, 6, 15, 2, 0, tzinfo=UTC)


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_item1_overview_and_board_in_a_fixed_number_of_queries(db: Database) -> None:
    await seed(db, Scale(communities=2, projects=3, groups=0, rounds=1, timeout=10), NOW, year=2027)
    async with db.uow() as uow:
        with counted(db) as few:
            small = await public.communities(uow, now=NOW)
        with counted(db) as board_few:
            await public.community_board(uow, slug="bench-0", now=NOW)
    await seed_more(db)
    async with db.uow() as uow:
        with counted(db) as many:
            big = await public.communities(uow, now=NOW)
        with counted(db) as board_many:
            b = await public.community_board(uow, slug="bench-10", now=NOW)
    assert len(small) == 2 and len(big) == 12 and sum(x.counts.projects for x in big) == 2 * 3 + 10 * 10
    assert len(many) == len(few) <= 8
    assert len(board_many) == len(board_few) and len(b.projects) == 10


async def seed_more(db: Database) -> None:
    """Ten more communities of ten projects (slugs bench-10 … bench-19)."""
    from sqlmodel import select

    from storage.models import Community, User

    async with db.uow() as uow:  # the seed's slugs and Telegram ids are taken: move the first ones aside
        for c in (await uow.session.exec(select(Community))).all():
            c.slug = f"old-{c.slug}"
            uow.session.add(c)
        for u in (await uow.session.exec(select(User))).all():
            u.tg_id += 1_000_000
            uow.session.add(u)
        await uow.commit()
    await seed(db, Scale(communities=10, projects=10, groups=0, rounds=1, timeout=10), NOW, year=2027)
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(Community).where(Community.slug.startswith("bench-")))).all()  # type: ignore[attr-defined]
        for c in rows:
            c.slug = f"bench-{int(c.slug.split('-')[1]) + 10}"
            uow.session.add(c)
        await uow.commit()


async def test_item2_owner_shown_by_role_and_care_counted(db: Database) -> None:
    await seed(db, Scale(communities=1, projects=4, groups=0, rounds=1, timeout=10), NOW, year=2027)
    async with db.uow() as uow:
        b = await public.community_board(uow, slug="bench-0", now=NOW)
        assert {p.owner_role for p in b.projects} == {"resident"}  # no role held: a resident
        member = (await uow.session.exec(__import__("sqlmodel").select(Member))).one()
        uow.session.add(RoleGrant(community_id=member.community_id, member_id=member.id or 0, role=Role.COMMITTEE,
                                  organisation=Org.PROPERTY, granted_at=NOW))
        uow.session.add(RoleGrant(community_id=member.community_id, member_id=member.id or 0, role=Role.VOLUNTEER,
                                  granted_at=NOW))
        await uow.commit()
    async with db.uow() as uow:
        b = await public.community_board(uow, slug="bench-0", now=NOW)
        assert {(p.owner_role, p.owner_org) for p in b.projects} == {("committee", "property")}
        assert b.care.checks_due == 0 and b.care.on_time_percent is None and b.care.incidents == {}
        assert b.requests.reported == 0 and b.requests.closed == [] and b.requests.solved_total == 0
        assert "王0" not in repr(b)  # the owner's display name is nowhere in what the board gets
        page = await public.project_page(uow, slug="bench-0", number=1, now=NOW)
        assert page.line.owner_role == "committee" and len(page.notes) == 4 and page.notes[0].at >= page.notes[-1].at
        with pytest.raises(NotFound):
            await public.project_page(uow, slug="bench-0", number=5, now=NOW)
        with pytest.raises(NotFound):
            await public.community_board(uow, slug="nowhere", now=NOW)
        # next year the board is empty (each community's local year)
        nxt = await public.community_board(uow, slug="bench-0", now=NOW + timedelta(days=200))
        assert nxt.year == 2028 and nxt.projects == []
