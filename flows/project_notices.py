"""The projects' notices (rendered in bot/handlers/projects.py): one frozen dataclass per kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.notices import Notice


@dataclass(frozen=True)
class Comparison:
    """The fields of a before/after picture (days ISO and local; photos as Telegram file ids): the sender composes
    the picture from them (bot/outbox.py, op "compose"). Shared by the group post and the needers' notice."""

    project_id: int
    number: int
    year: int
    title: str
    community: str
    completed_on: str | None
    before: str | None
    before_on: str | None
    after: str | None
    after_on: str | None


@dataclass(frozen=True)
class ProjectOwner(Notice, kind="project_owner"):
    """You now own project {number} of {year}."""

    number: int
    title: str
    year: int
    community: str
    deadline: str | None = None


@dataclass(frozen=True)
class ProjectReportRemind(Notice, kind="project_report_remind"):
    """An owner's projects without a progress report last month ({"number", "title", "year"} each)."""

    projects: list[dict[str, Any]]
    community: str
    month: str


@dataclass(frozen=True)
class ProjectLateOwners(Notice, kind="project_late_owners"):
    """The admins' list of owners late with a report ({"name", "member", "projects"} each)."""

    owners: list[dict[str, Any]]
    community: str
    month: str
