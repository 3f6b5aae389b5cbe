"""Issue #10, items 2 and 15: taking a role away takes away everything it fed (pairings, prompts, alerts,
invites); the ladder's last rung reaches district admins; /unlink frees a group. Flows against a real
database (SQLite, and PostgreSQL when LINLI_TEST_POSTGRES_URL is set), the clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from flows import access, checkins, membership
from flows.checkins import CheckinRefused
from flows.clock import FixedClock
from flows.errors import NotFound
from flows.membership import Actor
from flows.places import grid_workers_of
from flows.roles import Purpose, Role
from storage.db import Database
from storage.models import AuditEntry, Chat, CheckinPrompt, Grid, Incident, Invite, KeyPerson, RoleGrant, User
from tests.flows.checkin_world import World, build, last_id, messages, tick, user

MORNING = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
EVENING = datetime(2027, 3, 1, 11, 30, tzinfo=UTC)  # 19:30


def at(minutes: float, base: datetime = MORNING) -> datetime:
    return base + timedelta(minutes=minutes)


async def world(db: Database, **kw) -> World:
    w = await build(db, **kw)
    async with db.uow(write=True) as uow:  # everyone's active community, as after /start
        await uow.session.exec(update(User).where(  # type: ignore[call-overload]
            col(User.tg_id).in_(list(w.tg.values()))).values(active_community_id=w.community_id))
        await uow.commit()
    return w


async def actor(db: Database, tg_id: int) -> Actor:
    async with db.uow() as uow:
        return await membership.load_actor(uow, await user(db, tg_id))


async def revoke(db: Database, w: World, who: str, role: Role, now: datetime, by: str = "admin") -> None:
    admin = await actor(db, w.tg[by])
    async with db.uow(write=True) as uow:
        await access.revoke_role(uow, actor=admin, member_id=w.members[who], role=role, now=now)
        await uow.commit()


async def person(db: Database, w: World) -> KeyPerson:
    async with db.uow() as uow:
        p = await uow.session.get(KeyPerson, w.persons[0])
        assert p is not None
        return p


async def prompt(db: Database, slot: str = "morning") -> CheckinPrompt:
    async with db.uow() as uow:
        return (await uow.session.exec(select(CheckinPrompt).where(CheckinPrompt.slot == slot,
                                                                   CheckinPrompt.local_date == "2027-03-01"))).one()


async def press(db: Database, tg_id: int, prompt_id: int, answer: str, now: datetime) -> checkins.AnswerView:
    async with db.uow(write=True) as uow:
        v = await checkins.answer(uow, user=await user(db, tg_id), prompt_id=prompt_id, answer=answer, now=now)
        await uow.commit()
    return v


def to(rows, chat: int, notice: str | None = None) -> list:
    return [r for r in rows if r.tg_chat_id == chat and (notice is None or r.payload["notice"] == notice)]


# ---------------------------------------------------------------- item 2: volunteers


async def test_item2_revoked_volunteer_is_unpaired_and_the_grid_worker_told(db: Database) -> None:
    w = await world(db)
    await tick(db, at(0))
    n = await last_id(db)
    await revoke(db, w, "primary", Role.VOLUNTEER, at(5))
    p = await person(db, w)
    assert (p.primary_volunteer_id, p.backup_volunteer_id) == (w.members["backup"], None)  # the backup took over
    rows = await messages(db, n)
    [told] = to(rows, w.tg["grid"], "care_needs_volunteer")
    params = told.payload["params"]
    assert params["member_id"] == w.members["primary"]
    assert [(i["alias"], i["left"], i["covered"]) for i in params["items"]] == [("3-2-401 李奶奶", "primary", True)]
    # the open morning check went to the backup at once, who is now the primary (and told so)
    assert [r.payload["params"]["handed"] for r in to(rows, w.tg["backup"], "ck_prompt")] == [True]
    assert [r.payload["params"]["role"] for r in to(rows, w.tg["backup"], "care_paired")] == ["primary"]
    async with db.uow() as uow:
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry))).all()]
    assert "pair.revoked" in actions


async def test_item2_revoked_volunteer_gets_no_more_prompts(db: Database) -> None:
    w = await world(db)
    await tick(db, at(-60))  # planned, not sent
    await revoke(db, w, "primary", Role.VOLUNTEER, at(-30))
    n = await last_id(db)
    for minutes in (0, 15, 45, 75, 105):
        await tick(db, at(minutes))
    await tick(db, EVENING)
    await tick(db, at(20, EVENING))
    rows = await messages(db, n)
    assert to(rows, w.tg["primary"]) == []  # no prompt, no reminder, no alias/building/room any more
    assert [r.payload["params"]["slot"] for r in to(rows, w.tg["backup"], "ck_prompt")][:1] == ["morning"]


async def test_item2_old_ok_button_of_a_revoked_volunteer_is_refused(db: Database) -> None:
    w = await world(db, people={"primary": ("volunteer",), "grid": ("grid_worker",), "admin": ("admin",)})
    await tick(db, at(0))
    pr = await prompt(db)
    await revoke(db, w, "primary", Role.VOLUNTEER, at(5))
    with pytest.raises(CheckinRefused) as err:
        await press(db, w.tg["primary"], pr.id, "ok", at(6))
    assert err.value.reason == "no_role"
    after = await prompt(db)
    assert after.answered_by is None and after.answer is None  # nothing changed by the press
    # alone on the person: the open check went up the ladder to the grid worker
    async with db.uow() as uow:
        [inc] = (await uow.session.exec(select(Incident))).all()
    assert inc.status == "open"
    [alert] = to(await messages(db), w.tg["grid"], "ci_alert")
    assert alert.payload["params"]["incident_id"] == inc.id


async def test_item2_revoked_volunteer_cannot_close_an_incident(db: Database) -> None:
    w = await world(db)
    await tick(db, at(0))
    pr = await prompt(db)
    await press(db, w.tg["primary"], pr.id, "not_ok", at(2))
    async with db.uow() as uow:
        [inc] = (await uow.session.exec(select(Incident))).all()
    await revoke(db, w, "backup", Role.VOLUNTEER, at(5))  # the backup was alerted as the other volunteer
    async with db.uow(write=True) as uow:
        with pytest.raises(CheckinRefused) as err:
            await checkins.close_incident(uow, user=await user(db, w.tg["backup"]), incident_id=inc.id,
                                          outcome="safe", now=at(6))
    assert err.value.reason == "no_role"
    async with db.uow() as uow:
        assert (await uow.session.get(Incident, inc.id)).status == "open"


async def test_item2_a_volunteer_left_alone_is_covered_by_the_ladder(db: Database) -> None:
    w = await world(db, people={"primary": ("volunteer",), "grid": ("grid_worker",), "admin": ("admin",)})
    await tick(db, at(-60))
    await revoke(db, w, "primary", Role.VOLUNTEER, at(-30))
    p = await person(db, w)
    assert (p.primary_volunteer_id, p.backup_volunteer_id) == (None, None)
    [told] = to(await messages(db), w.tg["grid"], "care_needs_volunteer")
    assert told.payload["params"]["items"][0]["covered"] is False
    n = await last_id(db)
    res = await tick(db, at(0))
    assert res.escalated == 1 and res.sent == 0
    rows = await messages(db, n)
    assert to(rows, w.tg["primary"]) == []
    [alert] = to(rows, w.tg["grid"], "ci_alert")
    assert alert.payload["params"]["kind"] == "no_volunteer"


# ---------------------------------------------------------------- item 2: grid workers


async def test_item2_revoked_grid_worker_gets_no_alert_and_the_fallback_reaches_the_others(db: Database) -> None:
    people = {"primary": ("volunteer",), "backup": ("volunteer",), "grid": ("grid_worker",),
              "grid2": ("grid_worker",), "admin": ("admin",)}
    w = await world(db, people=people)
    await revoke(db, w, "grid", Role.GRID_WORKER, at(-60))
    async with db.uow() as uow:
        assert (await uow.session.exec(select(Grid.worker_member_id))).all() == [None]
    await tick(db, at(0))
    n = await last_id(db)
    for minutes in (15, 45, 75):
        await tick(db, at(minutes))
    rows = await messages(db, n)
    assert to(rows, w.tg["grid"]) == []
    assert len(to(rows, w.tg["grid2"], "ci_alert")) == 1
    n = await last_id(db)
    await tick(db, at(105))
    rows = await messages(db, n)
    assert to(rows, w.tg["grid"]) == [] and to(rows, w.tg["admin"], "ci_alert")


async def test_item2_a_stale_grid_worker_row_never_receives_alerts(db: Database) -> None:
    people = {"primary": ("volunteer",), "grid": ("grid_worker",), "grid2": ("grid_worker",), "admin": ("admin",)}
    w = await world(db, people=people)
    async with db.uow(write=True) as uow:  # a grant ended behind the flows' back: Grid.worker_member_id stays
        await uow.session.exec(update(RoleGrant).where(  # type: ignore[call-overload]
            col(RoleGrant.member_id) == w.members["grid"], col(RoleGrant.role) == "grid_worker")
            .values(revoked_at=at(-90)))
        await uow.commit()
    async with db.uow() as uow:
        workers = await grid_workers_of(uow, community_id=w.community_id, building_id=w.building_id)
    assert [m.id for m in workers] == [w.members["grid2"]]


# ---------------------------------------------------------------- item 2: invites


async def test_item2_invite_from_a_since_revoked_issuer_is_refused(db: Database) -> None:
    w = await world(db)
    grid = await actor(db, w.tg["grid"])
    async with db.uow(write=True) as uow:
        inv = await membership.create_invite(uow, actor=grid, role=Role.VOLUNTEER, org=None, now=at(-600))
        code = inv.code
        await uow.commit()
    await revoke(db, w, "grid", Role.GRID_WORKER, at(-500))
    async with db.uow() as uow:
        assert (await uow.session.exec(select(Invite.revoked_at).where(Invite.code == code))).one() is not None
        newcomer = await membership.touch_user(uow, tg_id=4242, first_name="新人", last_name=None, username=None,
                                               tg_language="zh-hans", now=at(-400))
        with pytest.raises(NotFound) as err:
            await membership.register(uow, user=newcomer, community_id=w.community_id, building_id=None,
                                      now=at(-400), invite_code=code)
    assert err.value.what == "invite_withdrawn"


async def test_item2_redemption_rechecks_the_issuers_authority(db: Database) -> None:
    w = await world(db)
    grid = await actor(db, w.tg["grid"])
    async with db.uow(write=True) as uow:
        inv = await membership.create_invite(uow, actor=grid, role=Role.VOLUNTEER, org=None, now=at(-600))
        code = inv.code
        # the grant ends without the flows' clean-up (an older instance, a hand edit): the invite looks open
        await uow.session.exec(update(RoleGrant).where(  # type: ignore[call-overload]
            col(RoleGrant.member_id) == w.members["grid"], col(RoleGrant.role) == "grid_worker")
            .values(revoked_at=at(-500)))
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(NotFound) as err:
            await membership.peek_invite(uow, code=code, now=at(-400))
    assert err.value.what == "invite_withdrawn"


async def test_item2_invites_lists_and_cancels(db: Database) -> None:
    w = await world(db)
    admin, grid = await actor(db, w.tg["admin"]), await actor(db, w.tg["grid"])
    async with db.uow(write=True) as uow:
        mine = await membership.create_invite(uow, actor=grid, role=Role.VOLUNTEER, org=None, now=at(-600))
        theirs = await membership.create_invite(uow, actor=admin, role=Role.GRID_WORKER, org=None, now=at(-600))
        mine_id, theirs_id, code = mine.id, theirs.id, mine.code
        await uow.commit()
    async with db.uow() as uow:
        assert [i.id for i in (await access.list_invites(uow, actor=grid, now=at(-500))).items] == [mine_id]
        assert [i.id for i in (await access.list_invites(uow, actor=admin, now=at(-500))).items] == [theirs_id,
                                                                                                     mine_id]
        with pytest.raises(NotFound):  # not theirs to withdraw
            await access.cancel_invite(uow, actor=grid, invite_id=theirs_id, now=at(-500))
    async with db.uow(write=True) as uow:
        await access.cancel_invite(uow, actor=grid, invite_id=mine_id, now=at(-500))
        await uow.commit()
    async with db.uow() as uow:
        assert (await access.list_invites(uow, actor=grid, now=at(-400))).total == 0
        with pytest.raises(NotFound) as err:
            await membership.peek_invite(uow, code=code, now=at(-400))
        assert err.value.what == "invite_withdrawn"
        with pytest.raises(NotFound):  # twice: nothing left to withdraw
            await access.cancel_invite(uow, actor=grid, invite_id=mine_id, now=at(-400))
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "invite.withdraw"))).all()
    assert [(e.subject_id, e.details["reason"]) for e in entries] == [(mine_id, "cancelled")]


# ---------------------------------------------------------------- item 15


async def test_item15_the_last_rung_reaches_district_admins_when_there_is_no_admin(db: Database) -> None:
    w = await world(db, people={"primary": ("volunteer",), "backup": ("volunteer",), "grid": ("grid_worker",)})
    other = await world(db, slug="other", tg_base=9500, people={"district": ("district_admin",)}, persons=0,
                        group=False, group_chat=-100888)
    await tick(db, at(0))
    for minutes in (15, 45, 75):
        await tick(db, at(minutes))
    async with db.uow() as uow:
        [inc] = (await uow.session.exec(select(Incident))).all()
    async with db.uow(write=True) as uow:  # not alerted (yet): not theirs to act on
        with pytest.raises(CheckinRefused) as err:
            await checkins.close_incident(uow, user=await user(db, other.tg["district"]), incident_id=inc.id,
                                          outcome="safe", now=at(80))
    assert err.value.reason == "not_yours"
    n = await last_id(db)
    res = await tick(db, at(105))
    assert res.reescalated == 1
    rows = await messages(db, n)
    [alert] = to(rows, other.tg["district"], "ci_alert")
    assert alert.payload["params"]["level"] == 1 and to(rows, w.tg["grid"], "ci_alert")
    # and the district admin's button works although they belong to another community
    async with db.uow(write=True) as uow:
        v = await checkins.close_incident(uow, user=await user(db, other.tg["district"]),
                                          incident_id=alert.payload["params"]["incident_id"], outcome="safe",
                                          now=at(110))
        await uow.commit()
    assert v.status == "closed"


async def test_item15_unlink_frees_the_group_for_another_community(db: Database, clock: FixedClock) -> None:
    admins = []
    for i, name in enumerate(("甲社区", "乙社区")):
        async with db.uow(write=True) as uow:
            community, invite = await membership.create_community(uow, name=name, now=clock.now())
            u = await membership.touch_user(uow, tg_id=100 + i, first_name=name, last_name=None, username=None,
                                            tg_language="zh-hans", now=clock.now())
            await membership.register(uow, user=u, community_id=community.id, building_id=None, now=clock.now(),
                                      invite_code=invite.code)
            await uow.commit()
        admins.append(await actor(db, 100 + i))
    a, b = admins
    kw = {"tg_chat_id": -5, "chat_type": "supergroup", "title": "g", "building_label": None, "now": clock.now()}
    async with db.uow(write=True) as uow:
        await membership.link_chat(uow, actor=a, purpose=Purpose.COMMUNITY, **kw)
        await uow.commit()
    async with db.uow(write=True) as uow:
        await membership.unlink_chat(uow, actor=a, tg_chat_id=-5, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        chat, community, _ = await membership.chat_info(uow, tg_chat_id=-5)
    assert chat is not None and community is None and chat.purpose is None
    async with db.uow(write=True) as uow:
        done = await membership.link_chat(uow, actor=b, purpose=Purpose.VOLUNTEERS, **kw)
        await uow.commit()
    assert done.community.name == "乙社区"
    async with db.uow() as uow:
        chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == -5))).one()
    assert (chat.community_id, chat.purpose) == (b.community.id, "volunteers")
