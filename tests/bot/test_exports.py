"""/export end to end over real HTTP, on both runtimes (#14, F-11.3): an admin picks a list and a format and a
document arrives; the ledger in a group is refused, and a resident is refused."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from flows import membership
from flows import outbox as outbox_flow
from storage.models import AuditEntry, KeyPerson, OutboxMessage
from tests.bot.conftest import Harness, buttons

ADMIN, GRID, RESIDENT = 301, 302, 303
GROUP = -1002000000141


async def _setup(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨")
    async with linli.db.uow() as uow:
        community = (await membership.list_communities(uow))[0]
        b3 = await membership.building_by_label(uow, community_id=community.id or 0, label="3")
        assert b3 is not None
        sealer = linli.app.core.sealer
        uow.session.add(KeyPerson(community_id=b3.community_id, building_id=b3.id, room="2-401", alias="3-2-401 李奶奶",
                                  name_enc=sealer.seal("李秀兰"), contact_enc=sealer.seal("13800000000"),
                                  created_at=linli.clock.now(), updated_at=linli.clock.now()))
        await uow.commit()


async def test_item_export_needs_sends_a_document(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/export")
    assert "导出" in out[-1]["text"] and "民生需求" in buttons(out[-1]) and "关爱台账" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "民生需求")
    assert buttons(out[-1]) == ["CSV", "XLSX"]
    _, out = await linli.press(ADMIN, out[-1], "CSV")
    doc = next(m for m in out if m.get("document"))
    assert doc["document"]["file_name"].endswith("-needs.csv")
    rows = list(csv.reader(io.StringIO((await linli.tg.file_bytes(doc["document"]["file_id"])).decode("utf-8-sig"))))
    assert rows[0][:3] == ["年份", "编号", "类别"]


async def test_item_an_export_is_rendered_off_the_event_loop(linli: Harness,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering a file (an XLSX of a district's 8,000 requests: about two seconds) happens on a thread, so the
    event loop goes on serving every other update meanwhile."""
    import threading

    import bot.handlers.exports as handler

    where: list[bool] = []
    render = handler.render

    def watched(*args: object) -> bytes:
        where.append(threading.current_thread() is threading.main_thread())
        return render(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(handler, "render", watched)
    await _setup(linli)
    out = await linli.say(ADMIN, "/export needs xlsx")
    assert any(m.get("document") for m in out) and where and not any(where)  # never on the main thread


async def test_item_the_first_export_after_a_start_is_rendered_once(linli: Harness,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An export is audited, so it is a write: the reading attempt that a press first gets on SQLite
    (bot/core/grouped.py) stops at the audit entry, before the file is rendered — it rendered the whole file for
    nothing before the usual way rendered it again (the first export of each kind after a start: two seconds of a
    thread for a district's XLSX)."""
    import bot.handlers.exports as handler

    rendered: list[str] = []
    render = handler.render

    def counted(table: object, fmt: str, lang: str) -> bytes:
        rendered.append(fmt)
        return render(table, fmt, lang)  # type: ignore[arg-type]

    monkeypatch.setattr(handler, "render", counted)
    await _setup(linli)
    out = await linli.say(ADMIN, "/export")
    _, out = await linli.press(ADMIN, out[-1], "民生需求")
    _, out = await linli.press(ADMIN, out[-1], "CSV")
    assert any(m.get("document") for m in out)
    assert rendered == ["csv"]
    async with linli.db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "export"))).all()
    assert len(entries) == 1


async def test_item_export_ledger_xlsx_opened_only_in_the_file(linli: Harness,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await _setup(linli)
    out = await linli.say(ADMIN, "/export ledger xlsx")
    doc = next(m for m in out if m.get("document"))
    ws = load_workbook(io.BytesIO(await linli.tg.file_bytes(doc["document"]["file_id"]))).active
    assert ws is not None and ws["D1"].value == "姓名" and ws["D2"].value == "李秀兰" and ws.freeze_panes == "A2"
    async with linli.db.uow() as uow:
        outbox = (await uow.session.exec(select(OutboxMessage))).all()
        reads = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "person.read"))).all()
    assert not any("李秀兰" in str(o.payload) for o in outbox)
    assert [r.details.get("via") for r in reads] == ["export"]
    assert "李秀兰" not in caplog.text and "13800000000" not in caplog.text


async def test_item_export_ledger_in_a_group_or_by_a_resident_is_refused(linli: Harness) -> None:
    await _setup(linli)
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, RESIDENT], admin=ADMIN)
    out = await linli.say(ADMIN, "/export ledger xlsx", chat_id=GROUP)
    assert "私聊" in out[-1]["text"] and not any(m.get("document") for m in out)
    out = await linli.say(RESIDENT, "/export ledger csv")
    assert "管理员" in out[-1]["text"] and not any(m.get("document") for m in out)
    out = await linli.say(RESIDENT, "/export")  # no list to pick from
    assert "管理员" in out[-1]["text"] and not buttons(out[-1])
    out = await linli.say(RESIDENT, "/export needs csv")
    assert "管理员" in out[-1]["text"] and not any(m.get("document") for m in out)


async def test_item_a_refused_document_is_never_kept_in_the_outbox(linli: Harness) -> None:
    """Telegram refuses the file for now (5xx): the file is not deferred (it may hold the ledger's names);
    only the words asking to try again go through the outbox, and they arrive."""
    await _setup(linli)
    await linli.tg.set_faults(share_5xx=1.0, seed=3, methods=["sendDocument"])
    before = await linli.tg.cursor()
    await linli.tg.send(ADMIN, "/export ledger csv")
    await linli.standin.settle()
    await linli.tg.set_faults(share_5xx=0.0)
    async with linli.db.uow() as uow:
        outbox = (await uow.session.exec(select(OutboxMessage))).all()
    opened = [str(outbox_flow.opened(o.payload, linli.app.core.sealer)) for o in outbox]
    assert not any("李秀兰" in p for p in opened)
    assert len([p for p in opened if "'message'" in p and "/export" in p]) == 1  # the words only
    linli.clock.advance(seconds=5)
    linli.app.sender.wake()  # type: ignore[union-attr]
    await linli.settle()
    replies = await linli.tg.bot_messages(ADMIN, before)
    assert not any(m.get("document") for m in replies)
    assert any("/export" in (m.get("text") or "") for m in replies)


async def test_item_a_grid_worker_exports_their_grids_ledger_only(linli: Harness) -> None:
    await _setup(linli)
    invite = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"].split("start=i_")[1].split()[0]
    await linli.register(GRID, "张网格", invite=invite)
    await linli.say(ADMIN, "/grid add 一网格 1-6")
    await linli.say(ADMIN, f"/grid worker 一网格 {await linli.member_no(GRID)}")
    out = await linli.say(GRID, "/export")
    assert buttons(out[-1]) == ["关爱台账", "签到记录"]
    _, out = await linli.press(GRID, out[-1], "关爱台账")
    _, out = await linli.press(GRID, out[-1], "CSV")
    doc = next(m for m in out if m.get("document"))
    rows = list(csv.reader(io.StringIO((await linli.tg.file_bytes(doc["document"]["file_id"])).decode("utf-8-sig"))))
    assert [r[3] for r in rows[1:]] == ["李秀兰"]
    out = await linli.say(GRID, "/export needs csv")
    assert "管理员" in out[-1]["text"] and not any(m.get("document") for m in out)
