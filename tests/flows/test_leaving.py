"""A membership ends (flows/leaving.py) against a real database: a volunteer and grid worker who moves away —
roles revoked, key persons passed to the backup, grids cleared, notices not yet sent dropped, the menu queued
anew, not a member any more (actor, /members), the name cleared; an admin removing someone (told); the last
admin refused; ending twice refused; registering again takes the same row back with a new consent and only
the resident's role."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from flows import leaving, membership, outbox
from flows.actors import load_actor
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.roles import Role
from storage.db import Database
from storage.models import AuditEntry, Grid, KeyPerson, Member, OutboxMessage, RoleGrant, User
from tests.flows.people import actor_of, enrol

PEOPLE = {"admin": Role.ADMIN, "worker": Role.GRID_WORKER, "vol": Role.VOLUNTEER, "backup": Role.VOLUNTEER,
          "resident": None}
TG = {key: 800 + i for i, key in enumerate(PEOPLE)}


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> dict[str, int]:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        ids = await enrol(uow, community_id=community.id or 0, people=PEOPLE, first_tg_id=800, now=now)
        vol = await uow.session.get(Member, ids["vol"])
        assert vol is not None
        await membership.assign_role(uow, member=vol, role=Role.GRID_WORKER, org=None, now=now)  # and a grid worker
        uow.session.add(Grid(community_id=community.id or 0, name="一网格", worker_member_id=ids["vol"]))
        b1 = await membership.building_by_label(uow, community_id=community.id or 0, label="1")
        assert b1 is not None
        vol.building_id = b1.id
        uow.session.add(KeyPerson(community_id=community.id or 0, building_id=b1.id, room="101", alias="1-101 李奶奶",
                                  name_enc="x", contact_enc="x", primary_volunteer_id=ids["vol"],
                                  backup_volunteer_id=ids["backup"], created_at=now, updated_at=now))
        user = (await uow.session.exec(select(User).where(User.tg_id == TG["vol"]))).one()
        outbox.notify(uow, tg_chat_id=user.tg_id, lang="zh_CN", now=now, community_id=community.id,
                      recipient_user_id=user.id, notice="needs_remind", params={})
        await uow.commit()
    return {**ids, "community": community.id or 0}


async def test_a_volunteer_who_moves_away_takes_nothing_with_them(db: Database, clock: FixedClock,
                                                                  world: dict[str, int]) -> None:
    vol = await actor_of(db, TG["vol"])
    async with db.uow() as uow:
        done = await leaving.end(uow, actor=vol, member_id=None, now=clock.now())
        await uow.commit()
    assert sorted(done.roles) == ["grid_worker", "resident", "volunteer"] and done.persons == 1 and done.grids == 1
    assert done.notices_dropped == 1
    async with db.uow() as uow:
        assert (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == world["vol"],
                                                               col(RoleGrant.revoked_at).is_(None)))).all() == []
        person = (await uow.session.exec(select(KeyPerson))).one()
        assert (person.primary_volunteer_id, person.backup_volunteer_id) == (world["backup"], None)
        assert (await uow.session.exec(select(Grid))).one().worker_member_id is None
        member = await uow.session.get(Member, world["vol"])
        assert member is not None and member.left_at == clock.now() and member.display_name == "" \
            and member.building_id is None
        user = (await uow.session.exec(select(User).where(User.tg_id == TG["vol"]))).one()
        assert user.active_community_id is None
        rows = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.recipient_user_id == user.id)
                                       .order_by(col(OutboxMessage.id)))).all()
        assert [(r.payload.get("notice"), r.status) for r in rows] == [("needs_remind", "failed"), ("menu", "pending")]
        assert rows[-1].payload["perms"] == [] and rows[-1].payload["member"] is False
        actor = await load_actor(uow, user)
        assert actor.member is None
        bound = await load_actor(uow, user, community=await membership.get_community(uow, world["community"]))
        assert bound.member is None and bound.outsider
        actions = {a.action for a in (await uow.session.exec(select(AuditEntry))).all()}
        assert {"member.leave", "grid.worker_cleared"} <= actions
    admin = await actor_of(db, TG["admin"])
    async with db.uow() as uow:
        listed = await membership.list_members(uow, actor=admin)
    assert world["vol"] not in [v.member_id for v in listed.items] and listed.total == 4
    async with db.uow() as uow:  # ending twice: the membership is gone already
        with pytest.raises(NotFound):
            await leaving.end(uow, actor=admin, member_id=world["vol"], now=clock.now())


async def test_an_admin_removes_a_member_who_is_told(db: Database, clock: FixedClock, world: dict[str, int]) -> None:
    admin = await actor_of(db, TG["admin"])
    async with db.uow() as uow:
        await leaving.end(uow, actor=admin, member_id=world["resident"], now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == TG["resident"]))).one()
        kinds = [r.payload.get("notice") for r in (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.recipient_user_id == user.id).order_by(col(OutboxMessage.id)))).all()]
        assert kinds == ["member_removed", "menu"]
        entry = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "member.remove"))).one()
        assert entry.subject_id == world["resident"] and entry.actor_user_id == admin.user.id


async def test_refusals(db: Database, clock: FixedClock, world: dict[str, int]) -> None:
    admin, worker = await actor_of(db, TG["admin"]), await actor_of(db, TG["worker"])
    async with db.uow() as uow:
        with pytest.raises(Invalid) as last:
            await leaving.end(uow, actor=admin, member_id=None, now=clock.now())
        assert last.value.reason == "last_admin"
        with pytest.raises(Invalid):
            await leaving.end(uow, actor=admin, member_id=world["admin"], now=clock.now())  # oneself: /leave
        with pytest.raises(Forbidden):
            await leaving.end(uow, actor=worker, member_id=world["resident"], now=clock.now())
        with pytest.raises(NotFound):
            await leaving.end(uow, actor=admin, member_id=999_999, now=clock.now())


async def test_a_membership_ends_once(db: Database, clock: FixedClock, world: dict[str, int]) -> None:
    """The member leaves, then an admin's removal (a confirmation screen shown before) comes: it finds it ended."""
    admin, resident = await actor_of(db, TG["admin"]), await actor_of(db, TG["resident"])
    async with db.uow() as first:
        await leaving.end(first, actor=resident, member_id=None, now=clock.now())
        await first.commit()
    async with db.uow() as second:
        with pytest.raises((AlreadyDone, NotFound)):
            await leaving.end(second, actor=admin, member_id=world["resident"], now=clock.now())
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(AuditEntry).where(
            AuditEntry.action.in_(["member.leave", "member.remove"])))).all()) == 1  # type: ignore[attr-defined]


async def test_registering_again_takes_the_row_back_as_a_resident(db: Database, clock: FixedClock,
                                                                  world: dict[str, int]) -> None:
    vol = await actor_of(db, TG["vol"])
    async with db.uow() as uow:
        await leaving.end(uow, actor=vol, member_id=None, now=clock.now())
        await uow.commit()
    later = clock.now().replace(day=2)
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == TG["vol"]))).one()
        done = await membership.register(uow, user=user, community_id=world["community"], building_id=None, now=later)
        await uow.commit()
    assert done.member.id == world["vol"] and done.new_member
    again = await actor_of(db, TG["vol"])
    assert again.member is not None and again.roles == frozenset({Role.RESIDENT.value})
    assert again.member.left_at is None and again.member.consent_at == later and again.member.display_name == "vol"


async def test_a_family_member_who_leaves_is_no_longer_linked(db: Database, clock: FixedClock,
                                                              world: dict[str, int]) -> None:
    """A relative linked to a key person by a family invite (#17) who leaves: the link ends with the membership."""
    from storage.models import FamilyLink

    async with db.uow() as uow:
        person = (await uow.session.exec(select(KeyPerson))).one()
        uow.session.add(FamilyLink(community_id=world["community"], person_id=person.id or 0,
                                   member_id=world["resident"], created_at=clock.now()))
        await uow.commit()
    async with db.uow() as uow:
        await leaving.end(uow, actor=await actor_of(db, TG["resident"]), member_id=None, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        link = (await uow.session.exec(select(FamilyLink))).one()
    assert link.revoked_at == clock.now()


async def test_the_room_given_for_the_survey_goes_with_the_membership(db: Database, clock: FixedClock,
                                                                      world: dict[str, int]) -> None:
    from storage.models import MemberRoom

    async with db.uow() as uow:
        b1 = await membership.building_by_label(uow, community_id=world["community"], label="1")
        assert b1 is not None
        uow.session.add(MemberRoom(community_id=world["community"], member_id=world["resident"],
                                   building_id=b1.id or 0, room="101", set_at=clock.now()))
        await uow.commit()
    async with db.uow() as uow:
        await leaving.end(uow, actor=await actor_of(db, TG["resident"]), member_id=None, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.exec(select(MemberRoom))).all() == []
