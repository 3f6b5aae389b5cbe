"""12345 hotline complaints (政务服务便民热线工单), imported from the hotline's CSV/XLSX exports (F-11.3, F-10).

One row per work order, unique per community by the hotline's own number (`source_id`): importing the same
file twice changes nothing. The estate (`estate`, as the hotline wrote it) is kept as text; the property
evaluation (F-10) matches it to a property project by name and writes `property_project_id` then, so the
import does not depend on property projects existing. The complaint's own words may name the caller or give a
phone number: they are kept sealed with the ledger key (`summary_sealed`), never in the clear; the caller's
name and phone in the file are not stored at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class HotlineComplaint(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "source_id", name="uq_hotline_complaint_source"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    source_id: str = Field(max_length=40)  # the hotline's work-order number (工单编号)
    received_at: datetime = _ts(index=True)  # when the hotline took the call
    estate: str = Field(default="", max_length=100)  # 小区/项目名称 as written by the hotline
    building_id: int | None = Field(default=None, foreign_key="building.id")  # when the address names one of ours
    category: str = Field(default="", max_length=60)  # 诉求类别, e.g. 物业管理/供暖/电梯
    summary_sealed: str = Field(default="", sa_column=Column(Text, nullable=False))  # sealed text of the complaint
    closed_at: datetime | None = _ts(nullable=True)  # 办结 time, when the file has it
    satisfied: bool | None = Field(default=None)  # the caller's verdict on the answer, when the file has it
    property_project_id: int | None = Field(default=None, index=True)  # set by the property evaluation (F-10)
    imported_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    imported_at: datetime = _ts()
