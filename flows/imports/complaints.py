"""Importing 12345 hotline work orders (政务服务便民热线工单) into `HotlineComplaint` (storage/models_complaints.py).

A typical export has 工单编号, 来电时间/受理时间, 诉求内容/问题描述, 诉求类别, 小区名称, 地址, 办结时间, 满意度 and
the caller's name and phone: those two are not read at all (no alias names them, so the reader drops them).
The complaint's text is sealed. The address's building ("3号楼", "3栋", "3幢") is matched to the community's
buildings when it can be. Times are read in the community's zone ("2026/3/5 14:02", "2026-03-05 14:02:00",
"2026年3月5日", Excel's serial days) and stored in UTC.

The same work order again is unchanged — or updated when the file's later version adds (or changes) its 办结
time or the verdict; what the caller said and when is never rewritten."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from flows.errors import Invalid
from flows.imports.reader import Row, looks_like_formula
from flows.imports.run import CREATED, UNCHANGED, UPDATED, Plan
from flows.membership import building_by_label
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import Community
from storage.models_complaints import HotlineComplaint

ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("工单编号", "工单号", "编号", "工单号码", "受理编号", "work order", "order no", "ticket"),
    "received_at": ("来电时间", "受理时间", "登记时间", "创建时间", "派单时间", "received", "call time"),
    "summary": ("诉求内容", "问题描述", "来电内容", "反映内容", "诉求描述", "内容", "complaint", "description",
                "text"),
    "category": ("诉求类别", "问题分类", "诉求分类", "分类", "类别", "category"),
    "estate": ("小区名称", "所属小区", "小区", "项目名称", "estate", "residential area"),
    "address": ("地址", "诉求地址", "事发地址", "详细地址", "address"),
    "closed_at": ("办结时间", "完成时间", "结案时间", "closed", "closed at"),
    "satisfaction": ("满意度", "评价", "回访满意度", "回访结果", "satisfaction"),
}
REQUIRED = ("source_id", "received_at", "summary")
LIMITS = {"source_id": 40, "category": 60, "estate": 100, "summary": 4000, "address": 200}
SATISFIED = {"满意": True, "非常满意": True, "基本满意": True, "比较满意": True, "satisfied": True,
             "不满意": False, "非常不满意": False, "dissatisfied": False, "unsatisfied": False}
BUILDING = re.compile(r"(\d{1,4})\s*(?:号楼|号院楼|栋|幢|座|号?楼)")
EXCEL_EPOCH = datetime(1899, 12, 30)
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
            "%Y/%m/%d", "%Y.%m.%d %H:%M", "%Y.%m.%d", "%Y%m%d%H%M%S", "%Y%m%d")


def parse_when(value: object, tz: str, column: str) -> datetime:
    """A cell's date and time read in the community's zone → aware UTC; Invalid(column, "date") when it is none."""
    local: datetime | None = None
    if isinstance(value, datetime):
        local = value
    elif isinstance(value, date):
        local = datetime.combine(value, time())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        local = _serial(float(value))
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
        text = re.sub(r"(\d)年(\d{1,2})月(\d{1,2})日?", r"\1-\2-\3", text).replace("T", " ")
        text = re.sub(r"(\d)时(\d{1,2})分?", r"\1:\2", text)
        text = re.sub(r"\s+", " ", text)
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            local = _serial(float(text))
        for fmt in _FORMATS if local is None else ():
            try:
                local = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if local is None or not 2000 <= local.year <= 2100:
        raise Invalid(column, "date")
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def _serial(days: float) -> datetime | None:
    if not 36526 <= days <= 73051:  # 2000 … 2100
        return None
    return EXCEL_EPOCH + timedelta(days=days)


def _text(row: Row, key: str) -> str:
    value = re.sub(r"\s+", " ", row.text(key))
    if looks_like_formula(value):
        raise Invalid(key, "formula")
    if len(value) > LIMITS[key]:
        raise Invalid(key, "too_long", limit=LIMITS[key])
    return value


@dataclass(frozen=True)
class _Complaint:
    existing: HotlineComplaint | None
    source_id: str
    received_at: datetime
    summary: str
    category: str
    estate: str
    building_id: int | None
    closed_at: datetime | None
    satisfied: bool | None


class Complaints:
    kind = "complaints"
    aliases = ALIASES
    required = REQUIRED

    def __init__(self, community: Community, sealer: Sealer, *, member_id: int | None = None) -> None:
        assert community.id is not None
        self.community, self.sealer, self.member_id = community, sealer, member_id

    async def check(self, uow: UnitOfWork, row: Row) -> Plan:
        source_id = _text(row, "source_id")
        if not source_id:
            raise Invalid("source_id", "empty")
        tz = self.community.timezone
        received_at = parse_when(row.cells.get("received_at"), tz, "received_at")
        summary = _text(row, "summary")
        if not summary:
            raise Invalid("summary", "empty")
        closed_at = parse_when(row.cells["closed_at"], tz, "closed_at") if row.text("closed_at") else None
        if closed_at is not None and closed_at < received_at:
            raise Invalid("closed_at", "before")
        verdict = unicodedata.normalize("NFKC", row.text("satisfaction")).strip().lower()
        if verdict and verdict not in SATISFIED:
            raise Invalid("satisfaction", "unknown")
        satisfied = SATISFIED.get(verdict) if verdict else None
        address = _text(row, "address")
        building_id = None
        if m := BUILDING.search(unicodedata.normalize("NFKC", address)):
            found = await building_by_label(uow, community_id=self.community.id or 0, label=m.group(1))
            building_id = found.id if found else None
        existing = (await uow.session.exec(select(HotlineComplaint).where(
            HotlineComplaint.community_id == self.community.id, HotlineComplaint.source_id == source_id))).first()
        plan = _Complaint(existing, source_id, received_at, summary, _text(row, "category"), _text(row, "estate"),
                          building_id, closed_at, satisfied)
        if existing is None:
            return Plan(CREATED, source_id, plan)
        later = ((closed_at is not None and closed_at != existing.closed_at)
                 or (satisfied is not None and satisfied != existing.satisfied))
        return Plan(UPDATED if later else UNCHANGED, source_id, plan)

    async def write(self, uow: UnitOfWork, plan: Plan, now: datetime) -> None:
        c: _Complaint = plan.data
        row = c.existing
        if row is None:
            row = HotlineComplaint(community_id=self.community.id or 0, source_id=c.source_id,
                                   received_at=c.received_at, estate=c.estate, building_id=c.building_id,
                                   category=c.category, summary_sealed=self.sealer.seal(c.summary),
                                   imported_by_member_id=self.member_id, imported_at=now)
        if c.closed_at is not None:
            row.closed_at = c.closed_at
        if c.satisfied is not None:
            row.satisfied = c.satisfied
        uow.session.add(row)
        await uow.session.flush()
