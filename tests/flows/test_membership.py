"""Onboarding use cases against a real database, with a fixed clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from flows import access, conversation, membership, outbox, updates
from flows.clock import FixedClock
from flows.conversation import State
from flows.errors import AlreadyDone, Expired, Forbidden, Invalid, NotFound, NotRegistered
from flows.roles import Org, Purpose, Role
from storage.db import Database
from storage.models import AuditEntry, Building, Member, OutboxMessage, ProcessedUpdate, RoleGrant, User


async def _community(db: Database, clock: FixedClock, name: str = "北辰示范社区", buildings: str = "1-3"):
    async with db.uow() as uow:
        community, invite = await membership.create_community(
            uow, name=name, now=clock.now(), buildings=membership.parse_building_range(buildings))
        await uow.commit()
    return community, invite


async def _person(db: Database, clock: FixedClock, tg_id: int, name: str, community_id: int,
                  invite: str | None = None, building_id: int | None = None) -> membership.Actor:
    async with db.uow() as uow:
        user = await membership.touch_user(uow, tg_id=tg_id, first_name=name, last_name=None, username=None,
                                           tg_language="zh-hans", now=clock.now())
        await membership.register(uow, user=user, community_id=community_id, building_id=building_id,
                                  now=clock.now(), invite_code=invite)
        await uow.commit()
    return await _actor(db, tg_id)


async def _actor(db: Database, tg_id: int) -> membership.Actor:
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
        return await membership.load_actor(uow, user)


async def test_community_creation_gives_buildings_and_an_admin_invite(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock, buildings="1-6,8")
    assert invite.role == "admin" and invite.expires_at == clock.now() + timedelta(days=30)
    async with db.uow() as uow:
        page = await membership.list_buildings(uow, community_id=community.id, size=50)
        entries = (await uow.session.exec(select(AuditEntry))).all()
    assert [b.label for b in page.items] == ["1", "2", "3", "4", "5", "6", "8"]
    assert [e.action for e in entries] == ["community.create"]


@pytest.mark.parametrize("name,field,reason", [("", "name", "empty"), ("楼" * 61, "name", "too_long")])
async def test_community_name_is_checked(db: Database, clock: FixedClock, name: str, field: str, reason: str) -> None:
    async with db.uow() as uow:
        with pytest.raises(Invalid) as err:
            await membership.create_community(uow, name=name, now=clock.now())
    assert (err.value.field, err.value.reason) == (field, reason)


async def test_unknown_timezone_is_refused(db: Database, clock: FixedClock) -> None:
    async with db.uow() as uow:
        with pytest.raises(Invalid):
            await membership.create_community(uow, name="X", timezone="Mars/Base", now=clock.now())


async def test_admin_invite_registers_and_grants_admin_once(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    assert admin.roles == {"resident", "admin"}
    async with db.uow() as uow:
        user = await membership.touch_user(uow, tg_id=2, first_name="冒名者", last_name=None, username=None,
                                           tg_language=None, now=clock.now())
        with pytest.raises(AlreadyDone):
            await membership.register(uow, user=user, community_id=community.id, building_id=None,
                                      now=clock.now(), invite_code=invite.code)


async def test_expired_invite_is_refused(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    clock.advance(days=31)
    async with db.uow() as uow:
        with pytest.raises(Expired):
            await membership.peek_invite(uow, code=invite.code, now=clock.now())
        with pytest.raises(NotFound):
            await membership.peek_invite(uow, code="no-such-code", now=clock.now())


async def test_grid_worker_invites_volunteers_but_not_admins(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    async with db.uow() as uow:
        grid_inv = await membership.create_invite(uow, actor=admin, role=Role.GRID_WORKER, org=None, now=clock.now())
        await uow.commit()
    grid = await _person(db, clock, 2, "张网格", community.id, invite=grid_inv.code)
    assert "grid_worker" in grid.roles
    async with db.uow() as uow:
        inv = await membership.create_invite(uow, actor=grid, role=Role.VOLUNTEER, org=None, now=clock.now())
        assert inv.role == "volunteer"
        with pytest.raises(Forbidden):
            await membership.create_invite(uow, actor=grid, role=Role.ADMIN, org=None, now=clock.now())
    resident = await _person(db, clock, 3, "赵阿姨", community.id)
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await membership.create_invite(uow, actor=resident, role=Role.RESIDENT, org=None, now=clock.now())


async def test_committee_role_needs_an_organisation(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    async with db.uow() as uow:
        with pytest.raises(Invalid) as err:
            await membership.create_invite(uow, actor=admin, role=Role.COMMITTEE, org=None, now=clock.now())
        assert err.value.field == "organisation"
        inv = await membership.create_invite(uow, actor=admin, role=Role.COMMITTEE, org=Org.PROPERTY, now=clock.now())
    assert inv.organisation == "property"


async def test_grant_and_revoke_notify_the_member_and_are_audited(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    resident = await _person(db, clock, 3, "赵阿姨", community.id)
    mid = resident.member.id
    async with db.uow() as uow:
        view = await membership.grant_role(uow, actor=admin, member_id=mid, role=Role.VOLUNTEER, org=None,
                                           now=clock.now())
        await uow.commit()
    assert view.roles == ("resident", "volunteer")
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):
            await membership.grant_role(uow, actor=admin, member_id=mid, role=Role.VOLUNTEER, org=None,
                                        now=clock.now())
    async with db.uow() as uow:
        view = await access.revoke_role(uow, actor=admin, member_id=mid, role=Role.VOLUNTEER, now=clock.now())
        await uow.commit()
    assert view.roles == ("resident",)
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        notices = [r.payload["notice"] for r in rows if r.tg_chat_id == 3]
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry))).all()]
        with pytest.raises(NotFound):
            await access.revoke_role(uow, actor=admin, member_id=mid, role=Role.VOLUNTEER, now=clock.now())
        with pytest.raises(Invalid):
            await access.revoke_role(uow, actor=admin, member_id=admin.member.id, role=Role.ADMIN,
                                         now=clock.now())
        with pytest.raises(NotFound):
            await membership.grant_role(uow, actor=admin, member_id=9999, role=Role.VOLUNTEER, org=None,
                                        now=clock.now())
    # told twice; their menu queued at each change, the revocation's superseding the grant's (issue #12 item 5)
    assert notices == ["role_granted", "role_revoked", "menu"]
    assert {"role.grant", "role.revoke"} <= set(actions)


async def test_one_active_grant_per_member_and_role_is_in_the_schema(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    async with db.uow() as uow:
        uow.session.add(RoleGrant(community_id=community.id, member_id=admin.member.id, role="admin",
                                  granted_at=clock.now()))
        with pytest.raises(IntegrityError):
            await uow.commit()


async def test_one_membership_per_community_and_user(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    async with db.uow() as uow:
        uow.session.add(Member(community_id=community.id, user_id=admin.user.id, consent_at=clock.now(),
                               joined_at=clock.now()))
        with pytest.raises(IntegrityError):
            await uow.commit()


async def test_grant_in_another_community_is_not_found(db: Database, clock: FixedClock) -> None:
    a, inv_a = await _community(db, clock, "甲社区")
    b, _ = await _community(db, clock, "乙社区")
    admin_a = await _person(db, clock, 1, "甲书记", a.id, invite=inv_a.code)
    outsider = await _person(db, clock, 2, "乙居民", b.id)
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await membership.grant_role(uow, actor=admin_a, member_id=outsider.member.id, role=Role.VOLUNTEER,
                                        org=None, now=clock.now())


async def test_link_building_group_creates_the_building(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock, buildings="1-3")
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    async with db.uow() as uow:
        done = await membership.link_chat(uow, actor=admin, tg_chat_id=-100, chat_type="supergroup", title="9号楼群",
                                          purpose=Purpose.BUILDING, building_label="9号楼", now=clock.now())
        await uow.commit()
    assert done.building_created and done.building.label == "9"
    async with db.uow() as uow:
        labels = [b.label for b in (await uow.session.exec(select(Building))).all()]
        with pytest.raises(Invalid):
            await membership.link_chat(uow, actor=admin, tg_chat_id=-101, chat_type="private", title="x",
                                       purpose=Purpose.COMMUNITY, building_label=None, now=clock.now())
        with pytest.raises(Invalid):
            await membership.link_chat(uow, actor=admin, tg_chat_id=-101, chat_type="group", title="x",
                                       purpose=Purpose.BUILDING, building_label=None, now=clock.now())
    assert labels == ["1", "2", "3", "9"]


async def test_a_group_of_one_community_cannot_be_taken_by_another(db: Database, clock: FixedClock) -> None:
    a, inv_a = await _community(db, clock, "甲社区")
    b, inv_b = await _community(db, clock, "乙社区")
    admin_a = await _person(db, clock, 1, "甲书记", a.id, invite=inv_a.code)
    admin_b = await _person(db, clock, 2, "乙书记", b.id, invite=inv_b.code)
    async with db.uow() as uow:
        await membership.link_chat(uow, actor=admin_a, tg_chat_id=-5, chat_type="group", title="g",
                                   purpose=Purpose.COMMUNITY, building_label=None, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await membership.link_chat(uow, actor=admin_b, tg_chat_id=-5, chat_type="group", title="g",
                                       purpose=Purpose.COMMUNITY, building_label=None, now=clock.now())


async def test_members_are_paged_and_filtered_by_role(db: Database, clock: FixedClock) -> None:
    community, invite = await _community(db, clock)
    admin = await _person(db, clock, 1, "王书记", community.id, invite=invite.code)
    for i in range(2, 25):
        await _person(db, clock, i, f"居民{i}", community.id)
    async with db.uow() as uow:
        first = await membership.list_members(uow, actor=admin, page=1, size=10)
        last = await membership.list_members(uow, actor=admin, page=99, size=10)
        admins = await membership.list_members(uow, actor=admin, role=Role.ADMIN)
    assert (first.total, first.pages, len(first.items)) == (24, 3, 10)
    assert (last.page, len(last.items)) == (3, 4)
    assert [v.name for v in admins.items] == ["王书记"]
    resident = await _actor(db, 5)
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await membership.list_members(uow, actor=resident)


async def test_not_registered_actor_is_told_so(db: Database, clock: FixedClock) -> None:
    async with db.uow() as uow:
        user = await membership.touch_user(uow, tg_id=77, first_name="新人", last_name=None, username=None,
                                           tg_language=None, now=clock.now())
        actor = await membership.load_actor(uow, user)
        with pytest.raises(NotRegistered):
            await membership.list_members(uow, actor=actor)
    assert actor.lang == "zh_CN"


async def test_nothing_is_written_when_the_unit_of_work_is_not_committed(db: Database, clock: FixedClock) -> None:
    community, _ = await _community(db, clock)
    async with db.uow() as uow:
        outbox.notify(uow, tg_chat_id=1, notice="x", lang="zh_CN", now=clock.now(), community_id=community.id)
        await uow.flush()
    async with db.uow() as uow:
        assert (await uow.session.exec(select(OutboxMessage))).all() == []


async def test_conversation_state_expires(db: Database, clock: FixedClock) -> None:
    async with db.uow() as uow:
        await conversation.put(uow, chat_id=1, user_id=1, state=State("reg", "building", {"c": 1}), now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        got = await conversation.get(uow, chat_id=1, user_id=1, now=clock.now())
        later = await conversation.get(uow, chat_id=1, user_id=1, now=clock.now() + timedelta(hours=3))
        removed = await conversation.purge_expired(uow, now=clock.now() + timedelta(hours=3))
        await uow.commit()
    assert got == State("reg", "building", {"c": 1}) and later is None and removed == 1


@pytest.mark.parametrize("first_commits", [True, False])
async def test_two_workers_taking_one_update_at_once(db_url: str, clock: FixedClock, first_commits: bool) -> None:
    """Two workers (two engines) get the same update at the same moment. The second waits for the
    first: if the first commits, the second is told the update is taken; if it rolls back, the
    second takes it. Either way the update is handled exactly once."""
    first, second = Database(db_url), Database(db_url)
    try:
        async with first.uow(write=True) as a:
            assert await updates.take(a, update_id=7, now=clock.now()) is True

            async def other_worker() -> bool:
                async with second.uow(write=True) as b:
                    took = await updates.take(b, update_id=7, now=clock.now())
                    await b.commit()
                    return took

            racing = asyncio.create_task(other_worker())
            await asyncio.sleep(0.3)
            assert not racing.done()  # it waits for the first worker's outcome
            if first_commits:
                await a.commit()
        assert await asyncio.wait_for(racing, 15) is (not first_commits)
        async with first.uow() as uow:
            assert len((await uow.session.exec(select(ProcessedUpdate))).all()) == 1
    finally:
        await first.dispose()
        await second.dispose()


async def test_an_update_id_is_claimed_once(db: Database, clock: FixedClock) -> None:
    async with db.uow() as uow:
        assert await updates.take(uow, update_id=42, now=clock.now()) is True
        await uow.commit()
    async with db.uow() as uow:
        assert await updates.take(uow, update_id=42, now=clock.now()) is False
    async with db.uow() as uow:
        uow.session.add(ProcessedUpdate(update_id=42, received_at=clock.now()))
        with pytest.raises(IntegrityError):
            await uow.commit()
