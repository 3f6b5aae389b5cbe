"""The tables of the year's livelihood projects (民生实事) after the vote, imported by storage/models.py: the
project itself with its progress list (进度清单, F-3: owner, deadline, money, the colour mark), its milestones,
progress reports and photos, the bot's posts about it in groups, and the residents' 👍 and ⭐ (验收单)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Project(SQLModel, table=True):
    """One of the year's livelihood projects (民生实事), numbered 1 … N in the order of the vote."""

    __table_args__ = (UniqueConstraint("community_id", "year", "number", name="uq_project_community_year_number"),
                      UniqueConstraint("community_id", "year", "need_id", name="uq_project_community_year_need"))
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    number: int
    title: str = Field(max_length=30)
    category: str = Field(max_length=24)
    need_id: int | None = Field(default=None, foreign_key="need.id")
    ballot_id: int | None = Field(default=None, foreign_key="ballot.id")
    votes: int = 0
    created_at: datetime = _ts()
    # the progress list (进度清单, F-3): owner, deadline, money; the colour is computed (flows.project_colour.colour)
    owner_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    deadline: date | None = None
    budget_yuan: int | None = None
    funding: str | None = Field(default=None, max_length=60)
    percent: int = 0
    last_report_at: datetime | None = _ts(nullable=True)
    completed_at: datetime | None = _ts(nullable=True)
    colour_override: str | None = Field(default=None, max_length=8)  # green|yellow|red, with a reason
    override_reason: str | None = Field(default=None, max_length=200)
    override_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    override_at: datetime | None = _ts(nullable=True)


class ProjectMilestone(SQLModel, table=True):
    """A step of a project's road-map with its due date; ticked off with the date it was done."""

    __table_args__ = (UniqueConstraint("project_id", "position", name="uq_project_milestone_project_position"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    position: int
    title: str = Field(max_length=40)
    due_on: date
    done_on: date | None = None


class ProjectReport(SQLModel, table=True):
    """A progress report by the project's owner (/progress): percent and a note."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    percent: int
    note: str = Field(default="", max_length=500)
    created_at: datetime = _ts()


class ProjectPhoto(SQLModel, table=True):
    """A photo of a project: before (整改前), after (整改后) or with a progress report."""

    __table_args__ = (UniqueConstraint("project_id", "file_unique_id", name="uq_project_photo_project_file"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="projectreport.id")
    kind: str = Field(max_length=8)  # before|after|progress
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=64, index=True)  # the public board's media id (/media/<id>.jpg)
    member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()


class ProjectPost(SQLModel, table=True):
    """A message the bot posted about projects in a group: the board (edited in place, pinned when it may)
    or a project's before/after picture (whose 👍 reactions count as likes)."""

    __table_args__ = (UniqueConstraint("tg_chat_id", "kind", "project_id", name="uq_project_post_chat_kind_project"),
                      Index("ix_project_post_message", "tg_chat_id", "message_id"))
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=12)  # board|board_pic|comparison
    project_id: int = 0  # 0 for the board (not a key: one board per chat and kind)
    outbox_id: int | None = Field(default=None, foreign_key="outboxmessage.id")
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    pinned: bool = False
    updated_at: datetime = _ts()
    # a board: the fingerprint of what it shows (flows.board.refresh edits it when that changes, at most hourly)
    shown: str | None = Field(default=None, max_length=64)


class ProjectLike(SQLModel, table=True):
    """👍 on a finished project, once per person (by button or by a Telegram reaction)."""

    __table_args__ = (UniqueConstraint("project_id", "member_id", name="uq_project_like_project_member"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    source: str = Field(default="button", max_length=8)  # button|reaction
    created_at: datetime = _ts()


class ProjectRating(SQLModel, table=True):
    """⭐ 1–5 with an optional comment (验收单), once per person, changeable."""

    __table_args__ = (UniqueConstraint("project_id", "member_id", name="uq_project_rating_project_member"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    stars: int
    comment: str | None = Field(default=None, max_length=300)
    comment_voice_file_id: str | None = Field(default=None, max_length=255)  # a comment told by voice
    updated_at: datetime = _ts()
