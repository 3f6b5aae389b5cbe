"""Issue #11, per-update cost: a language chosen with the person at hand (as the dispatcher has them) writes the same
audit entry and the same menu as reading them again would — with fewer statements on SQLite — and a person acting
in a group (where they stand for the group's community) is read again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlmodel import col, select

from flows import audit, membership
from flows.actors import load_actor, touch_actor
from flows.clock import FixedClock
from flows.roles import permissions
from storage.db import Database
from storage.models import AuditEntry, OutboxMessage
from tests.flows.test_membership import _community, _person

ADMIN, ZHAO, QIAN = 1, 3, 4
LONG = "欧阳" * 70  # 140 characters: the audit keeps 128


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement.lstrip()[:6].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)


async def _choose(db: Database, clock: FixedClock, tg_id: int, first: str, last: str | None, *,
                  at_hand: bool) -> list[str]:
    """As the dispatcher does: the person touched (their name as Telegram gives it now), then English chosen."""
    async with db.uow(write=True) as uow:
        actor = await touch_actor(uow, tg_id=tg_id, first_name=first, last_name=last, username=None,
                                  tg_language="zh-hans", now=clock.now())
        with statements(db) as seen:
            await membership.set_language(uow, user=actor.user, lang="en", now=clock.now(),
                                          actor=actor if at_hand else None)
            await uow.session.flush()
        await uow.commit()
    return seen


async def _written(db: Database, tg_id: int) -> tuple[AuditEntry, OutboxMessage]:
    async with db.uow() as uow:
        menu = (await uow.session.exec(select(OutboxMessage).where(col(OutboxMessage.tg_chat_id) == tg_id)
                                       .order_by(col(OutboxMessage.id).desc()))).first()
        assert menu is not None
        entry = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "user.language",
                                                                 AuditEntry.actor_user_id == menu.recipient_user_id)
                                        .order_by(col(AuditEntry.id).desc()))).first()
        assert entry is not None
    return entry, menu


async def test_item_cost_the_person_at_hand_gives_the_audit_entry_and_menu_that_reading_them_gives(
        db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, ADMIN, "王书记", community.id, invite=invite.code)
    zhao = await _person(db, clock, ZHAO, "赵阿姨", community.id)
    qian = await _person(db, clock, QIAN, "钱大爷", community.id)
    sqlite = db.engine.dialect.name == "sqlite"
    for tg_id, first, last, who in ((ZHAO, LONG, None, zhao), (QIAN, "钱", "大爷", qian),
                                    (ADMIN, "欧阳" * 40, "欧阳" * 32, admin)):  # Telegram's longest last name: 64
        expected_name = (first[:128] if last is None else f"{first} {last}")[:128]
        for at_hand in (True, False):
            async with db.uow(write=True) as uow:  # back to Chinese, to choose English again
                user = await uow.session.get(type(who.user), who.user.id)
                assert user is not None
                user.language = "zh_CN"
                uow.session.add(user)
                await uow.commit()
            seen = await _choose(db, clock, tg_id, first, last, at_hand=at_hand)
            entry, menu = await _written(db, tg_id)
            assert (entry.actor_name, entry.actor_member_id) == (expected_name, who.member.id), (tg_id, at_hand)
            async with db.uow() as uow:
                now_they_are = await load_actor(uow, who.user)
            assert menu.payload == {"op": "menu", "notice": "menu", "lang": "en", "member": True,
                                    "perms": sorted(p.value for p in permissions(now_they_are.roles))}
            assert menu.community_id == community.id and menu.status == "pending"
            # SQLite: with the person at hand nothing is read again (the write lock came first); PostgreSQL reads
            # their roles again after the row lock, as for any change
            assert ("SELECT" in seen) is (not at_hand or not sqlite), (tg_id, at_hand, seen)
        async with db.uow() as uow:  # one waiting menu per person: the second superseded the first
            menus = (await uow.session.exec(select(OutboxMessage).where(col(OutboxMessage.tg_chat_id) == tg_id,
                                                                        col(OutboxMessage.status) == "pending"))).all()
        assert len([m for m in menus if m.payload.get("op") == "menu"]) == 1


async def test_item_cost_someone_acting_in_another_communitys_group_is_read_again(db: Database,
                                                                                  clock: FixedClock) -> None:
    """In a group of a community they are not a member of, the person stands there as an outsider with no roles:
    their menu (their private chat's, for their own community) must not be made from that."""
    home, invite = await _community(db, clock)
    elsewhere, _ = await _community(db, clock, name="宜兴埠社区")
    await _person(db, clock, ADMIN, "王书记", home.id, invite=invite.code)
    async with db.uow(write=True) as uow:
        actor = await touch_actor(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                  tg_language="zh-hans", now=clock.now())
        in_the_group = await load_actor(uow, actor.user, community=elsewhere)
        assert in_the_group.outsider and in_the_group.roles == frozenset()
        await membership.set_language(uow, user=actor.user, lang="en", now=clock.now(), actor=in_the_group)
        await uow.commit()
    entry, menu = await _written(db, ADMIN)
    assert "grant" in menu.payload["perms"] and menu.community_id == home.id
    assert entry.actor_name == "王书记" and entry.actor_member_id is not None


async def test_item_cost_two_changes_in_one_transaction_leave_one_waiting_menu(db: Database,
                                                                               clock: FixedClock) -> None:
    """The superseding DELETE is a plain statement now: the menu row the same transaction queued before (not yet
    in the database) must be superseded all the same."""
    community, invite = await _community(db, clock)
    await _person(db, clock, ADMIN, "王书记", community.id, invite=invite.code)
    async with db.uow(write=True) as uow:
        actor = await touch_actor(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                  tg_language="zh-hans", now=clock.now())
        await membership.set_language(uow, user=actor.user, lang="en", now=clock.now(), actor=actor)
        await membership.set_language(uow, user=actor.user, lang="zh_CN", now=clock.now(), actor=actor)
        await uow.commit()
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(col(OutboxMessage.tg_chat_id) == ADMIN,
                                                                   col(OutboxMessage.status) == "pending"))).all()
    assert [r.payload["lang"] for r in rows if r.payload.get("op") == "menu"] == ["zh_CN"]


async def test_item_cost_audit_entries_go_in_at_the_commit_in_the_order_recorded(db: Database,
                                                                                  clock: FixedClock) -> None:
    """Entries wait in the session and go in with the COMMIT (flows/audit.py): in the order recorded, whether their
    name comes from the person at hand or from a subquery, and not at all when the transaction rolls back."""
    community, invite = await _community(db, clock)
    await _person(db, clock, ADMIN, "王书记", community.id, invite=invite.code)
    async with db.uow(write=True) as uow:
        actor = await touch_actor(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                  tg_language="zh-hans", now=clock.now())
        for n, at_hand in enumerate((True, False, True, True, False)):
            audit.record(uow, action=f"test.{n}", now=clock.now(), community_id=community.id,
                         actor_user_id=actor.user.id, actor=actor if at_hand else None, n=n)
        assert audit.pending(uow)
        await uow.commit()
        assert not audit.pending(uow)
    async with db.uow(write=True) as uow:  # rolled back: nothing of it
        audit.record(uow, action="test.gone", now=clock.now(), community_id=community.id)
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(AuditEntry).where(col(AuditEntry.action).like("test.%"))
                                       .order_by(col(AuditEntry.id)))).all()
    assert [(r.action, r.details, r.actor_name, r.actor_member_id) for r in rows] == [
        (f"test.{n}", {"n": n}, "王书记", actor.member.id if actor.member else -1) for n in range(5)]
