"""Issue #12 item 2, the flow: which offers a resident's free message gets (flows/offers.offers_for), and who
to contact — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from flows import care, membership, needs, offers
from flows.roles import Role
from storage.db import Database
from storage.models import Member
from tests.flows.people import actor_of, enrol

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


async def _community(db: Database) -> dict[str, int]:
    async with db.uow(write=True) as uow:
        community, _ = await membership.create_community(uow, name="北辰", now=NOW, buildings=["1", "2", "3"])
        ids = await enrol(uow, community_id=community.id or 0, first_tg_id=700, now=NOW,
                          people={"admin": Role.ADMIN, "grid": Role.GRID_WORKER, "grid2": Role.GRID_WORKER,
                                  "resident": None})
        page = await membership.list_buildings(uow, community_id=community.id or 0)
        resident = await uow.session.get(Member, ids["resident"])
        assert resident is not None
        resident.building_id = next(b.id for b in page.items if b.label == "3")
        uow.session.add(resident)
        await uow.commit()
    return ids


async def test_item2_a_need_is_offered_only_while_collecting_and_within_the_allowance(db: Database) -> None:
    await _community(db)
    resident = await actor_of(db, 703)
    async with db.uow() as uow:
        assert (await offers.offers_for(uow, actor=resident, now=NOW)).kinds == (offers.REQUEST,)
    async with db.uow(write=True) as uow:
        await needs.open_period(uow, actor=await actor_of(db, 700), now=NOW)
        await uow.commit()
    async with db.uow() as uow:
        assert (await offers.offers_for(uow, actor=resident, now=NOW)).kinds == (offers.NEED, offers.REQUEST)
    async with db.uow(write=True) as uow:
        await needs.submit(uow, actor=resident, category="env", text="楼道灯坏了", now=NOW)
        await uow.commit()
    async with db.uow() as uow:  # one need per member: the allowance is used up, nothing more is offered
        assert (await offers.offers_for(uow, actor=resident, now=NOW, per_member=1)).kinds == (offers.REQUEST,)


async def test_item2_the_contact_is_the_buildings_grid_worker_else_the_communitys(db: Database) -> None:
    ids = await _community(db)
    resident = await actor_of(db, 703)
    async with db.uow() as uow:  # no grid yet: the community's grid workers (at most two)
        found = await offers.offers_for(uow, actor=resident, now=NOW)
        assert [c.tg_id for c in found.contacts] == [701, 702]
    async with db.uow(write=True) as uow:
        admin = await actor_of(db, 700)
        await care.set_grid(uow, actor=admin, name="一网格", buildings="3", now=NOW)
        await care.set_grid_worker(uow, actor=admin, name="一网格", member_id=ids["grid2"], now=NOW)
        await uow.commit()
    async with db.uow() as uow:
        found = await offers.offers_for(uow, actor=resident, now=NOW)
        assert [(c.name, c.tg_id) for c in found.contacts] == [("grid2", 702)]
