"""An update's replies as kept with its processed-update mark (flows/updates.py: keep_replies), and back.

Only messages are kept (sent or edited): a toast is useless a few seconds later, a count on a button shows
again on the next press, and a native poll is recorded with its own second transaction."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.core.types import Edit, OutMessage, Reply, Send


def to_kept(replies: list[Reply]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in replies:
        if isinstance(r, Send):
            out.append({"op": "send", "chat_id": r.chat_id, "reply_to": r.reply_to,
                        "message": r.message.to_payload(), "preview": not r.message.disable_preview})
        elif isinstance(r, Edit):
            out.append({"op": "edit", "chat_id": r.chat_id, "message_id": r.message_id,
                        "message": r.message.to_payload(), "preview": not r.message.disable_preview})
    return out


def from_kept(kept: list[dict[str, Any]]) -> list[Reply]:
    out: list[Reply] = []
    for k in kept:
        m = OutMessage.from_payload(k["message"])
        if k.get("preview"):
            m = OutMessage(text=m.text, buttons=m.buttons, photo=m.photo, voice=m.voice, disable_preview=False)
        out.append(Send(int(k["chat_id"]), m, k.get("reply_to")) if k["op"] == "send"
                   else Edit(int(k["chat_id"]), int(k["message_id"]), m))
    return out


class SentMarks:
    """Updates whose kept replies went out, until that is written (their kept copies dropped, flows/updates.py).

    A mark rides with the next update's transaction: `take` hands it to the statement that keeps that update's own
    replies, so on SQLite it does not wait for the write lock behind every update queued for it (it did: under load
    a kill -9 then sent again every answer of the last few hundred milliseconds). Marks no transaction took are
    written by one of their own (`flush`, queued for the lock like any writer). Whoever waits in `written` learns
    when the mark is in the database, or that it could not be written (an outage: the replies are sent again only
    if Telegram delivers their update again)."""

    def __init__(self) -> None:
        self._pending: dict[int, asyncio.Future[None]] = {}  # went out, not yet in a transaction
        self._carried: dict[int, asyncio.Future[None]] = {}  # in a transaction not yet committed

    def __contains__(self, update_id: int) -> bool:
        return update_id in self._pending or update_id in self._carried

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, update_id: int) -> asyncio.Future[None]:
        done = self._pending.get(update_id) or self._carried.get(update_id)
        if done is None:
            done = self._pending[update_id] = asyncio.get_running_loop().create_future()
        return done

    def take(self) -> list[int]:
        """The marks waiting, for the transaction about to write; `done` or `back` after it ends."""
        ids = sorted(self._pending)
        self._carried.update(self._pending)
        self._pending.clear()
        return ids

    def done(self, ids: list[int]) -> None:
        """The transaction that carried them committed (or they are given up)."""
        for update_id in ids:
            waiter = self._carried.pop(update_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def back(self, ids: list[int]) -> None:
        """The transaction that carried them failed: they wait for the next one."""
        for update_id in ids:
            waiter = self._carried.pop(update_id, None)
            if waiter is not None:
                self._pending[update_id] = waiter
