"""Full-grid micro-governance (#16, F-9.1, F-9.2, F-9.4) against a real database: the atomic claim (20 presses at
once, exactly one wins, on SQLite and PostgreSQL), a wish from post to thanks (and reopened), the reminder through a
restart, the groups' budget and daily digest, teams and what a removal stops, micro posts and the thank-you list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from flows import access, announce, digest, membership, micro, microposts, teams, wishes
from flows.clock import FixedClock, local
from flows.errors import AlreadyDone, Forbidden, Invalid
from flows.membership import Actor
from flows.roles import Org, Role
from scheduler import runner
from storage.db import Database
from storage.models import AuditEntry, Building, Chat, Grid, KeyPerson, Member, OutboxMessage, RoleGrant
from storage.models_micro import DigestItem, TeamPairing, Wish
from tests.flows.people import actor_of, enrol

BUILDING_GROUP, COMMUNITY_GROUP = -100701, -100700
CLAIMERS = 20
ROLES = {"resident": None, "admin": Role.ADMIN, "worker_a": Role.GRID_WORKER, "worker_b": Role.GRID_WORKER,
         "unit": (Role.COMMITTEE, Org.UNIT), "committee": (Role.COMMITTEE, Org.RESIDENTS_COMMITTEE),
         "neighbour": None, **{f"v{i}": Role.VOLUNTEER for i in range(CLAIMERS)}}


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    buildings: dict[str, int]
    person_id: int


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2", "3"])
        members = await enrol(uow, community_id=community.id or 0, people=ROLES, first_tg_id=700, now=now)
        buildings = {b.label: b.id or 0 for b in (await uow.session.exec(
            select(Building).where(Building.community_id == community.id))).all()}
        grid_a = Grid(community_id=community.id or 0, name="一网格", worker_member_id=members["worker_a"])
        grid_b = Grid(community_id=community.id or 0, name="二网格", worker_member_id=members["worker_b"])
        uow.session.add_all([grid_a, grid_b])
        await uow.session.flush()
        for label, grid in (("1", grid_a), ("2", grid_a), ("3", grid_b)):
            b = await uow.session.get(Building, buildings[label])
            assert b is not None
            b.grid_id = grid.id
            uow.session.add(b)
        for key in ("resident", "neighbour"):
            m = await uow.session.get(Member, members[key])
            assert m is not None
            m.building_id = buildings["1"]
            uow.session.add(m)
        uow.session.add(Chat(tg_chat_id=BUILDING_GROUP, type="supergroup", title="1号楼", community_id=community.id,
                             purpose="building", building_id=buildings["1"], bot_status="administrator", created_at=now))
        uow.session.add(Chat(tg_chat_id=COMMUNITY_GROUP, type="supergroup", title="居民群", community_id=community.id,
                             purpose="community", bot_status="administrator", created_at=now))
        person = KeyPerson(community_id=community.id or 0, building_id=buildings["1"], room="101", alias="1-101 李奶奶",
                           name_enc="sealed", created_at=now, updated_at=now)
        uow.session.add(person)
        await uow.commit()
    actors = {key: await actor_of(db, 700 + i) for i, key in enumerate(ROLES)}
    return World(community.id or 0, actors, members, buildings, person.id or 0)


async def _do(db: Database, fn: object, **kwargs: object) -> object:
    async with db.uow(write=True) as uow:
        out = await fn(uow, **kwargs)  # type: ignore[operator]
        await uow.commit()
    return out


async def _notices(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [r for r in rows if (r.payload or {}).get("notice") == kind]


async def _wish(db: Database, w: World, clock: FixedClock, text: str = "想请人帮忙换个灯泡", days: int = 7) -> Wish:
    return await _do(db, wishes.post, actor=w.actors["resident"], text=text, photo=None, days=days,  # type: ignore[return-value]
                     now=clock.now())


# ---------------------------------------------------------------- numbers


async def test_item2_wishes_posted_at_once_get_distinct_numbers(db: Database, world: World, clock: FixedClock) -> None:
    """Ten wishes posted at the same moment (each in its own transaction): numbers 1 … 10, none refused — the
    community's row lock orders them (flows/numbering.py); without it PostgreSQL gives two the same max + 1."""
    posted = await asyncio.gather(*(_wish(db, world, clock, text=f"心愿{i}") for i in range(10)))
    assert sorted(w.number for w in posted) == list(range(1, 11))


# ---------------------------------------------------------------- the atomic claim


@pytest.mark.parametrize("what", ["wish", "micropost"])
async def test_item2_twenty_presses_at_once_exactly_one_wins(db: Database, world: World, clock: FixedClock,
                                                             what: str) -> None:
    if what == "wish":
        number = (await _wish(db, world, clock)).number
        claim, table = wishes.claim, Wish
    else:
        number = (await _do(db, microposts.post, actor=world.actors["committee"], kind="deed", title="楼道堆物清理",
                            text="", now=clock.now())).number  # type: ignore[attr-defined]
        claim, table = microposts.claim, microposts.MicroPost

    async def press(i: int) -> int | None:
        async with db.uow(write=True) as uow:  # each press its own unit of work, as the dispatcher runs it
            try:
                await claim(uow, actor=world.actors[f"v{i}"], number=number, now=clock.now())
            except AlreadyDone as err:
                if what == "wish":
                    assert isinstance(err, wishes.Taken) and err.by == "volunteer"  # the kind, never a name
                return None
            await uow.commit()
            return i

    results = await asyncio.gather(*(press(i) for i in range(CLAIMERS)))
    winners = [i for i in results if i is not None]
    assert len(winners) == 1
    async with db.uow() as uow:
        row = (await uow.session.exec(select(table).where(table.number == number))).one()  # type: ignore[attr-defined]
    assert row.state == "claimed" and row.claimer_member_id == world.members[f"v{winners[0]}"]
    if what == "wish":
        assert len(await _notices(db, "wish_claimed")) == 1  # the resident hears once


# ---------------------------------------------------------------- a wish from post to thanks


async def test_item2_a_wish_from_post_to_thanks_and_reopened(db: Database, world: World, clock: FixedClock) -> None:
    w = await _wish(db, world, clock)
    assert w.number == 1 and w.state == "open"
    posted = await _notices(db, "wish_posted")
    assert {r.tg_chat_id for r in posted} == {BUILDING_GROUP, COMMUNITY_GROUP}
    assert "resident" not in str(posted[0].payload)  # the groups never see the resident's name
    with pytest.raises(Forbidden):  # a resident is neither a volunteer nor a unit
        await _do(db, wishes.claim, actor=world.actors["neighbour"], number=1, now=clock.now())
    with pytest.raises(Forbidden):  # only the claimer fulfils it
        await _do(db, wishes.fulfil, actor=world.actors["v0"], number=1, note="好了", photo=None, now=clock.now())
    claimed = await _do(db, wishes.claim, actor=world.actors["unit"], number=1, now=clock.now())
    assert claimed.claimer_kind == "unit"  # type: ignore[attr-defined]
    with pytest.raises(Invalid):  # neither a note nor a photo
        await _do(db, wishes.fulfil, actor=world.actors["unit"], number=1, note=" ", photo=None, now=clock.now())
    await _do(db, wishes.fulfil, actor=world.actors["unit"], number=1, note="", photo="PHOTO1", now=clock.now())
    with pytest.raises(Forbidden):  # only the resident answers
        await _do(db, wishes.answer, actor=world.actors["unit"], number=1, thanked=True, now=clock.now())
    again = await _do(db, wishes.answer, actor=world.actors["resident"], number=1, thanked=False, now=clock.now())
    assert again.state == "open" and again.claimer_member_id is None and again.reopened == 1  # type: ignore[attr-defined]
    assert len([r for r in await _notices(db, "wish_posted") if r.payload["params"]["again"]]) == 2  # shown anew
    await _do(db, wishes.claim, actor=world.actors["v1"], number=1, now=clock.now())
    await _do(db, wishes.fulfil, actor=world.actors["v1"], number=1, note="灯泡换好了", photo=None, now=clock.now())
    done = await _do(db, wishes.answer, actor=world.actors["resident"], number=1, thanked=True, now=clock.now())
    assert done.state == "thanked"  # type: ignore[attr-defined]
    with pytest.raises(AlreadyDone):
        await _do(db, wishes.answer, actor=world.actors["resident"], number=1, thanked=False, now=clock.now())
    answered = await _notices(db, "wish_answered")
    assert [r.payload["params"]["thanked"] for r in answered] == [False, True]
    month = local(clock.now(), "Asia/Shanghai").month
    stats = await _do(db, wishes.stats, actor=world.actors["worker_a"], year=2027)
    assert stats[month - 1] == wishes.Month(month, 1, 1, 1, 1)  # each wish once per stage  # type: ignore[index]
    with pytest.raises(Forbidden):
        await _do(db, wishes.stats, actor=world.actors["resident"], year=2027)


async def test_item2_a_grid_worker_posts_for_a_resident_who_thanks(db: Database, world: World,
                                                                   clock: FixedClock) -> None:
    with pytest.raises(Forbidden):
        await _do(db, wishes.post, actor=world.actors["neighbour"], text="x", photo=None, days=3, now=clock.now(),
                  for_member_id=world.members["resident"])
    w = await _do(db, wishes.post, actor=world.actors["worker_a"], text="想要一副老花镜", photo="P", days=3,
                  now=clock.now(), for_member_id=world.members["resident"])
    assert w.for_member_id == world.members["resident"] and w.building_id == world.buildings["1"]  # type: ignore[attr-defined]
    await _do(db, wishes.claim, actor=world.actors["v2"], number=1, now=clock.now())
    claimed = await _notices(db, "wish_claimed")
    assert len(claimed) == 1 and claimed[0].recipient_user_id == world.actors["resident"].user.id


# ---------------------------------------------------------------- the reminder, through a restart


async def test_item2_the_reminder_goes_once_through_a_restart(db: Database, db_url: str, world: World,
                                                              clock: FixedClock) -> None:
    await _wish(db, world, clock, days=3)  # due at the end of the third day from today (local)
    await _do(db, wishes.claim, actor=world.actors["v3"], number=1, now=clock.now())
    async with db.uow() as uow:
        w = (await uow.session.exec(select(Wish))).one()
        community = await membership.get_community(uow, world.community_id)
    at = wishes.remind_at(community, w)
    assert local(at, "Asia/Shanghai").hour == 9 and wishes.due_day(community, w.due_at) - local(
        at, "Asia/Shanghai").date() == timedelta(days=1)
    early = FixedClock(at - timedelta(minutes=1))
    assert (await runner.micro_tick(db, early))["reminders"] == 0
    await db.dispose()  # the process stops …
    restarted = Database(db_url)  # … and another one starts: the job reads the state again
    try:
        due = FixedClock(at + timedelta(hours=3))
        assert (await runner.micro_tick(restarted, due))["reminders"] == 1
        assert (await runner.micro_tick(restarted, due))["reminders"] == 0  # once
        rows = await _notices(restarted, "wish_reminder")
        assert len(rows) == 1 and rows[0].recipient_user_id == world.actors["v3"].user.id
    finally:
        await restarted.dispose()


async def test_item2_a_claimer_whose_volunteer_role_ends_lets_the_wish_go(db: Database, world: World,
                                                                         clock: FixedClock) -> None:
    await _wish(db, world, clock, days=3)
    await _do(db, wishes.claim, actor=world.actors["v5"], number=1, now=clock.now())
    await _do(db, access.revoke_role, actor=world.actors["admin"], member_id=world.members["v5"], role=Role.VOLUNTEER,
              now=clock.now())
    async with db.uow() as uow:
        w = (await uow.session.exec(select(Wish))).one()
        community = await membership.get_community(uow, world.community_id)
    assert (w.state, w.claimer_member_id, w.reopened) == ("open", None, 1)
    assert len(await _notices(db, "wish_released")) == 1  # the resident is told
    assert (await runner.micro_tick(db, FixedClock(wishes.remind_at(community, w) + timedelta(hours=1))))[
        "reminders"] == 0  # nobody is reminded of a wish they no longer hold


# ---------------------------------------------------------------- the groups' budget and the digest


async def test_item_digest_keeps_a_building_group_within_its_budget(db: Database, world: World,
                                                                     clock: FixedClock) -> None:
    for i in range(4):
        await _wish(db, world, clock, text=f"心愿 {i}")
    async with db.uow() as uow:
        community = await membership.get_community(uow, world.community_id)
        held = (await uow.session.exec(select(DigestItem).where(DigestItem.tg_chat_id == BUILDING_GROUP))).all()
        day = local(clock.now(), community.timezone).date()
        counts = await announce.day_counts(uow, community=community, day=day, purpose=None)
    assert counts[BUILDING_GROUP] == announce.PER_DAY - 1 and len(held) == 2  # two on their own, two held back
    assert await _do(db, digest.due, now=clock.now()) == 0  # not before 20:00
    evening = digest.digest_time(community, day)
    assert local(evening, community.timezone).hour == 20
    assert await _do(db, digest.due, now=evening) == 2  # one per group (the community group too)
    assert await _do(db, digest.due, now=evening) == 0
    async with db.uow() as uow:
        counts = await announce.day_counts(uow, community=community, day=day, purpose=None)
    assert counts[BUILDING_GROUP] == announce.PER_DAY  # within the day's budget, digest included
    [sent] = [r for r in await _notices(db, "group_digest") if r.tg_chat_id == BUILDING_GROUP]
    assert [i["params"]["text"] for i in sent.payload["params"]["items"]] == ["心愿 2", "心愿 3"]
    await _wish(db, world, FixedClock(evening + timedelta(minutes=10)), text="心愿 4")  # after the day's digest
    async with db.uow() as uow:
        late = (await uow.session.exec(select(DigestItem).where(DigestItem.tg_chat_id == BUILDING_GROUP,
                                                                col(DigestItem.posted_at).is_(None)))).one()
    assert late.local_date == (day + timedelta(days=1)).isoformat()  # tomorrow's digest


async def test_item_digest_posts_wait_out_the_quiet_hours(db: Database, world: World) -> None:
    night = FixedClock(datetime(2027, 3, 1, 14, 30, tzinfo=UTC))  # 22:30 in Tianjin
    await _wish(db, world, night)
    [row, _] = await _notices(db, "wish_posted")
    assert local(row.not_before, "Asia/Shanghai").strftime("%H:%M") == "07:30"


# ---------------------------------------------------------------- teams


async def test_item1_a_team_its_party_household_and_what_a_removal_stops(db: Database, world: World,
                                                                         clock: FixedClock) -> None:
    b1, neighbour = world.buildings["1"], world.members["neighbour"]
    with pytest.raises(Forbidden):  # grid B's worker does not put building 1's team together
        await _do(db, teams.add_member, actor=world.actors["worker_b"], building_id=b1, member_id=neighbour,
                  party=True, now=clock.now())
    v = await _do(db, teams.add_member, actor=world.actors["worker_a"], building_id=b1, member_id=neighbour,
                  party=True, now=clock.now())
    await _do(db, teams.add_member, actor=world.actors["admin"], building_id=b1, member_id=world.members["resident"],
              party=False, now=clock.now())
    v = await _do(db, teams.set_leader, actor=world.actors["admin"], building_id=b1, member_id=neighbour,
                  now=clock.now())
    assert v.leader == "neighbour" and [m.party for m in v.members] == [True, False]  # type: ignore[attr-defined]
    with pytest.raises(Invalid):  # only a Party-member household is paired
        await _do(db, teams.pair, actor=world.actors["worker_a"], person_id=world.person_id,
                  member_id=world.members["resident"], now=clock.now())
    await _do(db, teams.pair, actor=world.actors["worker_a"], person_id=world.person_id, member_id=neighbour,
              now=clock.now())
    household = await actor_of(db, 700 + list(ROLES).index("neighbour"))  # the roles read anew (enthusiast)
    lines = await _do(db, teams.my_pairs, actor=household, now=clock.now())
    assert lines == [teams.PairLine(alias="1-101 李奶奶", room="101", building="1")]  # alias and room, nothing more
    async with db.uow() as uow:
        reads = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "person.read"))).all()
    assert [e.details["via"] for e in reads] == ["team"]
    seen = await _do(db, teams.view, actor=household, building_id=b1)
    assert len(seen.members) == 2  # type: ignore[attr-defined]

    await _do(db, teams.remove_member, actor=world.actors["worker_a"], building_id=b1, member_id=neighbour,
              now=clock.now())
    async with db.uow() as uow:
        pairs = (await uow.session.exec(select(TeamPairing))).all()
        role = (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == neighbour,
                                                               RoleGrant.role == "enthusiast"))).one()
    assert [p.ended_at is not None for p in pairs] == [True] and role.revoked_at is not None
    assert await _notices(db, "team_paired") == [] and await _notices(db, "team_leader") == []  # never sent now
    assert len(await _notices(db, "team_unpaired")) == 1 and len(await _notices(db, "team_left")) == 1
    gone = await actor_of(db, 700 + list(ROLES).index("neighbour"))
    with pytest.raises(Forbidden):
        await _do(db, teams.my_pairs, actor=gone, now=clock.now())
    v = await _do(db, teams.view, actor=world.actors["admin"], building_id=b1)
    assert v.leader is None and [m.name for m in v.members] == ["resident"]  # type: ignore[attr-defined]


async def test_item1_revoking_the_enthusiast_role_takes_them_out_of_the_team(db: Database, world: World,
                                                                            clock: FixedClock) -> None:
    b1, neighbour = world.buildings["1"], world.members["neighbour"]
    await _do(db, teams.add_member, actor=world.actors["admin"], building_id=b1, member_id=neighbour, party=True,
              now=clock.now())
    await _do(db, teams.pair, actor=world.actors["admin"], person_id=world.person_id, member_id=neighbour,
              now=clock.now())
    await _do(db, access.revoke_role, actor=world.actors["admin"], member_id=neighbour, role=Role.ENTHUSIAST,
              now=clock.now())
    v = await _do(db, teams.view, actor=world.actors["admin"], building_id=b1)
    assert v.members == ()  # type: ignore[attr-defined]
    async with db.uow() as uow:
        assert all(p.ended_at is not None for p in (await uow.session.exec(select(TeamPairing))).all())


async def test_item1_moving_to_another_building_takes_them_out_of_its_team(db: Database, world: World,
                                                                          clock: FixedClock) -> None:
    """Access taken away stops what it fed: a Party-member household of building 1's team who moves to building 2
    (registering again with it) leaves the team — the pairing ends, the enthusiast role the team gave goes — while
    registering again in the same building changes nothing."""
    b1, b2, neighbour = world.buildings["1"], world.buildings["2"], world.members["neighbour"]
    await _do(db, teams.add_member, actor=world.actors["admin"], building_id=b1, member_id=neighbour, party=True,
              now=clock.now())
    await _do(db, teams.set_leader, actor=world.actors["admin"], building_id=b1, member_id=neighbour, now=clock.now())
    await _do(db, teams.pair, actor=world.actors["admin"], person_id=world.person_id, member_id=neighbour,
              now=clock.now())
    user = world.actors["neighbour"].user

    async def register_in(building_id: int) -> None:
        async with db.uow(write=True) as uow:
            row = await uow.session.get(type(user), user.id)
            assert row is not None
            await membership.register(uow, user=row, community_id=world.community_id, building_id=building_id,
                                      now=clock.now())
            await uow.commit()

    await register_in(b1)  # the same building again: still in the team
    v = await _do(db, teams.view, actor=world.actors["admin"], building_id=b1)
    assert v.leader == "neighbour" and [m.name for m in v.members] == ["neighbour"]  # type: ignore[attr-defined]
    await register_in(b2)
    v = await _do(db, teams.view, actor=world.actors["admin"], building_id=b1)
    assert v.leader is None and v.members == ()  # type: ignore[attr-defined]
    async with db.uow() as uow:
        pairs = (await uow.session.exec(select(TeamPairing))).all()
        role = (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == neighbour,
                                                               RoleGrant.role == "enthusiast"))).one()
    assert [p.ended_at is not None for p in pairs] == [True] and role.revoked_at is not None
    assert len(await _notices(db, "team_unpaired")) == 1 and len(await _notices(db, "team_left")) == 1
    moved = await actor_of(db, user.tg_id)
    with pytest.raises(Forbidden):  # the household's list of key persons is closed to them now
        await _do(db, teams.my_pairs, actor=moved, now=clock.now())


# ---------------------------------------------------------------- micro posts and the thank-you list


async def test_item4_a_micro_post_claimed_done_and_the_thanks_list(db: Database, world: World,
                                                                   clock: FixedClock) -> None:
    with pytest.raises(Forbidden):
        await _do(db, microposts.post, actor=world.actors["resident"], kind="post", title="x", text="", now=clock.now())
    p = await _do(db, microposts.post, actor=world.actors["committee"], kind="post", title="周末值守垃圾分类点",
                  text="周六上午两小时", now=clock.now())
    assert [r.tg_chat_id for r in await _notices(db, "micro_posted")] == [COMMUNITY_GROUP]
    await _do(db, microposts.claim, actor=world.actors["neighbour"], number=p.number, now=clock.now())  # type: ignore[attr-defined]
    await _do(db, micro.set_consent, actor=world.actors["neighbour"], agreed=True, now=clock.now())
    with pytest.raises(AlreadyDone):
        await _do(db, micro.set_consent, actor=world.actors["neighbour"], agreed=True, now=clock.now())
    await _do(db, microposts.done, actor=world.actors["neighbour"], number=1, note="已完成", photo=None,
              now=clock.now())
    # a wish fulfilled by someone who said no: counted, not named
    await _wish(db, world, clock)
    await _do(db, wishes.claim, actor=world.actors["v4"], number=1, now=clock.now())
    await _do(db, micro.set_consent, actor=world.actors["v4"], agreed=False, now=clock.now())
    await _do(db, wishes.fulfil, actor=world.actors["v4"], number=1, note="好了", photo=None, now=clock.now())
    assert len(await _notices(db, "micro_done")) == 1
    assert await _do(db, micro.thanks_due, now=clock.now()) == 0  # this month's list comes next month
    next_month = FixedClock(datetime(2027, 4, 1, 2, 30, tzinfo=UTC))  # 1 April, 10:30 in Tianjin
    assert await _do(db, micro.thanks_due, now=next_month.now()) == 1
    assert await _do(db, micro.thanks_due, now=next_month.now()) == 0  # once per group and month
    [row] = await _notices(db, "micro_thanks")
    assert row.payload["params"] == {"community": "北辰示范社区", "month": "2027-03", "names": ["neighbour"],
                                     "wishes": 1, "posts": 1}
