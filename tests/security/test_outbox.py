"""Issue #10, item 3 (personal data at rest in the outbox) and item 7's "group replies are never deferred
behind notices": a reply Telegram refused for now is stored sealed and still arrives; sent rows are purged
after the retention period while the dedupe keys keep blocking a second notice; in a group the sender
leaves room in the per-minute budget for direct replies, and a deferred reply goes before queued notices."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.outbox import Limits, OutboxSender
from bot.render import NoticeRenderer
from bot.runtimes.aiogram_rt import AiogramRuntime
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import acceptance, board, care, outbox
from flows.clock import FixedClock, OffsetClock
from scheduler.runner import outbox_retention
from storage.crypto import Sealer
from storage.db import Database
from storage.models import Community, OutboxMessage, Project
from tests.bot import conftest as bot_harness
from tests.bot.conftest import BOT, TOKEN, Harness, start_app
from tests.flows import test_acceptance as acceptance_world
from tests.flows.test_board import COMMITTEE, COMMUNITY_GROUP, START, _community, _projects

ADMIN, RESIDENT = 301, 302
NAME, CONTACT, NOTES, ROOM, ALIAS = "李秀兰", "13812345678", "糖尿病，每周三透析", "2-401", "李奶奶"
GROUP = -1002000000077

# the bot harness's fixtures (both runtimes against the stand-in), and the acceptance flow's world
linli, runtime, standin, tg = bot_harness.linli, bot_harness.runtime, bot_harness.standin, bot_harness.tg
world = acceptance_world.world


def _forms(secret: str) -> list[str]:
    """How a text can appear in a raw row: as itself, or JSON-escaped (SQLAlchemy's JSON writes \\uXXXX)."""
    return [secret, json.dumps(secret)[1:-1]]


async def _raw_outbox(db: Database) -> str:
    """Every stored column of every outbox row, as the database hands it to anyone who reads the table."""
    async with db.uow() as uow:
        rows = (await uow.session.execute(text("SELECT * FROM outboxmessage ORDER BY id"))).all()
    return "\n".join(repr(tuple(r)) for r in rows)


async def _person(linli: Harness) -> int:
    async with linli.db.uow(write=True) as uow:
        community = (await uow.session.exec(select(Community))).one()
        person = await care.import_row(uow, community=community, sealer=linli.app.core.sealer, now=linli.clock.now(),
                                       row={"building": "3", "room": ROOM, "alias": ALIAS, "name": NAME,
                                            "contact": CONTACT, "notes": NOTES, "risk": "red"}, notify=False)
        await uow.commit()
        return person.id or 0


# ---------------------------------------------------------------- item 3: sealed at rest


async def test_item3_a_deferred_person_record_is_sealed_in_the_outbox(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    pid = await _person(linli)
    await linli.tg.set_faults(share_429=1.0, seed=11, methods=["sendMessage"])
    before = await linli.tg.cursor()
    await linli.tg.send(ADMIN, f"/person show {pid}")
    await linli.standin.settle()
    await asyncio.sleep(0.3)
    assert await linli.tg.bot_messages(ADMIN, before) == []  # Telegram said "too many requests"
    async with linli.db.uow() as uow:
        deferred = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.status != "sent"))).all()
    assert [(r.tg_chat_id, r.priority, list(r.payload)) for r in deferred] == [(ADMIN, outbox.REPLY, ["sealed"])]
    raw = await _raw_outbox(linli.db)
    for secret in (NAME, CONTACT, NOTES, ROOM, ALIAS):
        for form in _forms(secret):
            assert form not in raw, secret
    # Telegram takes messages again: the person who asked still gets the whole record
    await linli.tg.set_faults(share_429=0.0)
    linli.clock.advance(seconds=5)
    linli.app.sender.wake()  # type: ignore[union-attr]
    await linli.settle()
    replies = await linli.tg.bot_messages(ADMIN, before)
    assert len(replies) == 1 and NAME in replies[0]["text"] and CONTACT in replies[0]["text"]
    assert ROOM in replies[0]["text"]
    raw = await _raw_outbox(linli.db)
    assert "'sent'" in raw
    for secret in (NAME, CONTACT, NOTES, ROOM, ALIAS):
        for form in _forms(secret):
            assert form not in raw, secret


async def test_item3_a_sealed_row_cannot_be_read_without_the_key(db: Database) -> None:
    mine, other = Sealer(b"k" * 32), Sealer(b"x" * 32)
    payload = {"message": {"text": f"{NAME} {CONTACT}"}}
    async with db.uow(write=True) as uow:
        row = outbox.defer(uow, tg_chat_id=ADMIN, payload=payload, sealer=mine, now=START)
        await uow.commit()
    assert outbox.opened(row.payload, mine) == payload
    with pytest.raises(ValueError):
        outbox.opened(row.payload, other)
    with pytest.raises(ValueError):
        outbox.opened(row.payload, None)
    assert outbox.opened({"notice": "board", "lang": "en"}, None) == {"notice": "board", "lang": "en"}


# ---------------------------------------------------------------- item 3: retention


async def test_item3_retention_purges_sent_rows_and_keeps_only_the_dedupe_keys(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    await _projects(db, w, START)
    sealer = Sealer(b"k" * 32)
    async with db.uow(write=True) as uow:
        first = await board.due(uow, now=START)
        # a deferred reply and a notice without a key, both sent; a failed one; one still waiting; a recent one
        reply = outbox.defer(uow, tg_chat_id=501, payload={"message": {"text": NAME}}, sealer=sealer, now=START)
        plain = outbox.notify(uow, tg_chat_id=501, notice="role_granted", lang="zh_CN", now=START, role="volunteer",
                              community="北辰示范社区")
        failed = outbox.notify(uow, tg_chat_id=502, notice="role_granted", lang="zh_CN", now=START, role="volunteer",
                               community="北辰示范社区")
        waiting = outbox.notify(uow, tg_chat_id=503, notice="role_granted", lang="zh_CN", now=START,
                                role="volunteer", community="北辰示范社区")
        await uow.commit()
    assert first.boards == 6
    async with db.uow(write=True) as uow:
        for r in (await uow.session.exec(select(OutboxMessage))).all():
            if r.id == failed.id:
                r.status, r.last_error = "failed", "Bad Request: chat not found"
            elif r.id != waiting.id:
                r.status, r.sent_at, r.tg_message_id = "sent", START + timedelta(minutes=1), 9000 + (r.id or 0)
            uow.session.add(r)
        recent = outbox.notify(uow, tg_chat_id=504, notice="role_granted", lang="en", now=START + timedelta(days=6),
                               role="volunteer", community="北辰示范社区")
        recent.status, recent.sent_at = "sent", START + timedelta(days=6)
        await uow.commit()
    keyed_before = {r.id: r for r in await _rows(db) if r.dedupe_key}
    assert len(keyed_before) >= 7  # the boards, the pictures, the digests

    later = START + timedelta(days=8)  # 9 March: the same month, so the monthly board is still "due"
    purged = await outbox_retention(db, FixedClock(later), keep=timedelta(days=7), batch=2)  # batch by batch
    assert (purged.deleted, purged.stripped) == (3, len(keyed_before))
    rows = {r.id: r for r in await _rows(db)}
    assert reply.id not in rows and plain.id not in rows and failed.id not in rows
    assert rows[waiting.id].status == "pending" and rows[waiting.id].payload["params"]["role"] == "volunteer"
    assert rows[recent.id].payload["params"]["role"] == "volunteer" and rows[recent.id].purged_at is None
    for rid, old in keyed_before.items():
        kept = rows[rid]
        assert kept.dedupe_key == old.dedupe_key and kept.purged_at == later and kept.last_error is None
        assert kept.payload == {"notice": old.payload["notice"], "lang": old.payload["lang"]}
        assert kept.status == "sent" and kept.tg_message_id == old.tg_message_id  # board posts still find them
    assert all("params" not in r.payload for r in rows.values() if r.dedupe_key)

    # the keys still work: the board is not posted a second time this month …
    async with db.uow(write=True) as uow:
        again = await board.due(uow, now=later)
        await uow.commit()
    assert (again.boards, again.monthly) == (0, 0)
    # … and the schema still refuses a second row with a kept key
    with pytest.raises(IntegrityError):
        async with db.uow(write=True) as uow:
            outbox.notify(uow, tg_chat_id=COMMUNITY_GROUP, notice="board", lang="zh_CN", now=later,
                          dedupe_key=f"board:{COMMUNITY_GROUP}:2027-03")
            await uow.commit()
    # running again changes nothing
    assert (await outbox_retention(db, FixedClock(later), keep=timedelta(days=7))).rows == 0
    assert COMMITTEE in {r.tg_chat_id for r in rows.values()}


async def test_item3_a_comparison_post_stripped_by_retention_is_not_posted_again(
        db: Database, clock: FixedClock, world: acceptance_world.World) -> None:
    """The comparison post is made again only when the first went out without an "after" photo; after the
    retention period its payload is gone, so that is read from its dedupe key."""
    assert await acceptance_world._complete(db, clock, world) == 2
    async with db.uow(write=True) as uow:
        for r in (await uow.session.exec(select(OutboxMessage))).all():
            r.status, r.sent_at, r.tg_message_id = "sent", clock.now(), 7000 + (r.id or 0)
            uow.session.add(r)
        await uow.commit()
    later = clock.now() + timedelta(days=30)
    assert (await outbox_retention(db, FixedClock(later), keep=timedelta(days=7))).stripped == 2
    async with db.uow(write=True) as uow:
        project = await uow.session.get(Project, world.project_id)
        assert project is not None
        assert await acceptance.completed(uow, project=project, now=later) == 0
        await uow.commit()
    assert len(await _rows(db)) == 2


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


# ---------------------------------------------------------------- item 7: group replies first


async def test_item7_a_deferred_group_reply_goes_before_the_queued_notices(db: Database, standin: StandIn,
                                                                           tg: StandInClient) -> None:
    await tg.create_user("群主", id=ADMIN)
    await tg.create_chat("3号楼邻里群", member_ids=[ADMIN], id=GROUP, admin_ids=[ADMIN], owner_id=ADMIN)
    clock = OffsetClock()
    sealer = Sealer(b"k" * 32)
    async with db.uow(write=True) as uow:
        for n in range(3):
            outbox.notify(uow, tg_chat_id=GROUP, notice="role_granted", lang="zh_CN", now=clock.now(),
                          role="volunteer", community=f"通知{n}")
        outbox.defer(uow, tg_chat_id=GROUP, payload={"message": {"text": "对您命令的回复"}}, sealer=sealer,
                     now=clock.now())
        await uow.commit()
    runtime_ = AiogramRuntime(TOKEN, standin.url)
    try:
        await tg.set_bot_membership(GROUP, "member", by_user_id=ADMIN)
        render = NoticeRenderer(secret=b"k" * 32, clock=clock, bot_username=BOT)
        sender = OutboxSender(db=db, gateway=runtime_.gateway, clock=clock, render=render, sealer=sealer,
                              limits=Limits(per_chat=50, per_group_minute=3000))
        deadline = time.monotonic() + 10
        while sender.stats.sent < 4 and time.monotonic() < deadline:  # one row of a chat per round
            await sender.drain_once()
            await asyncio.sleep(0.03)
    finally:
        await runtime_.stop()
    said = [m["text"] for m in await tg.bot_messages(GROUP) if m["kind"] == "message"]
    assert said[0] == "对您命令的回复" and len(said) == 4
    assert [[f"通知{n}" in s for n in range(3)] for s in said[1:]] == [  # the notices after it, in their order
        [True, False, False], [False, True, False], [False, False, True]]


@pytest.fixture
async def tight(db_url: str, standin: StandIn, tg: StandInClient, runtime: str) -> AsyncIterator[Harness]:
    """The bot with Telegram's group limit made small (8 a minute) on both sides, so a minute's budget is
    used up by a few notices; private chats stay fast."""
    await tg.set_limits(enabled=True, overall=1000, per_chat=100, per_chat_burst=100, per_group_per_min=8)
    clock = OffsetClock()
    app = await start_app(db_url, standin, runtime, clock, outbox_per_group_minute=8)
    yield Harness(app=app, tg=tg, standin=standin, clock=clock)
    await app.stop()


async def test_item7_a_group_command_is_answered_at_once_while_notices_wait(tight: Harness) -> None:
    await tight.user(ADMIN, "群主")
    await tight.user(RESIDENT, "赵阿姨")
    await tight.group(GROUP, "3号楼邻里群", [ADMIN, RESIDENT], admin=ADMIN)  # the bot's welcome: 1 of 8
    async with tight.db.uow(write=True) as uow:
        for n in range(12):
            outbox.notify(uow, tg_chat_id=GROUP, notice="role_granted", lang="zh_CN", now=tight.clock.now(),
                          role="volunteer", community=f"通知{n}")
        await uow.commit()
    tight.app.sender.wake()  # type: ignore[union-attr]
    deadline, seen, still = time.monotonic() + 10, -1, 0
    while time.monotonic() < deadline and still < 5:  # the sender sends what the group's minute allows it
        await asyncio.sleep(0.2)
        count = len(await tight.tg.bot_messages(GROUP))
        seen, still = count, (still + 1 if count == seen else 0)
    assert still >= 5, "the sender kept sending: the group's budget was not reached"
    before = await tight.tg.cursor()
    await tight.tg.send(RESIDENT, "/help", chat_id=GROUP)
    await tight.standin.settle(quiet_ms=300)
    await asyncio.sleep(0.5)
    answered = [m for m in await tight.tg.bot_messages(GROUP, before) if "通知" not in (m.get("text") or "")]
    assert len(answered) == 1, "the command was not answered at once"
    async with tight.db.uow() as uow:
        deferred = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.priority == outbox.REPLY))).all()
    assert deferred == []
    notices = [m for m in await tight.tg.bot_messages(GROUP) if "通知" in (m.get("text") or "")]
    assert 1 <= len(notices) < 12  # the rest of the notices wait for the next minutes
