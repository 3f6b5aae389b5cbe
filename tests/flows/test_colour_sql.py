"""Issue #14, the district's overview counts projects by colour in the database (flows.project_colour.colour_sql):
the SQL copy of the colour rule gives every project the colour the Python rule gives it (verdicts), on SQLite and
PostgreSQL — overrides (past, future, without a moment), completions with and without an "after" photo, milestones
overdue or done late, deadlines, reports exactly at the staleness limit and a second past it, a report after the
moment asked about, projects made later, in three time zones with their own staleness settings."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select

from flows import project_colour
from storage.db import Database
from storage.models import (
    Community,
    Member,
    Project,
    ProjectMilestone,
    ProjectPhoto,
    ProjectReport,
    User,
)

NOW = datetime(2027, 6, 15, 2, 0, tzinfo=UTC)
ZONES = (("Asia/Shanghai", {}), ("America/New_York", {"project_stale_days": 10}),
         ("Pacific/Kiritimati", {"project_stale_days": 400}))
SECOND, DAY = timedelta(seconds=1), timedelta(days=1)


def _project(rnd: random.Random, community: Community, number: int, at: datetime) -> tuple[Project, list, list]:
    """A project with facts drawn around the colour rule's boundaries at `at`: (project, milestones, photos and
    reports as (kind, created) pairs)."""
    today = project_colour.today(community, at)
    quiet = project_colour.stale_after(community)
    created = rnd.choice((at - 60 * DAY, at - quiet, at - quiet - SECOND, at + timedelta(hours=1), at))
    p = Project(community_id=community.id or 0, year=today.year, number=number, title=f"p{number}", category="x",
                created_at=created, percent=rnd.randint(0, 100),
                deadline=rnd.choice((None, today - DAY, today, today + DAY)),
                last_report_at=rnd.choice((None, at - quiet, at - quiet - SECOND, at - DAY, at, at + DAY)),
                completed_at=rnd.choice((None, None, at - DAY, at, at + SECOND)))
    override = rnd.choice((None, None, None, ("red", at - DAY), ("green", at + DAY), ("yellow", None), ("", None)))
    if override:
        p.colour_override, p.override_at = override
    milestones = [rnd.choice(((today - DAY, None), (today - DAY, today), (today - DAY, today + DAY), (today, None),
                              (today - 5 * DAY, today - 5 * DAY), (today + DAY, None)))
                  for _ in range(rnd.randint(0, 3))]
    extra = [("after", rnd.choice((at - DAY, at, at + SECOND))) for _ in range(rnd.randint(0, 1))]
    extra += [("report", rnd.choice((at - quiet, at - quiet - SECOND, at - 2 * DAY, at + DAY)))
              for _ in range(rnd.randint(0, 2))]
    return p, milestones, extra


async def test_colour_counted_in_sql_agrees_with_the_rule(db: Database) -> None:
    rnd = random.Random(14)
    async with db.uow(write=True) as uow:
        communities = [Community(slug=f"z{k}", name=f"z{k}", timezone=tz, settings=settings, created_at=NOW)
                       for k, (tz, settings) in enumerate(ZONES)]
        uow.session.add_all(communities)
        user = User(tg_id=1, first_name="x", created_at=NOW)
        uow.session.add(user)
        await uow.session.flush()
        member = Member(community_id=communities[0].id or 0, user_id=user.id or 0, consent_at=NOW, joined_at=NOW)
        uow.session.add(member)
        await uow.session.flush()
        for community in communities:
            for number in range(1, 121):
                p, milestones, extra = _project(rnd, community, number, NOW)
                uow.session.add(p)
                await uow.session.flush()
                for position, (due, done) in enumerate(milestones, start=1):
                    uow.session.add(ProjectMilestone(project_id=p.id or 0, position=position, title="m", due_on=due,
                                                     done_on=done))
                for k, (kind, at) in enumerate(extra):
                    if kind == "after":
                        uow.session.add(ProjectPhoto(project_id=p.id or 0, kind="after", file_id=f"f{p.id}-{k}",
                                                     file_unique_id=f"u{p.id}-{k}", member_id=member.id or 0,
                                                     created_at=at))
                    else:
                        uow.session.add(ProjectReport(project_id=p.id or 0, member_id=member.id or 0, percent=1,
                                                      created_at=at))
        await uow.commit()
    seen: Counter[str | None] = Counter()
    async with db.uow() as uow:
        for community in (await uow.session.exec(select(Community).order_by(col(Community.id)))).all():
            for at in (NOW, NOW + 3 * DAY + timedelta(hours=7)):
                mine = (await uow.session.exec(select(Project).where(Project.community_id == community.id))).all()
                verdicts = await project_colour.verdicts(uow, [p for p in mine if p.created_at <= at], at)
                expected = {p.id: verdicts[p.id].colour.value if p.id in verdicts else None for p in mine}
                got = dict((await uow.session.exec(select(Project.id, project_colour.colour_sql()).where(
                    Project.community_id == community.id), params=project_colour.colour_params(community, at))).all())
                wrong = {pid: (got[pid], want) for pid, want in expected.items() if got.get(pid) != want}
                assert wrong == {}, (community.timezone, at, wrong)
                seen.update(expected.values())
    # the draw reaches every outcome, and every reason of red
    assert set(seen) == {"green", "yellow", "red", None} and min(seen.values()) >= 10, seen


def test_the_boundaries_are_drawn() -> None:
    """The draw above is not one-sided: each boundary value of the rule comes up."""
    rnd = random.Random(14)
    community = Community(id=1, slug="z", name="z", timezone="Asia/Shanghai", settings={})
    drawn = [_project(rnd, community, n, NOW) for n in range(1, 121)]
    quiet = project_colour.stale_after(community)
    assert any(p.last_report_at == NOW - quiet for p, _, _ in drawn)
    assert any(p.last_report_at == NOW - quiet - SECOND for p, _, _ in drawn)
    assert any(p.created_at > NOW for p, _, _ in drawn) and any(p.override_at and p.override_at > NOW
                                                                for p, _, _ in drawn)
    assert any((date(2027, 6, 14), date(2027, 6, 16)) in m for _, m, _ in drawn)  # done after today: not yet done
