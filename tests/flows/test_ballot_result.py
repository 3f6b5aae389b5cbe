"""Issue #12 item 4, the ballot's public result stays true: when an admin settled a tie at the cut-off, the
result sent to the groups (and the admins) names the candidates the admin chose; a result without a tie
decision says nothing of the kind."""

from __future__ import annotations

from datetime import timedelta

from flows import ballot
from storage.db import Database
from tests.flows.test_ballot import NOW, _cands, _close, _outbox, _ready, _tie, _vote, build


async def test_item4_the_result_names_the_admins_tie_decision(db: Database) -> None:
    w = await build(db)
    bid, c = await _tie(db, w)
    await _close(db, bid, NOW + timedelta(days=7))
    async with db.uow(write=True) as uow:
        await ballot.decide(uow, actor=await w.actor(db, "admin"), ballot_id=bid, chosen=[c[3]],
                            now=NOW + timedelta(days=8))
        await uow.commit()
    results = await _outbox(db, "ballot_result")
    assert len(results) == 3  # the group and the two admins
    assert {tuple(r.payload["params"]["decided"]) for r in results} == {("项目4",)}


async def test_item4_a_plain_result_names_no_decision(db: Database) -> None:
    w = await build(db)
    bid = await _ready(db, w, choose=2)
    c = [x.id for x in await _cands(db, bid)]
    await _vote(db, w, "rep1", bid, [c[0], c[1]])
    await _close(db, bid, NOW + timedelta(days=7))
    assert {tuple(r.payload["params"]["decided"]) for r in await _outbox(db, "ballot_result")} == {()}
