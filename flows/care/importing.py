"""The care ledger: importing key persons from a CSV or XLSX file (command line, demo data)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from flows import audit
from flows.care.ledger import Draft, _new_person, clean, parse_groups, parse_risk, parse_services
from flows.care.pairing import _check_volunteer, _set_pair
from flows.errors import Invalid, NotFound
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import Community, KeyPerson

COLUMNS = ("building", "room", "alias", "name", "groups", "risk", "services", "contact", "notes", "primary",
           "backup")
HEADER_ALIASES = {"楼栋": "building", "楼": "building", "房间": "room", "房号": "room", "称呼": "alias",
                  "别名": "alias", "姓名": "name", "类别": "groups", "人群": "groups", "风险": "risk",
                  "服务": "services", "紧急联系人": "contact", "联系人": "contact", "备注": "notes",
                  "结对志愿者": "primary", "备用志愿者": "backup"}


def read_table(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV (UTF-8, header) or XLSX file as (line number, {column: text})."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        raw = [(i, ["" if v is None else str(v) for v in row])
               for i, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
        book.close()
    else:
        text = path.read_text(encoding="utf-8-sig")
        reader = csv.reader(io.StringIO(text))
        raw = [(reader.line_num, row) for row in reader]
    if not raw:
        return []
    header = [HEADER_ALIASES.get(h.strip(), h.strip().lower()) for h in raw[0][1]]
    out = []
    for line, row in raw[1:]:
        if not any(c.strip() for c in row):
            continue
        out.append((line, {h: (row[i] if i < len(row) else "").strip() for i, h in enumerate(header) if h}))
    return out


async def import_row(uow: UnitOfWork, *, community: Community, sealer: Sealer, row: dict[str, str],
                     now: datetime, notify: bool = True) -> KeyPerson:
    """One row of an import file, checked by the same rules as /person add; raises before writing.
    The paired volunteers are told, unless `notify` is off (demo data)."""
    assert community.id is not None
    label = (row.get("building") or "").strip()
    if not label:
        raise Invalid("building", "empty")
    from flows.membership import building_by_label

    building = await building_by_label(uow, community_id=community.id, label=label)
    if building is None:
        raise NotFound("building", label[:20])
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
    if primary is not None:  # check before writing anything
        if backup is not None and primary == backup:
            raise Invalid("backup", "same")
        await _check_volunteer(uow, community.id, primary, "primary")
        if backup is not None:
            await _check_volunteer(uow, community.id, backup, "backup")
    person = _new_person(community.id, building, draft, created_by=None, now=now)
    uow.session.add(person)
    await uow.session.flush()
    audit.record(uow, action="person.import", now=now, community_id=community.id, subject_type="person",
                 subject_id=person.id, building=building.label, risk=person.risk)
    if primary is not None:
        await _set_pair(uow, community=community, person=person, primary_id=primary, backup_id=backup,
                        actor_user_id=None, action="pair.set", now=now, notify=notify)
    return person
