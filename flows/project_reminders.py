"""Monthly progress-report reminders for the year's livelihood projects (进度清单, F-3).

Owners who have not reported during the previous calendar month are reminded on the community's report
day ("project_report_day", default 1), and the admins are told who is late (`due`, called by the scheduler).
flows/projects.py re-exports these names."""

from __future__ import annotations

import calendar
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from flows import membership, outbox
from flows.clock import local
from flows.project_colour import setting_int
from flows.project_notices import ProjectLateOwners, ProjectReportRemind
from flows.roles import Role
from storage.db import UnitOfWork
from storage.models import Community, Member, OutboxMessage, Project, ProjectReport, User

#: Community.settings key and its default.
REPORT_DAY_SETTING, REPORT_DAY = "project_report_day", 1
REMIND_AT = time(9, 0)  # local time on the report day


def report_day(community: Community, year: int, month: int) -> int:
    """The day of the month owners are reminded ("project_report_day", default 1; the month's last day
    when the setting is beyond it)."""
    day = setting_int(community, REPORT_DAY_SETTING, REPORT_DAY, 1, 31)
    return min(day, calendar.monthrange(year, month)[1])


def _month_start(year: int, month: int, tz: str) -> datetime:
    return datetime(year, month, 1, tzinfo=ZoneInfo(tz))


async def due(uow: UnitOfWork, *, now: datetime) -> int:
    """On each community's report day (from 09:00 local; later that month if the day was missed), remind
    every owner who has not reported since the start of the previous calendar month about those projects
    (unfinished, started before this month), and tell the admins who is late. Once per month and person
    (dedupe keys). Idempotent: the scheduler calls it often. Returns the count of notices queued."""
    queued = 0
    for community in (await uow.session.exec(select(Community))).all():
        here = local(now, community.timezone)
        day = report_day(community, here.year, here.month)
        if here.day < day or (here.day == day and here.time() < REMIND_AT):
            continue
        this_month = _month_start(here.year, here.month, community.timezone)
        prev_year, prev_month = (here.year, here.month - 1) if here.month > 1 else (here.year - 1, 12)
        since = _month_start(prev_year, prev_month, community.timezone)
        tag = f"{here.year}-{here.month:02d}"
        reported = (select(ProjectReport.id).where(col(ProjectReport.project_id) == col(Project.id),
                                                   col(ProjectReport.created_at) >= since).exists())
        rows = (await uow.session.exec(
            select(Project, Member, User).join(Member, col(Member.id) == col(Project.owner_member_id))
            .join(User, col(User.id) == col(Member.user_id))
            .where(Project.community_id == community.id, col(Project.completed_at).is_(None),
                   col(Project.created_at) < this_month, ~reported)
            .order_by(col(Member.id), col(Project.year), col(Project.number)))).all()
        if not rows:
            continue
        late: dict[int, tuple[Member, User, list[Project]]] = {}
        for project, member, user in rows:
            late.setdefault(member.id or 0, (member, user, []))[2].append(project)
        admins = await membership.holders_of(uow, community_id=community.id or 0, role=Role.ADMIN)
        keys = [f"project_report_remind:{community.id}:{m}:{tag}" for m in late]
        keys += [f"project_late_owners:{community.id}:{a.id}:{tag}" for a, _u in admins]
        seen = set((await uow.session.exec(select(OutboxMessage.dedupe_key).where(
            col(OutboxMessage.dedupe_key).in_(keys)))).all())
        owners = []
        for member_id, (member, user, projects) in late.items():
            listed = [{"number": p.number, "title": p.title, "year": p.year} for p in projects]
            owners.append({"name": member.display_name or user.first_name, "member": member_id,
                           "projects": listed})
            key = f"project_report_remind:{community.id}:{member_id}:{tag}"
            if key in seen:
                continue
            outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                          community_id=community.id, recipient_user_id=user.id, dedupe_key=key,
                          notice=ProjectReportRemind(projects=listed, community=community.name,
                                                     month=f"{prev_year}-{prev_month:02d}"))
            queued += 1
        for admin, user in admins:
            key = f"project_late_owners:{community.id}:{admin.id}:{tag}"
            if key in seen:
                continue
            outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                          community_id=community.id, recipient_user_id=user.id, dedupe_key=key,
                          notice=ProjectLateOwners(owners=owners, community=community.name,
                                                   month=f"{prev_year}-{prev_month:02d}"))
            queued += 1
    return queued
