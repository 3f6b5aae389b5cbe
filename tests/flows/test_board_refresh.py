"""Issue #12 item 4, the pinned board stays true: when what a posted board shows changes (a project's percent,
colour, completion), the job edits it in place — at most once an hour per group, changes in between coalescing
into one edit — and leaves it alone when nothing changed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from flows import board
from flows.errors import NotFound
from storage.db import Database
from storage.models import OutboxMessage, Project, User
from tests.flows.test_board import (
    BUILDING_GROUP,
    COMMITTEE,
    COMMUNITY_GROUP,
    START,
    _community,
    _projects,
    _rows,
)


async def _due(db: Database, at: datetime) -> board.Tick:
    async with db.uow(write=True) as uow:
        tick = await board.due(uow, now=at)
        await uow.commit()
    return tick


async def _sent(db: Database) -> dict[int, int]:
    """The sender sent every pending row; returns each board's message id by chat."""
    async with db.uow(write=True) as uow:
        for r in (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))).all():
            r.status, r.tg_message_id = "sent", r.tg_message_id or 7000 + abs(r.tg_chat_id)
            uow.session.add(r)
        await uow.commit()
    return {r.tg_chat_id: r.tg_message_id or 0 for r in await _rows(db) if r.payload["notice"] == "board"}


async def _progress(db: Database, project_id: int, percent: int, at: datetime, *, done: bool = False) -> None:
    async with db.uow(write=True) as uow:
        p = await uow.session.get(Project, project_id)
        assert p is not None
        p.percent, p.last_report_at = percent, at
        if done:
            p.completed_at = at
        uow.session.add(p)
        await uow.commit()


def _edits(rows: list[OutboxMessage]) -> list[OutboxMessage]:
    return [r for r in rows if r.status == "pending" and r.payload["notice"] == "board"]


async def test_item4_the_posted_board_is_edited_when_it_changes_at_most_hourly(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    await _projects(db, w, START)
    assert (await _due(db, START)).boards == 6
    await _due(db, START + timedelta(minutes=5))  # the monthly rows are not sent yet: nothing to edit
    ids = await _sent(db)
    assert set(ids) == {COMMUNITY_GROUP, BUILDING_GROUP, COMMITTEE}
    assert (await _due(db, START + timedelta(hours=2))).edits == 0  # nothing changed
    await _progress(db, w.projects["ok"], 80, START + timedelta(hours=2, minutes=10))
    first = await _due(db, START + timedelta(hours=2, minutes=20))
    assert first.edits == 3
    edits = _edits(await _rows(db))
    assert {r.tg_chat_id: r.payload["message_id"] for r in edits} == ids  # in place, never a new message
    assert all(r.payload["op"] == "edit_or_send" and not r.payload["pin"] for r in edits)
    assert all(r.payload["params"]["rows"][2]["percent"] == 80 for r in edits)
    assert await _sent(db) == ids
    # two more changes within the hour coalesce into one edit, after the hour
    await _progress(db, w.projects["ok"], 90, START + timedelta(hours=2, minutes=30))
    await _progress(db, w.projects["ok"], 100, START + timedelta(hours=2, minutes=40), done=True)
    assert (await _due(db, START + timedelta(hours=3))).edits == 0
    later = await _due(db, START + timedelta(hours=3, minutes=30))
    assert later.edits == 3
    edits = _edits(await _rows(db))
    assert len(edits) == 3 and all(r.payload["params"]["rows"][2]["completed"] for r in edits)
    await _sent(db)
    assert (await _due(db, START + timedelta(hours=6))).edits == 0  # nothing changed since


async def test_item4_the_group_boards_link_opens_the_page_for_members_of_its_community(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    other = await _community(db, "别的社区", START, chats=False, tg_base=100)
    await _projects(db, w, START)
    async with db.uow() as uow:
        member = (await uow.session.exec(select(User).where(User.tg_id == 502))).one()  # 赵阿姨 of the first
        stranger = (await uow.session.exec(select(User).where(User.tg_id == 602))).one()  # of the other
        pg, community = await board.page_of_member(uow, user=member, project_id=w.projects["late"], now=START)
        assert community.id == w.community_id and pg.row.title == "项目late"
        with pytest.raises(NotFound):
            await board.page_of_member(uow, user=stranger, project_id=w.projects["late"], now=START)
        with pytest.raises(NotFound):
            await board.page_of_member(uow, user=member, project_id=999999, now=START)
    assert other.community_id != w.community_id
