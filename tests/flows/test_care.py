"""The care ledger's use cases against a real database: grids, key persons, pairing, import,
and who may do what (every role, table-driven)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from flows import care, membership
from flows.care import Draft
from flows.clock import FixedClock
from flows.errors import Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Org, Role
from storage.crypto import Sealer
from storage.db import Database
from storage.models import AuditEntry, Building, CheckinPrompt, KeyPerson, OutboxMessage, User

SEALER = Sealer(b"test-secret")


@dataclass
class World:
    community_id: int
    other_community_id: int
    b3: int  # building 3, grid 一网格 (worker: grid)
    b5: int  # building 5, grid 二网格 (worker: other_grid)
    actors: dict[str, Actor]
    members: dict[str, int]


async def _actor(db: Database, tg_id: int) -> Actor:
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
        return await membership.load_actor(uow, user)


ROLES: dict[str, tuple[Role, Org | None] | None] = {
    "resident": None, "representative": (Role.REPRESENTATIVE, None), "volunteer": (Role.VOLUNTEER, None),
    "volunteer2": (Role.VOLUNTEER, None), "enthusiast": (Role.ENTHUSIAST, None),
    "committee": (Role.COMMITTEE, Org.PROPERTY), "other_grid": (Role.GRID_WORKER, None),
    "grid": (Role.GRID_WORKER, None), "admin": (Role.ADMIN, None),
}


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now,
                                                         buildings=[str(i) for i in range(1, 7)])
        other, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["3"])
        members = {}
        for i, (key, role) in enumerate(ROLES.items()):
            user = await membership.touch_user(uow, tg_id=100 + i, first_name=key, last_name=None, username=None,
                                               tg_language="zh-hans", now=now)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=now)
            if role is not None:
                await membership.assign_role(uow, member=done.member, role=role[0], org=role[1], now=now)
            members[key] = done.member.id
        await uow.commit()
    actors = {key: await _actor(db, 100 + i) for i, key in enumerate(ROLES)}
    async with db.uow() as uow:
        await care.set_grid(uow, actor=actors["admin"], name="一网格", buildings="1-4", now=now)
        await care.set_grid(uow, actor=actors["admin"], name="二网格", buildings="5,6", now=now)
        await care.set_grid_worker(uow, actor=actors["admin"], name="一网格", member_id=members["grid"], now=now)
        await care.set_grid_worker(uow, actor=actors["admin"], name="二网格", member_id=members["other_grid"], now=now)
        b3 = await membership.building_by_label(uow, community_id=community.id, label="3")
        b5 = await membership.building_by_label(uow, community_id=community.id, label="5")
        await uow.commit()
    return World(community.id, other.id, b3.id, b5.id, actors, members)


def _draft(building_id: int, **over: object) -> Draft:
    d = Draft(building_id=building_id, room="2-401", alias="3-2-401 李奶奶", name_enc=SEALER.seal("李秀兰"),
              contact_enc=SEALER.seal("女儿 13800000000"), notes_enc=SEALER.seal("腿脚不便"),
              groups=["solitary", "very_old"], risk="red", services=["medical"])
    for k, v in over.items():
        setattr(d, k, v)
    return d


async def _add(db: Database, clock: FixedClock, actor: Actor, building_id: int, **over: object) -> KeyPerson:
    async with db.uow() as uow:
        person = await care.add_person(uow, actor=actor, sealer=SEALER, draft=_draft(building_id, **over),
                                       now=clock.now())
        await uow.commit()
    return person


async def test_grid_setup_lists_buildings_and_worker(db: Database, world: World) -> None:
    async with db.uow() as uow:
        grids = await care.list_grids(uow, actor=world.actors["admin"])
    assert [(g.name, g.buildings, g.worker.member_id if g.worker else None) for g in grids] == [
        ("一网格", ("1", "2", "3", "4"), world.members["grid"]), ("二网格", ("5", "6"), world.members["other_grid"])]


async def test_grid_errors(db: Database, clock: FixedClock, world: World) -> None:
    admin = world.actors["admin"]
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await care.set_grid(uow, actor=admin, name="三网格", buildings="9", now=clock.now())
        with pytest.raises(Invalid) as err:
            await care.set_grid_worker(uow, actor=admin, name="一网格", member_id=world.members["volunteer"],
                                       now=clock.now())
        assert err.value.reason == "not_grid_worker"
        with pytest.raises(NotFound):
            await care.set_grid_worker(uow, actor=admin, name="九网格", member_id=world.members["grid"],
                                       now=clock.now())
        with pytest.raises(Forbidden):
            await care.list_grids(uow, actor=world.actors["grid"])


# what each role may do with a person of building 3 (一网格): add, show, edit, list sees it, pair
ALLOWED = {
    "resident": (False, False, False, False, False),
    "representative": (False, False, False, False, False),
    "volunteer": (False, False, False, False, False),
    "enthusiast": (False, False, False, False, False),
    "committee": (False, False, False, False, False),
    "other_grid": (False, False, False, False, False),
    "grid": (True, True, True, True, True),
    "admin": (True, True, True, True, True),
}


@pytest.mark.parametrize("role", list(ALLOWED))
async def test_every_role_on_every_ledger_action(db: Database, clock: FixedClock, world: World, role: str) -> None:
    may_add, may_show, may_edit, sees_in_list, may_pair = ALLOWED[role]
    actor = world.actors[role]
    existing = await _add(db, clock, world.actors["admin"], world.b3)
    refused = (Forbidden, NotRegistered)
    async with db.uow() as uow:
        if may_add:
            await care.add_person(uow, actor=actor, sealer=SEALER, draft=_draft(world.b3), now=clock.now())
        else:
            with pytest.raises(refused):
                await care.add_person(uow, actor=actor, sealer=SEALER, draft=_draft(world.b3), now=clock.now())
    async with db.uow() as uow:
        if may_show:
            view = await care.show_person(uow, actor=actor, sealer=SEALER, person_id=existing.id, now=clock.now())
            assert view.name == "李秀兰" and view.contact == "女儿 13800000000"
        else:
            with pytest.raises(refused):
                await care.show_person(uow, actor=actor, sealer=SEALER, person_id=existing.id, now=clock.now())
        if may_edit:
            await care.update_person(uow, actor=actor, sealer=SEALER, person_id=existing.id, field_name="room",
                                     value="2-402", now=clock.now())
        else:
            with pytest.raises(refused):
                await care.update_person(uow, actor=actor, sealer=SEALER, person_id=existing.id, field_name="room",
                                         value="2-402", now=clock.now())
        if role in ("grid", "admin", "other_grid"):
            page = await care.list_persons(uow, actor=actor, now=clock.now())
            assert (existing.id in [p.id for p in page.items]) is sees_in_list
        else:
            with pytest.raises(refused):
                await care.list_persons(uow, actor=actor, now=clock.now())
        pair_args = {"person_id": existing.id, "primary_id": world.members["volunteer"],
                         "backup_id": world.members["volunteer2"], "now": clock.now()}
        if may_pair:
            await care.pair(uow, actor=actor, **pair_args)
        else:
            with pytest.raises(refused):
                await care.pair(uow, actor=actor, **pair_args)


async def test_other_grid_worker_has_their_own_buildings(db: Database, clock: FixedClock, world: World) -> None:
    mine = await _add(db, clock, world.actors["other_grid"], world.b5)
    async with db.uow() as uow:
        page = await care.list_persons(uow, actor=world.actors["other_grid"], now=clock.now())
        assert [p.id for p in page.items] == [mine.id]
        with pytest.raises(Forbidden):
            await care.show_person(uow, actor=world.actors["grid"], sealer=SEALER, person_id=mine.id, now=clock.now())
        assert [b.label for b in await care.manageable_buildings(uow, actor=world.actors["other_grid"])] == ["5", "6"]


async def test_sealed_at_rest_red_gets_midday_and_audit_has_no_name(db: Database, clock: FixedClock,
                                                                    world: World) -> None:
    person = await _add(db, clock, world.actors["grid"], world.b3)
    async with db.uow() as uow:
        row = await uow.session.get(KeyPerson, person.id)
        await care.show_person(uow, actor=world.actors["admin"], sealer=SEALER, person_id=person.id, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.subject_type == "person"))).all()
    assert "李秀兰" not in row.name_enc and SEALER.open(row.name_enc) == "李秀兰"
    assert row.midday_check is True and row.groups == ["solitary", "very_old"]
    assert [e.action for e in entries] == ["person.create", "person.read"]
    assert all("李秀兰" not in str(e.details) and "1380" not in str(e.details) for e in entries)


async def test_bad_input_writes_nothing(db: Database, clock: FixedClock, world: World) -> None:
    grid = world.actors["grid"]
    cases = [({"alias": "李" * 41}, "alias", "too_long"), ({"room": ""}, "room", "empty"),
             ({"risk": "purple"}, "risk", "unknown"), ({"groups": ["rich"]}, "groups", "unknown"),
             ({"name_enc": ""}, "name", "empty"), ({"notes_enc": SEALER.seal("x" * 501)}, "notes", "too_long")]
    for over, field_name, reason in cases:
        async with db.uow() as uow:
            with pytest.raises(Invalid) as err:
                await care.add_person(uow, actor=grid, sealer=SEALER, draft=_draft(world.b3, **over), now=clock.now())
        assert (err.value.field, err.value.reason) == (field_name, reason)
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await care.add_person(uow, actor=world.actors["admin"], sealer=SEALER, draft=_draft(99999),
                                  now=clock.now())
        assert (await uow.session.exec(select(KeyPerson))).all() == []


async def test_a_person_of_another_community_is_not_found(db: Database, clock: FixedClock, world: World) -> None:
    async with db.uow() as uow:
        b = (await uow.session.exec(select(Building).where(Building.community_id == world.other_community_id))).one()
        stranger = KeyPerson(community_id=world.other_community_id, building_id=b.id, room="1", alias="外人",
                             created_at=clock.now(), updated_at=clock.now())
        uow.session.add(stranger)
        await uow.commit()
    async with db.uow() as uow:
        for fn in (care.show_person,):
            with pytest.raises(NotFound):
                await fn(uow, actor=world.actors["admin"], sealer=SEALER, person_id=stranger.id, now=clock.now())
        with pytest.raises(NotFound):
            await care.pair(uow, actor=world.actors["admin"], person_id=stranger.id,
                            primary_id=world.members["volunteer"], backup_id=world.members["volunteer2"],
                            now=clock.now())


async def test_pairing_rules_notices_and_mine(db: Database, clock: FixedClock, world: World) -> None:
    person = await _add(db, clock, world.actors["grid"], world.b3)
    grid, vol, vol2 = world.actors["grid"], world.members["volunteer"], world.members["volunteer2"]
    async with db.uow() as uow:
        with pytest.raises(Invalid) as err:
            await care.pair(uow, actor=grid, person_id=person.id, primary_id=vol, backup_id=vol, now=clock.now())
        assert err.value.reason == "same"
        with pytest.raises(Invalid) as err:
            await care.pair(uow, actor=grid, person_id=person.id, primary_id=vol,
                            backup_id=world.members["enthusiast"], now=clock.now())
        assert err.value.reason == "not_volunteer"
        page = await care.list_volunteers(uow, actor=grid)
        assert [v.member_id for v in page.items] == [vol, vol2]
        await care.pair(uow, actor=grid, person_id=person.id, primary_id=vol, backup_id=vol2, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        notices = (await uow.session.exec(select(OutboxMessage))).all()
        mine = await care.my_persons(uow, actor=world.actors["volunteer"], now=clock.now())
        theirs = await care.my_persons(uow, actor=world.actors["volunteer2"], now=clock.now())
        with pytest.raises(Forbidden):
            await care.my_persons(uow, actor=world.actors["resident"], now=clock.now())
    assert sorted(n.payload["params"]["role"] for n in notices) == ["backup", "primary"]
    assert all("李秀兰" not in str(n.payload) for n in notices)
    assert [(m.alias, m.room, m.building, m.as_primary) for m in mine] == [("3-2-401 李奶奶", "2-401", "3", True)]
    assert [m.as_primary for m in theirs] == [False]
    # re-paired without the backup: the volunteer who leaves is told, the one who stays is not
    async with db.uow() as uow:
        await care.pair(uow, actor=grid, person_id=person.id, primary_id=vol, backup_id=None, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        later = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()[len(notices):]
    assert [(n.payload["notice"], n.recipient_user_id) for n in later] == [
        ("care_unpaired", world.actors["volunteer2"].user.id)]


async def test_update_fields(db: Database, clock: FixedClock, world: World) -> None:
    person = await _add(db, clock, world.actors["grid"], world.b3)
    grid = world.actors["grid"]
    async with db.uow() as uow:
        for field_name, value in [("name", "李桂兰"), ("risk", "绿"), ("groups", "空巢、低保"), ("services", ["cleaning"])]:
            await care.update_person(uow, actor=grid, sealer=SEALER, person_id=person.id, field_name=field_name,
                                     value=value, now=clock.now())
        with pytest.raises(Invalid):
            await care.update_person(uow, actor=grid, sealer=SEALER, person_id=person.id, field_name="alias",
                                     value="x" * 41, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        view = await care.show_person(uow, actor=grid, sealer=SEALER, person_id=person.id, now=clock.now())
    assert (view.name, view.risk, view.groups, view.services, view.midday_check) == (
        "李桂兰", "green", ("empty_nest", "low_income"), ("cleaning",), False)


async def test_a_person_taken_off_the_ledger_and_back(db: Database, clock: FixedClock, world: World) -> None:
    """Closing stops the unanswered check-ins, tells both volunteers (no reason, no name), hides the
    person from the lists and /mine, refuses a second close; reopening undoes all of it. Audited."""
    person = await _add(db, clock, world.actors["grid"], world.b3)
    grid, vol, vol2 = world.actors["grid"], world.members["volunteer"], world.members["volunteer2"]
    async with db.uow() as uow:
        await care.pair(uow, actor=grid, person_id=person.id, primary_id=vol, backup_id=vol2, now=clock.now())
        for slot, status in (("morning", "answered"), ("evening", "pending"), ("midday", "scheduled")):
            uow.session.add(CheckinPrompt(community_id=world.community_id, person_id=person.id, local_date="2026-03-01",
                                          slot=slot, due_at=clock.now(), status=status, created_at=clock.now()))
        await uow.commit()
    async with db.uow() as uow:
        before = len((await uow.session.exec(select(OutboxMessage))).all())
        with pytest.raises(Invalid) as bad:
            await care.close_person(uow, actor=grid, person_id=person.id, reason="bored", now=clock.now())
        assert (bad.value.field, bad.value.reason) == ("reason", "unknown")
        with pytest.raises(Forbidden):
            await care.close_person(uow, actor=world.actors["other_grid"], person_id=person.id, reason="moved",
                                    now=clock.now())
        with pytest.raises(Forbidden):
            await care.close_person(uow, actor=world.actors["volunteer"], person_id=person.id, reason="moved",
                                    now=clock.now())
        with pytest.raises(NotFound) as err:
            await care.reopen_person(uow, actor=grid, person_id=person.id, now=clock.now())
        assert err.value.what == "closed_person"
        await care.close_person(uow, actor=grid, person_id=person.id, reason="deceased", now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        prompts = {p.slot: p.status for p in (await uow.session.exec(select(CheckinPrompt))).all()}
        told = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()[before:]
        on_ledger = await care.list_persons(uow, actor=grid, now=clock.now())
        closed = await care.list_persons(uow, actor=grid, now=clock.now(), closed=True)
        mine = await care.my_persons(uow, actor=world.actors["volunteer"], now=clock.now())
        with pytest.raises(NotFound):
            await care.close_person(uow, actor=grid, person_id=person.id, reason="moved", now=clock.now())
        with pytest.raises(NotFound):
            await care.show_person(uow, actor=grid, sealer=SEALER, person_id=person.id, now=clock.now())
    assert prompts == {"morning": "answered", "evening": "cancelled", "midday": "cancelled"}
    assert sorted((n.payload["notice"], n.payload["params"]["role"]) for n in told) == [
        ("care_closed", "backup"), ("care_closed", "primary")]
    assert all("deceased" not in str(n.payload) and "李秀兰" not in str(n.payload) for n in told)
    assert on_ledger.total == 0 and mine == []
    assert [(c.id, c.closed_reason, c.closed_at) for c in closed.items] == [(person.id, "deceased", clock.now())]
    async with db.uow() as uow:
        await care.reopen_person(uow, actor=world.actors["admin"], person_id=person.id, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        back = await uow.session.get(KeyPerson, person.id)
        told = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()[before + 2:]
        mine = await care.my_persons(uow, actor=world.actors["volunteer"], now=clock.now())
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry).where(
            AuditEntry.subject_id == person.id, AuditEntry.subject_type == "person"))).all()]
    assert back.active and back.closed_at is None and back.closed_reason is None and back.closed_by is None
    assert [n.payload["notice"] for n in told] == ["care_paired", "care_paired"]
    assert [m.alias for m in mine] == ["3-2-401 李奶奶"]
    assert actions.count("person.close") == 1 and actions.count("person.reopen") == 1


async def test_moving_to_another_building(db: Database, clock: FixedClock, world: World) -> None:
    """A grid worker may move a person only into a building of their own grid; an admin anywhere."""
    person = await _add(db, clock, world.actors["grid"], world.b3)
    async with db.uow() as uow:
        b4 = await membership.building_by_label(uow, community_id=world.community_id, label="4")
        with pytest.raises(Forbidden):
            await care.update_person(uow, actor=world.actors["grid"], sealer=SEALER, person_id=person.id,
                                     field_name="building", value=str(world.b5), now=clock.now())
        with pytest.raises(NotFound):
            await care.update_person(uow, actor=world.actors["grid"], sealer=SEALER, person_id=person.id,
                                     field_name="building", value="x", now=clock.now())
        await care.update_person(uow, actor=world.actors["grid"], sealer=SEALER, person_id=person.id,
                                 field_name="building", value=str(b4.id), now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.get(KeyPerson, person.id)).building_id == b4.id
        await care.update_person(uow, actor=world.actors["admin"], sealer=SEALER, person_id=person.id,
                                 field_name="building", value=str(world.b5), now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.get(KeyPerson, person.id)).building_id == world.b5
        with pytest.raises(Forbidden):  # no longer in the first grid worker's buildings
            await care.show_person(uow, actor=world.actors["grid"], sealer=SEALER, person_id=person.id,
                                   now=clock.now())


CSV = """building,room,alias,name,groups,risk,services,contact,notes,primary,backup
3,2-401,3-2-401 李奶奶,李秀兰,"独居,高龄",红,助医,女儿 138,,{vol},{vol2}
3,1-102,3-1-102 王大爷,王建国,empty_nest,yellow,"cleaning,mobility",,,,
4,1-101,4-1-101 张奶奶,张桂芳,空巢,绿,,,,,
2,3-301,2-3-301 刘阿姨,刘芳,disabled,green,,,备注,,
1,1-1,1-1-1 赵爷爷,赵强,,黄,,,,{vol},
3,1-103,,无名,独居,红,,,,,
9,1-101,9-1-101 孙奶奶,孙丽,独居,红,,,,,
3,1-104,3-1-104 周奶奶,周敏,独居,purple,,,,,
"""


async def test_import_csv_and_xlsx(db: Database, clock: FixedClock, world: World, tmp_path: Path) -> None:
    path = tmp_path / "persons.csv"
    path.write_text(CSV.format(vol=world.members["volunteer"], vol2=world.members["volunteer2"]), encoding="utf-8")
    rows = care.read_table(path)
    assert [line for line, _ in rows] == [2, 3, 4, 5, 6, 7, 8, 9]
    async with db.uow() as uow:
        community = await membership.get_community(uow, world.community_id)
    rejected = []
    for line, row in rows:
        async with db.uow() as uow:
            try:
                await care.import_row(uow, community=community, sealer=SEALER, row=row, now=clock.now())
                await uow.commit()
            except (Invalid, NotFound) as err:
                rejected.append((line, type(err).__name__, getattr(err, "field", getattr(err, "what", ""))))
    assert rejected == [(7, "Invalid", "alias"), (8, "NotFound", "building"), (9, "Invalid", "risk")]
    async with db.uow() as uow:
        persons = (await uow.session.exec(select(KeyPerson).order_by(KeyPerson.id))).all()
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry))).all()]
    assert len(persons) == 5 and actions.count("person.import") == 5
    assert persons[0].primary_volunteer_id == world.members["volunteer"] and persons[0].risk == "red"
    assert persons[0].groups == ["solitary", "very_old"] and SEALER.open(persons[0].name_enc) == "李秀兰"
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["楼栋", "房号", "称呼", "姓名", "类别", "风险", "服务"])
    sheet.append([5, "1-201", "5-1-201 钱奶奶", "钱芳", "独居", "red", "助急"])
    sheet.append([6, "2-202", "6-2-202 吴大爷", "吴刚", "高龄", "黄", ""])
    xlsx = tmp_path / "persons.xlsx"
    book.save(xlsx)
    rows = care.read_table(xlsx)
    assert [line for line, _ in rows] == [2, 3]
    async with db.uow() as uow:
        for _, row in rows:
            await care.import_row(uow, community=community, sealer=SEALER, row=row, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(KeyPerson))).all()) == 7
