"""The tables of the property evaluation and the monthly ranking (物业考核晾晒, F-10), imported by storage/models.py.

A `PropertyProject` (物业项目) is numbered per community: the company, the estate's name and the other names the
12345 hotline writes for it (`aliases`, matched against `HotlineComplaint.estate`), the households served; the
buildings it serves are `PropertyBuilding` rows (a building is served by one project). The company's members hold
the role `property_staff` and a `PropertyStaff` row naming their project.

Each month a project gets one `PropertyEvaluation` (unique per project and month): open → submitted (compare-and-
set, once) → published. Its `PropertyItemScore` rows (one per indicator item code) carry the committee's grade or
deduction count, the points, the evidence (a note, a photo's file_id) and the company's reply. A
`PropertySurvey` row is one household's satisfaction answers for the month (unique per project, month and
household). `PropertyResult` is the month's computed score and rank (unique per project and month)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class PropertyProject(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_propertyproject_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    company: str = Field(max_length=100)
    estate: str = Field(max_length=100)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    households: int = 0
    active: bool = True
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _ts()


class PropertyBuilding(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("building_id", name="uq_propertybuilding_building"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="propertyproject.id", index=True)
    building_id: int = Field(foreign_key="building.id")


class PropertyStaff(SQLModel, table=True):
    """A member of the company of a project; what they may see holds while their role `property_staff` does."""
    __table_args__ = (UniqueConstraint("member_id", "project_id", name="uq_propertystaff_member_project"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="propertyproject.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    granted_by: int | None = Field(default=None, foreign_key="member.id")
    granted_at: datetime = _ts()


class PropertyEvaluation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "month", name="uq_propertyevaluation_project_month"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="propertyproject.id", index=True)
    month: str = Field(max_length=7)  # YYYY-MM in the community's zone
    state: str = Field(default="open", max_length=10)  # open | submitted | published
    items_points: float | None = None  # the sum of the items' points, set on submission
    started_by: int | None = Field(default=None, foreign_key="member.id")
    started_at: datetime = _ts()
    submitted_by: int | None = Field(default=None, foreign_key="member.id")
    submitted_at: datetime | None = _ts(nullable=True)


class PropertyItemScore(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("evaluation_id", "code", name="uq_propertyitemscore_evaluation_code"),
                      Index("ix_propertyitemscore_fix_due", "fix_state", "fix_next_at"))
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    evaluation_id: int = Field(foreign_key="propertyevaluation.id", index=True)
    code: str = Field(max_length=10)  # the indicator item's code, "2.1"
    grade: str | None = Field(default=None, max_length=8)  # full | partial | none (rule "grade")
    count: int | None = None  # places counted (rule "per")
    points: float = 0.0
    note: str = Field(default="", max_length=500)
    photo: str | None = Field(default=None, max_length=255)  # a photo's file_id
    scored_by: int | None = Field(default=None, foreign_key="member.id")
    scored_at: datetime = _ts()
    fix_due_at: datetime | None = _ts(nullable=True)  # a deduction's rectification deadline, set on publication
    fixed_at: datetime | None = _ts(nullable=True)  # the company reported it fixed
    fix_state: str | None = Field(default=None, max_length=8)  # rectification: open | fixed (on the ladder)
    fix_rung: int = 0  # the deadline ladder's rungs reached (flows/ladder.py)
    fix_next_at: datetime | None = _ts(nullable=True)  # when the next rung falls due
    reply: str | None = Field(default=None, max_length=500)  # the company's answer to a deduction
    replied_by: int | None = Field(default=None, foreign_key="member.id")
    replied_at: datetime | None = _ts(nullable=True)


class PropertySurvey(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "month", "member_id", name="uq_propertysurvey_household"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="propertyproject.id", index=True)
    month: str = Field(max_length=7)
    member_id: int = Field(foreign_key="member.id")  # the household: a member (Member has no room)
    answers: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    step: int = 0  # answers given so far (the compare-and-set key: a press counts once)
    sent_at: datetime = _ts()
    answered_at: datetime | None = _ts(nullable=True)  # set when all five are in


class PropertyResult(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "month", name="uq_propertyresult_project_month"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="propertyproject.id", index=True)
    month: str = Field(max_length=7, index=True)
    items_part: float | None = None
    satisfaction_part: float | None = None
    complaints_part: float | None = None
    total: float | None = None  # None: not ranked (样本不足, or the items not submitted)
    complaints: int = 0
    rate: float | None = None  # complaints per 1,000 households
    answers: int = 0
    required: int = 0
    sufficient: bool = False
    rank: int | None = None
    computed_at: datetime = _ts()
    published_at: datetime | None = _ts(nullable=True)
