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
needs.remind, project_reminders.due) still find it. What stays of its payload is the notice's name and
language, never its parameters (who was alerted about an item is kept apart, in flows/ladder.py's alert rows,
so retention never changes an escalation). A row a
board or comparison post points at (ProjectPost.outbox_id) is kept the same way.

Sending (bot/outbox.py drives these): `heads` lists the rows that may go now — a chat's first unsent row
only, so a chat's messages keep their order; `claim` marks some of them `sending` for one sender and returns
the rows it really got (`UPDATE … RETURNING` over `SELECT … FOR UPDATE SKIP LOCKED`: two senders on one
PostgreSQL database never get the same row; SQLite serialises writers with BEGIN IMMEDIATE); `record`
writes the outcome of each finished call, only over a claim that is still that sender's; `release` and
`requeue_expired` give rows back when their sender is gone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlmodel import col, select

from flows.notices import Notice
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import OutboxMessage, ProjectPost

#: Sending order within a chat: deferred direct replies first, then notices (each in the order queued).
REPLY, NOTICE = 0, 1
#: Rows the sender is done with.
FINAL = ("sent", "failed", "dead")
#: The key of a sealed payload.
SEALED = "sealed"


#: the session's `info` key set by a row queued with a plain statement (flows/menus.py): no ORM object shows it
QUEUED = "linli.outbox.queued"


def queued(uow: UnitOfWork) -> bool:
    """Whether this transaction queued a row for the sender (to wake it after the commit)."""
    return bool(uow.session.info.get(QUEUED)) or any(isinstance(o, OutboxMessage) for o in uow.session.new)


def notify(
    uow: UnitOfWork,
    *,
    tg_chat_id: int,
    notice: str | Notice,
    lang: str,
    now: datetime,
    community_id: int | None = None,
    recipient_user_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage:
    if isinstance(notice, Notice):
        if params:
            raise TypeError(f"{notice.kind}: a typed notice carries its fields itself, not as keyword arguments")
        kind, params = notice.kind, notice.params()
    else:  # the untyped form, until every notice has its class (issue #13)
        kind = notice
    row = OutboxMessage(
        community_id=community_id,
        tg_chat_id=tg_chat_id,
        recipient_user_id=recipient_user_id,
        payload={"notice": kind, "lang": lang, "params": params},
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


#: The statuses of a row still to be sent (`sending`: claimed by a sender, its call under way or its outcome
#: not yet written).
UNSENT = ("pending", "sending")


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row's call, as the sender records it.

    kind: "sent" (with Telegram's message id), "wait" (429: due again after `delay` s, attempts unchanged),
    "retry" (5xx, network: due again after `delay` s, one attempt more), "dead" (403: the recipient is
    unreachable) or "failed" (400 and the like, or out of attempts)."""

    row_id: int
    chat_id: int
    kind: str
    recipient: int | None = None
    attempts: int = 0
    message_id: int | None = None
    delay: float = 0.0
    error: str = ""


async def heads(uow: UnitOfWork, *, now: datetime, scan: int) -> list[tuple[int, int]]:
    """The rows that may be sent now, as (id, chat id), oldest first within a priority: for each chat among
    the first `scan` unsent rows, its first one if it is pending and due (a chat whose first row is being
    sent, or waits for a retry, sends nothing more until that row is done). Reads no payloads."""
    rows = (await uow.session.exec(
        select(OutboxMessage.id, OutboxMessage.tg_chat_id, OutboxMessage.status, OutboxMessage.not_before)
        .where(col(OutboxMessage.status).in_(UNSENT))
        .order_by(col(OutboxMessage.priority), col(OutboxMessage.id)).limit(scan))).all()
    seen: set[int] = set()
    out: list[tuple[int, int]] = []
    for row_id, chat_id, status, not_before in rows:
        first_of_chat = chat_id not in seen
        seen.add(chat_id)
        if first_of_chat and status == "pending" and not_before <= now and row_id is not None:
            out.append((row_id, chat_id))
    return out


async def claim(uow: UnitOfWork, ids: list[int], *, sender: str, now: datetime,
                lease: timedelta) -> list[OutboxMessage]:
    """Mark the rows of `ids` that are still pending as `sending` by `sender`; returns only those (the rows
    another sender claimed, or holds locked this moment, are left out: send nothing else)."""
    if not ids:
        return []
    free = (select(OutboxMessage.id)
            .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == "pending")
            .with_for_update(skip_locked=True))
    result = await uow.session.execute(
        update(OutboxMessage).where(col(OutboxMessage.id).in_(free.scalar_subquery()))
        .values(status="sending", lease_until=now + lease, claimed_by=sender)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False))
    order = {row_id: i for i, row_id in enumerate(ids)}
    return sorted(result.scalars().all(), key=lambda r: order.get(r.id or 0, 0))


async def record(uow: UnitOfWork, outcomes: list[Outcome], *, sender: str, now: datetime) -> list[int]:
    """Write the outcomes of finished calls, each only over its row's claim by `sender` (compare-and-set);
    returns the ids whose claim was no longer that sender's (given back and perhaps sent by another)."""
    from flows import membership  # membership queues notices through this module

    lost: list[int] = []
    for o in outcomes:
        values: dict[str, Any] = {"lease_until": None, "claimed_by": None}
        if o.kind == "sent":
            values.update(status="sent", sent_at=now, tg_message_id=o.message_id)
        elif o.kind == "wait":
            values.update(status="pending", not_before=now + timedelta(seconds=o.delay))
        elif o.kind == "retry":
            values.update(status="pending", attempts=o.attempts + 1, not_before=now + timedelta(seconds=o.delay),
                          last_error=o.error[:500])
        elif o.kind == "dead":
            values.update(status="dead", last_error=o.error[:500])
        else:
            values.update(status="failed", attempts=o.attempts + 1, last_error=o.error[:500])
        result = await uow.session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == o.row_id, col(OutboxMessage.status) == "sending",
                   col(OutboxMessage.claimed_by) == sender)
            .values(**values).execution_options(synchronize_session=False))
        if not result.rowcount:  # type: ignore[attr-defined]
            lost.append(o.row_id)
        elif o.kind == "dead":
            await membership.mark_unreachable(uow, user_id=o.recipient, tg_chat_id=o.chat_id, now=now)
    return lost


async def claimants(uow: UnitOfWork) -> list[str]:
    """The senders that hold `sending` rows now."""
    return [c for c in (await uow.session.exec(
        select(OutboxMessage.claimed_by).where(col(OutboxMessage.status) == "sending",
                                               col(OutboxMessage.claimed_by).is_not(None)).distinct())).all()
            if c]


async def release(uow: UnitOfWork, *, claimants: list[str]) -> int:
    """Give back at once the `sending` rows of senders known to be gone; how many."""
    if not claimants:
        return 0
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_by).in_(claimants))
        .values(status="pending", lease_until=None, claimed_by=None).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def renew(uow: UnitOfWork, *, sender: str, until: datetime) -> int:
    """Extend the lease of `sender`'s claimed rows (calls under way, outcomes not yet written)."""
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_by) == sender)
        .values(lease_until=until).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def requeue_expired(uow: UnitOfWork, *, now: datetime) -> int:
    """Give back the `sending` rows whose lease ran out (their sender stopped mid-call and renews no more)."""
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == "sending", col(OutboxMessage.lease_until) < now)
        .values(status="pending", lease_until=None, claimed_by=None).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
