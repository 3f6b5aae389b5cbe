"""The representatives' ballot (居民代表点选, F-2) against a real database: creating and opening,
voting (toggle, submit, change, resubmit) by representatives only, secrecy and receipts, turnout,
the tally with ties, decisions and run-offs, the scheduler's pass, and concurrent presses."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlmodel import col, select

from flows import ballot, membership
from flows.ballot import Outcome, rank
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Role
from storage.db import Database, is_sqlite
from storage.migrate import upgrade
from storage.models import (
    AuditEntry,
    Ballot,
    BallotCandidate,
    BallotEnvelope,
    BallotMark,
    BallotSheet,
    BallotVoter,
    Chat,
    Need,
    OutboxMessage,
    Project,
    RoleGrant,
    User,
)

SECRET = b"ballot-test-secret-0123456789abcdef"
NOW = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Tianjin
GROUP, OTHER_GROUP = -100500, -100501
PEOPLE: dict[str, tuple[Role, ...]] = {
    "admin": (Role.ADMIN,), "rep1": (Role.REPRESENTATIVE,), "rep2": (Role.REPRESENTATIVE,),
    "rep3": (Role.REPRESENTATIVE,), "rep4": (Role.REPRESENTATIVE,), "adminrep": (Role.ADMIN, Role.REPRESENTATIVE),
    "resident": (), "grid": (Role.GRID_WORKER,),
}
REPS = ("rep1", "rep2", "rep3", "rep4", "adminrep")


@dataclass
class World:
    community_id: int
    members: dict[str, int]
    tg: dict[str, int]
    needs: list[int]  # candidate need ids by number

    async def actor(self, db: Database, who: str) -> Actor:
        async with db.uow() as uow:
            user = (await uow.session.exec(select(User).where(User.tg_id == self.tg[who]))).one()
            return await membership.load_actor(uow, user)


async def build(db: Database, now: datetime = NOW, *, candidates: int = 12, year: int | None = None,
                tg_base: int = 500, name: str = "北辰示范社区", people: dict[str, tuple[Role, ...]] = PEOPLE) -> World:
    year = year or now.astimezone(ZoneInfo("Asia/Shanghai")).year
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name=name, now=now, buildings=["1"])
        members, tg = {}, {}
        for i, (key, roles) in enumerate(people.items()):
            user = await membership.touch_user(uow, tg_id=tg_base + i, first_name=key, last_name=None, username=None,
                                               tg_language="zh-hans", now=now)
            if key == "rep2":
                user.language = "en"
                uow.session.add(user)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=now)
            for role in roles:
                await membership.assign_role(uow, member=done.member, role=role, org=None, now=now)
            members[key], tg[key] = done.member.id, tg_base + i
        author = members["resident"]
        ids = []
        for n in range(1, candidates + 2):
            need = Need(community_id=community.id, year=year, number=n, category="env" if n % 2 else "facility",
                        text=f"需求 {n}", author_member_id=author, entered_by_member_id=author,
                        status="candidate" if n <= candidates else "open", candidate_title=f"项目{n}",
                        created_at=now, updated_at=now)
            uow.session.add(need)
            await uow.session.flush()
            if n <= candidates:
                ids.append(need.id)
        uow.session.add(Chat(tg_chat_id=GROUP - tg_base, type="supergroup", title="社区群", community_id=community.id,
                             purpose="community", bot_status="administrator", created_at=now))
        uow.session.add(Chat(tg_chat_id=OTHER_GROUP - tg_base, type="supergroup", title="未关联",
                             community_id=community.id, purpose=None, bot_status="member", created_at=now))
        await uow.commit()
    return World(community.id, members, tg, ids)


@pytest.fixture
async def world(db: Database) -> World:
    return await build(db)


async def _create(db: Database, w: World, now: datetime = NOW, **kw) -> int:  # type: ignore[no-untyped-def]
    kw.setdefault("closes_at", now + timedelta(days=7))
    async with db.uow(write=True) as uow:
        b = await ballot.create(uow, actor=await w.actor(db, "admin"), now=now, **kw)
        await uow.commit()
    assert b.id is not None
    return b.id


async def _open(db: Database, w: World, bid: int, now: datetime = NOW) -> None:
    async with db.uow(write=True) as uow:
        await ballot.open_ballot(uow, ballot_id=bid, now=now, actor=await w.actor(db, "admin"))
        await uow.commit()


async def _ready(db: Database, w: World, now: datetime = NOW, **kw) -> int:  # type: ignore[no-untyped-def]
    bid = await _create(db, w, now, **kw)
    await _open(db, w, bid, now)
    return bid


async def _cands(db: Database, bid: int) -> list[BallotCandidate]:
    async with db.uow() as uow:
        return list((await uow.session.exec(select(BallotCandidate).where(BallotCandidate.ballot_id == bid)
                                            .order_by(col(BallotCandidate.position)))).all())


async def _do(db: Database, w: World, who: str, fn, **kw):  # type: ignore[no-untyped-def]
    """Run one voting call of `who` in its own committed unit of work."""
    actor = await w.actor(db, who)
    async with db.uow(write=True) as uow:
        out = await fn(uow, actor=actor, secret=SECRET, **kw)
        await uow.commit()
    return out


async def _vote(db: Database, w: World, who: str, bid: int, ids: list[int], now: datetime = NOW) -> ballot.SheetView:
    view = await _do(db, w, who, ballot.sheet, ballot_id=bid, now=now)
    for cid in sorted(view.chosen ^ set(ids)):
        await _do(db, w, who, ballot.toggle, ballot_id=bid, candidate_id=cid, now=now)
    return await _do(db, w, who, ballot.submit, ballot_id=bid, now=now)


async def _close(db: Database, bid: int, now: datetime, actor: Actor | None = None) -> ballot.Tally:
    async with db.uow(write=True) as uow:
        tally = await ballot.close(uow, ballot_id=bid, now=now, actor=actor, secret=SECRET)
        await uow.commit()
    return tally


async def _outbox(db: Database, notice: str | None = None) -> list[OutboxMessage]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [r for r in rows if notice is None or r.payload["notice"] == notice]


async def _projects(db: Database, w: World, year: int = 2027) -> list[tuple[int, str, int]]:
    async with db.uow() as uow:
        return [(p.number, p.title, p.votes) for p in await ballot.projects(uow, community_id=w.community_id, year=year)]


# ---------------------------------------------------------------- creating and opening


async def test_create_checks_its_input_and_takes_the_years_candidates(db: Database, world: World) -> None:
    w = world
    for who, err in (("rep1", Forbidden), ("resident", Forbidden), ("grid", Forbidden)):
        async with db.uow() as uow:
            with pytest.raises(err):
                await ballot.create(uow, actor=await w.actor(db, who), now=NOW, closes_at=NOW + timedelta(days=1))
    bad = [
        ({"choose": 0}, ("choose", "out_of_range")), ({"choose": 41}, ("choose", "out_of_range")),
        ({"minimum": 0}, ("minimum", "out_of_range")), ({"choose": 3, "minimum": 4}, ("minimum", "out_of_range")),
        ({"closes_at": NOW}, ("closes_at", "past")), ({"closes_at": NOW - timedelta(days=1)}, ("closes_at", "past")),
        ({"opens_at": NOW + timedelta(days=3), "closes_at": NOW + timedelta(days=2)}, ("closes_at", "past")),
        ({"choose": 12}, ("candidates", "too_few")), ({"seats": 11}, ("seats", "out_of_range")),
    ]
    for kw, (field, reason) in bad:
        with pytest.raises(Invalid) as e:
            await _create(db, w, **kw)
        assert (e.value.field, e.value.reason) == (field, reason), kw
    with pytest.raises(Invalid) as e:
        await _create(db, w, choose=12)
    assert e.value.details["have"] == 12 and e.value.details["need"] == 13
    bid = await _create(db, w, choose=11, minimum=2)
    with pytest.raises(AlreadyDone):
        await _create(db, w)
    async with db.uow() as uow:
        b = await uow.session.get(Ballot, bid)
        assert b is not None and (b.status, b.year, b.round, b.choose, b.minimum, b.seats) == ("draft", 2027, 1, 11, 2, 11)
        assert b.opens_at == NOW
        v = await ballot.view(uow, ballot_id=bid, community_id=w.community_id)
        actions = (await uow.session.exec(select(AuditEntry.action))).all()
    assert [c.title for c in v.candidates] == [f"项目{n}" for n in range(1, 13)]
    assert [c.need_number for c in v.candidates] == list(range(1, 13))
    assert [c.position for c in v.candidates] == list(range(1, 13))
    assert all(c.votes is None and not c.withdrawn for c in v.candidates)
    assert (v.voters, v.voted) == (0, 0)
    assert "ballot.create" in actions
    assert await _outbox(db) == []  # a draft tells nobody


async def test_too_many_candidates(db: Database) -> None:
    w = await build(db, candidates=61)
    with pytest.raises(Invalid) as e:
        await _create(db, w)
    assert (e.value.reason, e.value.details["limit"]) == ("too_many", 60)


async def test_the_year_is_the_local_one(db: Database) -> None:
    new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 January 2027 in Tianjin
    w = await build(db, new_year, year=2027)
    bid = await _create(db, w, new_year)
    async with db.uow() as uow:
        b = await uow.session.get(Ballot, bid)
        assert b is not None and b.year == 2027
        assert (await ballot.current(uow, community_id=w.community_id, year=2027)).id == bid  # type: ignore[union-attr]
        assert await ballot.current(uow, community_id=w.community_id, year=2026) is None


async def test_discard_a_draft_only(db: Database, world: World) -> None:
    bid = await _create(db, world)
    async with db.uow(write=True) as uow:
        with pytest.raises(Forbidden):
            await ballot.discard(uow, actor=await world.actor(db, "rep1"), ballot_id=bid, now=NOW)
        await ballot.discard(uow, actor=await world.actor(db, "admin"), ballot_id=bid, now=NOW)
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.exec(select(Ballot))).all() == []
        assert (await uow.session.exec(select(BallotCandidate))).all() == []
    bid = await _ready(db, world)  # a new one may be made once the draft is gone
    async with db.uow(write=True) as uow:
        with pytest.raises(Invalid) as e:
            await ballot.discard(uow, actor=await world.actor(db, "admin"), ballot_id=bid, now=NOW)
    assert e.value.reason == "not_draft"


async def test_open_snapshots_the_representatives_and_tells_them(db: Database, world: World) -> None:
    w = world
    bid = await _create(db, w, choose=10, minimum=3)
    async with db.uow(write=True) as uow:
        with pytest.raises(Forbidden):
            await ballot.open_ballot(uow, ballot_id=bid, now=NOW, actor=await w.actor(db, "rep1"))
    await _open(db, w, bid)
    with pytest.raises(Invalid) as e:
        await _open(db, w, bid)
    assert e.value.reason == "not_draft"
    async with db.uow() as uow:
        voters = set((await uow.session.exec(select(BallotVoter.member_id).where(BallotVoter.ballot_id == bid))).all())
        assert await ballot.turnout(uow, ballot_id=bid) == (0, 5)
        b = await uow.session.get(Ballot, bid)
        assert b is not None and b.status == "open" and b.opened_at == NOW
    assert voters == {w.members[k] for k in REPS}
    private = await _outbox(db, "ballot_open")
    assert sorted(m.tg_chat_id for m in private) == sorted(w.tg[k] for k in REPS)
    langs = {m.tg_chat_id: m.payload["lang"] for m in private}
    assert langs[w.tg["rep2"]] == "en" and langs[w.tg["rep1"]] == "zh_CN"
    assert private[0].payload["params"] == {"tz": "Asia/Shanghai", "ballot_id": bid, "year": 2027, "round": 1, "choose": 10, "minimum": 3,
                                            "closes_at": (NOW + timedelta(days=7)).isoformat(), "candidates": 12}
    groups = await _outbox(db, "ballot_open_group")
    assert [m.tg_chat_id for m in groups] == [GROUP - 500]  # the unlinked chat is not told
    assert groups[0].payload["params"]["voters"] == 5
    # a representative appointed after the opening does not vote on this ballot
    async with db.uow(write=True) as uow:
        member = await uow.session.get(membership.Member, w.members["resident"])
        await membership.assign_role(uow, member=member, role=Role.REPRESENTATIVE, org=None, now=NOW)
        await uow.commit()
    with pytest.raises(Forbidden):
        await _do(db, w, "resident", ballot.sheet, ballot_id=bid, now=NOW)


async def test_no_representatives_no_opening(db: Database, world: World) -> None:
    bid = await _create(db, world)
    async with db.uow(write=True) as uow:
        await uow.session.execute(update(RoleGrant).where(col(RoleGrant.role) == "representative")
                                  .values(revoked_at=NOW))
        await uow.commit()
    with pytest.raises(Invalid) as e:
        await _open(db, world, bid)
    assert (e.value.field, e.value.reason) == ("voters", "none")
    async with db.uow() as uow:
        assert (await uow.session.get(Ballot, bid)).status == "draft"  # type: ignore[union-attr]
        assert (await uow.session.exec(select(BallotVoter))).all() == []


# ---------------------------------------------------------------- voting


async def test_submitting_writes_nothing_in_the_order_people_voted(db: Database, world: World) -> None:
    """Secrecy against someone reading the database: the audit says who voted when, so no row of a
    sheet may be written in voting order or by the voter's transaction. Looks write nothing; submissions
    (here rep3, rep2, rep1) write only sealed envelopes; the batch makes every voter's sheet at once, in
    token order, and flips the boxes in place."""
    w = world
    bid = await _ready(db, w, choose=3, minimum=1)
    c = [x.id for x in await _cands(db, bid)]
    for who in ("rep1", "rep2", "rep3"):
        await _do(db, w, who, ballot.sheet, ballot_id=bid, now=NOW)
    for i, who in enumerate(("rep3", "rep2", "rep1")):
        await _vote(db, w, who, bid, [c[i]], now=NOW + timedelta(minutes=i))
    async with db.uow() as uow:
        assert (await uow.session.exec(select(BallotMark))).all() == []
        assert (await uow.session.exec(select(BallotSheet))).all() == []
        envelopes = (await uow.session.exec(select(BallotEnvelope))).all()
    assert len(envelopes) == 3 and len({len(e.sealed) for e in envelopes}) == 1  # one length, whatever is inside
    async with db.uow(write=True) as uow:  # fewer than BATCH_MIN wait, and not for long: nothing yet
        assert await ballot.apply_pending(uow, secret=SECRET, now=NOW + timedelta(minutes=5)) == 0
        assert await ballot.apply_pending(uow, secret=SECRET, now=NOW + ballot.BATCH_WAIT) == 3
        await uow.commit()
    async with db.uow() as uow:
        after = (await uow.session.exec(select(BallotMark).order_by(col(BallotMark.id)))).all()
        sheets = (await uow.session.exec(select(BallotSheet).order_by(col(BallotSheet.id)))).all()
    assert len(sheets) == 5 and len(after) == 5 * len(c)  # every voter's, voted or not
    assert [s.token for s in sheets] == sorted(s.token for s in sheets)
    token = {s.id: s.token for s in sheets}
    chosen = [(token[m.sheet_id], m.candidate_id) for m in after if m.chosen]
    mine = {ballot.voter_token(SECRET, bid, w.members[who]): c[i] for i, who in enumerate(("rep3", "rep2", "rep1"))}
    assert chosen == sorted(mine.items())  # in id order the chosen boxes follow the tokens, not the voting
    tally = await _close(db, bid, NOW + timedelta(days=30))
    votes = {x.id: x.votes for x in tally.ballot.candidates}
    assert tally.sheets == 3 and [votes[x] for x in c[:3]] == [1, 1, 1] and {votes[x] for x in c[3:]} <= {0}


async def _apply(db: Database, now: datetime = NOW) -> int:
    """The scheduler's batch, forced (as after BATCH_WAIT)."""
    async with db.uow(write=True) as uow:
        n = await ballot.apply_pending(uow, secret=SECRET, now=now, batch_min=1)
        await uow.commit()
    return n


async def test_toggle_submit_change_resubmit(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3, minimum=2)
    c = [x.id for x in await _cands(db, bid)]
    s = await _do(db, w, "rep1", ballot.sheet, ballot_id=bid, now=NOW)
    assert (s.chosen, s.cast, s.changed, s.receipt, s.version) == (frozenset(), False, True, None, 0)
    s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[0], now=NOW)
    assert s.chosen == {c[0]} and s.version == 1
    with pytest.raises(Invalid) as e:
        await _do(db, w, "rep1", ballot.submit, ballot_id=bid, now=NOW)
    assert (e.value.field, e.value.reason, e.value.details["minimum"]) == ("choice", "too_few", 2)
    for cid in c[1:3]:
        s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=cid, now=NOW)
    with pytest.raises(Invalid) as e:
        await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[3], now=NOW)
    assert (e.value.reason, e.value.details["choose"]) == ("too_many", 3)
    s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[1], now=NOW)  # untick
    assert s.chosen == {c[0], c[2]}
    with pytest.raises(Invalid) as e:  # a press from an old screen
        await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[3], now=NOW, version=s.version - 1)
    assert (e.value.field, e.value.reason) == ("sheet", "stale")
    s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[3], now=NOW, version=s.version)
    assert s.chosen == {c[0], c[2], c[3]}
    later = NOW + timedelta(hours=2)
    s = await _do(db, w, "rep1", ballot.submit, ballot_id=bid, now=later)
    assert s.cast and not s.changed and s.receipt is not None
    receipt = s.receipt
    async with db.uow() as uow:
        assert await ballot.turnout(uow, ballot_id=bid) == (1, 5)
        voter = (await uow.session.exec(select(BallotVoter).where(BallotVoter.member_id == w.members["rep1"]))).one()
        assert voter.voted_at == later
        assert (await uow.session.exec(select(BallotMark))).all() == []  # waiting for the scheduler's batch
    assert await _apply(db) == 1
    async with db.uow() as uow:
        marks = set((await uow.session.exec(select(BallotMark.candidate_id).where(col(BallotMark.chosen).is_(True)))).all())
        assert marks == {c[0], c[2], c[3]}
    s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[0], now=NOW)
    assert s.cast and s.changed and s.chosen == {c[2], c[3]}
    s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[5], now=NOW)
    s = await _do(db, w, "rep1", ballot.submit, ballot_id=bid, now=later + timedelta(hours=1))
    assert not s.changed and s.receipt == receipt  # the code does not change with the choices
    assert await _apply(db) == 1
    async with db.uow() as uow:
        marks = set((await uow.session.exec(select(BallotMark.candidate_id).where(col(BallotMark.chosen).is_(True)))).all())
        assert marks == {c[2], c[3], c[5]}
        assert await ballot.turnout(uow, ballot_id=bid) == (1, 5)
        voter = (await uow.session.exec(select(BallotVoter).where(BallotVoter.member_id == w.members["rep1"]))).one()
        assert voter.voted_at == later  # turnout keeps the first submission
        assert len((await uow.session.exec(select(BallotSheet))).all()) == 5  # every voter's, made at once
        votes = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "ballot.vote"))).all()
    assert len(votes) == 2 and all(set(v.details) == {"first"} for v in votes)


async def test_forged_and_withdrawn_candidates(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    for forged in (c[-1] + 1000, -1):
        with pytest.raises(Invalid) as e:
            await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=forged, now=NOW)
        assert (e.value.field, e.value.reason) == ("candidate", "unknown")
    await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[0], now=NOW)
    await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[1], now=NOW)
    await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[2], now=NOW)
    admin = await w.actor(db, "admin")
    async with db.uow(write=True) as uow:
        with pytest.raises(Forbidden):
            await ballot.withdraw(uow, actor=await w.actor(db, "rep2"), ballot_id=bid, candidate_id=c[0], now=NOW)
        with pytest.raises(Invalid):
            await ballot.withdraw(uow, actor=admin, ballot_id=bid, candidate_id=c[0] + 1000, now=NOW)
        await ballot.withdraw(uow, actor=admin, ballot_id=bid, candidate_id=c[0], now=NOW)
        await uow.commit()
    async with db.uow(write=True) as uow:
        with pytest.raises(AlreadyDone):
            await ballot.withdraw(uow, actor=admin, ballot_id=bid, candidate_id=c[0], now=NOW)
    with pytest.raises(Invalid) as e:
        await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[0], now=NOW)
    assert e.value.reason == "withdrawn"
    s = await _do(db, w, "rep1", ballot.sheet, ballot_id=bid, now=NOW)
    assert s.chosen == {c[1], c[2]}  # the withdrawn tick no longer counts …
    assert [x.withdrawn for x in s.ballot.candidates][:2] == [True, False]
    s = await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[3], now=NOW)  # … so a third fits
    s = await _do(db, w, "rep1", ballot.submit, ballot_id=bid, now=NOW)
    assert s.chosen == {c[1], c[2], c[3]}
    await _vote(db, w, "rep2", bid, [c[1]])
    tally = await _close(db, bid, NOW + timedelta(days=8))
    votes = {x.id: x.votes for x in tally.ballot.candidates}
    assert votes[c[0]] is None and votes[c[1]] == 2 and votes[c[2]] == 1
    assert c[0] not in tally.outcome.elected and c[0] not in tally.outcome.tied


async def test_withdrawn_marks_are_not_counted(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=2)
    c = [x.id for x in await _cands(db, bid)]
    await _vote(db, w, "rep1", bid, [c[0], c[1]])
    await _vote(db, w, "rep2", bid, [c[0], c[2]])
    async with db.uow(write=True) as uow:
        await ballot.withdraw(uow, actor=await w.actor(db, "admin"), ballot_id=bid, candidate_id=c[0], now=NOW)
        await uow.commit()
    tally = await _close(db, bid, NOW + timedelta(days=8))
    assert tally.sheets == 2
    assert tally.outcome == Outcome(elected=(c[1], c[2]), tied=(), seats_left=0)
    assert [t for _, t, _ in await _projects(db, w)] == ["项目2", "项目3"]


async def test_closed_ballot_takes_no_votes(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[0], now=NOW)
    end = NOW + timedelta(days=7)
    for fn, kw in ((ballot.toggle, {"candidate_id": c[1]}), (ballot.submit, {})):
        with pytest.raises(Invalid) as e:  # closing time has come, though nobody closed it yet
            await _do(db, w, "rep1", fn, ballot_id=bid, now=end, **kw)
        assert (e.value.field, e.value.reason) == ("ballot", "closed")
    await _close(db, bid, end)
    with pytest.raises(Invalid):
        await _do(db, w, "rep1", ballot.submit, ballot_id=bid, now=NOW)
    with pytest.raises(Invalid) as e:
        await _close(db, bid, end)
    assert e.value.reason == "not_open"
    draft = await _create(db, await build(db, tg_base=700, name="另一个社区"))
    with pytest.raises(Invalid):
        await _close(db, draft, end)


async def test_only_representatives_of_the_community_vote(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w)
    for who in ("admin", "resident", "grid"):
        with pytest.raises(Forbidden) as e:
            await _do(db, w, who, ballot.sheet, ballot_id=bid, now=NOW)
        assert e.value.permission == "vote"
    s = await _do(db, w, "adminrep", ballot.sheet, ballot_id=bid, now=NOW)  # an admin who is a representative
    assert s.ballot.id == bid
    other = await build(db, tg_base=700, name="另一个社区")
    with pytest.raises(NotFound):
        await _do(db, other, "rep1", ballot.sheet, ballot_id=bid, now=NOW)
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await ballot.view(uow, ballot_id=bid, community_id=other.community_id)
    async with db.uow() as uow:
        with pytest.raises(NotFound):
            await ballot.close(uow, ballot_id=bid, now=NOW, actor=await other.actor(db, "admin"))
    async with db.uow() as uow:
        user = await membership.touch_user(uow, tg_id=999, first_name="路人", last_name=None, username=None,
                                           tg_language=None, now=NOW)
        stranger = await membership.load_actor(uow, user)
        with pytest.raises(NotRegistered):
            await ballot.sheet(uow, actor=stranger, secret=SECRET, ballot_id=bid, now=NOW)


async def test_nobody_can_link_a_sheet_to_a_member(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    await _vote(db, w, "rep1", bid, [c[0], c[1]])
    await _vote(db, w, "rep2", bid, [c[2]])
    await _close(db, bid, NOW + timedelta(days=8))
    member_ids = {str(m) for m in w.members.values()}
    async with db.uow() as uow:
        sheets = (await uow.session.exec(select(BallotSheet))).all()
        entries = (await uow.session.exec(select(AuditEntry).where(col(AuditEntry.action).like("ballot.%")))).all()
    assert set(BallotSheet.model_fields) == {"id", "ballot_id", "token", "cast", "receipt_hash"}
    assert set(BallotEnvelope.model_fields) == {"id", "ballot_id", "slot", "sealed", "queued_at"}
    for s in sheets:
        assert re.fullmatch(r"[0-9a-f]{64}", s.token) and re.fullmatch(r"[0-9a-f]{64}", s.receipt_hash or "")
    # the token is the keyed hash: without the secret it cannot be recomputed from member ids
    tokens = {s.token for s in sheets}
    assert tokens == {ballot.voter_token(SECRET, bid, w.members[k]) for k in REPS}  # all made at closing
    assert not tokens & {ballot.voter_token(b"guess", bid, w.members[k]) for k in REPS}
    for e in entries:
        if e.action == "ballot.vote":
            assert set(e.details) == {"first"}
        for value in e.details.values():  # no list of candidates next to a voter anywhere
            assert not isinstance(value, list | dict)
    votes = [e for e in entries if e.action == "ballot.vote"]
    assert {e.actor_user_id for e in votes} and all(e.subject_id == bid for e in votes)
    # the only reads of choices are one's own sheet and the holder's receipt
    public = [n for n in dir(ballot) if not n.startswith("_") and callable(getattr(ballot, n))]
    assert not [n for n in public if "choice" in n.lower() or "marks" in n.lower()]
    assert member_ids  # (the fixture made members)


async def test_receipts(db: Database, world: World) -> None:
    w = world
    code = ballot.receipt_code(SECRET, 7, 42)
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}", code)
    assert code == ballot.receipt_code(SECRET, 7, 42)
    assert len({ballot.receipt_code(SECRET, b, m) for b in range(1, 6) for m in range(1, 41)}) == 200
    assert ballot.receipt_code(b"other", 7, 42) != code
    assert ballot.receipt_hash(code) == ballot.receipt_hash(code.replace("-", "").lower())
    assert ballot.receipt_hash(code) == ballot.receipt_hash(f" {code[:4]} {code[5:]} ")
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    s = await _vote(db, w, "rep1", bid, [c[4], c[1]])
    assert s.receipt == ballot.receipt_code(SECRET, bid, w.members["rep1"])
    again = await _do(db, w, "rep1", ballot.sheet, ballot_id=bid, now=NOW)
    assert again.receipt == s.receipt  # shown again any time
    assert s.receipt is not None
    for typed in (s.receipt, s.receipt.replace("-", ""), s.receipt.lower(), s.receipt.replace("-", "").lower()):
        async with db.uow() as uow:  # still waiting for the scheduler's batch: found by its envelope
            r = await ballot.check_receipt(uow, community_id=w.community_id, code=typed, secret=SECRET)
        assert r.submitted and not r.counted and r.ballot.id == bid
        assert not hasattr(r, "choices")  # issue #10 item 5: a receipt never tells what was chosen
    async with db.uow() as uow:
        with pytest.raises(NotFound):  # without the key, only applied papers are found
            await ballot.check_receipt(uow, community_id=w.community_id, code=s.receipt)
    await _apply(db)
    async with db.uow() as uow:
        r = await ballot.check_receipt(uow, community_id=w.community_id, code=s.receipt)
        assert r.submitted and not r.counted
        late = ballot.receipt_code(SECRET, bid, w.members["rep2"])  # rep2 has not voted: a code nobody was shown
        r = await ballot.check_receipt(uow, community_id=w.community_id, code=late, secret=SECRET)
        assert not r.submitted and not r.counted
    other = await build(db, tg_base=700, name="另一个社区")
    for typed, community_id in ((s.receipt, other.community_id), ("ABCD-EFGH", w.community_id), ("", w.community_id),
                                ("x" * 200, w.community_id)):
        async with db.uow() as uow:
            with pytest.raises(NotFound):
                await ballot.check_receipt(uow, community_id=community_id, code=typed, secret=SECRET)
    await _close(db, bid, NOW + timedelta(days=8))
    async with db.uow() as uow:
        r = await ballot.check_receipt(uow, community_id=w.community_id, code=s.receipt.lower(), secret=SECRET)
        assert r.counted and r.ballot.status == "tie"  # two choices for three seats: tallied, tied
        r = await ballot.check_receipt(uow, community_id=w.community_id, code=late, secret=SECRET)
        assert not r.submitted and not r.counted


async def test_turnout_counts_submissions_not_looks(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    await _do(db, w, "rep3", ballot.sheet, ballot_id=bid, now=NOW)
    await _do(db, w, "rep3", ballot.toggle, ballot_id=bid, candidate_id=c[0], now=NOW)
    for who in ("rep1", "rep2"):
        await _vote(db, w, who, bid, [c[0]])
    async with db.uow() as uow:
        assert await ballot.turnout(uow, ballot_id=bid) == (2, 5)
        v = await ballot.view(uow, ballot_id=bid, community_id=w.community_id)
    assert (v.voted, v.voters) == (2, 5) and all(x.votes is None for x in v.candidates)


# ---------------------------------------------------------------- the tally


async def test_tally_makes_numbered_projects_and_tells_everyone(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    # votes: c4 ×4, c0 ×3, c2 ×3 (c0 first by position), c1 ×2, c5 ×1
    ballots = {"rep1": [c[4], c[0], c[2]], "rep2": [c[4], c[0], c[2]], "rep3": [c[4], c[0], c[1]],
               "rep4": [c[4], c[2], c[1]], "adminrep": [c[5]]}
    for who, ids in ballots.items():
        await _vote(db, w, who, bid, ids)
    admin = await w.actor(db, "admin")
    async with db.uow(write=True) as uow:
        with pytest.raises(Forbidden):
            await ballot.close(uow, ballot_id=bid, now=NOW, actor=await w.actor(db, "rep1"))
    async with db.uow(write=True) as uow:  # a project made earlier this year keeps its number
        uow.session.add(Project(community_id=w.community_id, year=2027, number=1, title="早先的", category="env",
                                created_at=NOW))
        await uow.commit()
    tally = await _close(db, bid, NOW + timedelta(days=1), actor=admin)
    assert tally.sheets == 5 and tally.ballot.status == "closed"
    assert tally.outcome == Outcome(elected=(c[4], c[0], c[2]), tied=(), seats_left=0)
    votes = {x.id: x.votes for x in tally.ballot.candidates}
    assert [votes[i] for i in c[:6]] == [3, 2, 3, 0, 4, 1]
    assert await _projects(db, w) == [(1, "早先的", 0), (2, "项目5", 4), (3, "项目1", 3), (4, "项目3", 3)]
    async with db.uow() as uow:
        lines = await ballot.projects(uow, community_id=w.community_id, year=2027)
        b = await uow.session.get(Ballot, bid)
    assert [x.need_number for x in lines] == [None, 5, 1, 3]
    assert b is not None and b.closed_at == NOW + timedelta(days=1)
    results = await _outbox(db, "ballot_result")
    assert sorted(m.tg_chat_id for m in results) == sorted([GROUP - 500, w.tg["admin"], w.tg["adminrep"]])
    params = results[0].payload["params"]
    assert (params["year"], params["round"], params["voted"], params["voters"]) == (2027, 1, 5, 5)
    assert params["rows"][:4] == [{"title": "项目5", "votes": 4, "elected": True},
                                  {"title": "项目1", "votes": 3, "elected": True},
                                  {"title": "项目3", "votes": 3, "elected": True},
                                  {"title": "项目2", "votes": 2, "elected": False}]
    async with db.uow() as uow:
        audit_close = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "ballot.close"))).one()
    assert audit_close.details["sheets"] == 5 and audit_close.actor_user_id == admin.user.id


async def _tie(db: Database, w: World) -> tuple[int, list[int]]:
    """A ballot for 3 seats: c0 ×3 and c1 ×2 elected, c2, c3 and c4 tied with 1 each for the last seat."""
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    for who, ids in {"rep1": [c[0], c[1], c[2]], "rep2": [c[0], c[1], c[3]], "rep3": [c[0], c[4]]}.items():
        await _vote(db, w, who, bid, ids)
    return bid, c


async def test_tie_waits_for_the_admins_decision(db: Database, world: World) -> None:
    w = world
    bid, c = await _tie(db, w)
    tally = await _close(db, bid, NOW + timedelta(days=7))
    assert tally.outcome == Outcome(elected=(c[0], c[1]), tied=(c[2], c[3], c[4]), seats_left=1)
    assert tally.ballot.status == "tie" and await _projects(db, w) == []
    ties = await _outbox(db, "ballot_tie")
    assert sorted(m.tg_chat_id for m in ties) == sorted([w.tg["admin"], w.tg["adminrep"]])
    assert ties[0].payload["params"] == {"tz": "Asia/Shanghai", "ballot_id": bid, "year": 2027, "round": 1, "seats_left": 1,
                                         "tied": [{"id": c[i], "title": f"项目{i + 1}", "votes": 1} for i in (2, 3, 4)]}
    assert await _outbox(db, "ballot_result") == []
    admin = await w.actor(db, "admin")
    for chosen, reason in (([c[2], c[3]], "count"), ([], "count"), ([c[0]], "unknown"), ([c[3], c[3]], "count"),
                           ([c[9]], "unknown")):
        async with db.uow(write=True) as uow:
            with pytest.raises(Invalid) as e:
                await ballot.decide(uow, actor=admin, ballot_id=bid, chosen=chosen, now=NOW)
        assert (e.value.field, e.value.reason) == ("decision", reason), chosen
    async with db.uow(write=True) as uow:
        with pytest.raises(Forbidden):
            await ballot.decide(uow, actor=await w.actor(db, "rep1"), ballot_id=bid, chosen=[c[3]], now=NOW)
        tally = await ballot.decide(uow, actor=admin, ballot_id=bid, chosen=[c[3]], now=NOW + timedelta(days=8))
        await uow.commit()
    assert tally.ballot.status == "closed" and tally.outcome.elected == (c[0], c[1], c[3])
    assert await _projects(db, w) == [(1, "项目1", 3), (2, "项目2", 2), (3, "项目4", 1)]
    assert len(await _outbox(db, "ballot_result")) == 3
    async with db.uow(write=True) as uow:
        with pytest.raises(Invalid) as e:
            await ballot.decide(uow, actor=admin, ballot_id=bid, chosen=[c[3]], now=NOW)
    assert e.value.reason == "not_tie"


async def test_tie_runoff_then_projects_from_both_rounds(db: Database, world: World) -> None:
    w = world
    bid, c = await _tie(db, w)
    await _close(db, bid, NOW + timedelta(days=7))
    admin = await w.actor(db, "admin")
    later = NOW + timedelta(days=8)
    async with db.uow(write=True) as uow:
        with pytest.raises(Invalid):
            await ballot.runoff(uow, actor=admin, ballot_id=bid, closes_at=later, now=later)
        second = await ballot.runoff(uow, actor=admin, ballot_id=bid, closes_at=later + timedelta(days=3), now=later)
        await uow.commit()
    assert (second.round, second.runoff_of_id, second.choose, second.seats, second.minimum, second.status) == (
        2, bid, 1, 1, 1, "open")
    async with db.uow(write=True) as uow:
        with pytest.raises(Invalid) as e:  # one run-off, and no decision once it is held
            await ballot.runoff(uow, actor=admin, ballot_id=bid, closes_at=later + timedelta(days=3), now=later)
        assert e.value.reason == "has_runoff"
        with pytest.raises(Invalid):
            await ballot.decide(uow, actor=admin, ballot_id=bid, chosen=[c[2]], now=later)
        assert (await ballot.current(uow, community_id=w.community_id, year=2027)).id == second.id  # type: ignore[union-attr]
    rc = await _cands(db, second.id or 0)
    assert [x.title for x in rc] == ["项目3", "项目4", "项目5"]
    opened = [m for m in await _outbox(db, "ballot_open") if m.payload["params"]["ballot_id"] == second.id]
    assert len(opened) == 5 and opened[0].payload["params"]["round"] == 2
    s = await _vote(db, w, "rep1", second.id or 0, [rc[2].id], later)  # type: ignore[list-item]
    assert s.receipt != ballot.receipt_code(SECRET, bid, w.members["rep1"])
    await _vote(db, w, "rep2", second.id or 0, [rc[2].id], later)  # type: ignore[list-item]
    await _vote(db, w, "rep3", second.id or 0, [rc[0].id], later)  # type: ignore[list-item]
    tally = await _close(db, second.id or 0, later + timedelta(days=3))
    assert tally.outcome.elected == (rc[2].id,)
    assert await _projects(db, w) == [(1, "项目1", 3), (2, "项目2", 2), (3, "项目5", 2)]
    async with db.uow() as uow:
        statuses = {b.id: b.status for b in (await uow.session.exec(select(Ballot))).all()}
        sources = [p.ballot_id for p in (await uow.session.exec(select(Project).order_by(col(Project.number)))).all()]
    assert statuses == {bid: "closed", second.id: "closed"}
    assert sources == [bid, bid, second.id]


async def test_rank_examples() -> None:
    assert rank([], 3) == Outcome((), (), 0)
    assert rank([(1, 1, 0), (2, 2, 5)], 3) == Outcome((2, 1), (), 0)  # no more candidates than seats
    assert rank([(1, 1, 2), (2, 2, 2), (3, 3, 2)], 2) == Outcome((), (1, 2, 3), 2)
    assert rank([(1, 1, 3), (2, 2, 0), (3, 3, 0)], 2) == Outcome((1,), (2, 3), 1)
    assert rank([(1, 2, 3), (2, 1, 3), (3, 3, 1)], 2) == Outcome((2, 1), (), 0)
    assert rank([(1, 1, 3)], 0) == Outcome((), (), 0)


@settings(max_examples=300, deadline=None)
@given(votes=st.lists(st.integers(0, 6), max_size=25), seats=st.integers(1, 12))
def test_rank_properties(votes: list[int], seats: int) -> None:
    rows = [(100 + i, i + 1, v) for i, v in enumerate(votes)]
    out = rank(rows, seats)
    by_id = {r[0]: r[2] for r in rows}
    elected, tied = list(out.elected), list(out.tied)
    assert len(set(elected + tied)) == len(elected) + len(tied)
    assert len(elected) + out.seats_left <= seats
    losers = [r[0] for r in rows if r[0] not in elected and r[0] not in tied]
    for e in elected:
        assert all(by_id[e] > by_id[x] for x in tied + losers)
    assert len({by_id[t] for t in tied}) <= 1
    assert [by_id[e] for e in elected] == sorted((by_id[e] for e in elected), reverse=True)
    ordered = sorted(votes, reverse=True)
    if tied:
        assert 1 <= out.seats_left < len(tied)
        assert len(elected) + out.seats_left == seats
        assert all(by_id[t] > by_id[x] for t in tied for x in losers)
        assert ordered[seats - 1] == ordered[seats]
    else:
        assert out.seats_left == 0 and len(elected) == min(seats, len(rows))
        if len(rows) > seats:
            assert ordered[seats - 1] != ordered[seats]
            assert all(by_id[e] > by_id[x] for e in elected for x in losers)


# ---------------------------------------------------------------- the scheduler's pass


async def test_due_opens_reminds_once_and_closes(db: Database, world: World) -> None:
    w = world
    tz = ZoneInfo("Asia/Shanghai")
    opens = datetime(2027, 3, 2, 8, 0, tzinfo=tz)  # 00:00 UTC
    closes = datetime(2027, 3, 9, 20, 0, tzinfo=tz)  # 12:00 UTC
    bid = await _create(db, w, opens_at=opens, closes_at=closes, choose=3)

    async def tick(at: datetime) -> dict[str, int]:
        async with db.uow(write=True) as uow:
            counts = await ballot.due(uow, now=at, secret=SECRET)
            await uow.commit()
        return counts

    assert await tick(opens - timedelta(minutes=1)) == {"opened": 0, "reminded": 0, "closed": 0}
    assert await tick(opens.astimezone(UTC)) == {"opened": 1, "reminded": 0, "closed": 0}
    assert await tick(opens + timedelta(minutes=1)) == {"opened": 0, "reminded": 0, "closed": 0}
    async with db.uow() as uow:
        entry = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "ballot.open"))).one()
    assert entry.actor_user_id is None
    c = [x.id for x in await _cands(db, bid)]
    await _vote(db, w, "rep1", bid, [c[0]], opens + timedelta(hours=1))
    await _vote(db, w, "rep2", bid, [c[1]], opens + timedelta(hours=1))
    assert (await tick(closes - timedelta(days=1, minutes=1)))["reminded"] == 0
    assert await tick(closes - timedelta(days=1)) == {"opened": 0, "reminded": 3, "closed": 0}
    assert await tick(closes - timedelta(hours=2)) == {"opened": 0, "reminded": 0, "closed": 0}
    reminded = await _outbox(db, "ballot_remind")
    assert sorted(m.tg_chat_id for m in reminded) == sorted(w.tg[k] for k in ("rep3", "rep4", "adminrep"))
    assert reminded[0].payload["params"]["closes_at"] == closes.astimezone(UTC).isoformat()
    assert await tick(closes - timedelta(seconds=1)) == {"opened": 0, "reminded": 0, "closed": 0}
    assert await tick(closes) == {"opened": 0, "reminded": 0, "closed": 1}
    assert await tick(closes + timedelta(minutes=1)) == {"opened": 0, "reminded": 0, "closed": 0}
    async with db.uow() as uow:
        assert (await uow.session.get(Ballot, bid)).status == "tie"  # type: ignore[union-attr]  # 1 : 1 : 0 …


async def test_due_leaves_a_ballot_without_voters_as_a_draft(db: Database, world: World) -> None:
    bid = await _create(db, world)
    async with db.uow(write=True) as uow:
        await uow.session.execute(update(RoleGrant).where(col(RoleGrant.role) == "representative")
                                  .values(revoked_at=NOW))
        await uow.commit()
    async with db.uow(write=True) as uow:
        assert await ballot.due(uow, now=NOW + timedelta(minutes=1)) == {"opened": 0, "reminded": 0, "closed": 0}
        assert (await uow.session.get(Ballot, bid)).status == "draft"  # type: ignore[union-attr]


async def test_a_short_ballot_is_not_reminded_right_after_opening(db: Database, world: World) -> None:
    await _ready(db, world, closes_at=NOW + timedelta(hours=12))
    async with db.uow(write=True) as uow:
        assert (await ballot.due(uow, now=NOW + timedelta(minutes=1)))["reminded"] == 0


# ---------------------------------------------------------------- concurrent presses


async def _together(db: Database, w: World, who: str, calls: list[tuple]) -> list[object]:  # type: ignore[type-arg]
    actor = await w.actor(db, who)

    async def one(fn, kw):  # type: ignore[no-untyped-def]
        async with db.uow(write=True) as uow:
            try:
                out = await fn(uow, actor=actor, secret=SECRET, **kw)
            except Invalid as e:
                return e
            await uow.commit()
            return out

    return list(await asyncio.gather(*(one(fn, kw) for fn, kw in calls)))


async def test_two_presses_at_once(db: Database, world: World) -> None:
    w = world
    bid = await _ready(db, w, choose=3)
    c = [x.id for x in await _cands(db, bid)]
    first = await _together(db, w, "rep1", [(ballot.sheet, {"ballot_id": bid, "now": NOW})] * 4)
    assert all(isinstance(x, ballot.SheetView) for x in first)
    # two different candidates pressed at the same moment: both ticked
    await _together(db, w, "rep1", [(ballot.toggle, {"ballot_id": bid, "candidate_id": c[0], "now": NOW}),
                                    (ballot.toggle, {"ballot_id": bid, "candidate_id": c[1], "now": NOW})])
    s = await _do(db, w, "rep1", ballot.sheet, ballot_id=bid, now=NOW)
    assert s.chosen == {c[0], c[1]} and s.version == 2
    # the same old screen pressed twice: exactly one applies
    out = await _together(db, w, "rep1", [(ballot.toggle, {"ballot_id": bid, "candidate_id": c[2], "now": NOW,
                                                           "version": s.version})] * 2)
    assert sorted(type(x).__name__ for x in out) == ["Invalid", "SheetView"]
    # two more ticks at once when one seat is left would exceed the maximum: one is refused
    await _do(db, w, "rep1", ballot.toggle, ballot_id=bid, candidate_id=c[2], now=NOW)
    out = await _together(db, w, "rep1", [(ballot.toggle, {"ballot_id": bid, "candidate_id": c[3], "now": NOW}),
                                          (ballot.toggle, {"ballot_id": bid, "candidate_id": c[4], "now": NOW})])
    assert sorted(type(x).__name__ for x in out) == ["Invalid", "SheetView"]
    # submit twice at once: one envelope waiting, then its marks once, one voter row with a time
    out = await _together(db, w, "rep1", [(ballot.submit, {"ballot_id": bid, "now": NOW})] * 3)
    assert all(isinstance(x, ballot.SheetView) and x.cast for x in out)
    assert await _apply(db) == 1
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(BallotEnvelope))).all()) == 1
        marks = (await uow.session.exec(select(BallotMark.candidate_id).where(col(BallotMark.chosen).is_(True)))).all()
        assert len(marks) == 3 and len(set(marks)) == 3
        assert await ballot.turnout(uow, ballot_id=bid) == (1, 5)
    if is_sqlite(db.url):
        return
    # PostgreSQL: a submission in flight while the ballot closes is either counted or refused, never lost
    await _vote(db, w, "rep2", bid, [c[5]])
    actor = await w.actor(db, "rep3")
    await _do(db, w, "rep3", ballot.toggle, ballot_id=bid, candidate_id=c[6], now=NOW)

    async def vote() -> object:
        async with db.uow(write=True) as uow:
            try:
                out = await ballot.submit(uow, actor=actor, secret=SECRET, ballot_id=bid, now=NOW)
            except Invalid as e:
                return e
            await asyncio.sleep(0.2)  # hold the share lock while closing starts
            await uow.commit()
            return out

    async def shut() -> ballot.Tally:
        await asyncio.sleep(0.05)
        return await _close(db, bid, NOW + timedelta(days=1))

    voted, tally = await asyncio.gather(vote(), shut())
    votes = {x.id: x.votes for x in tally.ballot.candidates}
    assert isinstance(voted, ballot.SheetView) and votes[c[6]] == 1 and tally.sheets == 3


# ---------------------------------------------------------------- random toggle sequences


@pytest.fixture(scope="module")
def toggling(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, list[int], int]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ballotprop') / 'b.db'}"
    upgrade(url)

    async def seed() -> tuple[int, list[int], int]:
        db = Database(url)
        try:
            w = await build(db)
            bid = await _ready(db, w, choose=4, minimum=2)
            cands = [x.id or 0 for x in await _cands(db, bid)]
            async with db.uow(write=True) as uow:
                await ballot.withdraw(uow, actor=await w.actor(db, "admin"), ballot_id=bid, candidate_id=cands[5],
                                      now=NOW)
                await uow.commit()
            return bid, cands, w.tg["rep1"]
        finally:
            await db.dispose()

    bid, cands, tg = asyncio.run(seed())
    return url, bid, cands, tg


async def _replay(url: str, bid: int, cands: list[int], tg: int, steps: list[tuple[str, int, bool]]) -> None:
    db = Database(url)
    try:
        async with db.uow(write=True) as uow:  # a fresh sheet for every example
            await uow.session.execute(BallotMark.__table__.delete())  # type: ignore[attr-defined]
            await uow.session.execute(BallotSheet.__table__.delete())  # type: ignore[attr-defined]
            await uow.session.execute(BallotEnvelope.__table__.delete())  # type: ignore[attr-defined]
            await uow.commit()
        async with db.uow() as uow:
            user = (await uow.session.exec(select(User).where(User.tg_id == tg))).one()
            actor = await membership.load_actor(uow, user)
        async with db.uow(write=True) as uow:
            s = await ballot.sheet(uow, actor=actor, secret=SECRET, ballot_id=bid, now=NOW)
            await uow.commit()
        assert (s.chosen, s.cast, s.version) == (frozenset(), False, 0)
        model: set[int] = set()
        cast: set[int] | None = None
        version = 0
        for kind, index, stale in steps:
            cid = cands[index] if index < len(cands) else 10_000 + index
            async with db.uow(write=True) as uow:
                try:
                    if kind == "toggle":
                        s = await ballot.toggle(uow, actor=actor, secret=SECRET, ballot_id=bid, candidate_id=cid,
                                                now=NOW, version=version - 1 if stale else version)
                    else:
                        s = await ballot.submit(uow, actor=actor, secret=SECRET, ballot_id=bid, now=NOW)
                    await uow.commit()
                    error = None
                except Invalid as e:
                    error = (e.field, e.reason)
            if kind == "toggle":
                if index >= len(cands):
                    expected = ("candidate", "unknown")
                elif index == 5:
                    expected = ("candidate", "withdrawn")
                elif stale:
                    expected = ("sheet", "stale")
                elif cid not in model and len(model) >= 4:
                    expected = ("choice", "too_many")
                else:
                    expected = None
                    model ^= {cid}
            else:
                expected = ("choice", "too_few") if len(model) < 2 else None
                if expected is None:
                    cast = set(model)
            assert error == expected, (kind, index, stale, model)
            if error is None:
                version += 1
                assert s.chosen == model and s.version == version and len(s.chosen) <= 4
                assert s.cast == (cast is not None) and s.changed == (cast != model)
        async with db.uow(write=True) as uow:
            await ballot.apply_pending(uow, secret=SECRET, now=NOW, batch_min=1)
            await uow.commit()
        async with db.uow() as uow:
            s = await ballot.sheet(uow, actor=actor, secret=SECRET, ballot_id=bid, now=NOW)
            sheets = (await uow.session.exec(select(BallotSheet).where(col(BallotSheet.cast).is_(True)))).all()
            marks = set((await uow.session.exec(select(BallotMark.candidate_id).where(col(BallotMark.chosen).is_(True)))).all())
        assert s.chosen == model and s.version == version and s.cast == (cast is not None)
        assert len(sheets) == (cast is not None) and marks == (cast or set())
    finally:
        await db.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["toggle"] * 5 + ["submit"]), st.integers(0, 13),
                                st.sampled_from([False] * 6 + [True])), max_size=25))
def test_any_order_of_toggles_keeps_the_sheet_consistent(toggling: tuple[str, int, list[int], int],
                                                          steps: list[tuple[str, int, bool]]) -> None:
    url, bid, cands, tg = toggling
    asyncio.run(_replay(url, bid, cands, tg, steps))
