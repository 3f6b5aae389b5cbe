"""Issue #12 item 1, closing the needs loop: /myneeds follows a need past the vote (elected → in progress →
done, or not elected), and its author and "+1" supporters are told once at the election and once at the
completion — after quiet hours, each person once, never someone the bot can no longer reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from flows import acceptance, ballot, needs, needs_loop, projects
from flows.needs_loop import DONE, ELECTED, IN_PROGRESS, NOT_ELECTED
from storage.db import Database
from storage.models import Ballot as BallotRow
from storage.models import Community, Need, NeedSupport, OutboxMessage, Project, User
from tests.flows.test_ballot import NOW, World, _close, _ready, _vote, build


async def _rows(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [r for r in rows if r.payload.get("notice") == kind]


async def _elect(db: Database, w: World, *, close_at: datetime = NOW + timedelta(days=1)) -> list[int]:
    """Needs #1 and #2 elected (by two representatives), #3 … left out; rep1 and the author support #1, the
    grid worker too but the bot can no longer reach them; #2 was entered for the resident on a door visit."""
    async with db.uow(write=True) as uow:
        for who in ("rep1", "resident", "grid"):
            uow.session.add(NeedSupport(need_id=w.needs[0], member_id=w.members[who], created_at=NOW))
        await uow.session.execute(update(Need).where(col(Need.id) == w.needs[1]).values(
            channel="door_visit", entered_by_member_id=w.members["grid"]))
        await uow.session.execute(update(User).where(col(User.tg_id) == w.tg["grid"]).values(unreachable_at=NOW))
        await uow.commit()
    bid = await _ready(db, w, choose=2)
    async with db.uow() as uow:
        cands = (await ballot.view(uow, ballot_id=bid, community_id=w.community_id)).candidates
    for who in ("rep1", "rep2"):
        await _vote(db, w, who, bid, [cands[0].id, cands[1].id])
    await _close(db, bid, close_at)
    async with db.uow() as uow:
        return [p.id or 0 for p in (await uow.session.exec(select(Project).order_by(col(Project.number)))).all()]


async def _stages(db: Database, w: World, now: datetime) -> dict[int, tuple[str, str | None, int]]:
    async with db.uow() as uow:
        page = await needs_loop.my_needs(uow, actor=await w.actor(db, "resident"), now=now, size=20)
    return {m.line.number: (m.stage, m.colour, m.percent) for m in page.items}


async def test_item1_the_election_tells_author_and_supporters_once(db: Database) -> None:
    w = await build(db)
    await _elect(db, w)
    told = await _rows(db, "need_elected")
    got = {r.tg_chat_id: [(x["need_number"], x["project_number"], x["author"], x["channel"])
                          for x in r.payload["params"]["needs"]] for r in told}
    # one notice per person: the author once for #1 though they also pressed "+1", with #2 (entered for them on
    # a door visit); rep1 as a supporter; the unreachable grid worker never
    assert got == {w.tg["resident"]: [(1, 1, True, "chat"), (2, 2, True, "door_visit")],
                   w.tg["rep1"]: [(1, 1, False, "chat")]}
    assert len(told) == 2 and {r.recipient_user_id is not None for r in told} == {True}
    # idempotent: telling again adds nothing (the dedupe key is looked up first)
    async with db.uow(write=True) as uow:
        made = (await uow.session.exec(select(Project))).all()
        community = await uow.session.get(Community, w.community_id)
        bid = (await uow.session.exec(select(BallotRow.id))).one()
        assert community is not None and bid is not None
        assert await needs_loop.tell_elected(uow, community=community, ballot_id=bid, projects=made, now=NOW) == 0
        await uow.commit()
    assert len(await _rows(db, "need_elected")) == 2
    # the supporter's /myneeds follows the need they were told of
    async with db.uow() as uow:
        page = await needs_loop.my_needs(uow, actor=await w.actor(db, "rep1"), now=NOW, size=20)
    assert [(m.line.number, m.stage, m.supported) for m in page.items] == [(1, ELECTED, True)]


async def test_item1_notices_wait_out_quiet_hours(db: Database) -> None:
    w = await build(db)
    late = datetime(2027, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Tianjin
    await _elect(db, w, close_at=late)
    wake = datetime(2027, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 the next morning
    assert {r.not_before for r in await _rows(db, "need_elected")} == {wake}
    assert needs_loop.after_quiet_hours(datetime(2027, 3, 2, 19, 0, tzinfo=UTC), "Asia/Shanghai") == wake  # 03:00
    day = datetime(2027, 3, 2, 2, 0, tzinfo=UTC)  # 10:00
    assert needs_loop.after_quiet_hours(day, "Asia/Shanghai") == day


async def test_item1_myneeds_follows_the_need_to_its_completion(db: Database) -> None:
    w = await build(db)
    now = NOW + timedelta(days=2)
    async with db.uow() as uow:
        page = await needs_loop.my_needs(uow, actor=await w.actor(db, "resident"), now=now, size=20)
    assert {m.stage for m in page.items} == {"candidate", "open"}  # before the vote
    first, second = await _elect(db, w)
    stages = await _stages(db, w, now)
    assert stages[1][0] == ELECTED and stages[2][0] == ELECTED
    assert stages[3][0] == NOT_ELECTED and stages[13][0] == "open"
    admin = await w.actor(db, "admin")
    async with db.uow(write=True) as uow:
        await projects.report(uow, actor=admin, project_id=first, percent=40, now=now)
        await uow.commit()
    assert (await _stages(db, w, now))[1] == (IN_PROGRESS, "yellow", 40)
    async with db.uow(write=True) as uow:
        await projects.add_photos(uow, actor=admin, project_id=first, kind="before", photos=[("B1", "ub1")], now=now)
        await projects.complete(uow, actor=admin, project_id=first, now=now)
        await uow.commit()
    # complete without the "after" photo: still 🟡 in progress, nobody told yet
    assert (await _stages(db, w, now))[1] == (IN_PROGRESS, "yellow", 100)
    assert await _rows(db, "need_done") == []
    async with db.uow(write=True) as uow:
        await projects.add_photos(uow, actor=admin, project_id=first, kind="after", photos=[("A1", "ua1")], now=now)
        await uow.commit()
    assert (await _stages(db, w, now))[1] == (DONE, "green", 100)
    done = await _rows(db, "need_done")
    assert sorted((r.tg_chat_id, r.payload["params"]["author"]) for r in done) == sorted(
        [(w.tg["resident"], True), (w.tg["rep1"], False)])
    for r in done:  # the before/after picture, composed by the sender
        assert r.payload["op"] == "compose" and r.payload["params"]["before"] == "B1"
        assert r.payload["params"]["after"] == "A1"
    # a second "after" photo tells nobody again
    async with db.uow(write=True) as uow:
        await projects.add_photos(uow, actor=admin, project_id=first, kind="after", photos=[("A2", "ua2")], now=now)
        await uow.commit()
    assert len(await _rows(db, "need_done")) == 2
    # /myneeds' 🖼 sends the picture again, privately
    async with db.uow(write=True) as uow:
        await acceptance.send_picture(uow, actor=await w.actor(db, "resident"), project_id=first, now=now)
        await uow.commit()
    again = (await _rows(db, "project_comparison"))[-1]
    assert again.tg_chat_id == w.tg["resident"] and again.payload["op"] == "compose"
    assert second


async def test_item1_a_need_entered_by_the_grid_worker_is_told_as_such(db: Database) -> None:
    w = await build(db, candidates=0)
    admin, grid = await w.actor(db, "admin"), await w.actor(db, "grid")
    async with db.uow(write=True) as uow:
        await needs.open_period(uow, actor=admin, now=NOW)
        door = await needs.submit(uow, actor=grid, category="env", text="楼道堆物", now=NOW, channel="door_visit",
                                  author_member_id=w.members["resident"])
        await needs.promote(uow, actor=admin, need_id=door.id or 0, title="楼道清理", now=NOW)
        await uow.commit()
    told = await _rows(db, "need_candidate")
    assert [(r.tg_chat_id, r.payload["params"]["channel"]) for r in told] == [(w.tg["resident"], "door_visit")]
    async with db.uow() as uow:
        page = await needs_loop.my_needs(uow, actor=await w.actor(db, "resident"), now=NOW, size=20)
    assert [(m.line.channel, m.supported) for m in page.items if m.line.id == door.id] == [("door_visit", False)]
