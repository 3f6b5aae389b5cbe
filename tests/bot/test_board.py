"""The board end to end over real HTTP (both runtimes): /board in a group and in private, a project's page
and back; the monthly post (text pinned and a picture the first month, the same message edited in place the
next); the committee's digests; a project turning red when its milestone passes. And the outbox's
"edit_or_send" op against a recording gateway."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from bot.core.gateway import ApiError, Uploads
from bot.core.types import OutMessage
from bot.outbox import edit_or_send
from scheduler.runner import board_tick
from storage.models import (
    Community,
    Project,
    ProjectLike,
    ProjectMilestone,
    ProjectPhoto,
    ProjectRating,
    ProjectReport,
)
from tests.bot.conftest import Harness, buttons

ADMIN, R1, STRANGER = 611, 612, 613
GROUP, COMMITTEE, UNLINKED = -1002000000061, -1002000000062, -1002000000063
SETUP = datetime(2027, 2, 20, 2, 0, tzinfo=UTC)  # a Saturday, 10:00 in Tianjin
MARCH = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)  # Monday 1 March, 09:30: board day and digest day
APRIL = datetime(2027, 4, 1, 1, 30, tzinfo=UTC)  # Thursday 1 April, 09:30


async def go(linli: Harness, at: datetime) -> None:
    linli.clock.advance(seconds=(at - linli.clock.now()).total_seconds())


async def _projects(linli: Harness) -> dict[str, int]:
    now = linli.clock.now()
    owner, resident = await linli.member_no(ADMIN), await linli.member_no(R1)
    async with linli.db.uow() as uow:
        community = (await uow.session.exec(select(Community))).one()
        ids = {}
        for n, (key, title) in enumerate((("lights", "楼道灯改造"), ("park", "口袋公园"), ("canteen", "老年食堂")), 1):
            p = Project(community_id=community.id or 0, year=2027, number=n, title=title, category="facility",
                        created_at=now - timedelta(days=10), owner_member_id=owner if key != "canteen" else None,
                        percent={"lights": 30, "park": 100, "canteen": 10}[key], last_report_at=now)
            uow.session.add(p)
            await uow.session.flush()
            ids[key] = p.id or 0
        park = await uow.session.get(Project, ids["park"])
        assert park is not None
        park.completed_at = now
        uow.session.add_all([
            park,
            ProjectMilestone(project_id=ids["lights"], position=1, title="施工", due_on=date(2027, 3, 10)),
            ProjectMilestone(project_id=ids["canteen"], position=1, title="选址", due_on=date(2027, 2, 25)),
            ProjectReport(project_id=ids["lights"], member_id=owner, percent=30, note="灯具已采购", created_at=now),
            ProjectPhoto(project_id=ids["park"], kind="after", file_id="f", file_unique_id="u", member_id=owner,
                         created_at=now),
            ProjectLike(project_id=ids["park"], member_id=resident, created_at=now),
            ProjectRating(project_id=ids["park"], member_id=resident, stars=5, updated_at=now),
        ])
        await uow.commit()
    return ids


async def _report(linli: Harness, project_id: int, percent: int, note: str) -> None:
    now = linli.clock.now()
    async with linli.db.uow() as uow:
        p = await uow.session.get(Project, project_id)
        assert p is not None
        p.percent, p.last_report_at = percent, now
        uow.session.add_all([p, ProjectReport(project_id=project_id, member_id=p.owner_member_id or 0,
                                              percent=percent, note=note, created_at=now)])
        await uow.commit()


async def _tick(linli: Harness) -> None:
    await board_tick(linli.db, linli.clock, linli.app.sender.wake)
    await linli.settle()


async def test_the_board_in_chats_and_the_monthly_post(linli: Harness) -> None:
    await go(linli, SETUP)
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(R1, "赵阿姨")
    await linli.user(STRANGER, "路人")
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, STRANGER], admin=ADMIN)
    assert "北辰示范社区" in (await linli.say(ADMIN, "/link community", chat_id=GROUP))[-1]["text"]
    await linli.group(COMMITTEE, "两委办公群", [ADMIN], admin=ADMIN)
    await linli.say(ADMIN, "/link committee", chat_id=COMMITTEE)
    await linli.group(UNLINKED, "别的群", [ADMIN], admin=ADMIN)
    ids = await _projects(linli)

    # /board in the group (anyone there, registered or not)
    out = await linli.say(STRANGER, "/board", chat_id=GROUP)
    shown = out[-1]
    text = shown["text"]
    assert "北辰示范社区 · 2027年民生实事进度公示栏" in text and "🟢 已完成 · 🟡 推进中 · 🔴 滞后" in text
    assert "🟡 1. 楼道灯改造 · 30%" in text and "责任人：王书记 · 下一节点：施工（2027-03-10前）" in text
    assert "🟢 2. 口袋公园 · 100%" in text and "👍 1 · ⭐ 5.0（1人评价）" in text
    assert "🟡 3. 老年食堂 · 10%" in text and "责任人：待指定" in text
    assert buttons(shown) == ["🟡 1. 楼道灯改造", "🟢 2. 口袋公园", "🟡 3. 老年食堂"]

    # in private: a project's page, edited in place, and back (in a group the buttons open the private chat)
    mine = (await linli.say(R1, "/board"))[-1]
    assert "楼道灯改造" in mine["text"]
    _, out = await linli.press(R1, mine, "🟡 1. 楼道灯改造")
    page = out[-1]
    assert page["message_id"] == mine["message_id"]
    assert "⏳ 施工 · 计划 2027-03-10" in page["text"] and "2027-02-20 · 30% · 灯具已采购" in page["text"]
    assert "进度：▓▓▓░░░░░░░ 30%" in page["text"] and buttons(page) == ["◀ 公示栏"]
    _, out = await linli.press(R1, page, "◀ 公示栏")
    assert out[-1]["message_id"] == mine["message_id"] and "🟢 2. 口袋公园" in out[-1]["text"]

    # strangers are asked to register; unlinked groups told
    assert "请先注册" in (await linli.say(STRANGER, "/board"))[-1]["text"]
    assert "尚未关联社区" in (await linli.say(ADMIN, "/board", chat_id=UNLINKED))[-1]["text"]

    # 1 March, 09:30: the board is posted as text (pinned) and as a picture; the committee gets its digests
    await go(linli, MARCH - timedelta(days=2))
    await _report(linli, ids["lights"], 40, "开始施工")
    await go(linli, MARCH)
    before = await linli.tg.cursor()
    await _tick(linli)
    posted = await linli.tg.bot_messages(GROUP, before)
    texts = [m for m in posted if m["photo"] is None]
    pictures = [m for m in posted if m["photo"] is not None]
    assert len(texts) == 1 and len(pictures) == 1
    board_msg = texts[0]
    assert board_msg["pinned"] and "🔴 3. 老年食堂 · 10%" in board_msg["text"] and "滞后原因：节点逾期" in board_msg["text"]
    assert "🟡 1. 楼道灯改造 · 40%" in board_msg["text"] and "2027-03 更新" in board_msg["text"]
    assert pictures[0]["photo"]["width"] == 1080 and "2027-03" in pictures[0]["caption"]
    committee_picture = [m for m in await linli.tg.bot_messages(COMMITTEE, before) if m["photo"] is not None]
    # one upload per community and month: the committee group's copy reuses Telegram's file id
    assert [m["photo"]["file_id"] for m in committee_picture] == [pictures[0]["photo"]["file_id"]]
    digests = [m["text"] for m in await linli.tg.bot_messages(COMMITTEE, before) if m["photo"] is None]
    weekly = next(t for t in digests if "民生实事周报" in t)
    assert "1. 楼道灯改造：汇报 1 次，当前 40%" in weekly and "本周转为滞后" in weekly and "3. 老年食堂：节点逾期" in weekly
    assert "3. 老年食堂：选址（计划 2027-02-25）" in weekly
    monthly = next(t for t in digests if "月度调度" in t)
    assert "🔴 3. 老年食堂 — 节点逾期 · 责任人：待指定" in monthly and "共 3 项：🟢 1 · 🟡 1 · 🔴 1" in monthly
    # the job runs again that day: nothing more
    before = await linli.tg.cursor()
    await _tick(linli)
    assert await linli.tg.bot_messages(GROUP, before) == []

    # 1 April: "施工" (due 10 March) has passed, so project 1 is red; the pinned message is edited in place
    await go(linli, APRIL - timedelta(days=1))
    await _report(linli, ids["lights"], 60, "主体完工")
    await go(linli, APRIL)
    before = await linli.tg.cursor()
    await _tick(linli)
    changed = await linli.tg.bot_messages(GROUP, before)
    edited = [m for m in changed if m["photo"] is None]
    assert [m["message_id"] for m in edited] == [board_msg["message_id"]] and edited[0]["edited"]
    assert edited[0]["pinned"] and "🔴 1. 楼道灯改造 · 60%" in edited[0]["text"] and "2027-04 更新" in edited[0]["text"]
    new_pictures = [m for m in changed if m["photo"] is not None]
    assert len(new_pictures) == 1 and new_pictures[0]["message_id"] > pictures[0]["message_id"]
    pins = [m for m in (await linli.tg.transcript(GROUP, before))["messages"] if m["kind"] == "service"]
    assert pins == []  # edited, not pinned again
    out = await linli.say(R1, "/board", chat_id=GROUP)
    assert "🔴 1. 楼道灯改造 · 60%" in out[-1]["text"]


# ---------------------------------------------------------------- the outbox op, against a recording gateway


@dataclass
class Recorder:
    fail_edit: ApiError | None = None
    fail_pin: ApiError | None = None
    calls: list[tuple[str, int, int | None]] = field(default_factory=list)
    next_id: int = 100

    async def send(self, chat_id: int, message: OutMessage, reply_to: int | None = None) -> int:
        self.next_id += 1
        self.calls.append(("send", chat_id, self.next_id))
        return self.next_id

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> None:
        self.calls.append(("edit", chat_id, message_id))
        if self.fail_edit is not None:
            raise self.fail_edit

    async def pin(self, chat_id: int, message_id: int) -> None:
        self.calls.append(("pin", chat_id, message_id))
        if self.fail_pin is not None:
            raise self.fail_pin


MSG = OutMessage(text="board")


async def test_edit_or_send_edits_when_it_can_and_sends_and_pins_otherwise() -> None:
    g = Recorder()
    assert await edit_or_send(g, -1, MSG, None, pin=True) == 101  # type: ignore[arg-type]
    assert g.calls == [("send", -1, 101), ("pin", -1, 101)]
    g = Recorder()
    assert await edit_or_send(g, -1, MSG, 55, pin=True) == 55  # type: ignore[arg-type]
    assert g.calls == [("edit", -1, 55)]
    # an edited message never pinned before (the bot was not an administrator then) is pinned now
    g = Recorder()
    assert await edit_or_send(g, -1, MSG, 55, pin=True, pin_edited=True) == 55  # type: ignore[arg-type]
    assert g.calls == [("edit", -1, 55), ("pin", -1, 55)]
    # unchanged text is done; a message gone is posted anew (and pinned); other errors go to the sender
    g = Recorder(fail_edit=ApiError(ApiError.BAD_REQUEST, "Bad Request: message is not modified: …"))
    assert await edit_or_send(g, -1, MSG, 55, pin=True) == 55  # type: ignore[arg-type]
    g = Recorder(fail_edit=ApiError(ApiError.BAD_REQUEST, "Bad Request: message to edit not found"))
    assert await edit_or_send(g, -1, MSG, 55, pin=False) == 101  # type: ignore[arg-type]
    assert g.calls == [("edit", -1, 55), ("send", -1, 101)]
    g = Recorder(fail_edit=ApiError(ApiError.RETRY_AFTER, "Too Many Requests", 3))
    try:
        await edit_or_send(g, -1, MSG, 55, pin=False)  # type: ignore[arg-type]
        raise AssertionError("a 429 must reach the sender, which retries the row")
    except ApiError as err:
        assert err.kind == ApiError.RETRY_AFTER
    # a pin Telegram refuses leaves the message sent (its id is kept, nothing is sent twice)
    g = Recorder(fail_pin=ApiError(ApiError.BAD_REQUEST, "not enough rights to manage pinned messages"))
    assert await edit_or_send(g, -1, MSG, None, pin=True) == 101  # type: ignore[arg-type]
    assert [c[0] for c in g.calls] == ["send", "pin"]


async def test_uploads_go_up_once_and_a_refused_file_id_is_uploaded_again(tmp_path: Path) -> None:
    picture = tmp_path / "board.png"
    picture.write_bytes(b"png")
    uploads = Uploads()
    calls: list[str | None] = []
    refuse: set[str] = set()

    async def send(file_id: str | None) -> tuple[int, str | None]:
        calls.append(file_id)
        await asyncio.sleep(0.01)
        if file_id in refuse:
            raise ApiError(ApiError.BAD_REQUEST, "Bad Request: wrong file identifier")
        return len(calls), f"F{len(calls)}" if file_id is None else file_id

    # four groups at once: one upload, the others wait for it and reuse its id
    await asyncio.gather(*(uploads.send(str(picture), send) for _ in range(4)))
    assert calls == [None, "F1", "F1", "F1"]
    # a changed file (new size or mtime) goes up again; URLs and file ids are never cached
    picture.write_bytes(b"png, next month")
    calls.clear()
    await uploads.send(str(picture), send)
    await uploads.send("AgAC-file-id", send)
    assert calls == [None, None]
    # Telegram refuses a remembered id: forgotten, uploaded again
    refuse.add("F1")
    calls.clear()
    uploads._ids = dict.fromkeys(uploads._ids, "F1")
    assert await uploads.send(str(picture), send) == 2 and calls == ["F1", None]
