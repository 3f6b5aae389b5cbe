"""Group posts of micro spaces and employment (#16): the one place they go out, through the groups' budget.

A post goes to every live building group of the community, at most once per (thing, group) — the key names the
opening or training, never an application or a sign-up — through flows/digest.py: on its own while the group's
day leaves room (≤ 3 bot messages a day), else bundled into the evening's digest, and never in the quiet hours. Private notices of these features wait out the private
quiet hours (21:00–08:00 local) with `private_time`."""

from __future__ import annotations

from datetime import datetime, time

from sqlmodel import col, select

from flows import digest, quiet
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
    """Post `notice` once to each live building group of the community through the groups' budget
    (flows/digest.py: on its own while the group's day leaves room, else in the evening's digest; never in the
    quiet hours; idempotent by `micro:{key}:{chat}`); returns the groups it goes to."""
    chats = (await uow.session.exec(select(Chat.tg_chat_id).where(
        Chat.community_id == community.id, col(Chat.type).in_(GROUP_TYPES), col(Chat.bot_status).in_(LIVE),
        Chat.purpose == Purpose.BUILDING.value).order_by(col(Chat.id)))).all()
    for tg_chat_id in chats:
        await digest.post(uow, community=community, tg_chat_id=tg_chat_id, notice=notice,
                          key=f"micro:{key}:{tg_chat_id}", now=now)
    await uow.session.flush()
    return len(chats)


async def withdraw_from_groups(uow: UnitOfWork, *, key: str) -> int:
    """Take back what `post_to_groups(key=…)` queued or held and has not gone out yet (the thing is cancelled)."""
    return await digest.withdraw(uow, key_prefix=f"micro:{key}:")


async def revise_in_groups(uow: UnitOfWork, *, key: str, notice: Notice) -> int:
    """Put `notice` in place of what `post_to_groups(key=…)` queued or held and has not gone out yet (the thing
    changed); what went out already stays as it was."""
    return await digest.revise(uow, key_prefix=f"micro:{key}:", notice=notice)
