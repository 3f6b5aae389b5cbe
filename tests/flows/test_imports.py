"""Imports (#14, F-11.3): the shared reader on dirty files (GBK, BOM, a missing column, merged header rows, blank
rows, formulas), the dry run (nothing written, the same counts as the import), residents with buildings, 12345
complaints (dates, building from the address, a later 办结), duplicates inside one file."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlmodel import select

from flows import membership
from flows.care.importing import KeyPersons
from flows.clock import FixedClock
from flows.imports import reader, run
from flows.imports.complaints import Complaints, parse_when
from flows.imports.residents import Residents, household, households
from storage.crypto import Sealer
from storage.db import Database
from storage.models import AuditEntry, Building, Community, KeyPerson
from storage.models_complaints import HotlineComplaint
from storage.models_roster import Household
from tests.flows.test_care import World
from tests.flows.test_care import world as care_world

SEALER = Sealer(b"import-test-secret-0123456789abcdef")
world = care_world  # the care tests' world (admin, grid workers of 一网格 1-4 and 二网格 5-6, a resident)


@pytest.fixture
async def community(db: Database, clock: FixedClock) -> Community:
    async with db.uow() as uow:
        c, _ = await membership.create_community(uow, name="北辰示范社区", slug="demo", now=clock.now(),
                                                 buildings=[str(i) for i in range(1, 7)])
        await uow.commit()
    return c


async def _run(db: Database, clock: FixedClock, importer: object, data: bytes, name: str, *,
               dry_run: bool = False) -> run.Report:
    sheet = reader.read(data, name, importer.aliases, importer.required)  # type: ignore[attr-defined]
    return await run.run(db, importer, sheet, dry_run=dry_run, now=clock.now(),  # type: ignore[arg-type]
                         community_id=importer.community.id)  # type: ignore[attr-defined]


async def _count(db: Database, model: type) -> int:
    async with db.uow() as uow:
        return len((await uow.session.exec(select(model))).all())


ROSTER = ("楼栋,房号,人数,户主姓名,联系电话\n"
          "3号楼,2-401,3,李秀兰,13812345678\n"
          "3栋,1-102,,王建国,\n"
          "\n"
          "4, 1-101 ,2,,\n"
          "9,1-101,1,孙丽,\n"  # no building 9
          "3,2-401,3,李秀兰,13812345678\n"  # the same household as line 2
          "5,=HYPERLINK(\"x\"),1,,\n"  # a formula
          "5,3-301,二十,,\n"  # not a number
          "6,1-1,1,周敏,12ab\n")  # not a phone


async def test_item_residents_dry_run_writes_nothing_then_apply_then_again_unchanged(
        db: Database, clock: FixedClock, community: Community) -> None:
    data = ROSTER.encode("gbk")  # a Chinese office's export
    dry = await _run(db, clock, Residents(community, SEALER), data, "住户.csv", dry_run=True)
    assert dry.counts == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 5}
    assert [(r.line, r.column, r.reason, r.details) for r in dry.rejected] == [
        (6, "building", "unknown_building", {}), (7, "", "duplicate", {"line": 2}), (8, "room", "formula", {}),
        (9, "size", "number", {"limit": 30}), (10, "phone", "format", {})]
    assert await _count(db, Household) == 0
    done = await _run(db, clock, Residents(community, SEALER), data, "住户.csv")
    assert done.counts == dry.counts and [r.outcome for r in done.rows] == [r.outcome for r in dry.rows]
    async with db.uow() as uow:
        b3 = await membership.building_by_label(uow, community_id=community.id or 0, label="3")
        assert b3 is not None
        rows = await households(uow, community_id=community.id or 0, building_id=b3.id)
        assert [(h.room, h.size) for h in rows] == [("1-102", None), ("2-401", 3)]
        h = await household(uow, community_id=community.id or 0, building_id=b3.id or 0, room="２-401室")
        assert h is not None and "李秀兰" not in h.name_sealed and SEALER.open(h.name_sealed) == "李秀兰"
        assert SEALER.open(h.phone_sealed) == "13812345678"
        audits = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "import"))).all()
    assert [(a.details["dry_run"], a.details["created"]) for a in audits] == [(True, 3), (False, 3)]
    again = await _run(db, clock, Residents(community, SEALER), data, "住户.csv")
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 5}
    changed = "楼栋,房号,人数\n3,2-401,4\n".encode()
    assert (await _run(db, clock, Residents(community, SEALER), changed, "x.csv")).counts["updated"] == 1
    assert await _count(db, Household) == 3


async def test_item_residents_unknown_buildings_created_only_when_asked(db: Database, clock: FixedClock,
                                                                        community: Community) -> None:
    data = "building,room\n12,101\n12号楼,102\n13栋,1\n".encode()
    refused = await _run(db, clock, Residents(community, SEALER), data, "r.csv")
    assert refused.counts["rejected"] == 3 and await _count(db, Household) == 0
    dry = await _run(db, clock, Residents(community, SEALER, create_buildings=True), data, "r.csv", dry_run=True)
    assert dry.counts["created"] == 3 and all(r.notes == ("new_building",) for r in dry.rows)
    assert await _count(db, Building) == 6
    done = await _run(db, clock, Residents(community, SEALER, create_buildings=True), data, "r.csv")
    assert done.counts["created"] == 3
    async with db.uow() as uow:
        labels = sorted(b.label for b in (await uow.session.exec(select(Building))).all())
    assert labels == ["1", "12", "13", "2", "3", "4", "5", "6"]


def test_item_reader_bom_gbk_and_missing_column() -> None:
    aliases = {"source_id": ("工单编号", "工单号"), "summary": ("诉求内容",)}
    bom = "\ufeff工单号,诉求内容,来电人\nA1, 楼道灯坏了 ,张三\n".encode()
    sheet = reader.read(bom, "a.csv", aliases, ("source_id", "summary"))
    assert sheet.columns == ("source_id", "summary")
    assert [(r.line, dict(r.cells)) for r in sheet.rows] == [(2, {"source_id": "A1", "summary": "楼道灯坏了"})]
    gbk = "工单编号,诉求内容\nA2,电梯停运\n".encode("gbk")
    assert reader.read(gbk, "b.CSV", aliases).rows[0].text("summary") == "电梯停运"
    with pytest.raises(reader.FileRefused) as err:
        reader.read("工单编号,地址\nA3,3号楼\n".encode(), "c.csv", aliases, ("source_id", "summary"))
    assert (err.value.reason, err.value.details["column"]) == ("missing_column", "summary")
    with pytest.raises(reader.FileRefused) as err:
        reader.read(b"x", "c.pdf", aliases)
    assert err.value.reason == "type"
    with pytest.raises(reader.FileRefused) as err:
        reader.read(b"PK\x03\x04 not really", "c.xlsx", aliases)
    assert err.value.reason == "damaged"


def test_item_reader_xlsx_with_a_merged_title_and_blank_rows() -> None:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["北辰社区12345工单汇总（2026年3月）"])
    ws.merge_cells("A1:D1")
    ws.append([])
    ws.append(["工单编号", "受理时间", "问题描述", "小区名称"])
    ws.append(["A1", datetime(2026, 3, 5, 14, 2), "噪音", "北辰花园"])
    ws.append([None, None, None, None])
    ws.append([20260306001, 46087.5, "漏水", None])
    buf = io.BytesIO()
    book.save(buf)
    sheet = reader.read(buf.getvalue(), "工单.xlsx", Complaints.aliases, Complaints.required)
    assert [r.line for r in sheet.rows] == [4, 6]
    assert sheet.rows[1].text("source_id") == "20260306001"


def test_item_dates_in_the_communitys_zone() -> None:
    expect = datetime(2026, 3, 5, 6, 2, tzinfo=UTC)  # 14:02 in Shanghai
    for value in ("2026/3/5 14:02", "2026-03-05 14:02:00", "2026年3月5日 14:02", datetime(2026, 3, 5, 14, 2),
                  "２０２６/3/5 14:02"):
        assert parse_when(value, "Asia/Shanghai", "received_at") == expect, value
    assert parse_when(46086.5, "Asia/Shanghai", "received_at") == datetime(2026, 3, 5, 4, 0, tzinfo=UTC)
    assert parse_when("46086", "Asia/Shanghai", "x") == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    for bad in ("", "明天", "2026/13/5", "13:02", 12, "1999-01-01"):
        with pytest.raises(Exception) as err:
            parse_when(bad, "Asia/Shanghai", "received_at")
        assert getattr(err.value, "reason", "") == "date", bad


COMPLAINTS = ("工单编号,来电时间,来电人,来电号码,诉求内容,诉求类别,小区名称,诉求地址,办结时间,满意度\n"
              "G1,2026/3/5 14:02,张三,13900000000,3号楼电梯坏了三天 张三 139,电梯,北辰花园,北辰路1号3号楼,,\n"
              "G2,2026-03-06 09:00:00,李四,13900000001,楼下烧烤噪音,噪音,北辰花园,北辰路1号12栋,2026-03-07 10:00,满意\n"
              "G3,昨天,王五,1,漏水,维修,北辰花园,,,\n"
              "G1,2026/3/5 14:02,张三,13900000000,重复,电梯,北辰花园,3号楼,,\n"
              "G4,2026/3/8 8:00,赵六,1,暖气不热,供暖,北辰花园,5栋2单元,2026/3/7 8:00,\n"
              "G5,2026/3/8 8:00,赵六,1,暖气不热,供暖,北辰花园,5栋,,还行\n")


async def test_item_complaints_sealed_building_matched_caller_dropped_and_a_later_close_updates(
        db: Database, clock: FixedClock, community: Community) -> None:
    data = COMPLAINTS.encode("gb18030")
    dry = await _run(db, clock, Complaints(community, SEALER), data, "12345.csv", dry_run=True)
    assert dry.counts == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 4}
    assert [(r.line, r.column, r.reason) for r in dry.rejected] == [
        (4, "received_at", "date"), (5, "", "duplicate"), (6, "closed_at", "before"), (7, "satisfaction", "unknown")]
    assert await _count(db, HotlineComplaint) == 0
    done = await _run(db, clock, Complaints(community, SEALER), data, "12345.csv")
    assert done.counts == dry.counts
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(HotlineComplaint).order_by(HotlineComplaint.source_id))).all()
        b3 = await membership.building_by_label(uow, community_id=community.id or 0, label="3")
    g1, g2 = rows
    assert g1.building_id == b3.id and g2.building_id is None  # there is no building 12
    assert g1.received_at == datetime(2026, 3, 5, 6, 2, tzinfo=UTC) and g1.estate == "北辰花园"
    assert "张三" not in g1.summary_sealed and SEALER.open(g1.summary_sealed) == "3号楼电梯坏了三天 张三 139"
    assert (g2.closed_at, g2.satisfied, g2.category) == (datetime(2026, 3, 7, 2, 0, tzinfo=UTC), True, "噪音")
    assert all("13900000000" not in str(v) for r in rows for v in r.model_dump().values())
    later = ("工单编号,受理时间,问题描述,办结时间,满意度\n"
             "G1,2026/3/5 14:02,3号楼电梯坏了三天,2026/3/9 17:30,不满意\nG2,2026/3/6 9:00,噪音,2026-03-07 10:00,满意\n")
    again = await _run(db, clock, Complaints(community, SEALER), later.encode(), "12345-later.csv")
    assert again.counts == {"created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    async with db.uow() as uow:
        g1 = (await uow.session.exec(select(HotlineComplaint).where(HotlineComplaint.source_id == "G1"))).one()
    assert (g1.closed_at, g1.satisfied) == (datetime(2026, 3, 9, 9, 30, tzinfo=UTC), False)
    assert SEALER.open(g1.summary_sealed) == "3号楼电梯坏了三天 张三 139"  # what the caller said is not rewritten


async def test_item_key_persons_through_the_shared_run_and_not_twice(db: Database, clock: FixedClock,
                                                                     community: Community) -> None:
    data = ("楼栋,房号,称呼,姓名,风险\n3,2-401,3-2-401 李奶奶,李秀兰,红\n4,1-101,4-1-101 张奶奶,张桂芳,绿\n"
            "4,1-102,=cmd|' /C calc'!A0,x,绿\n").encode("gbk")
    dry = await _run(db, clock, KeyPersons(community, SEALER), data, "台账.csv", dry_run=True)
    assert dry.counts == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert (dry.rejected[0].column, dry.rejected[0].reason) == ("alias", "formula")
    assert await _count(db, KeyPerson) == 0
    assert (await _run(db, clock, KeyPersons(community, SEALER), data, "台账.csv")).counts["created"] == 2
    again = await _run(db, clock, KeyPersons(community, SEALER), data, "台账.csv")
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 1}
    assert await _count(db, KeyPerson) == 2
    async with db.uow() as uow:
        b4 = await membership.building_by_label(uow, community_id=community.id or 0, label="4")
    grid_worker = await _run(db, clock, KeyPersons(community, SEALER, buildings={b4.id or 0}),
                             "building,room,alias,name,risk\n3,1-9,3-9 刘阿姨,刘芳,红\n4,1-9,4-9 吴大爷,吴刚,红\n".encode(), "k.csv", dry_run=True)
    assert [(r.line, r.outcome, r.column, r.reason) for r in grid_worker.rows] == [
        (2, "rejected", "building", "forbidden"), (3, "created", "", "")]


@pytest.mark.parametrize("kind,name", [("residents", "residents.csv"), ("key-persons", "key-persons.csv"),
                                       ("complaints", "complaints-12345-gbk.csv")])
async def test_item_the_readmes_samples_import_cleanly(db: Database, clock: FixedClock, community: Community,
                                                       kind: str, name: str) -> None:
    from pathlib import Path

    from flows.imports.runs import importer

    path = Path(__file__).resolve().parent.parent.parent / "docs" / "samples" / name
    report = await _run(db, clock, importer(kind, community, SEALER), path.read_bytes(), name, dry_run=True)
    assert report.rejected == [] and report.counts["created"] >= 1


async def test_item_who_may_import_and_a_run_applied_once(db: Database, clock: FixedClock, world: World) -> None:
    """Admins every kind; a grid worker key persons of their grid only; a resident nothing. ✅ pressed twice
    imports once (compare-and-set on the run); a grid worker whose role is revoked cannot apply their dry run."""
    from flows import access
    from flows.errors import AlreadyDone, Forbidden
    from flows.imports import runs
    from flows.roles import Role
    from tests.flows.test_care import _actor

    now = clock.now()
    async with db.uow() as uow:
        assert await runs.allowed_kinds(uow, actor=world.actors["admin"]) == runs.KINDS
        assert await runs.allowed_kinds(uow, actor=world.actors["grid"]) == ("key-persons",)
        with pytest.raises(Forbidden):
            await runs.allowed_kinds(uow, actor=world.actors["resident"])
        with pytest.raises(Forbidden):
            await runs.start(uow, actor=world.actors["grid"], kind="residents", file_id="f", file_name="a.csv",
                             now=now)
        run = await runs.start(uow, actor=world.actors["grid"], kind="key-persons", file_id="f",
                               file_name="a.csv", now=now)
        await uow.commit()
    data = ("楼栋,房号,称呼,姓名,风险\n3,1-1,3-1-1 甲,甲,红\n5,1-1,5-1-1 乙,乙,红\n").encode()
    done = await runs.preview(db, run_id=run.id or 0, data=data, sealer=SEALER, now=now, actor_user_id=None)
    assert done.report is not None and done.report.counts["created"] == 1
    assert [(r.line, r.reason) for r in done.report.rejected] == [(3, "forbidden")]  # building 5: another grid
    async with db.uow(write=True) as uow:
        await runs.claim(uow, actor=world.actors["grid"], run_id=run.id or 0, now=now)
        await uow.commit()
    async with db.uow(write=True) as uow:
        with pytest.raises(AlreadyDone):
            await runs.claim(uow, actor=world.actors["grid"], run_id=run.id or 0, now=now)
    applied = await runs.apply(db, run_id=run.id or 0, data=data, sealer=SEALER, now=now, actor_user_id=None)
    assert applied.report is not None and applied.report.counts["created"] == 1
    assert await _count(db, KeyPerson) == 1
    async with db.uow(write=True) as uow:
        second = await runs.start(uow, actor=world.actors["grid"], kind="key-persons", file_id="g",
                                  file_name="b.csv", now=now)
        await uow.commit()
    await runs.preview(db, run_id=second.id or 0, data=data, sealer=SEALER, now=now, actor_user_id=None)
    async with db.uow(write=True) as uow:
        await access.revoke_role(uow, actor=world.actors["admin"], member_id=world.members["grid"],
                                 role=Role.GRID_WORKER, now=now)
        await uow.commit()
    grid = await _actor(db, 100 + list(world.actors).index("grid"))
    async with db.uow(write=True) as uow:
        with pytest.raises(Forbidden):
            await runs.claim(uow, actor=grid, run_id=second.id or 0, now=now)


async def test_item_a_roster_run_adds_the_missing_buildings_only_when_chosen(db: Database, clock: FixedClock,
                                                                            world: World) -> None:
    """After a roster's dry run rejects rows naming unknown buildings, its owner may check the file again adding
    them (the run goes back to fetching, its choice kept); nobody else, only once, never for another kind; the ✅ of
    the first dry run is spent, the second's imports with the new buildings."""
    from flows.errors import AlreadyDone, NotFound
    from flows.imports import runs

    now, admin = clock.now(), world.actors["admin"]
    data = "楼栋,房号\n31号楼,1-101\n1,1-102\n".encode()

    async def started(kind: str) -> int:
        async with db.uow(write=True) as uow:
            row = await runs.start(uow, actor=admin, kind=kind, file_id="f", file_name="a.csv", now=now)
            await uow.commit()
        return row.id or 0

    run_id = await started("residents")
    first = await runs.preview(db, run_id=run_id, data=data, sealer=SEALER, now=now, actor_user_id=None)
    assert first.report is not None and runs.may_create_buildings(first.run, first.report)
    async with db.uow(write=True) as uow:
        with pytest.raises(NotFound):  # somebody else's run
            await runs.with_buildings(uow, actor=world.actors["grid"], run_id=run_id, now=now)
        row = await runs.with_buildings(uow, actor=admin, run_id=run_id, now=now)
        await uow.commit()
    async with db.uow(write=True) as uow:
        with pytest.raises(AlreadyDone):  # fetching again: nothing to press until the second dry run is there
            await runs.with_buildings(uow, actor=admin, run_id=run_id, now=now)
    second = await runs.preview(db, run_id=row.id or 0, data=data, sealer=SEALER, now=now, actor_user_id=None)
    assert second.report is not None and second.report.counts == {"created": 2, "updated": 0, "unchanged": 0,
                                                                  "rejected": 0}
    assert runs.creates_buildings(second.run) and not runs.may_create_buildings(second.run, second.report)
    async with db.uow(write=True) as uow:
        with pytest.raises(AlreadyDone):  # chosen already
            await runs.with_buildings(uow, actor=admin, run_id=run_id, now=now)
        with pytest.raises(AlreadyDone):  # the first dry run's ✅
            await runs.claim(uow, actor=admin, run_id=run_id, now=now)
        await runs.claim(uow, actor=admin, run_id=run_id, now=now, chosen=1)
        await uow.commit()
    applied = await runs.apply(db, run_id=run_id, data=data, sealer=SEALER, now=now, actor_user_id=None)
    assert applied.report is not None and applied.report.counts["created"] == 2
    async with db.uow() as uow:
        assert "31" in {b.label for b in (await uow.session.exec(select(Building))).all()}
    other = await started("key-persons")
    persons = "楼栋,房号,称呼,姓名,风险\n3,1-1,3-1-1 甲,甲,红\n".encode()
    assert (await runs.preview(db, run_id=other, data=persons, sealer=SEALER, now=now, actor_user_id=None)).report
    async with db.uow(write=True) as uow:
        with pytest.raises(NotFound):  # only a roster adds buildings
            await runs.with_buildings(uow, actor=admin, run_id=other, now=now)


async def test_item_an_import_lets_the_bot_serve_others_between_rows(db: Database, clock: FixedClock,
                                                                     community: Community) -> None:
    """An import in the bot runs on the event loop that serves every other update; on SQLite its statements run
    without a pause (storage/sqlite.py), so it must give the loop a turn between rows: here a task counting its
    turns gets at least one per row, in the dry run and in the import (before: a few in all)."""
    import asyncio

    rows = 200
    data = ("楼栋,房号\n" + "".join(f"1,1-{i}\n" for i in range(1, rows + 1))).encode()
    turns = 0
    done = asyncio.Event()

    async def other_updates() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    for dry_run in (True, False):
        turns = 0
        done.clear()
        others = asyncio.create_task(other_updates())
        report = await _run(db, clock, Residents(community, SEALER), data, "r.csv", dry_run=dry_run)
        done.set()
        await others
        assert report.counts["created"] == rows and turns >= rows, (dry_run, turns)


def test_item_reader_semicolons_tabs_and_quoted_commas() -> None:
    aliases = {"source_id": ("工单编号",), "summary": ("诉求内容",)}
    for text in ("工单编号;诉求内容\nA1;楼道灯坏了, 已报修\n", "工单编号\t诉求内容\nA1\t楼道灯坏了, 已报修\n",
                 '工单编号,诉求内容\nA1,"楼道灯坏了, 已报修"\n'):
        rows = reader.read(text.encode(), "a.csv", aliases).rows
        assert [(r.text("source_id"), r.text("summary")) for r in rows] == [("A1", "楼道灯坏了, 已报修")], text
