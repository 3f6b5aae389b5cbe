"""Linked chats: the bot added to or removed from a group, a group linked to a community for a purpose (or freed),
and Telegram telling us a chat or person can no longer be reached. Split from flows/membership.py, which
re-exports these names (callers know them as membership.*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select

from flows import audit, outbox
from flows.actors import Actor
from flows.errors import Forbidden, Invalid, NotFound
from flows.notices import Notice
from flows.roles import Perm, Purpose
from storage.db import UnitOfWork
from storage.models import Building, Chat, Community, User

# ---------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupWelcome(Notice, kind="group_welcome"):
    """The bot was added to a group nobody linked yet: how an admin links it (rendered in bot/render.py)."""


@dataclass(frozen=True)
class ChatChange:
    chat: Chat
    added: bool
    removed: bool


PRESENT = ("member", "administrator", "creator", "restricted")


async def bot_status_changed(
    uow: UnitOfWork, *, tg_chat_id: int, chat_type: str, title: str, old_status: str, new_status: str, lang: str,
    now: datetime,
) -> ChatChange:
    """The bot was added to, promoted in or removed from a group (Telegram tells old and new)."""
    chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id))).first()
    present, was_present = new_status in PRESENT, old_status in PRESENT
    if chat is None:
        chat = Chat(tg_chat_id=tg_chat_id, type=chat_type, title=title[:255], created_at=now)
    chat.bot_status, chat.title, chat.type = new_status, title[:255], chat_type
    uow.session.add(chat)
    await uow.session.flush()
    added = present and not was_present
    if added and chat_type in ("group", "supergroup") and chat.purpose is None:
        outbox.notify(uow, tg_chat_id=tg_chat_id, notice=GroupWelcome(), lang=lang, now=now)
    audit.record(uow, action="chat.bot_status", now=now, community_id=chat.community_id, subject_type="chat",
                 subject_id=chat.id, status=new_status)
    return ChatChange(chat=chat, added=added, removed=was_present and not present)


@dataclass(frozen=True)
class Linked:
    chat: Chat
    community: Community
    purpose: Purpose
    building: Building | None
    building_created: bool


async def link_chat(
    uow: UnitOfWork,
    *,
    actor: Actor,
    tg_chat_id: int,
    chat_type: str,
    title: str,
    purpose: Purpose,
    building_label: str | None,
    now: datetime,
) -> Linked:
    me = actor.require(Perm.LINK_CHAT)
    assert actor.community is not None
    if chat_type not in ("group", "supergroup"):
        raise Invalid("chat", "not_group")
    building: Building | None = None
    created = False
    if purpose is Purpose.BUILDING:
        if not building_label:
            raise Invalid("building", "required")
        from flows.membership import _building_label, building_by_label  # membership re-exports this module

        label = _building_label(building_label)
        building = await building_by_label(uow, community_id=me.community_id, label=label)
        if building is None:
            count = (
                await uow.session.exec(
                    select(func.count()).select_from(Building).where(Building.community_id == me.community_id)
                )
            ).one()
            building = Building(community_id=me.community_id, label=label, sort_key=count)
            uow.session.add(building)
            await uow.session.flush()
            created = True
    elif building_label:
        raise Invalid("building", "not_allowed")
    chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id))).first()
    if chat is None:
        chat = Chat(tg_chat_id=tg_chat_id, type=chat_type, title=title[:255], created_at=now)
    if chat.community_id is not None and chat.community_id != me.community_id:
        raise Forbidden("link_chat:other_community")
    chat.community_id, chat.purpose = me.community_id, purpose.value
    chat.building_id = building.id if building else None
    chat.linked_by, chat.linked_at, chat.title = me.id, now, title[:255]
    uow.session.add(chat)
    await uow.session.flush()
    audit.record(uow, action="chat.link", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="chat", subject_id=chat.id, purpose=purpose.value,
                 building=building.label if building else None)
    return Linked(chat=chat, community=actor.community, purpose=purpose, building=building, building_created=created)


async def unlink_chat(uow: UnitOfWork, *, actor: Actor, tg_chat_id: int, now: datetime) -> Chat:
    me = actor.require(Perm.LINK_CHAT)
    chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id))).first()
    if chat is None or chat.community_id != me.community_id or chat.purpose is None:
        raise NotFound("link", tg_chat_id)
    # freed: no community, no purpose, so that any community's admin may link it again
    chat.community_id, chat.purpose, chat.building_id, chat.linked_at, chat.linked_by = None, None, None, None, None
    uow.session.add(chat)
    audit.record(uow, action="chat.unlink", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="chat", subject_id=chat.id)
    return chat


async def chat_info(uow: UnitOfWork, *, tg_chat_id: int) -> tuple[Chat | None, Community | None, Building | None]:
    chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id))).first()
    if chat is None or chat.community_id is None:
        return chat, None, None
    community = await uow.session.get(Community, chat.community_id)
    building = await uow.session.get(Building, chat.building_id) if chat.building_id else None
    return chat, community, building


async def mark_unreachable(uow: UnitOfWork, *, user_id: int | None, tg_chat_id: int, now: datetime) -> None:
    """Telegram said 403: the person blocked the bot, or the bot left the group."""
    if user_id is not None:
        user = await uow.session.get(User, user_id)
        if user is not None:
            user.unreachable_at = now
            uow.session.add(user)
            return
    chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id))).first()
    if chat is not None:
        chat.bot_status = "kicked"
        uow.session.add(chat)
    elif tg_chat_id > 0:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_chat_id))).first()
        if user is not None:
            user.unreachable_at = now
            uow.session.add(user)
