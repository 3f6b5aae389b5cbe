"""Quick opinion polls end to end, over real HTTP on both runtimes: an admin puts a native poll to a
linked group, people answer through the stand-in (one changes, one retracts, one is not
registered), `/poll results` shows the counts and `/poll stop` closes the poll; bad input, other
people and other chats get clear answers and leave nothing behind; a poll Telegram refuses, or one
that cannot be recorded, leaves no open poll without its record."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.core.convert import parse_command
from bot.core.delivery import deliver
from bot.core.dispatch import Core
from bot.core.types import ChatRef, MessageEvent, OutMessage, SendPoll, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from bot.runtimes.aiogram_rt import AiogramRuntime
from bot.standin.limits import RateLimits
from bot.standin.server import StandIn
from bot.standin.state import StoredMessage
from flows import membership
from flows.clock import FixedClock
from flows.roles import Role
from storage.db import Database
from storage.migrate import upgrade
from storage.models import AuditEntry, Chat, Poll, PollAnswer
from tests.bot.conftest import BOT, TOKEN, Harness
from tests.bot.test_properties import INTERNAL, NOW, SECRET

ADMIN, R1, R2, R3, GUEST = 501, 502, 503, 504, 505
GROUP, OTHER = -1002000000051, -1002000000052
ASK = "/poll 周六大扫除几点开始？ | 上午9点 | 下午3点 | 晚上7点"


async def _setup(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    for who, name in ((R1, "赵阿姨"), (R2, "钱叔叔"), (R3, "孙奶奶")):
        await linli.register(who, name)
    await linli.user(GUEST, "路人")  # in the group, never registered
    await linli.group(GROUP, "北辰社区群", [ADMIN, R1, R2, R3, GUEST], admin=ADMIN)
    out = await linli.say(ADMIN, "/link community", chat_id=GROUP)
    assert "北辰示范社区" in out[-1]["text"]


async def _polls(linli: Harness) -> list[Poll]:
    async with linli.db.uow() as uow:
        return list((await uow.session.exec(select(Poll).order_by(Poll.id))).all())


async def _answer(linli: Harness, who: int, poll_id: str, options: list[int]) -> None:
    await linli.tg.answer_poll(who, poll_id, options)
    await linli.settle()


async def test_a_poll_answered_changed_retracted_counted_and_stopped(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/poll", chat_id=GROUP)
    assert "/poll 问题 | 选项1 | 选项2" in out[-1]["text"] and "谁选了什么" in out[-1]["text"]

    out = await linli.say(ADMIN, ASK, chat_id=GROUP)
    sent = out[-1]
    assert sent["poll"] is not None and sent["text"] is None
    assert sent["poll"]["question"] == "周六大扫除几点开始？"
    assert [o["text"] for o in sent["poll"]["options"]] == ["上午9点", "下午3点", "晚上7点"]
    assert sent["poll"]["is_anonymous"] is False and sent["poll"]["is_closed"] is False
    [row] = await _polls(linli)
    assert row.tg_poll_id == sent["poll"]["id"] and row.message_id == sent["message_id"]
    assert row.tg_chat_id == GROUP and row.options == ["上午9点", "下午3点", "晚上7点"] and row.closed_at is None

    poll_id = sent["poll"]["id"]
    await _answer(linli, R1, poll_id, [0])
    await _answer(linli, R2, poll_id, [1])
    await _answer(linli, R3, poll_id, [2])
    await _answer(linli, GUEST, poll_id, [1])
    await _answer(linli, R2, poll_id, [0])  # changes: the latest answer wins
    await _answer(linli, R3, poll_id, [])  # retracts

    out = await linli.say(R3, "/poll results", chat_id=GROUP)  # anyone in the group may look
    text = out[-1]["text"]
    assert "投票结果" in text and "进行中" in text and "周六大扫除几点开始？" in text
    assert "上午9点\n███████░░░ 2 · 67%" in text
    assert "下午3点\n███░░░░░░░ 1 · 33%" in text
    assert "晚上7点\n░░░░░░░░░░ 0 · 0%" in text
    assert "共 3 人作答" in text
    assert "赵阿姨" not in text and "钱叔叔" not in text and "路人" not in text  # counts, never names

    async with linli.db.uow() as uow:
        answers = {a.tg_user_id: a for a in (await uow.session.exec(select(PollAnswer))).all()}
    assert {k: a.option_ids for k, a in answers.items()} == {R1: [0], R2: [0], R3: [], GUEST: [1]}
    assert answers[GUEST].member_id is None
    assert answers[R1].member_id == await linli.member_no(R1)

    out = await linli.say(R1, "/poll stop", chat_id=GROUP)
    assert "权限" in out[-1]["text"]
    out = await linli.say(ADMIN, "/poll stop", chat_id=GROUP)
    assert "已结束" in out[-1]["text"] and "共 3 人作答" in out[-1]["text"]
    stored = await linli.tg.transcript(GROUP)
    poll_msg = next(m for m in stored["messages"] if m["message_id"] == sent["message_id"])
    assert poll_msg["poll"]["is_closed"] is True
    [row] = await _polls(linli)
    assert row.closed_at is not None
    out = await linli.say(ADMIN, "/poll stop", chat_id=GROUP)
    assert "已经结束" in out[-1]["text"]
    out = await linli.say(R2, "/poll results", chat_id=GROUP)
    assert "已结束" in out[-1]["text"] and "上午9点\n███████░░░ 2 · 67%" in out[-1]["text"]
    async with linli.db.uow() as uow:
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry))).all()]
    assert "poll.create" in actions and "poll.close" in actions


BAD = [
    ("/poll 问题？", "至少需要 2 个选项"),
    ("/poll 问题？ | 只有一个", "至少需要 2 个选项"),
    ("/poll  | 甲 | 乙", "问题不能为空"),
    ("/poll " + "问" * 301 + " | 甲 | 乙", "最多 300 个字"),
    ("/poll 问题？ | 甲 |  | 乙", "选项 2 是空的"),
    ("/poll 问题？ | 甲 | " + "乙" * 101, "选项 2 太长"),
    ("/poll 问题？ | 甲 | 乙 | 甲", "选项 3（“甲”）与前面的选项重复"),
    ("/poll 问题？ | " + " | ".join(f"选项{i}" for i in range(13)), "最多 12 个选项"),
]


async def test_bad_polls_are_explained_and_leave_nothing(linli: Harness) -> None:
    await _setup(linli)
    for text, expected in BAD:
        out = await linli.say(ADMIN, text, chat_id=GROUP)
        assert expected in out[-1]["text"], (text, out[-1]["text"])
        assert all(m["poll"] is None for m in out)
    assert await _polls(linli) == []


async def test_the_most_a_poll_may_have_is_sent(linli: Harness) -> None:
    await _setup(linli)
    twelve = " ｜ ".join(f"选项{i}" for i in range(12))  # the full-width bar works too
    out = await linli.say(ADMIN, f"/poll {'问' * 300} ｜ {twelve}", chat_id=GROUP)
    assert len(out[-1]["poll"]["options"]) == 12 and len(out[-1]["poll"]["question"]) == 300


async def test_who_and_where(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(R1, ASK, chat_id=GROUP)
    assert "权限" in out[-1]["text"]
    out = await linli.say(GUEST, ASK, chat_id=GROUP)
    assert "登记" in out[-1]["text"] and "/start" in out[-1]["text"]
    out = await linli.say(ADMIN, ASK)  # private chat
    assert "群" in out[-1]["text"] and out[-1]["poll"] is None
    await linli.group(OTHER, "未绑定的群", [ADMIN, R1], admin=ADMIN)
    out = await linli.say(ADMIN, ASK, chat_id=OTHER)
    assert "尚未绑定" in out[-1]["text"] and "/link" in out[-1]["text"]
    out = await linli.say(R1, "/poll results", chat_id=GROUP)
    assert "还没有投票" in out[-1]["text"]
    assert await _polls(linli) == []


async def test_a_poll_telegram_refuses_is_not_recorded(linli: Harness) -> None:
    await _setup(linli)
    await linli.tg.set_faults(share_5xx=1.0, methods=["sendPoll"])
    out = await linli.say(ADMIN, ASK, chat_id=GROUP)
    assert "没有接受这个投票" in out[-1]["text"] and all(m["poll"] is None for m in out)
    assert await _polls(linli) == []
    await linli.tg.set_faults()
    out = await linli.say(ADMIN, ASK, chat_id=GROUP)
    assert out[-1]["poll"] is not None and len(await _polls(linli)) == 1


async def test_a_poll_that_cannot_be_recorded_is_closed_again(linli: Harness) -> None:
    await _setup(linli)

    async def broken(uow: object, **_ids: object) -> None:
        raise RuntimeError("the database went away")

    assert linli.app.runtime is not None
    before = await linli.tg.cursor()
    await deliver([SendPoll(GROUP, "问题？", ("甲", "乙"), broken, OutMessage("没有记下这个投票"))],
                  linli.app.runtime.gateway, db=linli.db, clock=linli.clock, sealer=linli.app.core.sealer)
    out = await linli.tg.bot_messages(GROUP, before)
    assert out[0]["poll"] is not None and out[-1]["text"] == "没有记下这个投票"
    stored = await linli.tg.transcript(GROUP)
    poll_msg = next(m for m in stored["messages"] if m["message_id"] == out[0]["message_id"])
    assert poll_msg["poll"]["is_closed"] is True
    assert await _polls(linli) == []


# ---------------------------------------------------------------- any `/poll` text (Hypothesis)

_updates = itertools.count(30_000)


@pytest.fixture(scope="module")
def poll_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A community with an admin (ADMIN) and a resident (R1), and GROUP linked to it."""
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('pollprop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        async with db.uow() as uow:
            community, _ = await membership.create_community(uow, name="北辰示范社区", now=NOW, buildings=["1"])
            for tg_id, name in ((ADMIN, "王书记"), (R1, "赵阿姨")):
                user = await membership.touch_user(uow, tg_id=tg_id, first_name=name, last_name=None, username=None,
                                                   tg_language="zh-hans", now=NOW)
                done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=NOW)
                if tg_id == ADMIN:
                    await membership.assign_role(uow, member=done.member, role=Role.ADMIN, org=None, now=NOW)
            uow.session.add(Chat(tg_chat_id=GROUP, type="supergroup", title="社区群", community_id=community.id,
                                 purpose="community", bot_status="administrator", created_at=NOW))
            await uow.commit()
        await db.dispose()

    asyncio.run(seed())
    return url


@dataclass
class Bench:
    """One event loop, stand-in, gateway and core for every example (starting them takes longer than
    an example)."""

    loop: asyncio.AbstractEventLoop
    server: StandIn
    runtime: AiogramRuntime
    db: Database
    core: Core


@pytest.fixture(scope="module")
def bench(poll_db: str) -> Iterator[Bench]:
    loop = asyncio.new_event_loop()
    server = StandIn(limits=RateLimits(enabled=False))  # Telegram's limits have their own tests
    loop.run_until_complete(server.start())
    server.create_bot(TOKEN, BOT, "邻里助手")
    for tg_id in (ADMIN, R1):
        server.create_user("某人", id=tg_id, language_code="zh-hans")
    server.create_chat("社区群", id=GROUP, member_ids=[R1], admin_ids=[ADMIN])
    server.actions.set_bot_membership(GROUP, "administrator", by_user_id=ADMIN)
    runtime = AiogramRuntime(TOKEN, server.url)
    db = Database(poll_db)
    core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                fallbacks=FALLBACKS)
    yield Bench(loop, server, runtime, db, core)
    loop.run_until_complete(runtime.bot.session.close())
    loop.run_until_complete(db.dispose())
    loop.run_until_complete(server.stop())
    loop.close()


async def _poll_command(b: Bench, who: int, text: str) -> tuple[list[StoredMessage], list[Poll]]:
    """One `/poll …` through the core and the real delivery: what the bot left in the group, and the
    Poll rows this added."""
    async with b.db.uow() as uow:
        known = set((await uow.session.exec(select(Poll.id))).all())
    command, args, _ = parse_command(f"/poll {text}", BOT)
    event = MessageEvent(update_id=next(_updates), chat=ChatRef(id=GROUP, type="supergroup", title="社区群"),
                         user=UserRef(id=who, first_name="某人", language_code="zh-hans"), message_id=1,
                         text=f"/poll {text}", command=command, args=args)
    before = b.server.world.seq
    await deliver(await b.core.handle(event), b.runtime.gateway, db=b.db, clock=b.core.clock, sealer=b.core.sealer)
    said = [m for m in b.server.world.changed_since(before, None) if m.is_bot and m.chat.id == GROUP]
    async with b.db.uow() as uow:
        rows = (await uow.session.exec(select(Poll).order_by(col(Poll.id)))).all()
    return said, [p for p in rows if p.id not in known]


_chars = st.characters(blacklist_categories=("Cs",))
poll_text = st.one_of(
    st.text(alphabet=_chars, max_size=500),  # anything at all
    st.lists(st.text(alphabet=_chars, max_size=110), min_size=1, max_size=14).map(" | ".join),
    st.lists(st.text(alphabet=st.characters(categories=("L", "N", "P", "So", "Zs")), min_size=1, max_size=30),
             min_size=3, max_size=13, unique=True).map(" | ".join),  # mostly polls that can be sent
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=poll_text, who=st.sampled_from([ADMIN, ADMIN, R1]))
def test_any_poll_text_gets_an_answer_and_nothing_half_written(bench: Bench, text: str, who: int) -> None:
    said, added = bench.loop.run_until_complete(_poll_command(bench, who, text))
    assert said, "the bot said nothing"
    event("a poll was sent" if added else "explained")
    assert all(m.text not in INTERNAL for m in said), "the bot hit an internal error"
    assert [p.tg_poll_id for p in added] == [m.poll_id for m in said if m.poll_id]  # a row for each poll sent
    for row in added:
        sent = bench.server.world.polls[row.tg_poll_id]
        assert who == ADMIN and (sent.question, sent.options) == (row.question, row.options)
        assert not sent.is_anonymous and 0 < len(row.question) <= 300 and 2 <= len(row.options) <= 12
