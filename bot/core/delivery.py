"""Sending the replies of an update. A reply that Telegram refuses for now (429, 5xx, network)
is not lost: it goes into the outbox, sealed (it may show opened fields of the care ledger) and
ahead of that chat's notices, and the sender delivers it later (flows/outbox.py: defer).

A native poll (SendPoll) is sent here too, after the update's commit like every reply; only then
does Telegram tell its poll id, which a second short transaction records (see SendPoll). Nothing
is half-written: no poll row without a sent poll (if Telegram refuses it, the `failed` words are
said instead), and a poll that could not be recorded is closed again at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.core.gateway import ApiError, Gateway
from bot.core.types import (
    Edit,
    EditButtons,
    FetchDocument,
    OutMessage,
    Reply,
    Send,
    SendDocument,
    SendPoll,
    StopPoll,
    Toast,
)
from flows import membership, outbox
from flows.clock import Clock
from storage.crypto import Sealer
from storage.db import Database

log = logging.getLogger("linli.delivery")


async def deliver(replies: list[Reply], gateway: Gateway, *, db: Database, clock: Clock, sealer: Sealer,
                  on_outbox: Callable[[], None] | None = None) -> None:
    """Send the replies in order, but a press's answer (the toast) first: the person's client shows a spinner
    until it comes, and nothing a handler edits or sends depends on it (it only closes the press)."""
    for reply in sorted(replies, key=lambda r: not isinstance(r, Toast)):  # stable: the rest keep their order
        try:
            if isinstance(reply, Toast):
                await gateway.answer(reply.callback_id, reply.text, reply.alert)
            elif isinstance(reply, Send):
                await gateway.send(reply.chat_id, reply.message, reply.reply_to)
            elif isinstance(reply, Edit):
                await gateway.edit(reply.chat_id, reply.message_id, reply.message)
            elif isinstance(reply, EditButtons):
                await gateway.edit_buttons(reply.chat_id, reply.message_id, reply.buttons)
            elif isinstance(reply, SendPoll):
                await _send_poll(reply, gateway, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)
            elif isinstance(reply, StopPoll):
                await gateway.stop_poll(reply.chat_id, reply.message_id)
            elif isinstance(reply, SendDocument):
                await gateway.send_document(reply.chat_id, reply.filename, reply.data, reply.caption)
            elif isinstance(reply, FetchDocument):
                await _fetch(reply, gateway, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)
        except ApiError as err:
            await _failed(reply, err, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)


async def _send_poll(reply: SendPoll, gateway: Gateway, *, db: Database, clock: Clock, sealer: Sealer,
                     on_outbox: Callable[[], None] | None) -> None:
    failed = Send(reply.chat_id, reply.failed, reply.reply_to)
    try:
        sent = await gateway.send_poll(reply.chat_id, reply.question, list(reply.options), anonymous=reply.anonymous,
                                       reply_to=reply.reply_to)
    except ApiError as err:
        log.warning("poll not sent (%s): %s", err.kind, err.description)
        if err.kind == ApiError.FORBIDDEN:
            await _failed(failed, err, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)  # out of the chat
        else:
            await deliver([failed], gateway, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)
        return
    try:
        async with db.uow(write=True) as uow:
            await reply.record(uow, tg_poll_id=sent.poll_id, message_id=sent.message_id, now=clock.now())
            await uow.commit()
    except Exception:
        log.exception("poll %s sent but not recorded; closing it again", sent.message_id)
        await deliver([StopPoll(reply.chat_id, sent.message_id), failed], gateway, db=db, clock=clock,
                      sealer=sealer, on_outbox=on_outbox)


async def _fetch(reply: FetchDocument, gateway: Gateway, *, db: Database, clock: Clock, sealer: Sealer,
                 on_outbox: Callable[[], None] | None) -> None:
    """A document downloaded and handed to its continuation; its replies sent. Nothing of the file is logged."""
    failed: list[Reply] = [Send(reply.chat_id, reply.failed)]
    try:
        data = await gateway.download(reply.file_id)
    except ApiError as err:
        log.warning("document not downloaded (%s)", err.kind)
        await deliver(failed, gateway, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)
        return
    shown = ProgressMessage(gateway, reply.chat_id, reply.progress) if reply.progress is not None else None
    try:
        after = await reply.then(data, shown.update if shown is not None else _unshown)
    except Exception as exc:
        # the kind only, no traceback: a database's or parser's message may quote the file's cells
        log.error("a downloaded document's handling failed (%s)", type(exc).__name__)
        after = failed
    finally:
        if shown is not None:
            await shown.close()
    await deliver(after, gateway, db=db, clock=clock, sealer=sealer, on_outbox=on_outbox)


def _unshown(_done: int, _total: int) -> None:
    return None


async def _failed(reply: Reply, err: ApiError, *, db: Database, clock: Clock, sealer: Sealer,
                  on_outbox: Callable[[], None] | None) -> None:
    if isinstance(reply, Toast):
        log.info("callback answer not delivered: %s", err.kind)  # too late to answer; harmless
        return
    if isinstance(reply, Edit) and "not modified" in err.description:
        return
    if isinstance(reply, EditButtons):  # a count on a button: the next press shows it again
        log.info("buttons not updated: %s", err.description[:100])
        return
    if isinstance(reply, StopPoll):
        log.info("poll not stopped: %s", err.description)  # closed or deleted already: our record stands
        return
    if isinstance(reply, SendDocument):  # never into the outbox: the file may hold the care ledger's data
        log.warning("document not sent (%s)", err.kind)
        if reply.failed is not None and err.kind != ApiError.FORBIDDEN:
            # the words only (no data): deferred to the outbox like any reply Telegram refuses for now
            await _failed(Send(reply.chat_id, reply.failed), err, db=db, clock=clock, sealer=sealer,
                          on_outbox=on_outbox)
        return
    chat_id = reply.chat_id
    now = clock.now()
    if err.kind in (ApiError.RETRY_AFTER, ApiError.TRANSIENT) and isinstance(reply, (Send, Edit)):
        payload: dict[str, object] = {"message": reply.message.to_payload()}
        if isinstance(reply, Edit):
            # a screen edited in place after a button press (the next step of a dialog): without it the
            # dialog looks stuck, so it is edited later — or sent anew if the message is gone by then
            payload.update(op="edit_or_send", message_id=reply.message_id, pin=False)
        elif err.maybe_sent:
            # the answer was lost (a timeout, a reset): Telegram may have shown it already, and the outbox
            # sending it again may show it twice; the sender counts it (stats.maybe_duplicated)
            payload["maybe_sent"] = True
        async with db.uow(write=True) as uow:
            outbox.defer(uow, tg_chat_id=chat_id, payload=payload, sealer=sealer, now=now)
            await uow.commit()
        log.info("reply to chat deferred to the outbox after %s", err.kind)
        if on_outbox:
            on_outbox()
    elif err.kind == ApiError.FORBIDDEN:
        async with db.uow(write=True) as uow:
            await membership.mark_unreachable(uow, user_id=None, tg_chat_id=chat_id, now=now)
            await uow.commit()
    else:
        log.warning("reply refused by Telegram: %s", err.description)


class ProgressMessage:
    """How far a long piece of work is, in a message of its own: nothing for the first `AFTER` seconds (most work
    is done by then), then a message counting up, edited at most every `EVERY` seconds and a last time at the end.
    A message Telegram refuses is given up on: the work goes on, its result comes as usual."""

    AFTER = 2.0
    EVERY = 2.0

    def __init__(self, gateway: Gateway, chat_id: int, words: Callable[[int, int], OutMessage]) -> None:
        self.gateway, self.chat_id, self.words = gateway, chat_id, words
        self.at: tuple[int, int] | None = None  # the latest (done, in all)
        self.message_id: int | None = None
        self._shown: tuple[int, int] | None = None
        self._ended = asyncio.Event()
        self._task = asyncio.create_task(self._follow(), name="progress")

    def update(self, done: int, total: int) -> None:
        self.at = (done, total)

    async def _follow(self) -> None:
        if await self._ends_within(self.AFTER):
            return
        while True:
            await self._show()
            if await self._ends_within(self.EVERY):
                return

    async def _ends_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._ended.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _show(self) -> None:
        at = self.at
        if at is None or at == self._shown:
            return
        self._shown = at
        message = self.words(*at)
        if self.message_id is None:
            self.message_id = await self.gateway.send(self.chat_id, message)
        else:
            await self.gateway.edit(self.chat_id, self.message_id, message)

    async def close(self) -> None:
        """The work ended: the message, if one was shown, says how far it got (never cut off in a call, so no
        message is left behind unknown)."""
        self._ended.set()
        try:
            await self._task
            if self.message_id is not None:
                await self._show()
        except ApiError as err:
            log.info("progress not shown: %s", err.kind)
