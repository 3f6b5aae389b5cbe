"""Closed-loop requests (#13, F-7) against a real database: numbering per community and year (unique in the
schema, no gaps or repeats under concurrency), the state machine by compare-and-set, who may do what by role
and community, the reporter's answer and the default close."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from flows import access, membership, request_stats, request_work, requests
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Org, Role
from storage.db import Database
from storage.models import Chat, Member, OutboxMessage
from storage.models_requests import Request, RequestEvent, RequestReporter
from tests.flows.people import actor_of, enrol

ROLES: dict[str, tuple[Role, Org | None] | None] = {
    "resident": None, "resident2": None, "volunteer": (Role.VOLUNTEER, None), "grid": (Role.GRID_WORKER, None),
    "committee": (Role.COMMITTEE, Org.RESIDENTS_COMMITTEE), "property": (Role.HANDLER, Org.PROPERTY),
    "police": (Role.HANDLER, Org.POLICE), "admin": (Role.ADMIN, None),
    "property_head": (Role.COMMITTEE, Org.PROPERTY),  # the property company's member of the committee
}
COMMITTEE_GROUP = -100200


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    other: Actor  # an admin of another community
    other_committee: Actor  # a committee member of another community


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2", "3"])
        members = await enrol(uow, community_id=community.id or 0, people=ROLES, first_tg_id=500, now=now)
        uow.session.add(Chat(tg_chat_id=COMMITTEE_GROUP, type="supergroup", title="多委群", community_id=community.id,
                             purpose="committee", bot_status="administrator", created_at=now))
        elsewhere, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["9"])
        await enrol(uow, community_id=elsewhere.id or 0, first_tg_id=590, now=now,
                    people={"x_admin": (Role.ADMIN, None), "x_committee": (Role.COMMITTEE, Org.PROPERTY)})
        await uow.commit()
    actors = {key: await actor_of(db, 500 + i) for i, key in enumerate(ROLES)}
    return World(community.id or 0, actors, members, await actor_of(db, 590), await actor_of(db, 591))


async def _report(db: Database, actor: Actor, now: datetime, *, kind: str = "hazard", **extra: object) -> Request:
    async with db.uow(write=True) as uow:
        row = await requests.submit(uow, actor=actor, kind=kind, category="fire", text="楼道堆放杂物，堵住消防通道",
                                    now=now, **extra)  # type: ignore[arg-type]
        await uow.commit()
    return row


async def _do(db: Database, fn: object, **kwargs: object) -> object:
    async with db.uow(write=True) as uow:
        out = await fn(uow, **kwargs)  # type: ignore[operator]
        await uow.commit()
    return out


async def _notices(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [r for r in rows if r.payload.get("notice") == kind]


# ---------------------------------------------------------------- item 1: model, numbering


async def test_item1_numbers_per_community_and_year(db: Database, clock: FixedClock, world: World) -> None:
    first = await _report(db, world.actors["resident"], clock.now(), photos=["p1", "p2"], building_id=None)
    second = await _report(db, world.actors["resident2"], clock.now(), kind="request")
    other = await _report(db, world.other, clock.now())
    assert (first.year, first.number, second.number, other.number) == (2027, 1, 2, 1)
    assert requests.code(first.year, first.number) == "R-2027-0001"
    # the local new year (Asia/Shanghai) starts the count again
    new_year = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 January 2028 in Tianjin
    third = await _report(db, world.actors["resident"], new_year)
    assert (third.year, third.number) == (2028, 1)
    filed = await _notices(db, "request_filed")
    assert [n.tg_chat_id for n in filed[:2]] == [COMMITTEE_GROUP, COMMITTEE_GROUP]
    assert filed[0].payload["params"]["code"] == "R-2027-0001" and filed[0].payload["params"]["photos"] == 2
    # the other community has no committee group: its admin is told in private
    assert filed[2].tg_chat_id == 590


async def test_item1_number_is_unique_in_the_schema(db: Database, clock: FixedClock, world: World) -> None:
    row = await _report(db, world.actors["resident"], clock.now())
    async with db.uow(write=True) as uow:
        uow.session.add(Request(community_id=world.community_id, year=row.year, number=row.number, kind="request",
                                category="other", reporter_member_id=world.members["resident"],
                                created_at=clock.now(), updated_at=clock.now()))
        with pytest.raises(IntegrityError):
            await uow.commit()


async def test_item1_numbers_under_concurrency_are_distinct_and_gapless(db: Database, clock: FixedClock,
                                                                         world: World) -> None:
    people = [world.actors["resident"], world.actors["resident2"], world.actors["volunteer"], world.actors["grid"]]
    rows = await asyncio.gather(*[_report(db, people[i % 4], clock.now()) for i in range(12)])
    assert sorted(r.number for r in rows) == list(range(1, 13))


async def test_item1_bad_input_is_refused_and_leaves_nothing(db: Database, clock: FixedClock, world: World) -> None:
    me = world.actors["resident"]
    cases = [{"kind": "rumour"}, {"category": "ufo"}, {"text": ""}, {"text": "长" * 501},
             {"photos": ["p"] * 6}, {"building_id": 999999}, {"location": (91.0, 0.0)},
             {"text": "", "voice_file_id": "v", "voice_seconds": 301}]
    for case in cases:
        args = {"kind": "hazard", "category": "fire", "text": "有隐患", **case}
        with pytest.raises((Invalid, NotFound)):
            async with db.uow(write=True) as uow:
                await requests.submit(uow, actor=me, now=clock.now(), **args)  # type: ignore[arg-type]
    async with db.uow() as uow:
        assert (await uow.session.exec(select(Request))).all() == []
    with pytest.raises(NotRegistered):
        async with db.uow(write=True) as uow:
            stranger = Actor(user=me.user, member=None, community=None, roles=frozenset())
            await requests.submit(uow, actor=stranger, kind="hazard", category="fire", text="x", now=clock.now())
    # told by voice only: no text needed
    voiced = await _report(db, me, clock.now(), voice_file_id="voice-1", voice_seconds=20)
    assert voiced.voice_seconds == 20


async def test_item2_report_for_the_groups_community_needs_membership_there(db: Database, clock: FixedClock,
                                                                              world: World) -> None:
    async with db.uow() as uow:
        bound = await requests.actor_for(uow, actor=world.other, community_id=world.other.community.id)  # type: ignore[union-attr]
        assert bound is world.other
        with pytest.raises(NotRegistered):
            await requests.actor_for(uow, actor=world.other, community_id=world.community_id)


# ---------------------------------------------------------------- items 3–5: the loop


async def test_item3_to_5_hazard_through_the_loop_with_one_reopen(db: Database, clock: FixedClock,
                                                                 world: World) -> None:
    a = world.actors
    row = await _report(db, a["resident"], clock.now())
    rid = row.id or 0
    assigned = await _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="property",
                         now=clock.now())
    assert assigned.handlers == 1  # type: ignore[attr-defined]
    to_handle = await _notices(db, "request_to_handle")
    assert [n.tg_chat_id for n in to_handle] == [505]  # the property company's handler, not the police's
    assert to_handle[0].payload["params"]["reporter"] == "resident"
    await _do(db, request_work.accept, actor=a["property"], request_id=rid, now=clock.now())
    await _do(db, request_work.progress, actor=a["property"], request_id=rid, note="已联系住户清理", now=clock.now())
    with pytest.raises(Invalid) as err:  # a hazard needs its "after" photo
        await _do(db, request_work.resolve, actor=a["property"], request_id=rid, note="已清理", now=clock.now())
    assert err.value.field == "photo"
    await _do(db, request_work.resolve, actor=a["property"], request_id=rid, note="已清理", photo="after-1",
              now=clock.now())
    # the reporter: 没解决 → back to the property company, counted
    back = await _do(db, request_work.reopen, actor=a["resident"], request_id=rid, reason="还有一辆电动车",
                     now=clock.now())
    assert back.state == "reopened" and back.reopen_count == 1 and back.organisation == "property"  # type: ignore[attr-defined]
    reopened = (await _notices(db, "request_to_handle"))[-1]
    assert reopened.tg_chat_id == 505 and reopened.payload["params"]["reason"] == "还有一辆电动车"
    await _do(db, request_work.accept, actor=a["property"], request_id=rid, now=clock.now())
    await _do(db, request_work.resolve, actor=a["property"], request_id=rid, note="电动车已移走", photo="after-2",
              now=clock.now())
    done = await _do(db, request_work.confirm, actor=a["resident"], request_id=rid, now=clock.now())
    assert done.state == "confirmed" and done.closed_at is not None  # type: ignore[attr-defined]
    async with db.uow() as uow:
        steps = (await uow.session.exec(select(RequestEvent.action).where(RequestEvent.request_id == rid)
                                        .order_by(col(RequestEvent.id)))).all()
    assert steps == ["report", "assign", "accept", "progress", "resolve", "reopen", "accept", "resolve", "confirm"]
    told = [n.payload["params"]["step"] for n in await _notices(db, "request_step") if n.tg_chat_id == 500]
    assert told == ["assigned", "accepted", "progress", "accepted"]
    assert len([n for n in await _notices(db, "request_resolved") if n.tg_chat_id == 500]) == 2
    assert [n.payload["params"]["how"] for n in await _notices(db, "request_closed")] == ["confirmed"]


async def test_item3_merge_carries_reporters_and_reject_tells_the_reason(db: Database, clock: FixedClock,
                                                                        world: World) -> None:
    a = world.actors
    first = await _report(db, a["resident"], clock.now(), kind="dispute")
    second = await _report(db, a["resident2"], clock.now(), kind="dispute")
    with pytest.raises(Invalid):
        await _do(db, request_work.merge, actor=a["committee"], request_id=second.id, into="R-2027-0002",
                  now=clock.now())
    with pytest.raises(NotFound):
        await _do(db, request_work.merge, actor=a["committee"], request_id=second.id, into="77", now=clock.now())
    merged = await _do(db, request_work.merge, actor=a["committee"], request_id=second.id, into="R-2027-0001",
                       now=clock.now())
    assert merged.state == "merged" and merged.merged_into_id == first.id  # type: ignore[attr-defined]
    async with db.uow() as uow:
        who = (await uow.session.exec(select(RequestReporter.member_id).where(RequestReporter.request_id == first.id)
                                      .order_by(col(RequestReporter.id)))).all()
    assert who == [world.members["resident"], world.members["resident2"]]
    step = (await _notices(db, "request_step"))[-1]
    assert step.tg_chat_id == 501 and step.payload["params"]["into"] == "R-2027-0001"
    # once merged, it cannot be assessed again
    with pytest.raises(AlreadyDone):
        await _do(db, request_work.reject, actor=a["committee"], request_id=second.id, reason="重复", now=clock.now())
    # both reporters hear of the resolution of the request they now share, and either may answer
    await _do(db, request_work.assign, actor=a["admin"], request_id=first.id, org="police", now=clock.now())
    await _do(db, request_work.accept, actor=a["police"], request_id=first.id, now=clock.now())
    await _do(db, request_work.resolve, actor=a["police"], request_id=first.id, note="已调解", now=clock.now())
    assert {n.tg_chat_id for n in await _notices(db, "request_resolved")} == {500, 501}
    await _do(db, request_work.confirm, actor=a["resident2"], request_id=first.id, now=clock.now())
    third = await _report(db, a["resident"], clock.now(), kind="request")
    rejected = await _do(db, request_work.reject, actor=a["committee"], request_id=third.id, reason="不属于社区事务",
                         now=clock.now())
    assert rejected.state == "rejected"  # type: ignore[attr-defined]
    assert (await _notices(db, "request_step"))[-1].payload["params"]["note"] == "不属于社区事务"


async def test_item3_to_5_every_refusal_by_role_and_community(db: Database, clock: FixedClock,
                                                              world: World) -> None:
    a = world.actors
    row = await _report(db, a["resident"], clock.now())
    rid = row.id or 0
    for who in ("resident", "volunteer", "grid", "property"):  # not assessors
        with pytest.raises(Forbidden):
            await _do(db, request_work.assign, actor=a[who], request_id=rid, org="property", now=clock.now())
        with pytest.raises(Forbidden):
            await _do(db, request_work.reject, actor=a[who], request_id=rid, reason="x", now=clock.now())
        with pytest.raises(Forbidden):
            await _do(db, request_work.merge, actor=a[who], request_id=rid, into="1", now=clock.now())
    for outsider in (world.other, world.other_committee):  # assessors of another community: not found there
        with pytest.raises(NotFound):
            await _do(db, request_work.assign, actor=outsider, request_id=rid, org="property", now=clock.now())
    with pytest.raises(Invalid):  # not one of the community's organisations
        await _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="mafia", now=clock.now())
    await _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="property", now=clock.now())
    with pytest.raises(AlreadyDone):  # assessed once
        await _do(db, request_work.assign, actor=a["admin"], request_id=rid, org="police", now=clock.now())
    for who in ("resident", "committee", "volunteer"):  # not handlers
        with pytest.raises(Forbidden):
            await _do(db, request_work.accept, actor=a[who], request_id=rid, now=clock.now())
    with pytest.raises(Forbidden):  # a handler of another organisation
        await _do(db, request_work.accept, actor=a["police"], request_id=rid, now=clock.now())
    with pytest.raises(NotFound):
        await _do(db, request_work.accept, actor=world.other, request_id=rid, now=clock.now())
    with pytest.raises(Invalid):  # progress before accepting
        await _do(db, request_work.progress, actor=a["property"], request_id=rid, note="x", now=clock.now())
    with pytest.raises(AlreadyDone):  # resolving what was not accepted
        await _do(db, request_work.resolve, actor=a["property"], request_id=rid, note="x", photo="p", now=clock.now())
    await _do(db, request_work.accept, actor=a["property"], request_id=rid, now=clock.now())
    with pytest.raises(NotFound):  # only a reporter answers
        await _do(db, request_work.confirm, actor=a["resident2"], request_id=rid, now=clock.now())
    with pytest.raises(AlreadyDone):  # nothing to confirm before it is resolved
        await _do(db, request_work.confirm, actor=a["resident"], request_id=rid, now=clock.now())
    await _do(db, request_work.resolve, actor=a["admin"], request_id=rid, note="管理员代办", photo="p",
              now=clock.now())  # admins may act for any organisation
    with pytest.raises(NotFound):
        await _do(db, request_work.reopen, actor=a["property"], request_id=rid, reason="x", now=clock.now())
    with pytest.raises(Invalid):
        await _do(db, request_work.reopen, actor=a["resident"], request_id=rid, reason=" ", now=clock.now())


async def test_item3_to_5_transitions_are_compare_and_set(db: Database, clock: FixedClock, world: World) -> None:
    """Two assessors at once, two answers at once: exactly one acts, the other is told it was done."""
    a = world.actors
    rid = (await _report(db, a["resident"], clock.now())).id or 0
    outcomes = await asyncio.gather(
        _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="property", now=clock.now()),
        _do(db, request_work.reject, actor=a["admin"], request_id=rid, reason="重复", now=clock.now()),
        return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) in (["AlreadyDone", "Assigned"], ["AlreadyDone", "Request"])
    async with db.uow() as uow:
        events = (await uow.session.exec(select(RequestEvent.action).where(RequestEvent.request_id == rid))).all()
    assert len(events) == 2  # the report and exactly one assessment


async def test_item3_cas_refuses_a_stale_row(db: Database, clock: FixedClock, world: World) -> None:
    """The compare-and-set itself: a row read as "new" but moved meanwhile is not moved again."""
    a = world.actors
    rid = (await _report(db, a["resident"], clock.now())).id or 0
    async with db.uow(write=True) as uow:
        stale = await requests.get(uow, community_id=world.community_id, request_id=rid)
        await uow.session.execute(Request.__table__.update().where(Request.__table__.c.id == rid)  # type: ignore[attr-defined]
                                  .values(state="rejected"))
        assert stale.state == "new"
        with pytest.raises(AlreadyDone):
            await request_work._move(uow, stale, old=("new",), new="assigned", now=clock.now())


async def test_item5_no_answer_in_three_days_closes_as_default(db: Database, clock: FixedClock,
                                                               world: World) -> None:
    a = world.actors
    rid = (await _report(db, a["resident"], clock.now(), kind="request")).id or 0
    await _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="property", now=clock.now())
    await _do(db, request_work.accept, actor=a["property"], request_id=rid, now=clock.now())
    resolved_at = clock.now() + timedelta(hours=5)
    await _do(db, request_work.resolve, actor=a["property"], request_id=rid, note="已修好", now=resolved_at)
    assert await _do(db, request_work.due, now=resolved_at + timedelta(days=3) - timedelta(minutes=1)) == 0
    assert await _do(db, request_work.due, now=resolved_at + timedelta(days=3)) == 1
    assert await _do(db, request_work.due, now=resolved_at + timedelta(days=4)) == 0  # idempotent
    async with db.uow() as uow:
        row = await requests.get(uow, community_id=world.community_id, request_id=rid)
    assert row.state == "closed_default"
    assert (await _notices(db, "request_step"))[-1].payload["params"]["step"] == "closed_default"
    with pytest.raises(AlreadyDone):  # too late to answer
        await _do(db, request_work.confirm, actor=a["resident"], request_id=rid, now=resolved_at + timedelta(days=4))


# ---------------------------------------------------------------- item 6: the public list


async def test_item6_public_list_has_no_personal_data(db: Database, clock: FixedClock, world: World) -> None:
    a = world.actors
    async with db.uow() as uow:
        building = await membership.building_by_label(uow, community_id=world.community_id, label="3")
    rid = (await _report(db, a["resident"], clock.now(), building_id=building.id if building else None)).id
    old = (await _report(db, a["resident2"], clock.now() - timedelta(days=60), kind="request")).id
    await _do(db, request_work.reject, actor=a["admin"], request_id=old, reason="重复",
              now=clock.now() - timedelta(days=59))
    await _report(db, world.other, clock.now())  # another community's
    async with db.uow() as uow:
        page = await requests.public_list(uow, actor=a["volunteer"], now=clock.now())
    assert [(line.code, line.kind, line.category, line.building, line.state) for line in page.items] == [
        ("R-2027-0001", "hazard", "fire", "3", "new")]
    assert page.items[0].id == rid and not hasattr(page.items[0], "text")
    async with db.uow() as uow:  # someone in the community's group who is not a member sees the same
        outsider = Actor(user=world.other.user, member=None, community=a["resident"].community, roles=frozenset(),
                         outsider=True)
        assert (await requests.public_list(uow, actor=outsider, now=clock.now())).items == page.items
    with pytest.raises(NotRegistered):  # in private, without a community
        async with db.uow() as uow:
            await requests.public_list(uow, actor=Actor(user=world.other.user, member=None, community=None,
                                                        roles=frozenset()), now=clock.now())


async def test_item3_routing_rules_and_organisations_are_the_admins(db: Database, clock: FixedClock,
                                                                    world: World) -> None:
    a = world.actors
    for who in ("resident", "committee", "property", "grid"):
        with pytest.raises(Forbidden):
            await _do(db, requests.set_route, actor=a[who], category="fire", org="property", now=clock.now())
        with pytest.raises(Forbidden):
            await _do(db, requests.set_organisations, actor=a[who], orgs=["rc"], now=clock.now())
    with pytest.raises(Invalid):
        await _do(db, requests.set_route, actor=a["admin"], category="ufo", org="property", now=clock.now())
    with pytest.raises(Invalid):
        await _do(db, requests.set_organisations, actor=a["admin"], orgs=[], now=clock.now())
    assert await _do(db, requests.set_organisations, actor=a["admin"], orgs=["police", "property", "police"],
                     now=clock.now()) == ("police", "property")
    with pytest.raises(Invalid):  # not one of the community's organisations (any more)
        await _do(db, requests.set_route, actor=a["admin"], category="fire", org="rc", now=clock.now())
    assert await _do(db, requests.set_route, actor=a["admin"], category="fire", org="property",
                     now=clock.now()) == {"fire": "property"}
    fresh = await actor_of(db, 500)  # the community as loaded for the next update
    await _report(db, fresh, clock.now())
    filed = (await _notices(db, "request_filed"))[-1].payload["params"]
    assert filed["orgs"] == ["police", "property"] and filed["suggested"] == "property"
    with pytest.raises(Invalid):  # assigning outside the list
        await _do(db, request_work.assign, actor=await actor_of(db, 504), request_id=filed["request_id"], org="rc",
                  now=clock.now())
    await _do(db, requests.set_route, actor=await actor_of(db, 507), category="fire", org=None, now=clock.now())
    await _report(db, await actor_of(db, 500), clock.now())
    assert (await _notices(db, "request_filed"))[-1].payload["params"]["suggested"] is None


# ---------------------------------------------------------------- item 7: the clocks on the deadline ladder


async def _overdue(db: Database) -> list[tuple[int, str, str]]:
    return [(n.tg_chat_id, n.payload["params"]["stage"], n.payload["params"]["audience"])
            for n in await _notices(db, "request_overdue")]


async def test_item7_hazard_climbs_each_rung_once_per_stage(db: Database, clock: FixedClock, world: World) -> None:
    a, t0 = world.actors, clock.now()
    rid = (await _report(db, a["resident"], t0)).id or 0
    tick = request_work.due
    assert await _do(db, tick, now=t0 + timedelta(hours=2) - timedelta(seconds=1)) == 0
    assert await _do(db, tick, now=t0 + timedelta(hours=2)) == 1  # assess 2 h: the committee group is reminded
    assert await _do(db, tick, now=t0 + timedelta(hours=2, minutes=30)) == 0  # once
    assert await _do(db, tick, now=t0 + timedelta(hours=3)) == 1  # + 1 h: the admins
    assert await _do(db, tick, now=t0 + timedelta(hours=5)) == 1  # + 2 h: the district (there is none here)
    assert await _do(db, tick, now=t0 + timedelta(days=5)) == 0  # past the top
    assert await _overdue(db) == [(COMMITTEE_GROUP, "assess", "committee"), (507, "assess", "admins")]
    # assigned: the resolve ladder starts afresh — 24 h, then the organisation's head, the admins, the district
    t1 = t0 + timedelta(days=5)
    await _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="property", now=t1)
    await _do(db, request_work.accept, actor=a["property"], request_id=rid, now=t1 + timedelta(hours=1))
    assert await _do(db, tick, now=t1 + timedelta(hours=23)) == 0  # accepting does not stop the clock …
    assert await _do(db, tick, now=t1 + timedelta(hours=24)) == 1  # … and 24 h after the assignment it is due
    assert await _do(db, tick, now=t1 + timedelta(hours=36)) == 1
    assert await _do(db, tick, now=t1 + timedelta(hours=48)) == 1
    assert (await _overdue(db))[2:] == [(505, "resolve", "handlers"), (508, "resolve", "org_head"),
                                         (507, "resolve", "admins")]
    # resolved: the clock stops; a reopening starts it again, and its reminders are new ones
    t2 = t1 + timedelta(hours=50)
    await _do(db, request_work.resolve, actor=a["property"], request_id=rid, note="已清理", photo="p", now=t2)
    assert await _do(db, tick, now=t2 + timedelta(days=2)) == 0
    await _do(db, request_work.reopen, actor=a["resident"], request_id=rid, reason="没清完", now=t2 + timedelta(days=2))
    assert await _do(db, tick, now=t2 + timedelta(days=3)) == 1
    assert (await _overdue(db))[-1] == (505, "resolve", "handlers")


async def test_item7_after_a_restart_each_rung_is_climbed_once(db: Database, clock: FixedClock,
                                                               world: World) -> None:
    """The scheduler was down for two days: the overdue request climbs one rung per tick, not all at once."""
    t0 = clock.now()
    await _report(db, world.actors["resident"], t0)
    back = t0 + timedelta(days=2)
    counts = await asyncio.gather(*(_do(db, request_work.due, now=back) for _ in range(3)))  # three ticks at once
    assert sorted(counts) == [0, 0, 1]  # type: ignore[type-var]
    assert await _do(db, request_work.due, now=back + timedelta(minutes=59)) == 0
    assert await _do(db, request_work.due, now=back + timedelta(hours=1)) == 1
    assert await _do(db, request_work.due, now=back + timedelta(hours=3)) == 1
    assert [who for _, _, who in await _overdue(db)] == ["committee", "admins"]


async def test_item7_clocks_count_local_days_across_time_zones(db: Database, clock: FixedClock) -> None:
    """A 7-day limit ends at the same local time a week later: in Berlin across the change to summer time, the
    instant is an hour earlier in UTC; in Tianjin (no DST) exactly 7 × 24 h."""
    now = datetime(2027, 3, 25, 9, 0, tzinfo=UTC)  # 10:00 in Berlin (winter time), 17:00 in Tianjin
    dues = {}
    for i, tz in enumerate(("Europe/Berlin", "Asia/Shanghai")):
        async with db.uow(write=True) as uow:
            community, _ = await membership.create_community(uow, name=f"社区{i}", now=now, timezone=tz)
            await enrol(uow, community_id=community.id or 0, first_tg_id=700 + 10 * i, now=now,
                        people={"r": None, "c": (Role.COMMITTEE, Org.PROPERTY)})
            await uow.commit()
        row = await _report(db, await actor_of(db, 700 + 10 * i), now, kind="request")
        await _do(db, request_work.assign, actor=await actor_of(db, 701 + 10 * i), request_id=row.id,
                  org="property", now=now)
        async with db.uow() as uow:
            dues[tz] = (await requests.get(uow, community_id=community.id or 0, request_id=row.id or 0)).due_at
    assert dues["Europe/Berlin"] == datetime(2027, 4, 1, 8, 0, tzinfo=UTC)  # 10:00 summer time
    assert dues["Asia/Shanghai"] == now + timedelta(days=7)


# ---------------------------------------------------------------- item 6: statistics (F-7.5)


async def test_item6_statistics_per_community_and_district(db: Database, clock: FixedClock, world: World) -> None:
    a, t0 = world.actors, clock.now()
    h = timedelta(hours=1)
    hazard = (await _report(db, a["resident"], t0)).id
    await _do(db, request_work.assign, actor=a["committee"], request_id=hazard, org="property", now=t0 + 2 * h)
    await _do(db, request_work.accept, actor=a["property"], request_id=hazard, now=t0 + 3 * h)
    await _do(db, request_work.resolve, actor=a["property"], request_id=hazard, note="ok", photo="p", now=t0 + 10 * h)
    await _do(db, request_work.reopen, actor=a["resident"], request_id=hazard, reason="不行", now=t0 + 11 * h)
    await _do(db, request_work.accept, actor=a["property"], request_id=hazard, now=t0 + 12 * h)
    await _do(db, request_work.resolve, actor=a["property"], request_id=hazard, note="ok", photo="p", now=t0 + 13 * h)
    await _do(db, request_work.confirm, actor=a["resident"], request_id=hazard, now=t0 + 14 * h)
    dispute = (await _report(db, a["resident2"], t0, kind="dispute")).id
    await _do(db, request_work.assign, actor=a["committee"], request_id=dispute, org="police", now=t0 + 4 * h)
    await _do(db, request_work.accept, actor=a["police"], request_id=dispute, now=t0 + 5 * h)
    await _do(db, request_work.resolve, actor=a["police"], request_id=dispute, note="调解了", now=t0 + 20 * h)
    await _do(db, request_work.due, now=t0 + 20 * h + timedelta(days=3))
    declined = (await _report(db, a["resident"], t0, kind="request")).id
    await _do(db, request_work.reject, actor=a["admin"], request_id=declined, reason="x", now=t0 + h)
    await _report(db, a["resident"], t0, kind="request")  # still new
    await _report(db, world.other, t0)  # another community's
    async with db.uow() as uow:
        st = await request_stats.of_community(uow, actor=a["volunteer"], now=t0)
        assert (st.reported, st.open, st.solved, st.by_default, st.declined) == (
            4, 1, {"request": 0, "dispute": 1, "hazard": 1}, 1, 1)
        assert st.reopen_rate == 0.5  # one of the two resolved ones was reopened
        assert st.satisfaction == 0.5  # one 满意, one 没解决 (the default close is no answer)
        assert st.median == {"assess": 3 * h, "resolve": 12 * h, "confirm": timedelta(hours=36, minutes=30)}
        with pytest.raises(Forbidden):
            await request_stats.of_district(uow, actor=a["admin"], now=t0)
    async with db.uow(write=True) as uow:
        member = (await uow.session.exec(select(Member).where(Member.id == world.members["admin"]))).one()
        await membership.assign_role(uow, member=member, role=Role.DISTRICT_ADMIN, org=None, now=t0)
        await uow.commit()
    async with db.uow() as uow:
        st = await request_stats.of_district(uow, actor=await actor_of(db, 507), now=t0)
    assert (st.communities, st.reported) == (2, 5)


async def test_item2_a_report_from_a_group_belongs_to_the_groups_community(db: Database, clock: FixedClock,
                                                                          world: World) -> None:
    """Someone active in another community reports from this community's group: the request is this one's."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        user = await membership.touch_user(uow, tg_id=590, first_name="x_admin", last_name=None, username=None,
                                           tg_language="zh-hans", now=now)
        b3 = await membership.building_by_label(uow, community_id=world.community_id, label="3")
        await membership.register(uow, user=user, community_id=world.community_id,
                                  building_id=b3.id if b3 else None, now=now)
        await membership.switch_community(uow, user=user, community_id=world.other.community.id)  # type: ignore[union-attr]
        await uow.commit()
    active = await actor_of(db, 590)
    assert active.community is not None and active.community.id != world.community_id
    async with db.uow(write=True) as uow:
        bound = await requests.actor_for(uow, actor=active, community_id=world.community_id)
        assert "admin" not in bound.roles and bound.member is not None and bound.member.building_id == (b3.id if b3 else 0)
        row = await requests.submit(uow, actor=bound, kind="request", category="noise", text="夜间施工",
                                    building_id=bound.member.building_id, now=now)
        await uow.commit()
    assert row.community_id == world.community_id and row.number == 1
    assert (await _notices(db, "request_filed"))[-1].tg_chat_id == COMMITTEE_GROUP


async def test_item4_a_revoked_handler_stops_working_and_hearing(db: Database, clock: FixedClock,
                                                                 world: World) -> None:
    a, t0 = world.actors, clock.now()
    rid = (await _report(db, a["resident"], t0, kind="request")).id or 0
    await _do(db, request_work.assign, actor=a["committee"], request_id=rid, org="property", now=t0)
    await _do(db, access.revoke_role, actor=a["admin"], member_id=world.members["property"], role=Role.HANDLER,
              now=t0)
    gone = await actor_of(db, 505)  # as the next update loads them
    with pytest.raises(Forbidden):
        await _do(db, request_work.accept, actor=gone, request_id=rid, now=t0)
    assert await _do(db, request_work.due, now=t0 + timedelta(days=7)) == 1  # the reminder rung …
    assert [chat for chat, _, who in await _overdue(db) if who == "handlers"] == []  # … tells nobody now
