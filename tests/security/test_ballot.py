"""Issue #10, items 4 and 5: what a reader of the database, and a holder of someone's receipt code, can learn
about the ballot.

(Item 5, the receipts, is a transcript on both runtimes: tests/bot/test_ballot_receipts.py.)

Item 4 attacks a PostgreSQL database the way a reader with SQL access would: every visible row carries the
transaction that wrote it (`xmin`) and the one that last locked or deleted it (`xmax`); rows written or locked
by the same transaction are linked, and so are the transactions such a row joins. The voter is known by their
audit entries ("ballot.vote", with the actor) and their turnout row; the attack links each voter to every sheet
whose boxes were written or locked by one of their transactions or by a transaction one row away from
theirs, and also lines the sheets up in the order of their ids and row positions (ctid) against the order
people voted. On the code before the fix it identified every voter's choices (the latest, after a change of
mind); now nothing narrower than the whole batch is linked to anyone."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import text

from flows import ballot
from storage.db import Database, is_sqlite
from tests.flows.test_ballot import NOW, REPS, SECRET, World, _cands, _ready, _vote, build

# five different choice sets, one per representative (candidate positions, 0-based)
PICKS = {"rep1": [0, 1], "rep2": [2], "rep3": [1, 3], "rep4": [4, 5], "adminrep": [0, 6]}


async def _attack(db: Database) -> tuple[dict[int, set[frozenset[int]]], dict[str, list[tuple[int, frozenset[int]]]]]:
    """What the reader links to each voter (user id → the choice sets of the sheets linked to them), and the
    cast sheets' choice sets lined up by sheet id and by row position (to hold against the order of voting)."""
    async with db.uow() as uow:
        s = uow.session
        tables = [r[0] for r in (await s.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))).all()]
        pairs: list[tuple[str, str]] = []  # every visible row joins the transaction that wrote it and the one that locked it
        for table in tables:
            pairs += [(a, b) for a, b in (await s.execute(text(f'SELECT xmin::text, xmax::text FROM "{table}"'))).all()
                      if b != "0" and a != b]
        seeds: dict[int, set[str]] = defaultdict(set)
        for user_id, xmin, xmax in (await s.execute(text(
                "SELECT actor_user_id, xmin::text, xmax::text FROM auditentry WHERE action = 'ballot.vote'"))).all():
            seeds[int(user_id)] |= {xmin, xmax} - {"0"}
        for user_id, xmin, xmax in (await s.execute(text(
                "SELECT m.user_id, v.xmin::text, v.xmax::text FROM ballotvoter v JOIN member m ON m.id = v.member_id "
                "WHERE v.voted_at IS NOT NULL"))).all():
            seeds[int(user_id)] |= {xmin, xmax} - {"0"}
        marks = (await s.execute(text(
            "SELECT sheet_id, candidate_id, chosen, xmin::text, xmax::text, ctid::text FROM ballotmark"))).all()
        sheet_txs: dict[int, set[str]] = defaultdict(set)
        choices: dict[int, set[int]] = defaultdict(set)
        where: dict[int, str] = {}
        for sheet_id, candidate_id, chosen, xmin, xmax, ctid in marks:
            sheet_txs[sheet_id] |= {xmin, xmax} - {"0"}
            if chosen:
                choices[sheet_id].add(int(candidate_id))
            page, item = ctid.strip("()").split(",")
            where[sheet_id] = min(where.get(sheet_id, "~"), f"{int(page):09d}.{int(item):05d}")
        for sheet_id, xmin, xmax in (await s.execute(text("SELECT id, xmin::text, xmax::text FROM ballotsheet"))).all():
            sheet_txs[sheet_id] |= {xmin, xmax} - {"0"}
    linked: dict[int, set[frozenset[int]]] = {}
    for user_id, mine in seeds.items():
        # the voter's transactions, and one hop further through any row one of them wrote or locked
        reach = set(mine) | {b for a, b in pairs if a in mine} | {a for a, b in pairs if b in mine}
        linked[user_id] = {frozenset(choices[sheet]) for sheet, its in sheet_txs.items()
                           if choices.get(sheet) and reach & its}
    cast = [sheet for sheet in sorted(choices) if choices[sheet]]
    order = {"id": [(sheet, frozenset(choices[sheet])) for sheet in cast],
             "ctid": [(sheet, frozenset(choices[sheet])) for sheet in sorted(cast, key=lambda x: where[x])]}
    return linked, order


async def _voting_order(db: Database) -> list[int]:
    """User ids in the order of their first "ballot.vote" audit entry (what the audit tells anyone)."""
    async with db.uow() as uow:
        rows = (await uow.session.execute(text(
            "SELECT actor_user_id FROM auditentry WHERE action = 'ballot.vote' ORDER BY id"))).all()
    return list(dict.fromkeys(int(r[0]) for r in rows))


def _identified(linked: dict[int, set[frozenset[int]]], truth: dict[int, frozenset[int]]) -> list[int]:
    """Voters whose own choice set is the only one linked to them."""
    return [u for u, sets in linked.items() if sets == {truth[u]}]


async def test_item4_a_database_reader_cannot_link_voters_to_choices(db: Database) -> None:
    if is_sqlite(db.url):
        pytest.skip("xmin/ctid are PostgreSQL's: run with LINLI_TEST_POSTGRES_URL to attack them")
    w: World = await build(db)
    bid = await _ready(db, w, choose=3)
    c = [x.id or 0 for x in await _cands(db, bid)]
    users = {who: await _user_id(db, w, who) for who in REPS}
    truth = {users[who]: frozenset(c[i] for i in PICKS[who]) for who in REPS}
    for minute, who in enumerate(REPS):  # each looks, ticks and submits in their own transactions
        await _vote(db, w, who, bid, [c[i] for i in PICKS[who]], NOW + timedelta(minutes=minute))
    # rep3 changes their mind: the latest choices count
    await _vote(db, w, "rep3", bid, [c[1], c[7]], NOW + timedelta(minutes=9))
    truth[users["rep3"]] = frozenset({c[1], c[7]})

    linked, _ = await _attack(db)
    assert _identified(linked, truth) == [], "submissions wrote the sheets in the voter's own transaction"
    assert all(not sets for sets in linked.values())

    # the scheduler applies the pending sheets in one batch (at least k waited), then the ballot closes
    async with db.uow(write=True) as uow:
        assert await ballot.apply_pending(uow, secret=SECRET, now=NOW + timedelta(minutes=10)) == len(REPS)
        await uow.commit()
    for stage in ("applied", "closed"):
        if stage == "closed":
            async with db.uow(write=True) as uow:
                tally = await ballot.close(uow, ballot_id=bid, now=NOW + timedelta(days=8), secret=SECRET)
                await uow.commit()
        linked, order = await _attack(db)
        assert _identified(linked, truth) == [], stage
        # whatever is linked to a voter is the whole batch, never fewer than all the sheets applied with theirs
        assert all(not sets or len(sets) == len(REPS) for sets in linked.values()), (stage, linked)
        voted = await _voting_order(db)
        for how, lined in order.items():  # the i-th sheet against the i-th voter
            hits = sum(1 for u, (_, chosen) in zip(voted, lined, strict=True) if truth[u] == chosen)
            assert hits <= 1, (stage, how, hits)  # what lining up a random order gives
    votes = {x.id: x.votes for x in tally.ballot.candidates}
    expected: dict[int, int] = defaultdict(int)
    for chosen in truth.values():
        for cid in chosen:
            expected[cid] += 1
    assert tally.sheets == len(REPS) and {k: v for k, v in votes.items() if v} == dict(expected)


async def _user_id(db: Database, w: World, who: str) -> int:
    return (await w.actor(db, who)).user.id or 0

