"""The representatives' ballot: a voter's own sheet (look, toggle, submit) and what a receipt code tells.

flows.ballot is the interface (these are re-exported there). Only the voter's envelope, turnout and audit
entry are written here — never the counted sheets (flows.ballot_sheets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from flows import audit
from flows import ballot_sheets as papers
from flows.ballot_core import Receipt, SheetView, _ballot, _candidates, _view
from flows.ballot_sheets import RECEIPT_LENGTH, normalise_receipt, receipt_code, receipt_hash
from flows.errors import Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Ballot, BallotCandidate, BallotSheet, BallotVoter

# ---------------------------------------------------------------- voting (representatives only)


@dataclass
class _Paper:
    ballot: Ballot
    member_id: int
    voter: BallotVoter | None
    paper: papers.Paper
    candidates: list[tuple[BallotCandidate, int]]


async def _paper(uow: UnitOfWork, actor: Actor, secret: bytes, ballot_id: int, *, ballot_lock: str | None,
                 press: bool) -> _Paper:
    """The actor's paper (flows.ballot_sheets: their sealed envelope, never the counted sheet). A press locks
    the voter row (one press of a voter at a time); a look writes and locks nothing."""
    me = actor.require(Perm.VOTE)
    ballot = await _ballot(uow, ballot_id, me.community_id, lock=ballot_lock)
    stmt = select(BallotVoter).where(BallotVoter.ballot_id == ballot_id, BallotVoter.member_id == me.id)
    if press:
        stmt = stmt.with_for_update()
    voter = (await uow.session.exec(stmt.execution_options(populate_existing=True))).first()
    if voter is None:
        raise Forbidden(Perm.VOTE.value)
    paper = await papers.read(uow, secret=secret, ballot_id=ballot_id, member_id=me.id or 0)
    return _Paper(ballot, me.id or 0, voter, paper, await _candidates(uow, ballot_id))


async def _sheet_view(uow: UnitOfWork, p: _Paper, secret: bytes) -> SheetView:
    withdrawn = {c.id for c, _ in p.candidates if c.withdrawn_at is not None}
    chosen = frozenset(p.paper.draft) - withdrawn
    cast = set(p.paper.cast) - withdrawn if p.paper.cast is not None else None
    assert p.ballot.id is not None
    return SheetView(ballot=await _view(uow, p.ballot, p.candidates, turnout=False), chosen=frozenset(chosen),
                     cast=cast is not None, changed=cast is None or set(chosen) != cast,
                     receipt=receipt_code(secret, p.ballot.id, p.member_id) if cast is not None else None,
                     version=p.paper.version)


async def _store(uow: UnitOfWork, p: _Paper, secret: bytes, *, draft: set[int], cast: set[int] | None,
                 queued_at: datetime | None) -> None:
    stored = await papers.write(uow, secret=secret, ballot_id=p.ballot.id or 0, member_id=p.member_id,
                                paper=p.paper, draft=sorted(draft), cast=None if cast is None else sorted(cast),
                                queued_at=queued_at)
    if stored is None:  # another press of this voter came first (the voter row lock makes this rare)
        raise Invalid("sheet", "stale")
    p.paper = stored


def _votable(ballot: Ballot, now: datetime) -> None:
    if ballot.status != "open" or now >= ballot.closes_at:
        raise Invalid("ballot", "closed")


async def sheet(uow: UnitOfWork, *, actor: Actor, secret: bytes, ballot_id: int, now: datetime) -> SheetView:
    """The actor's own sheet (empty before the first press; nothing is written by looking). Forbidden("vote")
    unless the actor is a voter of this ballot; NotFound("ballot") if it is not of the actor's community."""
    p = await _paper(uow, actor, secret, ballot_id, ballot_lock=None, press=False)
    return await _sheet_view(uow, p, secret)


async def toggle(uow: UnitOfWork, *, actor: Actor, secret: bytes, ballot_id: int, candidate_id: int,
                 now: datetime, version: int | None = None) -> SheetView:
    """Tick or untick one candidate on the draft. Invalid("ballot", "closed") unless open and before
    closes_at; Invalid("candidate", "unknown") for a candidate not on this ballot (a forged button);
    Invalid("candidate", "withdrawn"); Invalid("choice", "too_many", choose=) when ticking one more than
    allowed. `version`, when given, must match the sheet's (else Invalid("sheet", "stale")): two presses
    from one old screen do not both apply."""
    p = await _paper(uow, actor, secret, ballot_id, ballot_lock="share", press=True)
    _votable(p.ballot, now)
    target = next((c for c, _ in p.candidates if c.id == candidate_id), None)
    if target is None:
        raise Invalid("candidate", "unknown")
    if target.withdrawn_at is not None:
        raise Invalid("candidate", "withdrawn")
    if version is not None and version != p.paper.version:
        raise Invalid("sheet", "stale")
    withdrawn = {c.id for c, _ in p.candidates if c.withdrawn_at is not None}
    draft = set(p.paper.draft)
    if candidate_id in draft:
        draft.discard(candidate_id)
    else:
        if len(draft - withdrawn) >= p.ballot.choose:
            raise Invalid("choice", "too_many", choose=p.ballot.choose)
        draft.add(candidate_id)
    await _store(uow, p, secret, draft=draft, cast=None if p.paper.cast is None else set(p.paper.cast),
                 queued_at=None)
    return await _sheet_view(uow, p, secret)


async def submit(uow: UnitOfWork, *, actor: Actor, secret: bytes, ballot_id: int, now: datetime) -> SheetView:
    """Cast the draft. Invalid("choice", "too_few", minimum=) / ("too_many", choose=); Invalid("ballot",
    "closed"). The choices go sealed into the voter's envelope, queued for the scheduler's next batch
    (flows.ballot_sheets.apply_pending) and replacing any still waiting; closing applies what waits before
    the tally. The first submission sets the voter's voted_at (turnout). Audited as "ballot.vote" without
    the choices. Nothing in this transaction touches the sheets."""
    # the ballot row is share-locked so a concurrent close waits for this submission (and counts it)
    p = await _paper(uow, actor, secret, ballot_id, ballot_lock="share", press=True)
    _votable(p.ballot, now)
    standing = {c.id for c, _ in p.candidates if c.withdrawn_at is None}
    choices = {int(c) for c in p.paper.draft if c in standing}
    if len(choices) < p.ballot.minimum:
        raise Invalid("choice", "too_few", minimum=p.ballot.minimum)
    if len(choices) > p.ballot.choose:
        raise Invalid("choice", "too_many", choose=p.ballot.choose)
    first = p.paper.cast is None
    await _store(uow, p, secret, draft=choices, cast=choices, queued_at=now)
    assert p.voter is not None
    if p.voter.voted_at is None:
        p.voter.voted_at = now
        uow.session.add(p.voter)
    await uow.session.flush()
    audit.record(uow, action="ballot.vote", now=now, community_id=p.ballot.community_id,
                 actor_user_id=actor.user.id, subject_type="ballot", subject_id=ballot_id, first=first)
    return await _sheet_view(uow, p, secret)


async def check_receipt(uow: UnitOfWork, *, community_id: int, code: str, secret: bytes | None = None) -> Receipt:
    """What a receipt code says to whoever holds it: whether choices were submitted with that paper and,
    once the ballot is tallied, whether it was counted — never which choices (the voter sees those only on
    their own sheet). NotFound("receipt") when no paper of the community's ballots has this code (any case,
    with or without the dash). `secret` (the ballot key) also finds papers whose submission still waits
    for the scheduler's batch."""
    if len(normalise_receipt(code)) != RECEIPT_LENGTH:
        raise NotFound("receipt")
    row = (await uow.session.exec(
        select(BallotSheet, Ballot).join(Ballot, col(Ballot.id) == col(BallotSheet.ballot_id))
        .where(BallotSheet.receipt_hash == receipt_hash(code), Ballot.community_id == community_id))).first()
    waiting = await papers.submitted(uow, secret=secret, ballot_id=row[1].id if row else None, code=code) \
        if secret is not None else None
    if row is not None:
        sheet_row, ballot = row
        cast = sheet_row.cast
    elif waiting is not None:
        ballot = await _ballot(uow, waiting[0])
        if ballot.community_id != community_id:
            raise NotFound("receipt")
        cast = False
    else:
        raise NotFound("receipt")
    submitted = cast or (waiting is not None and waiting[1])
    return Receipt(ballot=await _view(uow, ballot), submitted=submitted,
                   counted=cast and ballot.status in ("tie", "closed"))
