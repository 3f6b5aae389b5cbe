"""A handler that fails — a unique key taken at the same moment, or a bug — still gets the person an answer in
their language, and nothing of the failed transaction is kept."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.core import callbacks
from bot.core.dispatch import PRIVATE, Core, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import CallbackEvent, ChatRef, MessageEvent, Send, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from flows import conversation, membership
from flows.clock import FixedClock
from storage.db import Database
from storage.models import Community

NOW = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)
_ids = itertools.count(1)


def _router() -> Router:
    router = build_router()
    extra = Router()

    @extra.command("clash", where=PRIVATE, description=N_("Help"), menu=False)
    async def clash(ctx: Ctx) -> None:
        ctx.uow.session.add(Community(slug="demo", name="again", created_at=ctx.now))  # the slug is taken
        await ctx.uow.session.flush()

    @extra.command("bug", where=PRIVATE, description=N_("Help"), menu=False)
    async def bug(ctx: Ctx) -> None:
        ctx.uow.session.add(Community(slug="other", name="half-written", created_at=ctx.now))
        await ctx.uow.session.flush()
        raise RuntimeError("a bug")

    router.include(extra)
    return router


async def _say(db: Database, text: str) -> list[Send]:
    core = Core(db=db, clock=FixedClock(NOW), secret=b"s", router=_router(), errors=report_error,
                fallbacks=FALLBACKS)
    event = MessageEvent(update_id=next(_ids), chat=ChatRef(id=7, type="private"), user=UserRef(id=7, first_name="u"),
                         message_id=1, text=text, command=text.lstrip("/"), args="")
    replies = await core.handle(event)
    assert all(isinstance(r, Send) for r in replies)
    return [r for r in replies if isinstance(r, Send)]


async def test_a_conflict_and_a_bug_are_answered_in_the_persons_language(db: Database) -> None:
    async with db.uow() as uow:
        await membership.create_community(uow, name="北辰示范社区", slug="demo", now=NOW)
        user = await membership.touch_user(uow, tg_id=7, first_name="u", last_name=None, username=None,
                                           tg_language="zh-hans", now=NOW)
        user.language = "en"  # chosen with /lang: the answer must follow it, read again after the rollback
        uow.session.add(user)
        await uow.commit()
    said = await _say(db, "/clash")
    assert [r.message.text for r in said] == [
        tr("en", "Someone else changed the same thing at this very moment. Please try again.")]
    said = await _say(db, "/bug")
    assert [r.message.text for r in said] == [tr("en", "Something went wrong on our side. Please try again in a moment.")]
    async with db.uow() as uow:
        slugs = sorted((await uow.session.exec(select(Community.slug))).all())
    assert slugs == ["demo"]  # nothing of the failed updates was kept


async def test_a_stateless_button_does_not_load_the_conversation(db: Database) -> None:
    """A button registered `stateless` is handled without reading the conversation state (one query less
    on the ballot's toggles); any other button sees the state as before."""
    seen: dict[str, object] = {}
    router = Router()

    @router.callback("zs", stateless=True)
    async def stateless(ctx: Ctx) -> None:
        seen["zs"] = ctx.state

    @router.callback("zf")
    async def stateful(ctx: Ctx) -> None:
        seen["zf"] = ctx.state

    outer = Router()
    outer.include(router)
    core = Core(db=db, clock=FixedClock(NOW), secret=b"s", router=outer, errors=report_error, fallbacks=FALLBACKS)
    async with db.uow() as uow:
        await conversation.put(uow, chat_id=7, user_id=7, state=conversation.State("f", "s", {}), now=NOW)
        await uow.commit()
    for prefix in ("zs", "zf"):
        await core.handle(CallbackEvent(update_id=next(_ids), chat=ChatRef(id=7, type="private"),
                                        user=UserRef(id=7, first_name="u"), callback_id=prefix, message_id=1,
                                        data=callbacks.pack(b"s", [prefix], now=NOW, ttl=timedelta(hours=1))))
    assert seen["zs"] is None and seen["zf"] is not None
