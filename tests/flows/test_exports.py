"""Exports (#14, F-11.3): every list with its header, who may export what, formula neutralisation, the care
ledger opened only into the file (audited, never in the outbox or a log)."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.exports import render
from flows import exports, membership
from flows.clock import FixedClock
from flows.errors import Forbidden
from flows.roles import Role
from storage.db import Database
from storage.models import AuditEntry, CheckinPrompt, Community, OutboxMessage
from tests.flows.people import actor_of
from tests.flows.test_care import SEALER, World, _add
from tests.flows.test_care import world as care_world

world = care_world  # the care tests' world, as this module's fixture


async def _export(db: Database, clock: FixedClock, world: World, who: str, kind: str, **kw: object) -> exports.Table:
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        table = await exports.export(uow, kind=kind, community=community, actor=world.actors[who], sealer=SEALER,
                                     now=clock.now(), **kw)  # type: ignore[arg-type]
        await uow.commit()
        return table


@pytest.mark.parametrize("kind", exports.KINDS)
async def test_item_every_list_exports_with_its_header(db: Database, clock: FixedClock, world: World,
                                                      kind: str) -> None:
    await _add(db, clock, world.actors["grid"], world.b3)
    table = await _export(db, clock, world, "admin", kind)
    assert table.header == exports.HEADERS[kind]
    assert all(len(row) == len(table.header) for row in table.rows)
    for lang, word in (("zh_CN", "年份" if "year" in table.header else None), ("en", None)):
        first = next(csv.reader(io.StringIO(render(table, "csv", lang).decode("utf-8-sig"))))
        assert len(first) == len(table.header)
        if word:
            assert word in first
    if kind == "ledger":
        assert [r[3] for r in table.rows] == ["李秀兰"]


@pytest.mark.parametrize("who", ["resident", "volunteer", "representative", "committee"])
async def test_item_a_resident_or_volunteer_is_refused_every_list(db: Database, clock: FixedClock, world: World,
                                                                  who: str) -> None:
    for kind in exports.KINDS:
        with pytest.raises(Forbidden):
            await _export(db, clock, world, who, kind)


async def test_item_grid_worker_gets_only_their_grids_ledger(db: Database, clock: FixedClock, world: World) -> None:
    await _add(db, clock, world.actors["grid"], world.b3)
    await _add(db, clock, world.actors["other_grid"], world.b5, name_enc=SEALER.seal("王大爷"), alias="5-1 王大爷")
    mine = await _export(db, clock, world, "grid", "ledger")
    assert [r[3] for r in mine.rows] == ["李秀兰"]
    theirs = await _export(db, clock, world, "other_grid", "ledger")
    assert [r[3] for r in theirs.rows] == ["王大爷"]
    assert len((await _export(db, clock, world, "admin", "ledger", batch=1)).rows) == 2  # read a row at a time
    for kind in ("needs", "ballot", "projects", "requests"):
        with pytest.raises(Forbidden):
            await _export(db, clock, world, "grid", kind)


async def test_item_another_communitys_admin_is_refused(db: Database, clock: FixedClock, world: World) -> None:
    async with db.uow() as uow:
        user = await membership.touch_user(uow, tg_id=999, first_name="外", last_name=None, username=None,
                                           tg_language="zh-hans", now=clock.now())
        done = await membership.register(uow, user=user, community_id=world.other_community_id, building_id=None,
                                         now=clock.now())
        await membership.assign_role(uow, member=done.member, role=Role.ADMIN, org=None, now=clock.now())
        await uow.commit()
    world.actors["stranger"] = await actor_of(db, 999)
    for kind in exports.KINDS:
        with pytest.raises(Forbidden):
            await _export(db, clock, world, "stranger", kind)


def test_item_formula_cells_are_neutralised() -> None:
    for bad in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert exports.neutralise(bad) == "'" + bad
    assert exports.neutralise("李奶奶") == "李奶奶"
    assert exports.neutralise(-3) == -3  # a number stays a number
    assert exports.neutralise(None) is None


async def test_item_formula_neutralised_in_csv_and_xlsx(db: Database, clock: FixedClock, world: World) -> None:
    await _add(db, clock, world.actors["grid"], world.b3, alias="=1+1", name_enc=SEALER.seal("@cmd"))
    table = await _export(db, clock, world, "admin", "ledger")
    rows = list(csv.reader(io.StringIO(render(table, "csv", "en").decode("utf-8-sig"))))
    assert rows[1][2] == "'=1+1" and rows[1][3] == "'@cmd"
    ws = load_workbook(io.BytesIO(render(table, "xlsx", "zh_CN"))).active
    assert ws is not None
    assert ws["C2"].value == "'=1+1" and ws["C2"].data_type == "s"
    assert ws["A1"].value == "楼栋" and ws.freeze_panes == "A2"
    assert ws.column_dimensions["C"].width >= 6


async def test_item_ledger_export_is_audited_and_leaves_no_name_in_outbox_or_logs(
        db: Database, clock: FixedClock, world: World, caplog: pytest.LogCaptureFixture) -> None:
    person = await _add(db, clock, world.actors["grid"], world.b3)
    caplog.set_level(logging.DEBUG)
    table = await _export(db, clock, world, "grid", "ledger")
    render(table, "xlsx", "zh_CN")
    async with db.uow() as uow:
        reads = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "person.read"))).all()
        assert [(r.details.get("via"), r.details.get("person_ids")) for r in reads] == [("export", [person.id])]
        done = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "export"))).one()
        assert done.details["list"] == "ledger" and done.details["rows"] == 1
        outbox = (await uow.session.exec(select(OutboxMessage))).all()
    assert not any("李秀兰" in str(o.payload) for o in outbox)
    assert "李秀兰" not in caplog.text and "13800000000" not in caplog.text


async def test_item_grid_worker_gets_only_their_grids_checkins(db: Database, clock: FixedClock, world: World) -> None:
    mine = await _add(db, clock, world.actors["grid"], world.b3)
    theirs = await _add(db, clock, world.actors["other_grid"], world.b5, alias="5-1 王大爷")
    async with db.uow() as uow:
        for person in (mine, theirs):
            uow.session.add(CheckinPrompt(community_id=world.community_id, person_id=person.id or 0,
                                          local_date="2027-03-01", slot="morning", due_at=clock.now(),
                                          created_at=clock.now()))
        await uow.commit()
    assert [r[4] for r in (await _export(db, clock, world, "grid", "checkins")).rows] == ["3-2-401 李奶奶"]
    assert [r[4] for r in (await _export(db, clock, world, "admin", "checkins", year=2027)).rows] == [
        "3-2-401 李奶奶", "5-1 王大爷"]
    assert (await _export(db, clock, world, "admin", "checkins", year=2026)).rows == []


async def test_item_the_lists_offered_by_role(db: Database, world: World) -> None:
    async with db.uow() as uow:
        assert await exports.allowed_kinds(uow, actor=world.actors["admin"]) == exports.KINDS
        assert await exports.allowed_kinds(uow, actor=world.actors["grid"]) == ("ledger", "checkins")
        for who in ("resident", "volunteer"):
            with pytest.raises(Forbidden):
                await exports.allowed_kinds(uow, actor=world.actors[who])
