"""/import end to end over real HTTP, on both runtimes (#14, F-11.3): an admin picks residents, sends a GBK CSV
as a document, sees the dry run (nothing written), imports it; complaints cancelled; a group, a resident, a
wrong file type, a too big file and a forged button are answered."""

from __future__ import annotations

import asyncio
import csv
import io
import logging

import pytest
from sqlmodel import select

from storage.models import AuditEntry, Building
from storage.models_complaints import HotlineComplaint
from storage.models_roster import Household, ImportRun
from tests.bot.conftest import Harness, buttons

ADMIN, RESIDENT = 311, 312
BUILDINGS = "🏢 新建缺少的楼栋，再检查一遍"
GROUP = -1002000000151
ROSTER = ("楼栋,房号,人数,户主姓名,联系电话\n3号楼,2-401,3,李秀兰,13812345678\n3,1-102,,,\n"
          + "".join(f"{b},9-{i},1,,\n" for b in (9, 10) for i in range(6))  # 12 rows in unknown buildings
          ).encode("gbk")


async def _setup(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨")


async def _send(linli: Harness, data: bytes, name: str) -> list[dict]:
    before = await linli.tg.cursor()
    await linli.tg.send_document(ADMIN, data, file_name=name)
    await linli.settle()
    return await linli.tg.bot_messages(ADMIN, before)


async def test_item_import_residents_dry_run_then_apply(linli: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await _setup(linli)
    out = await linli.say(ADMIN, "/import")
    assert "导入" in out[-1]["text"] and buttons(out[-1])[:3] == ["住户名册", "重点人员（关爱台账）", "12345热线工单"]
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    assert "5 MB" in out[-1]["text"] and "楼栋" in out[-1]["text"]
    out = await _send(linli, ROSTER, "住户.csv")
    dry = out[-2] if out[-1].get("document") else out[-1]
    assert "试运行" in dry["text"] and "将新建 2" in dry["text"] and "拒绝 12" in dry["text"]
    assert "第 4 行：楼栋：本社区没有这栋楼" in dry["text"]
    assert buttons(dry) == [BUILDINGS, "✅ 导入", "✖ 取消"]  # 9 and 10 are no buildings of the community
    doc = out[-1]["document"]
    report = list(csv.reader(io.StringIO((await linli.tg.file_bytes(doc["file_id"])).decode("utf-8-sig"))))
    assert report[0] == ["行", "结果", "原因"] and len(report) == 15
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Household))).all() == []
    _, out = await linli.press(ADMIN, dry, "✅ 导入")
    said = [m["text"] for m in out if m.get("text")]
    assert "已导入" in said[-1] and "新建 2" in said[-1] and "第 4 行" in said[-1]
    assert any(m.get("document") for m in out)  # the long report as a file again
    data = dry["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
    answer = await linli.tap_data(ADMIN, dry, data)  # the same button again (a second client): nothing more
    assert answer is not None and "已完成或已取消" in answer
    async with linli.db.uow() as uow:
        homes = (await uow.session.exec(select(Household))).all()
        audits = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "import"))).all()
        runs = (await uow.session.exec(select(ImportRun))).all()
    assert len(homes) == 2 and "李秀兰" not in homes[0].name_sealed
    assert [(a.details["dry_run"], a.details["via"], a.actor_user_id is not None) for a in audits] == [
        (True, "bot", True), (False, "bot", True)]
    assert [r.state for r in runs] == ["applied"]
    assert "李秀兰" not in caplog.text and "13812345678" not in caplog.text


async def test_item_import_residents_adds_the_missing_buildings_when_asked(linli: Harness) -> None:
    """A new community's roster names buildings it does not have yet: the dry run rejects those rows and offers 🏢;
    pressed, the same file is checked again with the buildings to be added (still nothing written), and ✅ adds them
    with their households. The first dry run's buttons are spent."""
    await _setup(linli)
    async with linli.db.uow() as uow:
        known = sorted(b.label for b in (await uow.session.exec(select(Building))).all())
    roster = "楼栋,房号,人数\n21号楼,1-101,2\n21号楼,1-102,\n22号楼,3-301,4\n3号楼,1-101,\n".encode()
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    assert "试运行后可选择新建" in out[-1]["text"]  # the hint says so
    dry = (await _send(linli, roster, "住户.csv"))[-1]
    assert "将新建 1" in dry["text"] and "拒绝 3" in dry["text"] and "第 2 行：楼栋：本社区没有这栋楼" in dry["text"]
    assert buttons(dry) == [BUILDINGS, "✅ 导入", "✖ 取消"]
    answer, out = await linli.press(ADMIN, dry, BUILDINGS)
    assert "重新检查" in out[0]["text"] and not buttons(out[0])  # the first dry run's message, its buttons gone
    again = out[-1]
    assert "将新建 4" in again["text"] and "拒绝 0" in again["text"] and "第 2, 3, 4 行将新建楼栋" in again["text"]
    assert buttons(again) == ["✅ 导入", "✖ 取消"]  # the buildings are chosen: no 🏢 again
    async with linli.db.uow() as uow:
        assert sorted(b.label for b in (await uow.session.exec(select(Building))).all()) == known
        assert (await uow.session.exec(select(Household))).all() == []
    for data in (dry["reply_markup"]["inline_keyboard"][0][0]["callback_data"],  # 🏢 and ✅ of the first dry run
                 dry["reply_markup"]["inline_keyboard"][1][0]["callback_data"]):
        answer = await linli.tap_data(ADMIN, dry, data)
        assert answer is not None and "已完成或已取消" in answer
    answer = await linli.tap_data(ADMIN, dry, "imb|1")  # forged
    assert answer is not None and answer != ""
    _, out = await linli.press(ADMIN, again, "✅ 导入")
    assert "已导入" in out[-1]["text"] and "新建 4" in out[-1]["text"]
    async with linli.db.uow() as uow:
        labels = sorted(b.label for b in (await uow.session.exec(select(Building))).all())
        homes = (await uow.session.exec(select(Household))).all()
        runs = (await uow.session.exec(select(ImportRun))).all()
    assert sorted(set(labels) - set(known)) == ["21", "22"] and len(homes) == 4  # labels as the bot keeps them
    assert [(r.state, r.counts.get("create_buildings")) for r in runs] == [("applied", True)]


REMOVE = "🗑 同时删除文件中没有的 1 户，再检查一遍"


async def _households(linli: Harness) -> dict[str, list[str]]:
    async with linli.db.uow() as uow:
        rows = (await uow.session.exec(select(Building.label, Household.room)
                                       .join(Household, Household.building_id == Building.id))).all()
    out: dict[str, list[str]] = {}
    for label, room in rows:
        out.setdefault(label, []).append(room)
    return {label: sorted(rooms) for label, rooms in out.items()}


async def test_item_import_residents_removes_the_households_a_new_roster_leaves_out(linli: Harness) -> None:
    """People moved away: this year's roster of building 3 leaves out 1-103. The dry run says so (by building, no
    room) and keeps it unless 🗑 is chosen; 🗑 checks the file again with that household to be removed, and ✅ under
    that second dry run removes it — building 5, which the file does not list, is not touched. A file with a
    rejected row offers no 🗑 (the row may be a household still there, its room mistyped)."""
    await _setup(linli)
    async with linli.db.uow() as uow:
        ids = {b.label: b.id or 0 for b in (await uow.session.exec(select(Building))).all()}
        community_id = (await uow.session.exec(select(Building))).first().community_id  # type: ignore[union-attr]
        sealer = linli.app.core.sealer
        for label, room in (("3", "1-101"), ("3", "1-102"), ("3", "1-103"), ("5", "2-201")):
            uow.session.add(Household(community_id=community_id, building_id=ids[label], room=room,
                                      name_sealed=sealer.seal("旧住户"), created_at=linli.clock.now(),
                                      updated_at=linli.clock.now()))
        await uow.commit()
    roster = "楼栋,房号,人数\n3号楼,1-101,2\n3号楼,1-102,\n3号楼,1-104,3\n".encode()
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    dry = (await _send(linli, roster, "住户.csv"))[-1]
    assert "将新建 1" in dry["text"] and "拒绝 0" in dry["text"]
    assert "文件所列楼栋中有 1 户不在文件中（3号楼：1）" in dry["text"] and "1-103" not in dry["text"]
    assert buttons(dry) == [REMOVE, "✅ 导入", "✖ 取消"]
    _, out = await linli.press(ADMIN, dry, REMOVE)
    assert "重新检查" in out[0]["text"] and not buttons(out[0])
    again = out[-1]
    assert "导入时将删除这些住户" in again["text"] and buttons(again) == ["✅ 导入", "✖ 取消"]
    assert await _households(linli) == {"3": ["1-101", "1-102", "1-103"], "5": ["2-201"]}  # nothing written yet
    answer = await linli.tap_data(ADMIN, dry, dry["reply_markup"]["inline_keyboard"][1][0]["callback_data"])
    assert answer is not None and "已完成或已取消" in answer  # the first dry run's ✅ is spent
    _, out = await linli.press(ADMIN, again, "✅ 导入")
    assert "已导入" in out[-1]["text"] and "新建 1" in out[-1]["text"] and "已删除文件中没有的 1 户" in out[-1]["text"]
    assert await _households(linli) == {"3": ["1-101", "1-102", "1-104"], "5": ["2-201"]}
    async with linli.db.uow() as uow:
        removals = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "household.remove"))).all()
        imported = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "import"))).all()
    assert [(a.details["count"], a.details["via"]) for a in removals] == [(1, "bot")]
    assert [(a.details["absent"], a.details["removed"]) for a in imported] == [(1, 0), (1, 0), (1, 1)]
    bad = "楼栋,房号,人数\n3号楼,1-101,2\n3号楼,1-102,99\n".encode()  # 99 people: rejected
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    dry = (await _send(linli, bad, "住户.csv"))[-1]
    assert "拒绝 1" in dry["text"] and "文件中每一行都通过后才能删除" in dry["text"]
    assert not any(b.startswith("🗑") for b in buttons(dry))


async def test_item_import_a_long_file_shows_how_far_it_is(linli: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry run or an import that takes longer than a moment shows a message counting the rows up, edited as it
    goes and a last time at the end (here "a moment" is 0 s, an edit every 50 ms, each row 5 ms: a dry run over
    before the first look at it showed nothing, and failed on PostgreSQL once); a short one shows none."""
    from bot.core.delivery import ProgressMessage
    from flows.imports import run as import_run

    await _setup(linli)
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    monkeypatch.setattr(ProgressMessage, "AFTER", 0.0)
    monkeypatch.setattr(ProgressMessage, "EVERY", 0.05)

    async def slow_rows() -> None:  # 40 rows take 0.2 s, longer than an edit's 50 ms, on however fast a machine
        await asyncio.sleep(0.005)

    monkeypatch.setattr(import_run, "_let_others_in", slow_rows)
    roster = ("楼栋,房号\n" + "".join(f"3号楼,1-{i}\n" for i in range(1, 41))).encode()
    out = await _send(linli, roster, "住户.csv")
    counting = [m for m in out if m["text"].startswith("⏳ 正在检查文件")]
    assert len(counting) == 1 and counting[0]["text"] == "⏳ 正在检查文件：第 40 / 40 行……"  # edited to the end
    assert "将新建 40" in out[-1]["text"] and out.index(counting[0]) < len(out) - 1  # the report after it
    _, out = await linli.press(ADMIN, out[-1], "✅ 导入")
    counting = [m for m in out if m["text"].startswith("⏳ 正在导入")]
    assert [m["text"] for m in counting] == ["⏳ 正在导入：第 40 / 40 行……"] and "已导入" in out[-1]["text"]
    monkeypatch.setattr(ProgressMessage, "AFTER", 30.0)
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    out = await _send(linli, roster, "住户.csv")
    assert not [m for m in out if m["text"].startswith("⏳")] and "40 条不变" in out[-1]["text"]


async def test_item_import_complaints_cancelled_and_bad_input_answered(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "12345热线工单")
    out = await _send(linli, b"%PDF-1.4", "工单.pdf")
    assert "CSV" in out[-1]["text"] and "XLSX" in out[-1]["text"]
    out = await linli.say(ADMIN, "这不是文件")
    assert "文件" in out[-1]["text"]
    out = await _send(linli, "工单编号,来电时间\nG1,2026/3/5 14:02\n".encode(), "12345.csv")
    assert "诉求内容" in out[-1]["text"] and "未导入" in out[-1]["text"]  # the missing column named
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "12345热线工单")
    out = await _send(linli, "工单编号,来电时间,诉求内容,地址\nG1,2026/3/5 14:02,电梯坏了,3号楼\n".encode(),
                      "12345.csv")
    assert "将新建 1" in out[-1]["text"]
    dry = out[-1]
    _, after = await linli.press(ADMIN, dry, "✖ 取消")
    assert "已取消" in after[-1]["text"]
    data = dry["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    answer = await linli.tap_data(ADMIN, dry, data)  # ✅ of the cancelled dry run
    assert answer is not None and "已完成或已取消" in answer
    answer = await linli.tap_data(ADMIN, dry, "ima|1")  # forged
    assert answer is not None and answer != ""
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(HotlineComplaint))).all() == []


async def test_item_import_refused_in_a_group_and_for_a_resident(linli: Harness) -> None:
    await _setup(linli)
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, RESIDENT], admin=ADMIN)
    out = await linli.say(ADMIN, "/import", chat_id=GROUP)
    assert "私聊" in out[-1]["text"] and not buttons(out[-1])
    out = await linli.say(RESIDENT, "/import")
    assert "管理员" in out[-1]["text"] and not buttons(out[-1])


async def test_item_import_too_big_a_file(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/import")
    _, out = await linli.press(ADMIN, out[-1], "住户名册")
    out = await _send(linli, b"a," * (2_700_000), "big.csv")
    assert "5 MB" in out[-1]["text"] and "太大" in out[-1]["text"]
