"""The progress list's use cases against a real database: owners, deadlines, budget, milestones,
progress reports with photos, before/after photos, completion, the colour override, the colour
"as of" a time, the monthly reminder — and who may do what per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from flows import membership, projects
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.projects import Colour
from flows.roles import Org, Role
from storage.db import Database
from storage.models import AuditEntry, Community, OutboxMessage, Project, ProjectPhoto, ProjectReport
from tests.flows.people import actor_of, enrol

ROLES: dict[str, tuple[Role, Org | None] | None] = {
    "resident": None, "representative": (Role.REPRESENTATIVE, None), "volunteer": (Role.VOLUNTEER, None),
    "committee": (Role.COMMITTEE, Org.PROPERTY), "grid": (Role.GRID_WORKER, None), "admin": (Role.ADMIN, None),
}
START = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)  # the clock fixture: 09:30 on 1 March in Tianjin
DAY = timedelta(days=1)


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    stranger: Actor
    outsider: Actor  # a member of another community
    projects: list[int]


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        other, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["1"])
        members = await enrol(uow, community_id=community.id or 0, people=ROLES, first_tg_id=500, now=now)
        await membership.touch_user(uow, tg_id=599, first_name="stranger", last_name=None, username=None,
                                    tg_language="zh-hans", now=now)
        user = await membership.touch_user(uow, tg_id=598, first_name="outsider", last_name=None, username=None,
                                           tg_language="zh-hans", now=now)
        done = await membership.register(uow, user=user, community_id=other.id, building_id=None, now=now)
        await membership.assign_role(uow, member=done.member, role=Role.ADMIN, org=None, now=now)
        members["outsider"] = done.member.id
        rows = [Project(community_id=community.id, year=2027, number=n, title=f"实事{n}", category="facility",
                        created_at=now - 10 * DAY) for n in (1, 2, 3)]
        rows.append(Project(community_id=other.id, year=2027, number=1, title="别处", category="env", created_at=now))
        for row in rows:
            uow.session.add(row)
        await uow.commit()
        ids = [r.id for r in rows]
    actors = {key: await actor_of(db, 500 + i) for i, key in enumerate(ROLES)}
    return World(community.id, actors, members, await actor_of(db, 599), await actor_of(db, 598), ids)


async def _do(db: Database, fn, **kw):  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        result = await fn(uow, **kw)
        await uow.commit()
        return result


async def _project(db: Database, project_id: int) -> Project:
    async with db.uow() as uow:
        row = await uow.session.get(Project, project_id)
        assert row is not None
        return row


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _audit(db: Database) -> list[str]:
    async with db.uow() as uow:
        return [e.action for e in (await uow.session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()
                if e.action.startswith("project.")]


async def _assign(db: Database, world: World, now: datetime, project: int = 0, owner: str = "grid") -> None:
    await _do(db, projects.set_owner, actor=world.actors["admin"], project_id=world.projects[project],
              member_id=world.members[owner], now=now)


def _photos(*names: str) -> list[tuple[str, str]]:
    return [(f"file-{n}", f"uniq-{n}") for n in names]


async def test_owner_is_told_in_private_and_audited(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    await _assign(db, world, now)
    assert (await _project(db, world.projects[0])).owner_member_id == world.members["grid"]
    [msg] = await _outbox(db)
    assert msg.tg_chat_id == 504 and msg.payload["notice"] == "project_owner"
    assert msg.payload["params"]["number"] == 1 and msg.payload["params"]["title"] == "实事1"
    with pytest.raises(AlreadyDone):
        await _assign(db, world, now)
    with pytest.raises(NotFound):  # not a member of this community
        await _do(db, projects.set_owner, actor=world.actors["admin"], project_id=world.projects[0],
                  member_id=world.members["outsider"], now=now)
    with pytest.raises(NotFound):  # another community's project
        await _do(db, projects.set_owner, actor=world.actors["admin"], project_id=world.projects[3],
                  member_id=world.members["grid"], now=now)
    assert await _audit(db) == ["project.owner"]
    candidates = await _do(db, projects.owner_candidates, actor=world.actors["admin"])
    assert [(c.name, c.role) for c in candidates] == [("committee", "committee"), ("grid", "grid_worker")]


async def test_who_may_manage_the_list(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    calls = [
        (projects.set_owner, {"member_id": world.members["grid"]}),
        (projects.set_deadline, {"deadline": date(2027, 9, 30)}),
        (projects.set_budget, {"budget_yuan": 1000}),
        (projects.add_milestone, {"title": "招标", "due_on": date(2027, 4, 1)}),
        (projects.override, {"colour_code": "red", "reason": "停工"}),
    ]
    for role in [*ROLES, "stranger"]:
        if role == "admin":
            continue
        actor = world.stranger if role == "stranger" else world.actors[role]
        for fn, kw in calls:
            with pytest.raises(NotRegistered if role == "stranger" else Forbidden):
                await _do(db, fn, actor=actor, project_id=world.projects[0], now=now, **kw)
    assert await _audit(db) == []
    for fn, kw in calls:
        await _do(db, fn, actor=world.actors["admin"], project_id=world.projects[0], now=now, **kw)
    assert len(await _audit(db)) == 5


async def _only_the_owner_or_an_admin_reports(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    await _assign(db, world, now, 1)
    pid = world.projects[1]
    for role in [*ROLES, "stranger", "outsider"]:
        if role in ("grid", "admin"):
            continue
        actor = {"stranger": world.stranger, "outsider": world.outsider}.get(role) or world.actors[role]
        expected = {"stranger": NotRegistered, "outsider": NotFound}.get(role, Forbidden)
        with pytest.raises(expected):
            await _do(db, projects.report, actor=actor, project_id=pid, percent=30, now=now)
        with pytest.raises(expected):
            await _do(db, projects.complete, actor=actor, project_id=pid, now=now)
        with pytest.raises(expected):
            await _do(db, projects.add_photos, actor=actor, project_id=pid, kind="before", photos=_photos("a"),
                      now=now)
    project = await _project(db, pid)
    assert (project.percent, project.last_report_at, project.completed_at) == (0, None, None)
    await _do(db, projects.report, actor=world.actors["grid"], project_id=pid, percent=30, now=now)
    assert (await _project(db, pid)).percent == 30
    await _do(db, projects.report, actor=world.actors["admin"], project_id=pid, percent=35, now=now)
    assert (await _project(db, pid)).percent == 35
    assert [p.id for p in await _do(db, projects.my_projects, actor=world.actors["grid"], now=now)] == [pid]
    assert await _do(db, projects.my_projects, actor=world.actors["admin"], now=now) == []


async def _deadline_is_a_local_date_not_in_the_past(db: Database, world: World) -> None:
    admin, pid = world.actors["admin"], world.projects[0]
    # 01:00 on 1 March in Tianjin is still 28 February in UTC: the 28th has passed there
    night = datetime(2027, 2, 28, 17, 0, tzinfo=UTC)
    with pytest.raises(Invalid) as err:
        await _do(db, projects.set_deadline, actor=admin, project_id=pid, deadline=date(2027, 2, 28), now=night)
    assert (err.value.field, err.value.reason) == ("deadline", "past")
    await _do(db, projects.set_deadline, actor=admin, project_id=pid, deadline=date(2027, 3, 1), now=night)
    assert (await _project(db, pid)).deadline == date(2027, 3, 1)
    async with db.uow(write=True) as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        community.timezone = "America/New_York"  # 12:00 on 28 February there: the 28th is today
        uow.session.add(community)
        await uow.commit()
    await _do(db, projects.set_deadline, actor=await actor_of(db, 505), project_id=pid, deadline=date(2027, 2, 28),
              now=night)


async def _budget_and_funding(db: Database, clock: FixedClock, world: World) -> None:
    admin, pid, now = world.actors["admin"], world.projects[0], clock.now()
    await _do(db, projects.set_budget, actor=admin, project_id=pid, now=now, budget_yuan=120_000)
    await _do(db, projects.set_budget, actor=admin, project_id=pid, now=now, funding="welfare")
    project = await _project(db, pid)
    assert (project.budget_yuan, project.funding) == (120_000, "welfare")
    await _do(db, projects.set_budget, actor=admin, project_id=pid, now=now, funding="  街道  专项 ")
    assert (await _project(db, pid)).funding == "街道 专项"
    for kw, reason in [({"budget_yuan": -1}, "range"), ({"budget_yuan": 10**10 + 1}, "range"),
                       ({"funding": "资" * 31}, "too_long"), ({"funding": "  "}, "empty"), ({}, "empty")]:
        with pytest.raises(Invalid) as err:
            await _do(db, projects.set_budget, actor=admin, project_id=pid, now=now, **kw)
        assert err.value.reason == reason
    project = await _project(db, pid)
    assert (project.budget_yuan, project.funding) == (120_000, "街道 专项")


async def test_milestones_add_edit_tick_remove(db: Database, clock: FixedClock, world: World) -> None:
    admin, pid, now = world.actors["admin"], world.projects[0], clock.now()
    await _assign(db, world, now)
    first = await _do(db, projects.add_milestone, actor=admin, project_id=pid, title="方案公示", due_on=date(2027, 3, 10),
                      now=now)
    second = await _do(db, projects.add_milestone, actor=admin, project_id=pid, title="施工", due_on=date(2027, 5, 1),
                       now=now)
    assert (first.position, second.position) == (1, 2)
    for kw, field, reason in [({"title": "x" * 41, "due_on": date(2027, 4, 1)}, "title", "too_long"),
                              ({"title": "昨天", "due_on": date(2027, 2, 28)}, "due_on", "past"),
                              ({"title": " ", "due_on": date(2027, 4, 1)}, "title", "empty")]:
        with pytest.raises(Invalid) as err:
            await _do(db, projects.add_milestone, actor=admin, project_id=pid, now=now, **kw)
        assert (err.value.field, err.value.reason) == (field, reason)
    await _do(db, projects.edit_milestone, actor=admin, milestone_id=second.id, title="施工改造", now=now)
    owner = world.actors["grid"]
    with pytest.raises(Invalid) as err:
        await _do(db, projects.tick_milestone, actor=owner, milestone_id=first.id, done_on=date(2027, 3, 2), now=now)
    assert (err.value.field, err.value.reason) == ("done_on", "future")
    with pytest.raises(Invalid) as err:
        await _do(db, projects.tick_milestone, actor=owner, milestone_id=first.id, done_on=date(2027, 2, 1), now=now)
    assert err.value.reason == "before_start"
    with pytest.raises(Forbidden):
        await _do(db, projects.tick_milestone, actor=world.actors["committee"], milestone_id=first.id,
                  done_on=date(2027, 3, 1), now=now)
    await _do(db, projects.tick_milestone, actor=owner, milestone_id=first.id, done_on=date(2027, 3, 1), now=now)
    with pytest.raises(AlreadyDone):
        await _do(db, projects.tick_milestone, actor=owner, milestone_id=first.id, done_on=date(2027, 3, 1), now=now)
    with pytest.raises(Forbidden):
        await _do(db, projects.remove_milestone, actor=owner, milestone_id=second.id, now=now)
    await _do(db, projects.remove_milestone, actor=admin, milestone_id=second.id, now=now)
    async with db.uow() as uow:
        card = await projects.view(uow, await uow.session.get(Project, pid), now=now)  # type: ignore[arg-type]
    assert [(m.title, m.done_on) for m in card.milestones] == [("方案公示", date(2027, 3, 1))]
    assert await _audit(db) == ["project.owner", "project.milestone_add", "project.milestone_add",
                                "project.milestone_edit", "project.milestone_done", "project.milestone_remove"]


async def _report_updates_percent_and_keeps_photos_once(db: Database, clock: FixedClock, world: World) -> None:
    pid, owner = world.projects[0], world.actors["grid"]
    await _assign(db, world, clock.now())
    bad = [({"percent": 140}, "percent", "range"), ({"percent": -1}, "percent", "range"),
           ({"percent": 50, "note": "长" * 501}, "note", "too_long"),
           ({"percent": 50, "photos": _photos(*"abcdefghijk")}, "photos", "too_many")]
    for kw, field, reason in bad:
        with pytest.raises(Invalid) as err:
            await _do(db, projects.report, actor=owner, project_id=pid, now=clock.now(), **kw)
        assert (err.value.field, err.value.reason) == (field, reason)
    project = await _project(db, pid)
    assert (project.percent, project.last_report_at) == (0, None)
    clock.advance(days=1)
    first = await _do(db, projects.report, actor=owner, project_id=pid, percent=40, note="  已进场\n施工 ",
                      photos=_photos("a", "b", "a"), now=clock.now())
    assert first.note == "已进场\n施工"
    clock.advance(days=1)
    await _do(db, projects.report, actor=owner, project_id=pid, percent=60, photos=_photos("b", "c"),
              now=clock.now())
    project = await _project(db, pid)
    assert (project.percent, project.last_report_at) == (60, clock.now())
    async with db.uow() as uow:
        photos = (await uow.session.exec(select(ProjectPhoto.file_unique_id, ProjectPhoto.kind)
                                          .order_by(ProjectPhoto.id))).all()
        reports = (await uow.session.exec(select(ProjectReport.percent).where(ProjectReport.project_id == pid)
                                          .order_by(ProjectReport.id))).all()
    assert [tuple(p) for p in photos] == [("uniq-a", "progress"), ("uniq-b", "progress"), ("uniq-c", "progress")]
    assert list(reports) == [40, 60]


async def _before_after_photos_and_completion(db: Database, clock: FixedClock, world: World) -> None:
    pid, owner, now = world.projects[0], world.actors["grid"], clock.now()
    await _assign(db, world, now)
    assert await _do(db, projects.add_photos, actor=owner, project_id=pid, kind="before",
                     photos=_photos(*"abcdefgh"), now=now) == 8
    with pytest.raises(Invalid) as err:  # 8 + 3 > 10
        await _do(db, projects.add_photos, actor=owner, project_id=pid, kind="before", photos=_photos("x", "y", "z"),
                  now=now)
    assert (err.value.reason, err.value.details["have"]) == ("too_many", 8)
    assert await _do(db, projects.add_photos, actor=owner, project_id=pid, kind="before",
                     photos=_photos("a", "i"), now=now) == 1  # "a" is filed already
    with pytest.raises(Invalid):
        await _do(db, projects.add_photos, actor=owner, project_id=pid, kind="during", photos=_photos("q"), now=now)
    result = await _do(db, projects.complete, actor=owner, project_id=pid, now=now)
    assert (result.colour, result.reasons) == (Colour.YELLOW, ("after_photo_missing",))
    project = await _project(db, pid)
    assert (project.percent, project.completed_at) == (100, now)
    with pytest.raises(AlreadyDone):
        await _do(db, projects.complete, actor=owner, project_id=pid, now=now)
    with pytest.raises(AlreadyDone):
        await _do(db, projects.report, actor=owner, project_id=pid, percent=100, now=now)
    await _do(db, projects.add_photos, actor=owner, project_id=pid, kind="after", photos=_photos("z"), now=now)
    async with db.uow() as uow:
        verdict = await projects.verdict(uow, await uow.session.get(Project, pid), now)  # type: ignore[arg-type]
    assert (verdict.colour, verdict.reasons) == (Colour.GREEN, ("done",))


async def _override_is_shown_audited_and_cleared(db: Database, clock: FixedClock, world: World) -> None:
    admin, pid, now = world.actors["admin"], world.projects[2], clock.now()
    for kw, reason in [({"colour_code": "blue", "reason": "x"}, "unknown"),
                       ({"colour_code": "red", "reason": "理" * 201}, "too_long"),
                       ({"colour_code": "red", "reason": ""}, "empty")]:
        with pytest.raises(Invalid) as err:
            await _do(db, projects.override, actor=admin, project_id=pid, now=now, **kw)
        assert err.value.reason == reason
    await _do(db, projects.override, actor=admin, project_id=pid, colour_code="red", reason="居民投诉停工", now=now)
    async with db.uow() as uow:
        card = await projects.view(uow, await uow.session.get(Project, pid), now=now)  # type: ignore[arg-type]
    assert (card.verdict.colour, card.verdict.reasons, card.override_reason) == (Colour.RED, ("override",),
                                                                                 "居民投诉停工")
    await _do(db, projects.clear_override, actor=admin, project_id=pid, now=now)
    with pytest.raises(AlreadyDone):
        await _do(db, projects.clear_override, actor=admin, project_id=pid, now=now)
    async with db.uow() as uow:
        verdict = await projects.verdict(uow, await uow.session.get(Project, pid), now)  # type: ignore[arg-type]
    assert verdict.colour is Colour.YELLOW
    assert (await _audit(db))[-2:] == ["project.override", "project.override_clear"]


async def _facts_as_of_a_time(db: Database, clock: FixedClock, world: World) -> None:
    """What turned red this week: the colour then only sees what had happened by then."""
    admin, owner, pid = world.actors["admin"], world.actors["grid"], world.projects[0]
    t0 = clock.now()
    await _assign(db, world, t0)
    ms = await _do(db, projects.add_milestone, actor=admin, project_id=pid, title="设计", due_on=date(2027, 3, 5),
                   now=t0)
    clock.advance(days=3)
    await _do(db, projects.report, actor=owner, project_id=pid, percent=20, now=clock.now())
    clock.set(datetime(2027, 3, 8, 2, 0, tzinfo=UTC))
    await _do(db, projects.tick_milestone, actor=owner, milestone_id=ms.id, done_on=date(2027, 3, 8), now=clock.now())
    async with db.uow() as uow:
        project = await uow.session.get(Project, pid)
        assert project is not None
        tz = "Asia/Shanghai"
        before = await projects.facts(uow, project, as_of=t0)
        assert before.last_report_at is None and before.milestones == [(date(2027, 3, 5), None)]
        mid = await projects.facts(uow, project, as_of=datetime(2027, 3, 7, 2, 0, tzinfo=UTC))
        assert mid.last_report_at == t0 + 3 * DAY and mid.milestones == [(date(2027, 3, 5), None)]
        assert projects.colour(mid, now=datetime(2027, 3, 7, 2, 0, tzinfo=UTC), timezone=tz).colour is Colour.RED
        now = await projects.facts(uow, project, as_of=clock.now())
        assert now.milestones == [(date(2027, 3, 5), date(2027, 3, 8))]
        assert (await projects.verdict(uow, project, clock.now())).colour is Colour.YELLOW
        every = list((await uow.session.exec(select(Project))).all())
        for at in (t0, datetime(2027, 3, 7, 2, 0, tzinfo=UTC), clock.now()):
            many = await projects.facts_many(uow, every, as_of=at)
            assert many == {p.id: await projects.facts(uow, p, as_of=at) for p in every}
        colours = await projects.verdicts(uow, every, clock.now())
        assert colours[pid].colour is Colour.YELLOW and colours[world.projects[3]].colour is Colour.YELLOW


async def _staleness_is_a_community_setting(db: Database, clock: FixedClock, world: World) -> None:
    pid = world.projects[2]  # started 10 days ago, never reported
    async with db.uow(write=True) as uow:
        project = await uow.session.get(Project, pid)
        assert project is not None
        assert (await projects.verdict(uow, project, clock.now())).colour is Colour.YELLOW
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        community.settings = {**community.settings, "project_stale_days": 7}
        uow.session.add(community)
        await uow.flush()
        verdict = await projects.verdict(uow, project, clock.now())
    assert (verdict.colour, verdict.reasons, verdict.days_without_report) == (Colour.RED, ("no_report",), 10)


async def test_deadline_and_budget(db: Database, clock: FixedClock, world: World) -> None:
    await _budget_and_funding(db, clock, world)
    await _deadline_is_a_local_date_not_in_the_past(db, world)


async def test_reports_and_who_may_make_them(db: Database, clock: FixedClock, world: World) -> None:
    await _only_the_owner_or_an_admin_reports(db, clock, world)
    await _report_updates_percent_and_keeps_photos_once(db, clock, world)


async def test_completion_and_the_colour_mark(db: Database, clock: FixedClock, world: World) -> None:
    await _before_after_photos_and_completion(db, clock, world)
    await _override_is_shown_audited_and_cleared(db, clock, world)


async def test_the_colour_as_of_a_time_and_its_setting(db: Database, clock: FixedClock, world: World) -> None:
    await _staleness_is_a_community_setting(db, clock, world)
    await _facts_as_of_a_time(db, clock, world)


async def _notices(db: Database, notice: str) -> list[OutboxMessage]:
    return [m for m in await _outbox(db) if m.payload["notice"] == notice]


async def test_monthly_reminder_on_the_report_day(db: Database, clock: FixedClock, world: World) -> None:
    admin, now = world.actors["admin"], clock.now()
    await _assign(db, world, now, 0, "grid")
    await _assign(db, world, now, 1, "grid")
    await _assign(db, world, now, 2, "committee")
    # March: the committee member reports on project 3 and completes nothing; grid reports on project 1
    clock.set(datetime(2027, 3, 20, 2, 0, tzinfo=UTC))
    await _do(db, projects.report, actor=world.actors["grid"], project_id=world.projects[0], percent=10,
              now=clock.now())
    await _do(db, projects.report, actor=world.actors["committee"], project_id=world.projects[2], percent=10,
              now=clock.now())
    # 31 March 16:30 UTC is 00:30 on 1 April in Tianjin: the report day, but before 09:00
    clock.set(datetime(2027, 3, 31, 16, 30, tzinfo=UTC))
    assert await _do(db, projects.due, now=clock.now()) == 0
    clock.set(datetime(2027, 4, 1, 1, 0, tzinfo=UTC))  # 09:00 on 1 April
    assert await _do(db, projects.due, now=clock.now()) == 2
    [remind] = await _notices(db, "project_report_remind")
    assert remind.tg_chat_id == 504
    assert [p["number"] for p in remind.payload["params"]["projects"]] == [2]
    [late] = await _notices(db, "project_late_owners")
    assert late.tg_chat_id == 505
    assert [(o["name"], [p["number"] for p in o["projects"]]) for o in late.payload["params"]["owners"]] == [
        ("grid", [2])]
    clock.advance(hours=3)
    assert await _do(db, projects.due, now=clock.now()) == 0  # once per month
    # April: nobody reports; the other community's admin is never told about this one
    async with db.uow(write=True) as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        community.settings = {**community.settings, "project_report_day": 5}
        uow.session.add(community)
        await uow.commit()
    clock.set(datetime(2027, 5, 4, 23, 0, tzinfo=UTC))  # 07:00 on 5 May: too early
    assert await _do(db, projects.due, now=clock.now()) == 0
    clock.set(datetime(2027, 5, 6, 3, 0, tzinfo=UTC))  # missed the 5th: caught up on the 6th
    assert await _do(db, projects.due, now=clock.now()) == 3
    reminded = sorted(m.tg_chat_id for m in await _notices(db, "project_report_remind"))
    assert reminded == [503, 504, 504]
    assert all(m.tg_chat_id != 598 for m in await _outbox(db))
    await _do(db, projects.complete, actor=admin, project_id=world.projects[1], now=clock.now())
    clock.set(datetime(2027, 6, 5, 3, 0, tzinfo=UTC))
    await _do(db, projects.due, now=clock.now())
    [june] = [m for m in await _notices(db, "project_report_remind") if m.created_at == clock.now()
              and m.tg_chat_id == 504]
    assert [p["number"] for p in june.payload["params"]["projects"]] == [1]  # the finished one is left out


async def test_typed_inputs() -> None:
    assert projects.parse_day("deadline", "2027-05-31") == date(2027, 5, 31)
    assert projects.parse_day("deadline", "2027年5月3日") == date(2027, 5, 3)
    assert projects.parse_day("deadline", "2027/5/3") == date(2027, 5, 3)
    for text in ("2027-02-30", "31.5.2027", "tomorrow", ""):
        with pytest.raises(Invalid):
            projects.parse_day("deadline", text)
    assert projects.parse_percent("60%") == 60
    assert projects.parse_amount("12.5万") == 125_000
    assert projects.parse_amount("120,000元") == 120_000
    for text in ("1.5", "-3", "10000000001", "abc", "1.00005万"):
        with pytest.raises(Invalid):
            projects.parse_amount(text)
