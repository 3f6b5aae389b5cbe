"""Announcements (#14, F-11.4) against a real database: the audience each role may reach, the send time in the
community's zone, the quiet hours, editing and deleting everywhere, the refusals, and the day's count per group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from flows import announce, membership, quiet
from flows.announce import ALL, AT, BUILDINGS, GRID, NOW, TOMORROW, VOLUNTEERS, Draft
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.roles import Role
from storage.db import Database
from storage.models import Building, Chat, Community, Grid, OutboxMessage
from tests.flows.people import actor_of, enrol

ROLES = {"resident": None, "admin": Role.ADMIN, "worker_a": Role.GRID_WORKER, "worker_b": Role.GRID_WORKER}
#: building label → its group's chat id; grid A holds 1 and 2, grid B holds 3, building 4 has no grid
GROUPS = {"1": -100501, "2": -100502, "3": -100503, "4": -100504}
VOLUNTEERS_GROUP, OTHER_GROUP = -100510, -100599


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    grids: dict[str, int]
    buildings: dict[str, int]
    other_admin: Actor


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=list(GROUPS))
        members = await enrol(uow, community_id=community.id or 0, people=ROLES, first_tg_id=900, now=now)
        grid_a = Grid(community_id=community.id or 0, name="一网格", worker_member_id=members["worker_a"])
        grid_b = Grid(community_id=community.id or 0, name="二网格", worker_member_id=members["worker_b"])
        uow.session.add_all([grid_a, grid_b])
        await uow.session.flush()
        buildings = {b.label: b for b in (await uow.session.exec(
            select(Building).where(Building.community_id == community.id))).all()}
        for label, grid in (("1", grid_a), ("2", grid_a), ("3", grid_b)):
            buildings[label].grid_id = grid.id
            uow.session.add(buildings[label])
        for label, tg in GROUPS.items():
            uow.session.add(Chat(tg_chat_id=tg, type="supergroup", title=f"{label}号楼", community_id=community.id,
                                 purpose="building", building_id=buildings[label].id, bot_status="administrator",
                                 created_at=now))
        uow.session.add(Chat(tg_chat_id=VOLUNTEERS_GROUP, type="supergroup", title="志愿者", community_id=community.id,
                             purpose="volunteers", bot_status="administrator", created_at=now))
        elsewhere, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["9"])
        await enrol(uow, community_id=elsewhere.id or 0, first_tg_id=990, now=now, people={"x_admin": Role.ADMIN})
        nine = (await uow.session.exec(select(Building).where(Building.community_id == elsewhere.id))).one()
        uow.session.add(Chat(tg_chat_id=OTHER_GROUP, type="supergroup", title="9号楼", community_id=elsewhere.id,
                             purpose="building", building_id=nine.id, bot_status="administrator", created_at=now))
        await uow.commit()
    actors = {key: await actor_of(db, 900 + i) for i, key in enumerate(ROLES)}
    return World(community.id or 0, actors, {"A": grid_a.id or 0, "B": grid_b.id or 0},
                 {k: v.id or 0 for k, v in buildings.items()}, await actor_of(db, 990))


async def _do(db: Database, fn: object, **kwargs: object) -> object:
    async with db.uow(write=True) as uow:
        out = await fn(uow, **kwargs)  # type: ignore[operator]
        await uow.commit()
    return out


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def _chats(db: Database, w: World, actor: str, audience: str, targets: tuple[int, ...] = ()) -> set[int]:
    async def run(uow: object, **_: object) -> set[int]:
        s = await announce.scope(uow, actor=w.actors[actor])  # type: ignore[arg-type]
        return {c.tg_chat_id for c in await announce.audience_chats(uow, s=s, audience=audience,  # type: ignore[arg-type]
                                                                     targets=targets)}
    return await _do(db, run)  # type: ignore[return-value]


async def _publish(db: Database, actor: Actor, draft: Draft, now: datetime,
                   send_at: datetime | None = None) -> announce.Published:
    return await _do(db, announce.publish, actor=actor, draft=draft, send_at=send_at or now, now=now)  # type: ignore[return-value]


async def _sent(db: Database, ids: dict[int, int] | None = None) -> None:
    """The sender's work: every pending row sent, each message given an id (chat id → message id, else 7000+row)."""
    async with db.uow(write=True) as uow:
        for row in (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))).all():
            await uow.session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == row.id).values(
                status="sent", sent_at=row.not_before, tg_message_id=(ids or {}).get(row.tg_chat_id, 7000 + (row.id or 0))))
        await uow.commit()


async def test_item1_audience_by_role(db: Database, world: World) -> None:
    w, b = world, world.buildings
    everyone = set(GROUPS.values())
    assert await _chats(db, w, "admin", ALL) == everyone
    assert await _chats(db, w, "admin", GRID, (w.grids["A"],)) == {GROUPS["1"], GROUPS["2"]}
    assert await _chats(db, w, "admin", GRID, (w.grids["A"], w.grids["B"])) == {GROUPS["1"], GROUPS["2"], GROUPS["3"]}
    assert await _chats(db, w, "admin", VOLUNTEERS) == {VOLUNTEERS_GROUP}
    assert await _chats(db, w, "admin", BUILDINGS, (b["2"], b["4"])) == {GROUPS["2"], GROUPS["4"]}
    # a grid worker: their own grid's buildings only
    assert await _chats(db, w, "worker_a", GRID, (w.grids["A"],)) == {GROUPS["1"], GROUPS["2"]}
    assert await _chats(db, w, "worker_a", BUILDINGS, (b["1"],)) == {GROUPS["1"]}
    for audience, targets in ((GRID, (w.grids["B"],)), (BUILDINGS, (b["3"],)), (BUILDINGS, (b["4"],)), (ALL, ()),
                              (VOLUNTEERS, ())):
        with pytest.raises(Forbidden):
            await _chats(db, w, "worker_a", audience, targets)
    with pytest.raises(Forbidden):
        await _chats(db, w, "resident", ALL)


async def test_item1_refusals_leave_nothing_queued(db: Database, world: World, clock: FixedClock) -> None:
    now, w = clock.now(), world
    with pytest.raises(Forbidden):
        await _publish(db, w.actors["resident"], Draft(ALL, text="停水通知"), now)
    with pytest.raises(Forbidden):
        await _publish(db, w.actors["worker_b"], Draft(GRID, (w.grids["A"],), text="停水通知"), now)
    with pytest.raises(NotFound):  # another community's admin names this community's grid
        await _publish(db, w.other_admin, Draft(GRID, (w.grids["A"],), text="停水通知"), now)
    with pytest.raises(Invalid) as long:
        await _publish(db, w.actors["admin"], Draft(ALL, text="长" * (announce.TEXT_MAX + 1)), now)
    assert long.value.reason == "too_long"
    with pytest.raises(Invalid):
        await _publish(db, w.actors["admin"], Draft(ALL, text="长" * (announce.CAPTION_MAX + 1), photo="AgAD"), now)
    assert await _rows(db) == []
    # the other community's admin reaches only their own groups
    done = await _publish(db, w.other_admin, Draft(ALL, text="通知"), now)
    assert done.groups == 1 and {r.tg_chat_id for r in await _rows(db)} == {OTHER_GROUP}


async def test_item1_an_announcement_to_two_grids_reaches_their_groups_once(db: Database, world: World,
                                                                            clock: FixedClock) -> None:
    now, w = clock.now(), world
    done = await _publish(db, w.actors["admin"], Draft(GRID, (w.grids["A"], w.grids["B"]), text="周六停水"), now)
    assert done.groups == 3 and done.announcement.number == 1 and done.due == now  # 09:30: not quiet
    rows = await _rows(db)
    assert {r.tg_chat_id for r in rows} == {GROUPS["1"], GROUPS["2"], GROUPS["3"]}
    assert {r.payload["notice"] for r in rows} == {"announcement"}
    assert rows[0].payload["params"]["text"] == "周六停水"
    assert len({r.dedupe_key for r in rows}) == 3
    again = await _publish(db, w.actors["worker_b"], Draft(GRID, (w.grids["B"],), text="三号楼清洁"), now)
    assert again.announcement.number == 2 and again.groups == 1


async def test_item2_scheduling_in_the_community_zone(db: Database, world: World, clock: FixedClock) -> None:
    now = clock.now()  # 2027-03-01 09:30 in Tianjin
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
    assert community is not None
    assert announce.send_time(community, choice=NOW, now=now) == now
    assert announce.send_time(community, choice=TOMORROW, now=now) == datetime(2027, 3, 2, 1, 0, tzinfo=UTC)
    assert announce.send_time(community, choice=AT, now=now, typed="2027-03-05 18:30") == \
        datetime(2027, 3, 5, 10, 30, tzinfo=UTC)
    berlin = community.model_copy(update={"timezone": "Europe/Berlin"})
    assert announce.send_time(berlin, choice=AT, now=now, typed="2027-03-05 18:30") == \
        datetime(2027, 3, 5, 17, 30, tzinfo=UTC)
    for typed, reason in (("2027-02-28 10:00", "past"), ("明天 9点", "format"), ("2027-13-01 10:00", "format")):
        with pytest.raises(Invalid) as bad:
            announce.send_time(community, choice=AT, now=now, typed=typed)
        assert bad.value.reason == reason
    at = announce.send_time(community, choice=TOMORROW, now=now)
    await _publish(db, world.actors["admin"], Draft(BUILDINGS, (world.buildings["1"],), text="明天见"), now, at)
    assert [r.not_before for r in await _rows(db)] == [at]


async def test_item3_quiet_hours_hold_group_posts_unless_urgent(db: Database, world: World, clock: FixedClock) -> None:
    late = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # 22:00 in Tianjin
    morning = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 the next day in Tianjin
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
    assert community is not None
    assert quiet.group_post_time(community, late) == morning
    assert quiet.group_post_time(community, datetime(2027, 3, 1, 22, 0, tzinfo=UTC)) == morning  # 06:00
    assert quiet.group_post_time(community, morning) == morning
    assert quiet.group_post_time(community, datetime(2027, 3, 1, 12, 59, tzinfo=UTC)) == \
        datetime(2027, 3, 1, 12, 59, tzinfo=UTC)  # 20:59
    custom = community.model_copy(update={"settings": {"quiet_from": "22:30", "quiet_until": "07:00"}})
    assert quiet.group_post_time(custom, late) == late
    b1 = (world.buildings["1"],)
    held = await _publish(db, world.actors["admin"], Draft(BUILDINGS, b1, text="普通"), late)
    urgent = await _publish(db, world.actors["admin"], Draft(BUILDINGS, b1, text="紧急：停电", urgent=True), late)
    assert (held.due, urgent.due) == (morning, late)
    assert [r.not_before for r in await _rows(db)] == [morning, late]


async def test_item4_edit_and_delete_everywhere(db: Database, world: World, clock: FixedClock) -> None:
    now, w = clock.now(), world
    admin = w.actors["admin"]
    await _publish(db, admin, Draft(GRID, (w.grids["A"], w.grids["B"]), text="周六停水"), now)
    await _sent(db, {GROUPS["1"]: 11, GROUPS["2"]: 12, GROUPS["3"]: 13})
    later = now + timedelta(minutes=5)
    assert await _do(db, announce.edit, actor=admin, number=1, text="周日停水", now=later) == 3
    edits = (await _rows(db))[3:]
    assert {(r.tg_chat_id, r.payload["op"], r.payload["message_id"]) for r in edits} == \
        {(GROUPS["1"], "edit_or_send", 11), (GROUPS["2"], "edit_or_send", 12), (GROUPS["3"], "edit_or_send", 13)}
    assert {r.payload["params"]["text"] for r in edits} == {"周日停水"}
    await _sent(db)
    # a grid worker may not change an admin's announcement; nor may another community's admin find it
    with pytest.raises(Forbidden):
        await _do(db, announce.edit, actor=w.actors["worker_a"], number=1, text="x", now=later)
    with pytest.raises(NotFound):
        await _do(db, announce.delete, actor=w.other_admin, number=1, now=later)
    assert await _do(db, announce.delete, actor=admin, number=1, now=later) == 3
    gone = [r for r in await _rows(db) if r.payload.get("op") == "delete"]
    assert {(r.tg_chat_id, r.payload["message_id"]) for r in gone} == {(GROUPS["1"], 11), (GROUPS["2"], 12),
                                                                       (GROUPS["3"], 13)}
    with pytest.raises(NotFound):  # deleted: neither editable nor listed any more
        await _do(db, announce.edit, actor=admin, number=1, text="x", now=later)
    assert await _do(db, announce.listing, actor=admin) == []


async def test_item4_a_scheduled_one_is_changed_or_dropped_before_it_goes_out(db: Database, world: World,
                                                                              clock: FixedClock) -> None:
    now, admin = clock.now(), world.actors["admin"]
    at = now + timedelta(days=1)
    await _publish(db, admin, Draft(GRID, (world.grids["A"],), text="明天停水"), now, at)
    assert await _do(db, announce.edit, actor=admin, number=1, text="后天停水", now=now) == 2
    rows = await _rows(db)
    assert len(rows) == 2 and {r.payload["params"]["text"] for r in rows} == {"后天停水"}
    assert {r.not_before for r in rows} == {at}
    assert await _do(db, announce.delete, actor=admin, number=1, now=now) == 2
    assert await _rows(db) == []


async def test_item4_two_edits_at_once_one_wins(db: Database, world: World, clock: FixedClock) -> None:
    now, admin = clock.now(), world.actors["admin"]
    await _publish(db, admin, Draft(BUILDINGS, (world.buildings["1"],), text="原文"), now)
    async with db.uow(write=True) as uow:
        stale = await announce.get(uow, actor=admin, number=1)
    await _do(db, announce.edit, actor=admin, number=1, text="新文", now=now)
    async with db.uow(write=True) as uow:
        with pytest.raises(AlreadyDone):
            await announce._claim(uow, stale, text="别的")


async def test_item5_a_day_of_bot_messages_is_counted_per_group(db: Database, world: World,
                                                                 clock: FixedClock) -> None:
    now, admin = clock.now(), world.actors["admin"]
    await _publish(db, admin, Draft(ALL, text="一"), now)
    await _publish(db, admin, Draft(BUILDINGS, (world.buildings["1"],), text="二"), now)
    await _publish(db, admin, Draft(BUILDINGS, (world.buildings["1"],), text="三"), now + timedelta(days=1))
    await _sent(db)
    await _do(db, announce.edit, actor=admin, number=2, text="二（改）", now=now)  # an edit is no new message
    async with db.uow() as uow:
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        today = await announce.day_counts(uow, community=community, day=date(2027, 3, 1))
        tomorrow = await announce.day_counts(uow, community=community, day=date(2027, 3, 2))
    assert today == {GROUPS["1"]: 2, GROUPS["2"]: 1, GROUPS["3"]: 1, GROUPS["4"]: 1}
    assert tomorrow == {GROUPS["1"]: 1, GROUPS["2"]: 0, GROUPS["3"]: 0, GROUPS["4"]: 0}
