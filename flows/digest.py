"""The quiet-group budget for feature posts (F-9, F-11.4): post now, or bundle into the day's digest.

A building group should get at most `announce.PER_DAY` (3) bot messages on an ordinary day. Micro-governance
(wishes, micro posts, the monthly thank-you list — and, at merge, micro spaces and jobs) posts through here
instead of `outbox.notify` directly:

    from flows import digest
    await digest.post(uow, community=community, tg_chat_id=chat.tg_chat_id, notice=WishPosted(...),
                      key=f"wish:{wish.id}:{chat.tg_chat_id}", now=now)

`post` returns `digest.NOW` (queued in the outbox as the notice itself, due at `quiet.group_post_time`, i.e.
never in the quiet hours) or `digest.LATER` (kept as a `DigestItem` for that local day). The rule: a post goes
out on its own while the group has had fewer than `PER_DAY - 1` bot messages that day (counted by
`announce.day_counts`, the same count `/announce stats` shows), so the last slot of the day is kept for the digest;
otherwise it waits. `key` makes it idempotent (a second call with the same key does nothing and returns
`digest.SEEN`), whether it went out or waits.

`due(uow, now=…)` (the scheduler's `micro_tick`, idempotent, safe with several processes: the items are taken
by a compare-and-set on `posted_at`, the digest row has a dedupe key per chat and day) sends, for every group
and day whose digest time (`DIGEST_AT`, 20:00 local, moved out of the quiet hours) has come, ONE message: the
`GroupDigest` notice carrying the held notices (kind and fields), which bot/ renders one after another (each
with its own renderer, buttons dropped, one deep link to the private chat at the end). Items of a day whose
digest is already out go into the next day's.

Personal data never goes in here: the notices a feature passes are the group versions (no names of residents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, update
from sqlmodel import col, select

from flows import announce, outbox, quiet
from flows.clock import local
from flows.notices import Notice
from storage.db import UnitOfWork
from storage.models import Community, OutboxMessage
from storage.models_micro import DigestItem

NOW, LATER, SEEN = "now", "later", "seen"
#: When the day's digest goes out (local time), before the group quiet hours start at 21:00.
DIGEST_AT = time(20, 0)
#: At most this many held posts in one digest message (the rest: the next day's).
MAX_ITEMS = 10


@dataclass(frozen=True)
class GroupDigest(Notice, kind="group_digest"):
    """The day's held posts of one group: `items` are {"kind": …, "params": {…}} of group notices."""

    community: str
    day: str
    items: list[dict[str, Any]]


def _dedupe(key: str) -> str:
    return f"dg:{key}"[:120]


async def _seen(uow: UnitOfWork, key: str) -> bool:
    row = (await uow.session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == _dedupe(key)))).first()
    held = (await uow.session.exec(select(DigestItem.id).where(DigestItem.key == _dedupe(key)))).first()
    return row is not None or held is not None


def _digest_key(chat: int, day: date) -> str:
    return f"digest:{chat}:{day.isoformat()}"


async def _digest_sent(uow: UnitOfWork, chat: int, day: date) -> bool:
    return (await uow.session.exec(select(OutboxMessage.id).where(
        OutboxMessage.dedupe_key == _digest_key(chat, day)))).first() is not None


def _like(key_prefix: str) -> str:
    """A LIKE pattern (escaped with a backslash) for the keys starting with `key_prefix`."""
    return _dedupe(key_prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def withdraw(uow: UnitOfWork, *, key_prefix: str) -> int:
    """Take back the posts whose key starts with `key_prefix` that have not gone out yet (queued, or held for a
    digest): what they announced is off. Returns how many."""
    like = _like(key_prefix)
    queued = await uow.session.execute(delete(OutboxMessage).where(
        col(OutboxMessage.dedupe_key).like(like, escape="\\"), col(OutboxMessage.status) == "pending")
        .execution_options(synchronize_session=False))
    held = await uow.session.execute(delete(DigestItem).where(
        col(DigestItem.key).like(like, escape="\\"), col(DigestItem.posted_at).is_(None))
        .execution_options(synchronize_session=False))
    return int(queued.rowcount or 0) + int(held.rowcount or 0)  # type: ignore[attr-defined]


async def revise(uow: UnitOfWork, *, key_prefix: str, notice: Notice) -> int:
    """Put `notice` in place of the posts whose key starts with `key_prefix` that have not gone out yet (queued, or
    held for a digest): what they announce changed. Returns how many."""
    like = _like(key_prefix)
    queued = (await uow.session.exec(select(OutboxMessage).where(
        col(OutboxMessage.dedupe_key).like(like, escape="\\"), col(OutboxMessage.status) == "pending"))).all()
    held = (await uow.session.exec(select(DigestItem).where(
        col(DigestItem.key).like(like, escape="\\"), col(DigestItem.posted_at).is_(None)))).all()
    for row in queued:
        row.payload = {**row.payload, "notice": notice.kind, "params": notice.params()}  # a new dict: seen as changed
        uow.session.add(row)
    for item in held:
        item.notice = {"kind": notice.kind, "params": notice.params()}
        uow.session.add(item)
    await uow.session.flush()
    return len(queued) + len(held)


async def post(uow: UnitOfWork, *, community: Community, tg_chat_id: int, notice: Notice, key: str,
               now: datetime) -> str:
    """Queue a group post now (within the day's budget) or keep it for the day's digest; see the module."""
    if await _seen(uow, key):
        return SEEN
    at = quiet.group_post_time(community, now)
    day = local(at, community.timezone).date()
    counts = await announce.day_counts(uow, community=community, day=day, purpose=None)
    if counts.get(tg_chat_id, 0) < announce.PER_DAY - 1:
        row = outbox.notify(uow, tg_chat_id=tg_chat_id, notice=notice, lang=community.locale, now=now,
                            community_id=community.id, dedupe_key=_dedupe(key))
        row.not_before = at
        await uow.session.flush()
        return NOW
    while await _digest_sent(uow, tg_chat_id, day):
        day += timedelta(days=1)
    uow.session.add(DigestItem(community_id=community.id or 0, tg_chat_id=tg_chat_id, key=_dedupe(key),
                               local_date=day.isoformat(),
                               notice={"kind": notice.kind, "params": notice.params()}, created_at=now))
    await uow.session.flush()
    return LATER


def digest_time(community: Community, day: date) -> datetime:
    """When the digest of a local day goes out (UTC)."""
    at = datetime.combine(day, DIGEST_AT, tzinfo=ZoneInfo(community.timezone))
    return quiet.group_post_time(community, at.astimezone(ZoneInfo("UTC")))


async def due(uow: UnitOfWork, *, now: datetime) -> int:
    """Send the digests whose time has come (one message per group and day); returns how many were queued.
    The held items are taken in one compare-and-set (`posted_at IS NULL … RETURNING id`): of two processes at once,
    each item goes with one of them, and the digest's dedupe key (per group and day) keeps a second message out."""
    pending = (await uow.session.exec(select(DigestItem).where(col(DigestItem.posted_at).is_(None))
                                      .order_by(col(DigestItem.id)))).all()
    groups: dict[tuple[int, int, str], list[DigestItem]] = {}
    for item in pending:
        groups.setdefault((item.community_id, item.tg_chat_id, item.local_date), []).append(item)
    communities = {c.id: c for c in (await uow.session.exec(select(Community).where(
        col(Community.id).in_({cid for cid, _, _ in groups})))).all()}
    keys = {_digest_key(chat, date.fromisoformat(day)) for _, chat, day in groups}
    sent_keys = set((await uow.session.exec(select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.dedupe_key).in_(keys)))).all()) if keys else set()
    ready: dict[tuple[int, int, str], list[DigestItem]] = {}
    for (cid, chat, day_text), items in groups.items():
        community = communities.get(cid)
        day = date.fromisoformat(day_text)
        if community is None or digest_time(community, day) > now:
            continue
        if _digest_key(chat, day) in sent_keys:  # that day's digest is out: these wait for the next day's
            now_items, later = [], items
        else:
            now_items, later = items[:MAX_ITEMS], items[MAX_ITEMS:]
        for item in later:
            item.local_date = (day + timedelta(days=1)).isoformat()
            uow.session.add(item)
        if now_items:
            ready[(cid, chat, day_text)] = now_items
    await uow.session.flush()
    wanted = [i.id for items in ready.values() for i in items]
    taken: set[int] = set()
    if wanted:
        taken = set((await uow.session.execute(
            update(DigestItem).where(col(DigestItem.id).in_(wanted), col(DigestItem.posted_at).is_(None))
            .values(posted_at=now).returning(col(DigestItem.id)).execution_options(synchronize_session=False)))
            .scalars().all())
    sent = 0
    for (cid, chat, day_text), items in ready.items():
        mine = [i for i in items if i.id in taken]
        community = communities[cid]
        if not mine:
            continue
        outbox.notify(uow, tg_chat_id=chat, lang=community.locale, now=now, community_id=cid,
                      dedupe_key=_digest_key(chat, date.fromisoformat(day_text)),
                      notice=GroupDigest(community=community.name, day=day_text, items=[i.notice for i in mine]))
        sent += 1
    await uow.session.flush()
    return sent
