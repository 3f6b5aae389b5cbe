"""The board's use cases on a real database: rows with computed colours, a project's timeline, colours for
many projects in a fixed number of queries, the monthly post (edit in place, pin once, once per month) and
the committee's weekly and monthly digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from flows import board, membership
from flows import projects as projects_flow
from flows.errors import NotFound
from flows.projects import Colour
from storage.db import Database
from storage.models import (
    Chat,
    Community,
    OutboxMessage,
    Project,
    ProjectLike,
    ProjectMilestone,
    ProjectPhoto,
    ProjectPost,
    ProjectRating,
    ProjectReport,
)

START = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Tianjin, Monday 1 March 2027
COMMUNITY_GROUP, BUILDING_GROUP, COMMITTEE = -1001, -1002, -1003


@dataclass
class World:
    community_id: int
    members: list[int]
    projects: dict[str, int]


async def _community(db: Database, name: str, now: datetime, *, chats: bool = True, tg_base: int = 0) -> World:
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name=name, now=now, buildings=["1"])
        members = []
        for i, who in enumerate(("王书记", "李工", "赵阿姨")):
            user = await membership.touch_user(uow, tg_id=tg_base + 500 + i, first_name=who, last_name=None,
                                               username=None, tg_language="zh-hans", now=now)
            members.append((await membership.register(uow, user=user, community_id=community.id, building_id=None,
                                                      now=now)).member.id)
        if chats:
            for tg, purpose, status in ((COMMUNITY_GROUP, "community", "administrator"),
                                        (BUILDING_GROUP, "building", "member"),
                                        (COMMITTEE, "committee", "administrator")):
                uow.session.add(Chat(tg_chat_id=tg - tg_base, type="supergroup", title=purpose,
                                     community_id=community.id, purpose=purpose, bot_status=status, created_at=now))
        await uow.commit()
        return World(community.id, members, {})


async def _projects(db: Database, w: World, now: datetime) -> None:
    """Three projects made a month before `now`: finished (green), behind (red), on track (yellow)."""
    made = now - timedelta(days=30)
    async with db.uow() as uow:
        for n, key in enumerate(("done", "late", "ok"), start=1):
            p = Project(community_id=w.community_id, year=2027, number=n, title=f"项目{key}", category="facility",
                        created_at=made, owner_member_id=w.members[1] if key != "ok" else None,
                        percent={"done": 100, "late": 20, "ok": 50}[key], last_report_at=now - timedelta(days=3))
            uow.session.add(p)
            await uow.session.flush()
            w.projects[key] = p.id
        done, late, ok = w.projects["done"], w.projects["late"], w.projects["ok"]
        uow.session.add_all([
            ProjectMilestone(project_id=late, position=1, title="招标", due_on=date(2027, 2, 20)),
            ProjectMilestone(project_id=late, position=2, title="施工", due_on=date(2027, 5, 1)),
            ProjectMilestone(project_id=ok, position=1, title="进场", due_on=date(2027, 2, 10),
                             done_on=date(2027, 2, 9)),
            ProjectMilestone(project_id=ok, position=2, title="验收", due_on=date(2027, 4, 30)),
            ProjectMilestone(project_id=ok, position=3, title="设计", due_on=date(2027, 3, 15)),
        ])
        report = ProjectReport(project_id=ok, member_id=w.members[1], percent=50, note="管线铺设完成",
                               created_at=now - timedelta(days=3))
        uow.session.add(report)
        await uow.session.flush()
        uow.session.add_all([
            ProjectReport(project_id=ok, member_id=w.members[1], percent=20, note="进场",
                          created_at=now - timedelta(days=20)),
            ProjectPhoto(project_id=ok, report_id=report.id, kind="progress", file_id="f1", file_unique_id="u1",
                         member_id=w.members[1], created_at=now - timedelta(days=3)),
            ProjectPhoto(project_id=ok, kind="before", file_id="f0", file_unique_id="u0", member_id=w.members[1],
                         created_at=made),
            ProjectPhoto(project_id=done, kind="after", file_id="f2", file_unique_id="u2", member_id=w.members[1],
                         created_at=now - timedelta(days=2)),
            ProjectLike(project_id=done, member_id=w.members[0], created_at=now),
            ProjectLike(project_id=done, member_id=w.members[2], created_at=now),
            ProjectRating(project_id=done, member_id=w.members[0], stars=4, updated_at=now),
            ProjectRating(project_id=done, member_id=w.members[2], stars=5, updated_at=now),
        ])
        project = await uow.session.get(Project, done)
        assert project is not None
        project.completed_at = now - timedelta(days=2)
        uow.session.add(project)
        await uow.commit()


async def _get_community(db: Database, cid: int) -> Community:
    async with db.uow() as uow:
        c = await uow.session.get(Community, cid)
        assert c is not None
        return c


async def test_board_rows_turning_red_and_a_projects_page(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    await _projects(db, w, START)
    async with db.uow() as uow:
        b = await board.board(uow, community=await _get_community(db, w.community_id), now=START)
    assert b.year == 2027 and [r.number for r in b.rows] == [1, 2, 3]
    done, late, ok = b.rows
    assert (done.colour, done.reasons, done.likes, done.rating, done.raters, done.completed) == (
        "green", ("done",), 2, 4.5, 2, True)
    assert late.colour == "red" and late.reasons == ("milestone_overdue",) and late.overdue == 1
    assert late.owner == "李工" and (late.next_title, late.next_due) == ("招标", "2027-02-20")
    # the next milestone is the earliest one not done, whatever its position
    assert ok.colour == "yellow" and ok.owner is None and (ok.next_title, ok.next_due) == ("设计", "2027-03-15")
    assert ok.likes == 0 and ok.rating is None
    # the rows travel as JSON and come back equal
    assert board.Row.from_params(late.params()) == late

    # a project turns red when its milestone passes
    community = await _get_community(db, w.community_id)
    # "设计" is due on 15 March (local): still yellow all that day in Tianjin, red from 00:00 on the 16th
    last_minute = datetime(2027, 3, 15, 15, 59, tzinfo=UTC)  # 23:59 local
    async with db.uow() as uow:
        assert (await board.board(uow, community=community, now=last_minute)).rows[2].colour == "yellow"
        late = (await board.board(uow, community=community, now=last_minute + timedelta(minutes=1))).rows[2]
    assert late.colour == "red" and late.reasons == ("milestone_overdue",)

    # a project's page has its timeline
    other = await _get_community(db, (await _community(db, "别的社区", START, chats=False, tg_base=1000)).community_id)
    async with db.uow() as uow:
        pg = await board.page(uow, community=community, project_id=w.projects["ok"], now=START)
        with pytest.raises(NotFound):
            await board.page(uow, community=other, project_id=w.projects["ok"], now=START)
    assert [m.title for m in pg.milestones] == ["进场", "设计", "验收"]
    assert pg.milestones[0].done_on == date(2027, 2, 9) and pg.milestones[1].done_on is None
    assert [(r.percent, r.note, r.photos) for r in pg.reports] == [(50, "管线铺设完成", 1), (20, "进场", 0)]
    assert pg.photos == {"before": 1, "progress": 1} and pg.completed_at is None and pg.row.number == 3


async def test_district_colours_in_few_queries_and_facts_as_of_a_past_moment(db: Database) -> None:
    worlds = []
    for i in range(3):
        w = await _community(db, f"社区{i}", START, chats=False, tg_base=1000 * (i + 1))
        await _projects(db, w, START)
        worlds.append(w)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.uow() as uow:
            colours = await board.district_colours(uow, year=2027, now=START)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(colours) == 9
    assert len(statements) <= 4, statements
    # the same verdicts as one community's board
    for w in worlds:
        async with db.uow() as uow:
            b = await board.board(uow, community=await _get_community(db, w.community_id), now=START)
        assert [colours[r.id].colour.value for r in b.rows] == [r.colour for r in b.rows] == ["green", "red", "yellow"]

    # the facts as they were at a past moment
    w = worlds[0]
    async with db.uow() as uow:
        projects = (await uow.session.exec(select(Project).where(Project.community_id == w.community_id)
                                           .order_by(col(Project.number)))).all()
        facts = await projects_flow.facts_many(uow, projects, as_of=START - timedelta(days=7))
        week_ago = await board.verdicts(uow, projects, now=START, as_of=START - timedelta(days=7))
        before_due = await board.verdicts(uow, projects, now=START, as_of=START - timedelta(days=12))
        before_start = await board.verdicts(uow, projects, now=START, as_of=START - timedelta(days=31))
    done, late, ok = (w.projects[k] for k in ("done", "late", "ok"))
    # a week ago: not finished yet and no "after" photo; the later report not made yet
    assert (facts[done].completed, facts[done].after_photos) == (False, 0)
    assert facts[ok].last_report_at == START - timedelta(days=20)
    assert facts[ok].milestones[0] == (date(2027, 2, 10), date(2027, 2, 9))
    assert [week_ago[p].colour for p in (done, late, ok)] == [Colour.YELLOW, Colour.RED, Colour.YELLOW]
    assert week_ago[late].reasons == ("milestone_overdue",)
    # twelve days ago "招标" (due 20 February) was not overdue yet
    assert before_due[late].colour == Colour.YELLOW
    # before the projects were made there is nothing to colour
    assert before_start == {}


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def test_monthly_post_edits_in_place_pins_once_and_runs_once_a_month(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    await _projects(db, w, START)
    async with db.uow(write=True) as uow:
        early = await board.due(uow, now=START - timedelta(minutes=1))  # 08:59 local
        await uow.commit()
    assert (early.boards, early.monthly, early.weekly) == (0, 0, 0) and await _rows(db) == []
    async with db.uow(write=True) as uow:
        first = await board.due(uow, now=START)
        await uow.commit()
    assert (first.boards, first.monthly, first.weekly) == (6, 1, 1)
    rows = await _rows(db)
    boards = [r for r in rows if r.payload["notice"] == "board"]
    assert {r.tg_chat_id for r in boards} == {COMMUNITY_GROUP, BUILDING_GROUP, COMMITTEE}
    pins = {r.tg_chat_id: r.payload["pin"] for r in boards}
    assert pins == {COMMUNITY_GROUP: True, BUILDING_GROUP: False, COMMITTEE: True}
    assert all(r.payload["op"] == "edit_or_send" and r.payload["message_id"] is None for r in boards)
    assert [r.payload["params"]["rows"][1]["colour"] for r in boards] == ["red"] * 3
    assert sum(1 for r in rows if r.payload["notice"] == "board_pic") == 3
    blockers = [r for r in rows if r.payload["notice"] == "board_blockers"]
    assert [b.tg_chat_id for b in blockers] == [COMMITTEE]
    assert [x["title"] for x in blockers[0].payload["params"]["blockers"]] == ["项目late"]
    # the job fires again that day: nothing new
    async with db.uow(write=True) as uow:
        again = await board.due(uow, now=START + timedelta(hours=3))
        await uow.commit()
    assert (again.boards, again.monthly, again.weekly) == (0, 0, 0)
    # the sender sent them (Telegram's ids come back on the rows) …
    async with db.uow(write=True) as uow:
        for r in (await uow.session.exec(select(OutboxMessage))).all():
            r.status, r.tg_message_id = "sent", 1000 + abs(r.tg_chat_id) * 10 + (r.id or 0) % 10
            uow.session.add(r)
        await uow.commit()
    sent_ids = {r.tg_chat_id: r.tg_message_id for r in await _rows(db) if r.payload["notice"] == "board"}
    async with db.uow() as uow:
        posts = (await uow.session.exec(select(ProjectPost).where(ProjectPost.kind == "board"))).all()
    assert {p.tg_chat_id: p.pinned for p in posts} == {COMMUNITY_GROUP: True, BUILDING_GROUP: False, COMMITTEE: True}
    # meanwhile the building group made the bot an administrator …
    async with db.uow(write=True) as uow:
        chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == BUILDING_GROUP))).one()
        chat.bot_status = "administrator"
        uow.session.add(chat)
        await uow.commit()
    # … and next month the text is edited in place (and pinned where it never was), the picture posted anew
    async with db.uow(write=True) as uow:
        second = await board.due(uow, now=datetime(2027, 4, 1, 1, 0, tzinfo=UTC))
        await uow.commit()
    assert second.boards == 6
    new = [r for r in await _rows(db) if r.status == "pending"]
    edits = {r.tg_chat_id: r.payload["message_id"] for r in new if r.payload["notice"] == "board"}
    assert edits == sent_ids
    assert all(r.payload.get("op") is None for r in new if r.payload["notice"] == "board_pic")
    assert {r.tg_chat_id: r.payload["pin_edited"] for r in new if r.payload["notice"] == "board"} == {
        COMMUNITY_GROUP: False, BUILDING_GROUP: True, COMMITTEE: False}
    async with db.uow() as uow:
        posts = (await uow.session.exec(select(ProjectPost).where(ProjectPost.kind == "board"))).all()
    assert {p.tg_chat_id: p.pinned for p in posts} == {COMMUNITY_GROUP: True, BUILDING_GROUP: True, COMMITTEE: True}
    assert {p.tg_chat_id: p.message_id for p in posts} == sent_ids


async def test_nothing_without_projects_or_groups_and_settings_choose_the_days(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)  # groups, no projects yet
    lonely = await _community(db, "别的社区", START, chats=False, tg_base=1000)
    await _projects(db, lonely, START)  # projects, no groups
    async with db.uow(write=True) as uow:
        tick = await board.due(uow, now=START)
        await uow.commit()
    assert (tick.boards, tick.monthly, tick.weekly) == (0, 0, 0) and await _rows(db) == []

    await _projects(db, w, START)
    async with db.uow(write=True) as uow:
        c = await uow.session.get(Community, w.community_id)
        assert c is not None
        c.settings = {**c.settings, "board_post_day": 15, "digest_weekday": 3}
        uow.session.add(c)
        await uow.commit()
    async with db.uow(write=True) as uow:
        monday_first = await board.due(uow, now=START)
        wednesday_third = await board.due(uow, now=START + timedelta(days=2))
        on_15th = await board.due(uow, now=datetime(2027, 3, 15, 2, 0, tzinfo=UTC))
        await uow.commit()
    assert (monday_first.boards, monday_first.weekly) == (0, 0)
    assert (wednesday_third.boards, wednesday_third.weekly) == (0, 1)
    assert on_15th.boards == 6
    bad = Community(name="x", slug="x", settings={"board_post_day": 40, "digest_weekday": "mon"})
    assert (board.post_day(bad), board.digest_weekday(bad)) == (board.BOARD_POST_DAY, board.DIGEST_WEEKDAY)


async def test_weekly_digest_what_changed_turned_red_and_overdue(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    await _projects(db, w, START)
    community = await _get_community(db, w.community_id)
    monday = START + timedelta(days=14)  # 15 March, 09:00 local
    async with db.uow(write=True) as uow:
        # a new project whose only milestone passed on Friday: it turned red this week
        p = Project(community_id=w.community_id, year=2027, number=4, title="新项目", category="green",
                    created_at=START, last_report_at=monday - timedelta(days=1), percent=10)
        uow.session.add(p)
        await uow.session.flush()
        uow.session.add(ProjectMilestone(project_id=p.id, position=1, title="方案", due_on=date(2027, 3, 12)))
        uow.session.add(ProjectReport(project_id=p.id, member_id=w.members[1], percent=10, note="",
                                      created_at=monday - timedelta(days=1)))
        await uow.commit()
    async with db.uow() as uow:
        digest = await board.weekly(uow, community=community, now=monday)
    assert [c["number"] for c in digest.changed] == [4]
    # project 2 was red a week ago already (and project 1 is done)
    assert [(t["number"], t["reasons"]) for t in digest.turned_red] == [(4, ["milestone_overdue"])]
    assert [(o["number"], o["milestone"]) for o in digest.overdue] == [(2, "招标"), (4, "方案")]
    async with db.uow(write=True) as uow:
        assert await board.send_weekly(uow, community=community, now=monday) == 1
        await uow.commit()
    async with db.uow(write=True) as uow:
        assert await board.send_weekly(uow, community=community, now=monday + timedelta(hours=5)) == 0
    rows = [r for r in await _rows(db) if r.payload["notice"] == "board_weekly"]
    assert [r.tg_chat_id for r in rows] == [COMMITTEE] and rows[0].dedupe_key.endswith("2027-W11")  # type: ignore[union-attr]
