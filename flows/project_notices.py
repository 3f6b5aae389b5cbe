"""The projects' notices (rendered in bot/handlers/projects.py) and the board's (bot/handlers/board.py; flows/board.py
sends them): one frozen dataclass per kind."""

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


# ---------------------------------------------------------------- the board's (worded in bot/handlers/board.py)


@dataclass(frozen=True)
class BoardPosted(Notice, kind="board"):
    """The board's text in a group (edited in place): rows are `Row.params()`; `month` the month of the
    monthly post, or the local day and time of an edit between them."""

    community: str
    year: int
    month: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class BoardPicture(Notice, kind="board_pic"):
    community: str
    year: int
    month: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class WeeklyDigest(Notice, kind="board_weekly"):
    community: str
    changed: list[dict[str, Any]]
    turned_red: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    more: int


@dataclass(frozen=True)
class MonthlyBlockers(Notice, kind="board_blockers"):
    community: str
    year: int
    month: str
    blockers: list[dict[str, Any]]
    total: int
    green: int
    yellow: int
    red: int
