"""Importing a community's household roster (住户名册): building, room, and optionally the household's size and
a resident's name and phone (sealed). One household per (community, building, room); a row for a known household
updates what it gives (an empty cell keeps what is stored), so importing the same file again changes nothing.

A building label the community does not have is rejected, unless the import creates buildings
(`create_buildings`, `--create-buildings` on the command line): then it is added, said in the report.

A roster re-imported after people moved: the households of the buildings the file lists that no row of it names are
`absent` (said in the report by building), and removed when the import is asked to (`remove_absent`,
`--remove-absent`) — only when every row of the file went through (a rejected row may be a household still there,
its room mistyped), and never in a building the file does not list (a file of one building touches no other).
Removing a household drops its sealed contact with it; the property evaluation counts it no more."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select

from flows import audit
from flows.errors import Invalid, NotFound
from flows.imports.reader import Row, looks_like_formula
from flows.imports.run import CREATED, UNCHANGED, UPDATED, Absent, Plan
from flows.membership import _building_label, building_by_label
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import Building, Community
from storage.models_roster import Household

ALIASES: dict[str, tuple[str, ...]] = {
    "building": ("楼栋", "楼号", "楼栋号", "楼", "栋", "楼宇", "building", "bldg"),
    "room": ("房号", "房间", "房间号", "室", "门牌", "门牌号", "户号", "单元房号", "room", "unit", "flat"),
    "size": ("人数", "户人数", "家庭人数", "常住人数", "household size", "size", "persons"),
    "name": ("姓名", "户主", "户主姓名", "居民姓名", "联系人", "name", "resident"),
    "phone": ("电话", "手机", "手机号", "联系电话", "phone", "mobile", "tel"),
}
REQUIRED = ("building", "room")
MAX_ROOM, MAX_NAME, MAX_SIZE = 20, 40, 30
PHONE = re.compile(r"\+?[0-9][0-9 \-]{4,22}")


def _text(row: Row, key: str, limit: int) -> str:
    value = row.text(key)
    if looks_like_formula(value):
        raise Invalid(key, "formula")
    if len(value) > limit:
        raise Invalid(key, "too_long", limit=limit)
    return value


def room_of(text: str) -> str:
    """A room as stored: NFKC (full-width digits and dashes to plain), spaces out, "室" dropped."""
    room = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return room[:-1] if room.endswith("室") and len(room) > 1 else room


@dataclass(frozen=True)
class _Household:
    existing: Household | None
    building: Building | None  # None: a building to create, `label`
    label: str
    room: str
    size: int | None
    name: str
    phone: str


class Residents:
    kind = "residents"
    aliases = ALIASES
    required = REQUIRED

    def __init__(self, community: Community, sealer: Sealer, *, create_buildings: bool = False,
                 remove_absent: bool = False) -> None:
        assert community.id is not None
        self.community, self.sealer, self.create_buildings = community, sealer, create_buildings
        self.remove_absent = remove_absent
        self._new: dict[str, Building] = {}  # buildings created by this run

    async def _building(self, uow: UnitOfWork, raw: str) -> tuple[Building | None, str]:
        if looks_like_formula(raw):
            raise Invalid("building", "formula")
        if not raw:
            raise Invalid("building", "empty")
        label = _building_label(raw)  # Invalid too_long
        found = await building_by_label(uow, community_id=self.community.id or 0, label=label)
        if found is None:
            found = self._new.get(label)
        if found is None and not self.create_buildings:
            raise NotFound("building", None)
        return found, label

    async def check(self, uow: UnitOfWork, row: Row) -> Plan:
        building, label = await self._building(uow, row.text("building"))
        room = room_of(_text(row, "room", MAX_ROOM * 2))
        if not room:
            raise Invalid("room", "empty")
        if len(room) > MAX_ROOM:
            raise Invalid("room", "too_long", limit=MAX_ROOM)
        size_text = row.text("size")
        size = None
        if size_text:
            digits = unicodedata.normalize("NFKC", size_text).removesuffix("人").strip()
            if not (digits.isascii() and digits.isdigit() and 0 < int(digits) <= MAX_SIZE):
                raise Invalid("size", "number", limit=MAX_SIZE)
            size = int(digits)
        name = _text(row, "name", MAX_NAME)
        phone = unicodedata.normalize("NFKC", _text(row, "phone", 30))
        if phone and not PHONE.fullmatch(phone):
            raise Invalid("phone", "format")
        existing = None
        if building is not None and building.id is not None:
            existing = (await uow.session.exec(select(Household).where(
                Household.community_id == self.community.id, Household.building_id == building.id,
                Household.room == room))).first()
        plan = _Household(existing, building, label, room, size, name, phone)
        notes = ("new_building",) if building is None else ()
        if existing is None:
            return Plan(CREATED, (label, room), plan, notes)
        same = ((size is None or size == existing.size)
                and (not name or self.sealer.open(existing.name_sealed) == name)
                and (not phone or self.sealer.open(existing.phone_sealed) == phone))
        return Plan(UNCHANGED if same else UPDATED, (label, room), plan)

    async def write(self, uow: UnitOfWork, plan: Plan, now: datetime) -> None:
        h: _Household = plan.data
        cid = self.community.id
        assert cid is not None
        building = h.building
        if building is None:
            building = await building_by_label(uow, community_id=cid, label=h.label)  # made by a row before
            if building is None:
                building = Building(community_id=cid, label=h.label, sort_key=_sort_key(h.label))
                uow.session.add(building)
                await uow.session.flush()
        row = h.existing or Household(community_id=cid, building_id=building.id or 0, room=h.room, created_at=now)
        if h.size is not None:
            row.size = h.size
        if h.name:
            row.name_sealed = self.sealer.seal(h.name)
        if h.phone:
            row.phone_sealed = self.sealer.seal(h.phone)
        row.updated_at = now
        uow.session.add(row)
        await uow.session.flush()

    async def absent(self, uow: UnitOfWork, named: set[Any]) -> Absent:
        """The households of the buildings the file lists (`named`: the rows' (building label, room)) that no row
        names, counted by building label."""
        labels = {label for label, _ in named}
        cid = self.community.id
        rows = (await uow.session.exec(
            select(Household.id, Household.room, Building.label)
            .join(Building, col(Building.id) == col(Household.building_id))
            .where(Household.community_id == cid, col(Building.label).in_(labels)))).all() if labels else []
        gone = [(i or 0, label) for i, room, label in rows if (label, room) not in named]
        by_building: dict[str, int] = {}
        for _, label in gone:
            by_building[label] = by_building.get(label, 0) + 1
        return Absent(ids=[i for i, _ in gone], by_building=dict(sorted(by_building.items(),
                                                                        key=lambda kv: (_sort_key(kv[0]), kv[0]))))

    async def remove(self, uow: UnitOfWork, ids: list[int], *, now: datetime, actor_user_id: int | None,
                     via: str) -> int:
        """Remove these households of the community (the absent ones), audited with their count."""
        removed = 0
        for start in range(0, len(ids), 500):
            result = await uow.session.exec(delete(Household).where(  # type: ignore[call-overload]
                col(Household.community_id) == self.community.id, col(Household.id).in_(ids[start:start + 500])))
            removed += int(result.rowcount or 0)
        audit.record(uow, action="household.remove", now=now, community_id=self.community.id,
                     actor_user_id=actor_user_id, via=via, count=removed)
        return removed


def _sort_key(label: str) -> int:
    digits = re.match(r"\d+", label)
    return int(digits.group()) if digits else 10_000


async def households(uow: UnitOfWork, *, community_id: int, building_id: int | None = None) -> list[Household]:
    """The roster's households (of one building), by building and room — for the property evaluation (F-10)."""
    stmt = select(Household).where(Household.community_id == community_id)
    if building_id is not None:
        stmt = stmt.where(Household.building_id == building_id)
    return list((await uow.session.exec(stmt.order_by(Household.building_id, Household.room))).all())


async def household(uow: UnitOfWork, *, community_id: int, building_id: int, room: str) -> Household | None:
    """The household at (building, room), the room written as people write it ("2-401", "２－401室")."""
    return (await uow.session.exec(select(Household).where(
        Household.community_id == community_id, Household.building_id == building_id,
        Household.room == room_of(room)))).first()
