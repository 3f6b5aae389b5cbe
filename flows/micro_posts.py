"""Group posts of micro spaces and employment (#16): the one place they go out, so that routing them through a
shared daily digest later is a change of this function only.

A post goes to every live building group of the community, at most once per (thing, group) — the dedupe key
names the opening or training, never an application or a sign-up — and never in the quiet hours
(flows/quiet.py: a post due then waits until they end). Private notices of these features wait out the private
quiet hours (21:00–08:00 local) with `private_time`."""

from __future__ import annotations

from datetime import datetime, time

from sqlmodel import col, select

from flows import outbox, quiet
from flows.notices import Notice
from flows.roles import Purpose
from storage.db import UnitOfWork
from storage.models import Chat, Community

GROUP_TYPES = ("group", "supergroup")
LIVE = ("member", "administrator")
#: Private reminders (a loan due, an overdue tool, a training tomorrow) wait out these local hours.
PRIVATE_FROM, PRIVATE_UNTIL = time(21, 0), time(8, 0)


def private_time(community: Community, at: datetime) -> datetime:
    """When a private reminder due at `at` may go out."""
    return quiet.after(at, community.timezone, start=PRIVATE_FROM, until=PRIVATE_UNTIL)


def in_private_quiet(community: Community, at: datetime) -> bool:
    return private_time(community, at) != at


async def post_to_groups(uow: UnitOfWork, *, community: Community, notice: Notice, key: str, now: datetime) -> int:
    """Queue `notice` once to each live building group of the community (dedupe `micro:{key}:{chat}`), within
    the quiet hours; returns the groups it goes to."""
    chats = (await uow.session.exec(select(Chat.tg_chat_id).where(
        Chat.community_id == community.id, col(Chat.type).in_(GROUP_TYPES), col(Chat.bot_status).in_(LIVE),
        Chat.purpose == Purpose.BUILDING.value).order_by(col(Chat.id)))).all()
    due = quiet.group_post_time(community, now)
    for tg_chat_id in chats:
        row = outbox.notify(uow, tg_chat_id=tg_chat_id, lang=community.locale, now=now, community_id=community.id,
                            notice=notice, dedupe_key=f"micro:{key}:{tg_chat_id}")
        row.not_before = due
    await uow.session.flush()
    return len(chats)
