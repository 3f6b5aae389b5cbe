"""Queueing messages the bot sends on its own, and forgetting them after they went out.

A flow never writes display text: it queues a *notice* (a key and its parameters) in the
recipient's language, and bot/ renders it when the sender delivers it. The row is added to the
caller's transaction, so it exists exactly when the change that caused it does.

The one exception is a direct reply Telegram refused for now (429, 5xx): it is already rendered and
may show opened fields of the care ledger (`/person show`), so `defer` stores it sealed with the
deployment's Sealer — every deferred reply, not only those we think personal — and the sender opens
it in memory only (`opened`). It goes before the chat's notices (`REPLY` priority).

Retention (`purge`): rows that are done with (sent, failed, dead) are deleted once `keep` has passed.
A row with a dedupe key is kept, stripped of its payload, because the key is what stops a notice from
going out twice (the monthly board, reminders "once per week", incident alerts): the unique index
keeps refusing a second row with that key, and the flows that look keys up first (board._taken,
needs.remind, projects.due) still find it. What stays of its payload is the notice's name and
language (checkins._alerted answers in the language an alert was sent in), never its parameters. A row a
board or comparison post points at (ProjectPost.outbox_id) is kept the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import col, select

from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import OutboxMessage, ProjectPost

#: Sending order within a chat: deferred direct replies first, then notices (each in the order queued).
REPLY, NOTICE = 0, 1
#: Rows the sender is done with.
FINAL = ("sent", "failed", "dead")
#: The key of a sealed payload.
SEALED = "sealed"


def notify(
    uow: UnitOfWork,
    *,
    tg_chat_id: int,
    notice: str,
    lang: str,
    now: datetime,
    community_id: int | None = None,
    recipient_user_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage:
    row = OutboxMessage(
        community_id=community_id,
        tg_chat_id=tg_chat_id,
        recipient_user_id=recipient_user_id,
        payload={"notice": notice, "lang": lang, "params": params},
        dedupe_key=dedupe_key,
        status="pending",
        not_before=now,
        created_at=now,
        priority=NOTICE,
    )
    uow.session.add(row)
    return row


def defer(uow: UnitOfWork, *, tg_chat_id: int, payload: dict[str, Any], sealer: Sealer, now: datetime) -> OutboxMessage:
    """Queue a direct reply Telegram refused for now: its rendered payload sealed, ahead of the chat's notices."""
    row = OutboxMessage(
        tg_chat_id=tg_chat_id,
        payload={SEALED: sealer.seal(json.dumps(payload, ensure_ascii=False))},
        status="pending",
        not_before=now,
        created_at=now,
        priority=REPLY,
    )
    uow.session.add(row)
    return row


def opened(payload: dict[str, Any], sealer: Sealer | None) -> dict[str, Any]:
    """A row's payload as the sender renders it (a sealed one opened in memory; it raises ValueError when
    no sealer or another key is at hand)."""
    if SEALED not in payload:
        return payload
    if sealer is None:
        raise ValueError("a sealed outbox row needs the deployment's sealer")
    data = json.loads(sealer.open(str(payload[SEALED])))
    if not isinstance(data, dict):
        raise ValueError("a sealed outbox row holds no payload")
    return data


@dataclass(frozen=True)
class Purged:
    deleted: int = 0
    stripped: int = 0

    @property
    def rows(self) -> int:
        return self.deleted + self.stripped


async def purge(uow: UnitOfWork, *, now: datetime, keep: timedelta, limit: int = 500) -> Purged:
    """One batch of retention (at most `limit` rows deleted and `limit` stripped), in the caller's transaction:
    call again, in a new transaction, while it returns full batches. A row's age counts from when it was sent
    (or, failed ones, from their last try)."""
    cutoff = now - keep
    done = (col(OutboxMessage.status).in_(FINAL),
            func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.not_before)) < cutoff)
    # a row a board or comparison post points at stays too (the post learns its Telegram message id from it)
    posted = select(ProjectPost.outbox_id).where(col(ProjectPost.outbox_id).is_not(None))
    gone = list((await uow.session.exec(
        select(OutboxMessage.id).where(*done, col(OutboxMessage.dedupe_key).is_(None),
                                       col(OutboxMessage.id).not_in(posted))
        .order_by(col(OutboxMessage.id)).limit(limit))).all())
    if gone:
        await uow.session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(gone)))
    keyed = (await uow.session.exec(
        select(OutboxMessage).where(*done, or_(col(OutboxMessage.dedupe_key).is_not(None),
                                               col(OutboxMessage.id).in_(posted)),
                                    col(OutboxMessage.purged_at).is_(None))
        .order_by(col(OutboxMessage.id)).limit(limit))).all()
    for row in keyed:
        row.payload = {k: row.payload[k] for k in ("notice", "lang") if k in row.payload}
        row.last_error = None
        row.purged_at = now
        uow.session.add(row)
    await uow.session.flush()
    return Purged(deleted=len(gone), stripped=len(keyed))
