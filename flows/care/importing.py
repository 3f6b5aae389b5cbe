"""The care ledger: importing key persons from a CSV or XLSX file (command line, the bot's /import, demo data).

The file is read by the imports' shared reader (flows/imports/reader.py: UTF-8, GBK, XLSX, header aliases). A
row is checked by the same rules as /person add before anything is written (`check_row`), then written
(`write_row`). A key person already on the ledger with the same building, room and alias is left unchanged
(edit them with /person), so importing the same file again adds nobody twice. A grid worker imports only into
the buildings of their grid (`buildings`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import select

from flows import audit
from flows.care.ledger import Draft, _new_person, clean, parse_groups, parse_risk, parse_services
from flows.care.pairing import _check_volunteer, _set_pair
from flows.errors import Forbidden, Invalid, NotFound
from flows.imports import reader
from flows.imports.run import CREATED, UNCHANGED, Plan
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import Building, Community, KeyPerson

COLUMNS = ("building", "room", "alias", "name", "groups", "risk", "services", "contact", "notes", "primary",
           "backup")
ALIASES: dict[str, tuple[str, ...]] = {
    "building": ("楼栋", "楼", "楼号"), "room": ("房间", "房号"), "alias": ("称呼", "别名"), "name": ("姓名",),
    "groups": ("类别", "人群"), "risk": ("风险", "风险等级"), "services": ("服务",),
    "contact": ("紧急联系人", "联系人"), "notes": ("备注",), "primary": ("结对志愿者",), "backup": ("备用志愿者",)}
HEADER_ALIASES = {name: key for key, names in ALIASES.items() for name in names}
REQUIRED = ("building", "room", "alias", "name", "risk")


def read_table(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV or XLSX file as (line number, {column: text}), by the shared reader."""
    sheet = reader.read(path.read_bytes(), path.name, ALIASES)
    return [(row.line, {key: row.text(key) for key in row.cells}) for row in sheet.rows]


@dataclass(frozen=True)
class Checked:
    building: Building
    draft: Draft
    primary: int | None
    backup: int | None


async def check_row(uow: UnitOfWork, *, community: Community, sealer: Sealer, row: dict[str, str],
                    buildings: set[int] | None = None) -> Checked:
    """A row checked by the rules of /person add, nothing written; `buildings`: those the importer may use."""
    assert community.id is not None
    label = (row.get("building") or "").strip()
    if not label:
        raise Invalid("building", "empty")
    for key, value in row.items():
        if reader.looks_like_formula(value or ""):
            raise Invalid(key, "formula")
    from flows.membership import building_by_label

    building = await building_by_label(uow, community_id=community.id, label=label)
    if building is None:
        raise NotFound("building", label[:20])
    if buildings is not None and building.id not in buildings:
        raise Forbidden("import:building")  # not in the importer's grid
    draft = Draft(building_id=building.id, room=clean("room", row.get("room")), alias=clean("alias", row.get("alias")),
                  name_enc=sealer.seal(clean("name", row.get("name"))),
                  contact_enc=sealer.seal(clean("contact", row.get("contact"))),
                  notes_enc=sealer.seal(clean("notes", row.get("notes"))),
                  groups=parse_groups(row.get("groups") or ""), risk=parse_risk(row.get("risk") or ""),
                  services=parse_services(row.get("services") or ""))
    ids: list[int | None] = []
    for which in ("primary", "backup"):
        raw = (row.get(which) or "").strip()
        if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 9):  # fits an INTEGER id
            raise Invalid(which, "format")
        ids.append(int(raw) if raw else None)
    primary, backup = ids
    if primary is None and backup is not None:
        raise Invalid("primary", "empty")
    if primary is not None:
        if backup is not None and primary == backup:
            raise Invalid("backup", "same")
        await _check_volunteer(uow, community.id, primary, "primary")
        if backup is not None:
            await _check_volunteer(uow, community.id, backup, "backup")
    return Checked(building, draft, primary, backup)


async def write_row(uow: UnitOfWork, *, community: Community, checked: Checked, now: datetime,
                    notify: bool = True, actor_user_id: int | None = None) -> KeyPerson:
    assert community.id is not None
    person = _new_person(community.id, checked.building, checked.draft, created_by=None, now=now)
    uow.session.add(person)
    await uow.session.flush()
    audit.record(uow, action="person.import", now=now, community_id=community.id, actor_user_id=actor_user_id,
                 subject_type="person", subject_id=person.id, building=checked.building.label, risk=person.risk)
    if checked.primary is not None:
        await _set_pair(uow, community=community, person=person, primary_id=checked.primary,
                        backup_id=checked.backup, actor_user_id=None, action="pair.set", now=now, notify=notify)
    return person


async def import_row(uow: UnitOfWork, *, community: Community, sealer: Sealer, row: dict[str, str],
                     now: datetime, notify: bool = True) -> KeyPerson:
    """One row of an import file, checked by the same rules as /person add; raises before writing.
    The paired volunteers are told, unless `notify` is off (demo data)."""
    checked = await check_row(uow, community=community, sealer=sealer, row=row)
    return await write_row(uow, community=community, checked=checked, now=now, notify=notify)


class KeyPersons:
    """The care ledger's importer for flows/imports/run.py."""

    kind = "key-persons"
    aliases = ALIASES
    required = REQUIRED

    def __init__(self, community: Community, sealer: Sealer, *, buildings: set[int] | None = None,
                 actor_user_id: int | None = None, notify: bool = True) -> None:
        self.community, self.sealer, self.buildings = community, sealer, buildings
        self.actor_user_id, self.notify = actor_user_id, notify

    async def check(self, uow: UnitOfWork, row: reader.Row) -> Plan:
        cells = {key: row.text(key) for key in row.cells}
        checked = await check_row(uow, community=self.community, sealer=self.sealer, row=cells,
                                  buildings=self.buildings)
        d = checked.draft
        key = (checked.building.id, d.room, d.alias)
        same = (await uow.session.exec(select(KeyPerson.id).where(
            KeyPerson.community_id == self.community.id, KeyPerson.building_id == checked.building.id,
            KeyPerson.room == d.room, KeyPerson.alias == d.alias, KeyPerson.active == True))).first()  # noqa: E712
        return Plan(UNCHANGED if same is not None else CREATED, key, checked)

    async def write(self, uow: UnitOfWork, plan: Plan, now: datetime) -> None:
        await write_row(uow, community=self.community, checked=plan.data, now=now, notify=self.notify,
                        actor_user_id=self.actor_user_id)
