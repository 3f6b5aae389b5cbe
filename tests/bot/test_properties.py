"""Property-based tests: the callback codec, the command parser, and every free-text input
through the real dispatcher — whatever people type, the bot answers with valid Telegram HTML
of legal length, never with the internal-error text, and never crashes."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import callbacks
from bot.core.convert import event_from_update, parse_command
from bot.core.dispatch import Core
from bot.core.i18n import tr
from bot.core.types import ChatRef, MessageEvent, Send, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from bot.standin.formatting import parse_html
from flows import membership
from flows.clock import FixedClock
from storage.db import Database
from storage.migrate import upgrade

SECRET = b"property-secret"
NOW = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)
field = st.text(alphabet=st.characters(blacklist_characters=":~", blacklist_categories=("Cs",)), min_size=1,
                max_size=8)


@given(st.lists(field, min_size=1, max_size=4))
def test_callback_data_round_trips_or_is_refused_as_too_long(fields: list[str]) -> None:
    try:
        data = callbacks.pack(SECRET, fields, now=NOW, ttl=timedelta(hours=1))
    except ValueError:
        return  # more than 64 bytes: refused when made, never sent
    assert len(data.encode()) <= 64
    assert callbacks.unpack(SECRET, data, now=NOW) == fields
    with pytest.raises(callbacks.ExpiredButton):
        callbacks.unpack(SECRET, data, now=NOW + timedelta(hours=1, minutes=2))


@given(st.text(max_size=80))
def test_any_callback_data_is_either_ours_or_refused(data: str) -> None:
    try:
        callbacks.unpack(SECRET, data, now=NOW)
    except (callbacks.BadButton, callbacks.ExpiredButton):
        return
    raise AssertionError(f"unsigned data accepted: {data!r}")


@given(st.integers(min_value=0, max_value=40), st.characters(blacklist_categories=("Cs",)))
def test_a_changed_character_breaks_the_signature(position: int, char: str) -> None:
    data = callbacks.pack(SECRET, ["rg", "b", "12"], now=NOW, ttl=timedelta(hours=1))
    i = position % len(data)
    forged = data[:i] + char + data[i + 1:]
    if forged == data:
        return
    with pytest.raises((callbacks.BadButton, callbacks.ExpiredButton)):
        callbacks.unpack(SECRET, forged, now=NOW)


@given(st.text(max_size=200))
def test_the_command_parser_never_fails(text: str) -> None:
    command, args, _ = parse_command(text, "linli_bot")
    if command is not None:
        assert text.startswith("/") and command.isascii() and len(command) <= 32


@pytest.mark.parametrize("text,expected", [
    ("/start", ("start", "", False)),
    ("/link@linli_bot building 3", ("link", "building 3", False)),
    ("/link@Other_Bot x", ("link", "x", True)),
    ("/Help", ("help", "", False)),
    ("/帮助", (None, "", False)),
    ("hello", (None, "", False)),
])
def test_the_command_parser_examples(text: str, expected: tuple) -> None:
    assert parse_command(text, "linli_bot") == expected


@given(st.text(max_size=300))
def test_any_message_text_becomes_an_event(text: str) -> None:
    update = {"update_id": 1, "message": {"message_id": 5, "date": 0, "text": text,
                                          "chat": {"id": 9, "type": "private", "first_name": "x"},
                                          "from": {"id": 9, "is_bot": False, "first_name": "x"}}}
    event = event_from_update(update, "linli_bot")
    assert isinstance(event, MessageEvent) and event.text == text


# ---------------------------------------------------------------- free text through the dispatcher

ADMIN, RESIDENT, GROUP = 1, 2, -100
_ids = itertools.count(1)
INTERNAL = {tr(lang, "Something went wrong on our side. Please try again in a moment.") for lang in ("zh_CN", "en")}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('prop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        async with db.uow() as uow:
            community, invite = await membership.create_community(uow, name="北辰示范社区", now=NOW,
                                                                  buildings=["1", "2", "3"])
            for tg_id, code in ((ADMIN, invite.code), (RESIDENT, None)):
                user = await membership.touch_user(uow, tg_id=tg_id, first_name=f"u{tg_id}", last_name=None,
                                                   username=None, tg_language="zh-hans", now=NOW)
                await membership.register(uow, user=user, community_id=community.id, building_id=None, now=NOW,
                                          invite_code=code)
            await uow.commit()
        await db.dispose()

    asyncio.run(seed())
    return url


async def _handle(url: str, user: int, chat: ChatRef, text: str) -> list:
    db = Database(url)
    try:
        core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                    fallbacks=FALLBACKS)
        command, args, other = parse_command(text, "linli_bot")
        event = MessageEvent(update_id=next(_ids), chat=chat, user=UserRef(id=user, first_name="u"),
                             message_id=1, text=text, command=command, args=args, addressed_to_other_bot=other)
        return await core.handle(event)
    finally:
        await db.dispose()


def _check(replies: list) -> None:
    for reply in replies:
        assert isinstance(reply, Send)
        assert reply.message.text not in INTERNAL, "the bot hit an internal error"
        plain, _ = parse_html(reply.message.text)  # raises on HTML Telegram would refuse
        assert 0 < len(plain) <= 4096
        for row in reply.message.buttons or []:
            for b in row:
                assert b.data is None or len(b.data.encode()) <= 64


PRIVATE_COMMANDS = ["/start ", "/start b_", "/start i_", "/start c_", "/invite ", "/grant ", "/revoke ", "/members ", "/lang ", "/audit ", ""]
free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(PRIVATE_COMMANDS), text=free_text, who=st.sampled_from([ADMIN, RESIDENT, 3]))
def test_free_text_in_private_chat(seeded: str, prefix: str, text: str, who: int) -> None:
    chat = ChatRef(id=who, type="private", title="")
    _check(asyncio.run(_handle(seeded, who, chat, prefix + text)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(["/link ", "/help ", "/me ", "/unlink "]), text=free_text)
def test_free_text_after_group_commands(seeded: str, prefix: str, text: str) -> None:
    chat = ChatRef(id=GROUP, type="supergroup", title="<b>群</b> & co")
    _check(asyncio.run(_handle(seeded, ADMIN, chat, prefix + text)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=free_text)
def test_typed_text_during_registration(seeded: str, text: str) -> None:
    newcomer = 4000 + next(_ids)
    chat = ChatRef(id=newcomer, type="private", title="")
    asyncio.run(_handle(seeded, newcomer, chat, "/start"))
    _check(asyncio.run(_handle(seeded, newcomer, chat, text)))
