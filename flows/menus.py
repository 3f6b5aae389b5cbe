"""Each person's own command menu in their private chat with the bot (issue #12, item 5).

Telegram shows one menu to everybody in private chats unless a chat has its own (BotCommandScopeChat). Staff
commands (/person, /pair, /checkins, /project …) are in nobody's general menu, so whenever what a person may do
changes — a role granted or revoked, registration (`registered`), another active community, another language —
`refresh` queues their menu through the outbox: an outbox row with `op` "menu" that the sender turns into one
setMyCommands call for their private chat (bot/menus.py words it). The row holds what the person may do
(permissions, registered or not, language), never display text; its "notice" is "menu" too, so code that sorts
outbox rows by notice sees what it is.

Idempotent and superseding: a newer menu replaces the person's menu rows not yet taken by the sender (one
row per person waits at a time), and each row carries the whole menu, so the last one sent is the person's
menu. The person's user row is locked (PostgreSQL: by the change's own UPDATE of it, or SELECT … FOR UPDATE)
before their roles are read, so two changes for one person at once queue their menus in commit order, the
second seeing the first's roles. Losing every staff role leaves the resident's
commands: access taken away, the menu stops offering it. Roles given by the system (`membership.assign_role`:
seeding) queue nothing; whoever seeds calls `refresh` for the people seeded (bot/sandbox.py does)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert
from sqlmodel import col, select

from flows.actors import Actor, load_actor
from flows.outbox import NOTICE, QUEUED
from flows.roles import permissions
from storage.db import UnitOfWork
from storage.models import Member, OutboxMessage, User

#: The outbox op the sender turns into setMyCommands (bot/menus.py).
OP = "menu"


async def registered(uow: UnitOfWork, *, user: User, now: datetime) -> None:
    """After a registration: a person who may do nothing beyond a resident and is a member nowhere else has
    never had a menu of their own and needs none (the general private menu is the resident's); anyone else gets
    theirs (a role from the invite, or an own menu from another community to replace)."""
    await uow.session.flush()
    actor = await load_actor(uow, user)
    elsewhere = (await uow.session.exec(
        select(Member.id).where(Member.user_id == user.id, Member.community_id != user.active_community_id,
                                col(Member.left_at).is_(None))
        .limit(1))).first()
    if not permissions(actor.roles) and elsewhere is None:
        return
    await refresh(uow, user=user, now=now)


async def refresh(uow: UnitOfWork, *, user: User, now: datetime, actor: Actor | None = None) -> None:
    """Queue `user`'s private-chat menu as it stands in this transaction (after the change that calls it).

    `actor`: the person as this transaction read them, passed by a change that touched neither their roles nor their
    community (a new language). On SQLite that is their menu as it stands — the transaction took the write lock
    before it read them, so nobody changed their roles since — and it is used without reading them again; on
    PostgreSQL their roles are read again after the row lock, as for any change."""
    sqlite = uow.session.get_bind().dialect.name == "sqlite"
    if not (sqlite and _as_they_stand(actor, user)):
        writes_user = uow.session.is_modified(user)  # a new language or community: its UPDATE takes the row lock
        await uow.session.flush()  # the grants, revocations and language this transaction changed
        if not writes_user and not sqlite:  # SQLite: one writer at a time anyway
            await uow.session.exec(select(User.id).where(User.id == user.id).with_for_update())
        actor = await load_actor(uow, user)
    assert actor is not None
    # the person's menus the sender has not taken yet: superseded by this one; both plain statements, past the ORM's
    # bookkeeping of a row (which cost more than the statements)
    connection = await uow.session.connection()
    await connection.execute(_SUPERSEDE, {"tg_id": user.tg_id})
    await connection.execute(_QUEUE, {
        "community_id": actor.community.id if actor.community is not None else None,
        "tg_chat_id": user.tg_id,
        "recipient_user_id": user.id,
        "payload": {"op": OP, "notice": OP, "lang": actor.lang, "member": actor.member is not None,
                    "perms": sorted(p.value for p in permissions(actor.roles))},
        "status": "pending", "attempts": 0, "priority": NOTICE, "not_before": now, "created_at": now,
    })
    uow.session.info[QUEUED] = True  # the sender is woken after the commit (flows/outbox.queued)


def _as_they_stand(actor: Actor | None, user: User) -> bool:
    """Whether `actor` is `user` acting for their active community (not a group's, where they may be an outsider)."""
    if actor is None or actor.user is not user or actor.outsider:
        return False
    return (actor.community.id if actor.community is not None else None) == user.active_community_id


#: built once (building it cost more than running it): a person's menus not yet taken by the sender
_OUTBOX = OutboxMessage.__table__.c  # type: ignore[attr-defined]
_SUPERSEDE = delete(OutboxMessage.__table__).where(  # type: ignore[arg-type]
    _OUTBOX.tg_chat_id == bindparam("tg_id"), _OUTBOX.status == "pending", _OUTBOX.payload["op"].as_string() == OP)
_QUEUE = insert(OutboxMessage.__table__)  # type: ignore[arg-type]
