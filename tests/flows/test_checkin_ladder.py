"""Check-ins on the deadline ladder (#13): who was alerted lives in rows of its own, so the outbox's retention never
changes an escalation; the alert rows are written with the notices, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from flows import checkins
from storage.db import Database
from storage.models import Community, Incident, LadderAlert, Member, OutboxMessage, RoleGrant, User
from tests.flows.checkin_world import build, messages, tick, user

MORNING = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai


def at(minutes: float) -> datetime:
    return MORNING + timedelta(minutes=minutes)


async def alert_rows(db: Database) -> list[tuple[int, int, int | None]]:
    async with db.uow() as uow:
        return [(a.rung, a.tg_chat_id, a.recipient_user_id) for a in (await uow.session.exec(
            select(LadderAlert).order_by(col(LadderAlert.id)))).all()]


async def escalated(db: Database) -> Incident:
    """The ladder climbed to the top without an answer: an incident, grid worker and group alerted."""
    await tick(db, at(0))
    for minutes in (15, 45, 75):
        await tick(db, at(minutes))
    async with db.uow() as uow:
        return (await uow.session.exec(select(Incident))).one()


async def test_item4_the_alerted_are_rows_of_their_own_written_with_the_notices(db: Database) -> None:
    w = await build(db)
    inc = await escalated(db)
    grid = await user(db, w.tg["grid"])
    assert await alert_rows(db) == [(0, w.tg["grid"], grid.id), (0, w.group_chat, None)]
    keys = {m.dedupe_key for m in await messages(db)}
    assert f"ci:{inc.id}:0:{w.members['grid']}" in keys  # the notices' dedupe keys are those of before
    assert any(k and k.startswith(f"ci:{inc.id}:0:g") for k in keys)
    await tick(db, at(105))  # re-alerted: level 1, the grid worker and the admin
    admin = await user(db, w.tg["admin"])
    assert (await alert_rows(db))[2:] == [(1, w.tg["grid"], grid.id), (1, w.tg["admin"], admin.id)]
    await tick(db, at(105))
    assert len(await alert_rows(db)) == 4  # the same tick again adds nothing


async def test_item4_outbox_retention_never_changes_who_hears_the_incident_closed(db: Database) -> None:
    """Every outbox row gone (a retention that deletes even keyed rows): closing still tells everyone alerted."""
    w = await build(db)
    inc = await escalated(db)
    await tick(db, at(105))
    async with db.uow(write=True) as uow:
        await uow.session.execute(delete(OutboxMessage))
        await uow.commit()
    g = await user(db, w.tg["grid"])
    async with db.uow(write=True) as uow:
        await checkins.close_incident(uow, user=g, incident_id=inc.id or 0, outcome="safe", now=at(140))
        await uow.commit()
    closed = await messages(db)
    assert {r.tg_chat_id for r in closed} == {w.tg["grid"], w.tg["admin"], w.group_chat}
    assert next(r for r in closed if r.tg_chat_id == w.group_chat).payload["notice"] == "ci_closed_group"


async def test_item4_a_district_admin_alerted_may_act_after_retention(db: Database) -> None:
    """A community without admins alerts the district admin, who may then close the incident — known from the
    alert rows, whatever became of the outbox."""
    await build(db, people={"primary": ("volunteer",), "backup": ("volunteer",), "grid": ("grid_worker",)})
    async with db.uow(write=True) as uow:  # the district admin belongs to another community of the deployment
        other = Community(slug="dist", name="区", timezone="Asia/Shanghai", locale="zh_CN", created_at=MORNING)
        u = User(tg_id=9900, first_name="区管理员", language="zh_CN", created_at=MORNING)
        uow.session.add_all([other, u])
        await uow.session.flush()
        m = Member(community_id=other.id, user_id=u.id, display_name="区管理员", consent_at=MORNING,
                   joined_at=MORNING)
        uow.session.add(m)
        await uow.session.flush()
        uow.session.add(RoleGrant(community_id=other.id, member_id=m.id, role="district_admin", granted_at=MORNING))
        await uow.commit()
    inc = await escalated(db)
    await tick(db, at(105))  # level 1: the grid worker and "the admins" — the district admin here
    assert 9900 in {chat for _, chat, _ in await alert_rows(db)}
    async with db.uow(write=True) as uow:
        await uow.session.execute(delete(OutboxMessage))
        await uow.commit()
    district = await user(db, 9900)
    async with db.uow(write=True) as uow:
        view = await checkins.close_incident(uow, user=district, incident_id=inc.id or 0, outcome="safe",
                                             now=at(140))
        await uow.commit()
    assert view.status == "closed"



async def test_item5_an_open_incident_climbs_once_per_round_through_a_restart(db: Database) -> None:
    """Down for three hours with an incident open: after the restart it is re-alerted once (not once per missed
    round), and again `incident_repeat` minutes later; two schedulers at once re-alert it once."""
    w = await build(db)
    await escalated(db)
    await db.dispose()
    restarted, other = Database(db.url), Database(db.url)
    try:
        back = at(75 + 180)
        results = await asyncio.gather(tick(restarted, back), tick(other, back), return_exceptions=True)
        assert sum(r.reescalated for r in results if not isinstance(r, BaseException)) == 1
        assert (await tick(restarted, back + timedelta(minutes=29))).reescalated == 0
        assert (await tick(restarted, back + timedelta(minutes=30))).reescalated == 1
        async with restarted.uow() as uow:
            inc = (await uow.session.exec(select(Incident))).one()
        assert inc.level == 2 and inc.next_escalation_at == back + timedelta(minutes=60)
        rows = await alert_rows(restarted)
        assert [r for r, _, _ in rows] == [0, 0, 1, 1, 2, 2]  # grid worker and group; then grid worker and admin
        assert {chat for r, chat, _ in rows if r > 0} == {w.tg["grid"], w.tg["admin"]}
    finally:
        await restarted.dispose()
        await other.dispose()
