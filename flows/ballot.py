"""The representatives' ballot (居民代表点选, F-2): choosing the year's projects from the candidates.

Life of a ballot: an admin creates it (draft) from this year's candidate needs → it opens (by command or
at `opens_at`, by the scheduler) and every representative gets a private ballot → representatives toggle
candidates and submit, and may change and resubmit until closing → a day before closing those who have
not voted are reminded once → it closes (by command or at `closes_at`) and is tallied: the top `seats`
become the year's projects, the result is posted to every group of the community. A tie at the cut-off
leaves the ballot in status "tie" and the admins are asked to decide (`decide`) or to hold a run-off
(`runoff`: a new round between the tied candidates for the seats left).

Secrecy (F-2.3): a voter's transaction writes only their turnout (BallotVoter.voted_at), the audit entry
and their sealed envelope (draft and submitted choices, flows.ballot_sheets); the counted sheets (BallotSheet,
no member id and no time, found by a keyed hash of (ballot, member)) and their boxes (BallotMark) are written
later, several voters' at once, by the scheduler and at closing — so neither a transaction id (PostgreSQL's
xmin) nor the order of rows ties a voter to their choices (see flows.ballot_sheets for what a database reader
can learn). Nothing here returns another person's choices: voters see their own sheet, everyone else sees
turnout and, after closing, the totals. The receipt code is derived from the same key, so the voter can be
shown it again any time; the sheet stores only its hash, and `check_receipt` tells the holder whether that
paper was submitted and counted — not what was on it.

Schema guarantees: one ballot per community, year and round; one voter row and one sheet per voter and
ballot; one box per sheet and candidate; one project per community, year and number (and need)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from flows import audit, membership, needs_loop
from flows import ballot_sheets as papers
from flows.ballot_core import (  # noqa: F401  (what callers see is part of this module's interface)
    BallotOpened,
    BallotOpenedGroup,
    BallotReminder,
    BallotResult,
    BallotTie,
    BallotView,
    CandidateLine,
    Outcome,
    ProjectLine,
    Receipt,
    SheetView,
    Tally,
    _ballot,
    _candidates,
    _community_of,
    _groups,
    _set_status,
    _tell_group,
    _tell_user,
    _turnout,
    _users,
    _view,
    local_year,
    rank,
)
from flows.ballot_sheets import (  # noqa: F401  (the codes and the batches are part of this module's interface)
    BATCH_MIN,
    BATCH_WAIT,
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    apply_pending,
    normalise_receipt,
    receipt_code,
    receipt_hash,
    voter_token,
)
from flows.ballot_voting import check_receipt, sheet, submit, toggle  # noqa: F401  (a voter's own sheet, receipts)
from flows.errors import AlreadyDone, Invalid
from flows.membership import Actor
from flows.roles import Perm, Role
from storage.db import UnitOfWork
from storage.models import (
    Ballot,
    BallotCandidate,
    BallotMark,
    BallotSheet,
    BallotVoter,
    Community,
    Need,
    Project,
)

#: the largest ballot: how many may be chosen, how many candidates at most
MAX_CHOOSE = 40
MAX_CANDIDATES = 60
DEFAULT_CHOOSE = 10
REMIND_BEFORE = timedelta(days=1)  # the one reminder to representatives who have not voted


# ---------------------------------------------------------------- admin: create, open, withdraw


async def create(uow: UnitOfWork, *, actor: Actor, now: datetime, closes_at: datetime,
                 opens_at: datetime | None = None, choose: int = DEFAULT_CHOOSE, minimum: int = 1,
                 seats: int | None = None) -> Ballot:
    """A draft round-1 ballot for this (local) year from the year's candidate needs (Perm.BALLOT).

    Candidates are the needs with status "candidate", by need number, titled with their candidate title.
    Invalid("candidates", "too_few", have=, need=) unless there are more candidates than `choose`;
    Invalid("candidates", "too_many", limit=MAX_CANDIDATES); Invalid("choose", "out_of_range", limit=)
    unless 1 ≤ choose ≤ MAX_CHOOSE; Invalid("minimum", "out_of_range", choose=) unless
    1 ≤ minimum ≤ choose; Invalid("closes_at", "past") unless closes_at > max(now, opens_at);
    AlreadyDone("ballot") if the year already has a ballot. Audited ("ballot.create").

    `seats` (how many projects the ballot makes) defaults to `choose`; Invalid("seats", "out_of_range",
    choose=) unless 1 ≤ seats ≤ choose."""
    me = actor.require(Perm.BALLOT)
    community = actor.home()
    if not 1 <= choose <= MAX_CHOOSE:
        raise Invalid("choose", "out_of_range", limit=MAX_CHOOSE)
    if not 1 <= minimum <= choose:
        raise Invalid("minimum", "out_of_range", choose=choose)
    seats = choose if seats is None else seats
    if not 1 <= seats <= choose:
        raise Invalid("seats", "out_of_range", choose=choose)
    start = now if opens_at is None else opens_at
    if closes_at <= max(now, start):
        raise Invalid("closes_at", "past")
    year = local_year(community, now)
    # one creator at a time per community (PostgreSQL): the check below then sees a concurrent creation
    await uow.session.exec(select(Community.id).where(Community.id == me.community_id).with_for_update())
    existing = (await uow.session.exec(select(Ballot.id).where(
        Ballot.community_id == me.community_id, Ballot.year == year))).first()
    if existing is not None:
        raise AlreadyDone("ballot")
    needs = (await uow.session.exec(select(Need).where(
        Need.community_id == me.community_id, Need.year == year, Need.status == "candidate")
        .order_by(col(Need.number)))).all()
    if len(needs) <= choose:
        raise Invalid("candidates", "too_few", have=len(needs), need=choose + 1)
    if len(needs) > MAX_CANDIDATES:
        raise Invalid("candidates", "too_many", limit=MAX_CANDIDATES)
    ballot = Ballot(community_id=me.community_id, year=year, round=1, choose=choose, minimum=minimum, seats=seats,
                    status="draft", opens_at=start, closes_at=closes_at, created_by_member_id=me.id or 0,
                    created_at=now)
    uow.session.add(ballot)
    await uow.session.flush()
    assert ballot.id is not None
    for position, need in enumerate(needs, start=1):
        uow.session.add(BallotCandidate(ballot_id=ballot.id, need_id=need.id or 0, position=position,
                                        title=(need.candidate_title or need.text)[:30], category=need.category))
    await uow.session.flush()
    audit.record(uow, action="ballot.create", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="ballot", subject_id=ballot.id, year=year, candidates=len(needs), choose=choose,
                 minimum=minimum, seats=seats, opens_at=start.isoformat(), closes_at=closes_at.isoformat())
    return ballot


async def discard(uow: UnitOfWork, *, actor: Actor, ballot_id: int, now: datetime) -> None:
    """Delete a draft (Invalid("ballot", "not_draft") otherwise). Audited."""
    me = actor.require(Perm.BALLOT)
    ballot = await _ballot(uow, ballot_id, me.community_id, lock="update")
    if ballot.status != "draft":
        raise Invalid("ballot", "not_draft")
    await uow.session.execute(delete(BallotCandidate).where(col(BallotCandidate.ballot_id) == ballot.id))
    await uow.session.execute(delete(Ballot).where(col(Ballot.id) == ballot.id))
    audit.record(uow, action="ballot.discard", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="ballot", subject_id=ballot_id, year=ballot.year)


async def _start(uow: UnitOfWork, ballot: Ballot, community: Community, now: datetime) -> int:
    """Snapshot the voters, mark the ballot open (compare-and-set from draft) and tell everyone.

    Returns the number of voters; Invalid("voters", "none") when nobody holds the representative role."""
    assert ballot.id is not None
    voters = await membership.holders_of(uow, community_id=ballot.community_id, role=Role.REPRESENTATIVE)
    if not voters:
        raise Invalid("voters", "none")
    if not await _set_status(uow, ballot, "draft", status="open", opened_at=now):
        raise Invalid("ballot", "not_draft")
    for member, _user in voters:
        uow.session.add(BallotVoter(ballot_id=ballot.id, member_id=member.id or 0))
    await uow.session.flush()
    standing = sum(1 for c, _ in await _candidates(uow, ballot.id) if c.withdrawn_at is None)
    closes = ballot.closes_at.isoformat()
    for member, user in voters:
        _tell_user(uow, user, community, BallotOpened(
            ballot_id=ballot.id, year=ballot.year, round=ballot.round, choose=ballot.choose, minimum=ballot.minimum,
            closes_at=closes, candidates=standing, tz=community.timezone), f"ballot_open:{ballot.id}:{member.id}", now)
    for chat in await _groups(uow, ballot.community_id):
        _tell_group(uow, chat, community, BallotOpenedGroup(
            year=ballot.year, round=ballot.round, voters=len(voters), closes_at=closes, tz=community.timezone),
            f"ballot_open_group:{ballot.id}:{chat.tg_chat_id}", now)
    return len(voters)


async def open_ballot(uow: UnitOfWork, *, ballot_id: int, now: datetime, actor: Actor | None = None) -> Ballot:
    """Open a draft now (by an admin, or by the scheduler when actor is None and opens_at has come).

    Voters are the members holding an active representative grant at this moment (BallotVoter rows).
    Invalid("voters", "none") when there is none. Each voter is sent notice "ballot_open" in private
    (params: ballot_id, year, round, choose, minimum, closes_at ISO, candidates count) and every linked
    group of the community notice "ballot_open_group" (params: year, round, voters, closes_at).
    Invalid("ballot", "not_draft") when not a draft. Audited ("ballot.open").

    Also Invalid("closes_at", "past") when the closing time has already come, and, for the scheduler,
    Invalid("ballot", "not_due") before opens_at."""
    community_id = actor.require(Perm.BALLOT).community_id if actor is not None else None
    ballot = await _ballot(uow, ballot_id, community_id, lock="update")
    if ballot.status != "draft":
        raise Invalid("ballot", "not_draft")
    if actor is None and ballot.opens_at > now:
        raise Invalid("ballot", "not_due")
    if ballot.closes_at <= now:
        raise Invalid("closes_at", "past")
    voters = await _start(uow, ballot, await _community_of(uow, ballot), now)
    audit.record(uow, action="ballot.open", now=now, community_id=ballot.community_id,
                 actor_user_id=actor.user.id if actor is not None else None, subject_type="ballot",
                 subject_id=ballot.id, year=ballot.year, round=ballot.round, voters=voters)
    return ballot


async def withdraw(uow: UnitOfWork, *, actor: Actor, ballot_id: int, candidate_id: int, now: datetime) -> None:
    """Withdraw a candidate from an open or draft ballot: it stays on the sheets greyed out, is no longer
    choosable and is not counted. Invalid("candidate", "unknown") if not on this ballot. Audited.

    Invalid("ballot", "closed") once the ballot is closed or tied; AlreadyDone("withdrawn") for a second
    withdrawal; Invalid("candidates", "too_few", have=, need=minimum) when fewer candidates than the
    ballot's minimum would be left."""
    me = actor.require(Perm.BALLOT)
    ballot = await _ballot(uow, ballot_id, me.community_id, lock="update")
    if ballot.status not in ("draft", "open"):
        raise Invalid("ballot", "closed")
    candidates = [c for c, _ in await _candidates(uow, ballot_id)]
    target = next((c for c in candidates if c.id == candidate_id), None)
    if target is None:
        raise Invalid("candidate", "unknown")
    if target.withdrawn_at is not None:
        raise AlreadyDone("withdrawn")
    standing = sum(1 for c in candidates if c.withdrawn_at is None) - 1
    if standing < ballot.minimum:
        raise Invalid("candidates", "too_few", have=standing, need=ballot.minimum)
    target.withdrawn_at = now
    uow.session.add(target)
    await uow.session.flush()
    audit.record(uow, action="ballot.withdraw", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="ballot", subject_id=ballot.id, candidate=target.id, title=target.title)


async def turnout(uow: UnitOfWork, *, ballot_id: int) -> tuple[int, int]:
    """(voted, voters) of a ballot."""
    return await _turnout(uow, ballot_id)


# ---------------------------------------------------------------- reading


async def candidate_count(uow: UnitOfWork, *, community_id: int, year: int) -> int:
    """How many of the year's needs are candidate projects (what a new ballot would be made from)."""
    return int((await uow.session.exec(select(func.count()).select_from(Need).where(
        Need.community_id == community_id, Need.year == year, Need.status == "candidate"))).one())


async def current(uow: UnitOfWork, *, community_id: int, year: int) -> Ballot | None:
    """The year's latest round (a run-off if there is one), any status."""
    return (await uow.session.exec(select(Ballot).where(Ballot.community_id == community_id, Ballot.year == year)
                                   .order_by(col(Ballot.round).desc()).limit(1))).first()


async def view(uow: UnitOfWork, *, ballot_id: int, community_id: int) -> BallotView:
    """A ballot of that community, with candidates (votes only once tallied) and turnout."""
    return await _view(uow, await _ballot(uow, ballot_id, community_id))


async def projects(uow: UnitOfWork, *, community_id: int, year: int) -> list[ProjectLine]:
    """The year's projects, by number."""
    rows = await uow.session.exec(
        select(Project, Need.number).join(Need, col(Need.id) == col(Project.need_id), isouter=True)
        .where(Project.community_id == community_id, Project.year == year).order_by(col(Project.number)))
    return [ProjectLine(id=p.id or 0, number=p.number, title=p.title, category=p.category, votes=p.votes,
                        need_number=int(n) if n is not None else None) for p, n in rows.all()]


# ---------------------------------------------------------------- closing, ties, run-offs


def _standing_votes(candidates: Sequence[tuple[BallotCandidate, int]]) -> list[tuple[int, int, int]]:
    return [(c.id or 0, c.position, c.votes or 0) for c, _ in candidates if c.withdrawn_at is None]


async def _count(uow: UnitOfWork, ballot: Ballot) -> tuple[int, list[tuple[BallotCandidate, int]]]:
    """Tally a ballot in one GROUP BY over the cast sheets' marks; store votes on the standing candidates."""
    cast = (await uow.session.exec(select(func.count()).select_from(BallotSheet).where(
        BallotSheet.ballot_id == ballot.id, col(BallotSheet.cast).is_(True)))).one()
    totals = dict((await uow.session.exec(
        select(BallotMark.candidate_id, func.count()).join(BallotSheet, col(BallotSheet.id) == col(BallotMark.sheet_id))
        .where(BallotSheet.ballot_id == ballot.id, col(BallotSheet.cast).is_(True), col(BallotMark.chosen).is_(True))
        .group_by(col(BallotMark.candidate_id)))).all())
    candidates = await _candidates(uow, ballot.id or 0)
    for c, _ in candidates:
        c.votes = int(totals.get(c.id, 0)) if c.withdrawn_at is None else None
        uow.session.add(c)
    await uow.session.flush()
    return int(cast), candidates


async def _chain(uow: UnitOfWork, ballot: Ballot) -> list[Ballot]:
    """The ballot's ancestors (round 1 first), when it is a run-off."""
    out: list[Ballot] = []
    parent_id = ballot.runoff_of_id
    while parent_id is not None:
        parent = await _ballot(uow, parent_id, lock="update")
        out.append(parent)
        parent_id = parent.runoff_of_id
    return out[::-1]


async def _finish(uow: UnitOfWork, ballot: Ballot, winners: Sequence[int], now: datetime, *,
                  sheets: int, candidates: list[tuple[BallotCandidate, int]], decided: Sequence[int] = ()) -> None:
    """Make the projects (ancestors' elected first, then `winners`), close the ballot and its ancestors, tell
    the groups and the admins (the result names the candidates an admin `decided` a tie for), and the people
    who asked for or supported each elected need (flows.needs_loop)."""
    community = await _community_of(uow, ballot)
    ancestors = await _chain(uow, ballot)
    picks: list[tuple[BallotCandidate, Ballot]] = []
    for parent in ancestors:
        parent_candidates = await _candidates(uow, parent.id or 0)
        by_id = {c.id: c for c, _ in parent_candidates}
        picks += [(by_id[i], parent) for i in rank(_standing_votes(parent_candidates), parent.seats).elected]
    by_id = {c.id: c for c, _ in candidates}
    picks += [(by_id[i], ballot) for i in winners]
    last = (await uow.session.exec(select(func.max(Project.number)).where(
        Project.community_id == ballot.community_id, Project.year == ballot.year))).one()
    made = set((await uow.session.exec(select(Project.need_id).where(
        Project.community_id == ballot.community_id, Project.year == ballot.year))).all())
    number = int(last or 0)
    made_rows: list[dict[str, Any]] = []
    new_projects: list[Project] = []
    for candidate, source in picks:
        if candidate.need_id in made:  # already one of the year's projects: not made twice
            continue
        number += 1
        made.add(candidate.need_id)
        project = Project(community_id=ballot.community_id, year=ballot.year, number=number, title=candidate.title,
                          category=candidate.category, need_id=candidate.need_id, ballot_id=source.id,
                          votes=candidate.votes or 0, created_at=now)
        uow.session.add(project)
        new_projects.append(project)
        made_rows.append({"number": number, "title": candidate.title, "votes": candidate.votes or 0})
    for parent in ancestors:
        await _set_status(uow, parent, "tie", status="closed")
    ballot.status = "closed"
    ballot.closed_at = ballot.closed_at or now
    uow.session.add(ballot)
    await uow.session.flush()
    voted, voters = await _turnout(uow, ballot.id or 0)
    elected = set(winners)
    rows = [{"title": c.title, "votes": c.votes or 0, "elected": c.id in elected}
            for c, _ in sorted(candidates, key=lambda x: (-(x[0].votes or 0), x[0].position))
            if c.withdrawn_at is None]
    result = BallotResult(year=ballot.year, round=ballot.round, rows=rows, voted=voted, voters=voters, sheets=sheets,
                          projects=made_rows, tz=community.timezone,
                          decided=[by_id[i].title for i in decided if i in by_id])
    for chat in await _groups(uow, ballot.community_id):
        _tell_group(uow, chat, community, result, f"ballot_result:{ballot.id}:{chat.tg_chat_id}", now)
    for admin, user in await membership.holders_of(uow, community_id=ballot.community_id, role=Role.ADMIN):
        _tell_user(uow, user, community, result, f"ballot_result:{ballot.id}:m{admin.id}", now)
    await needs_loop.tell_elected(uow, community=community, ballot_id=ballot.id or 0, projects=new_projects,
                                  now=now)


async def close(uow: UnitOfWork, *, ballot_id: int, now: datetime, actor: Actor | None = None,
                secret: bytes | None = None) -> Tally:
    """Close an open ballot (an admin's command, or the scheduler at closes_at) and tally it.

    Votes per candidate are stored on the candidates. No tie at the cut-off: the elected become Projects
    (numbered after those already made this year, by votes then position; for a run-off, the parent's
    elected first), status "closed", notice "ballot_result" to every linked group and the admins (params:
    year, round, rows=[{title, votes, elected}], voted, voters). A tie: status "tie", notice "ballot_tie"
    to the admins in private (params: ballot_id, year, round, seats_left, tied=[{id, title, votes}]),
    nothing made yet. Invalid("ballot", "not_open") otherwise. Audited ("ballot.close").

    Before the tally, every submission still waiting in an envelope is applied to its sheet in one batch
    (flows.ballot_sheets), which needs `secret`, the ballot key (RuntimeError without it when one waits)."""
    community_id = actor.require(Perm.BALLOT).community_id if actor is not None else None
    # the exclusive lock waits for submissions in flight (they share-lock the ballot), so they are counted
    ballot = await _ballot(uow, ballot_id, community_id, lock="update")
    if ballot.status != "open":
        raise Invalid("ballot", "not_open")
    if not await _set_status(uow, ballot, "open", closed_at=now):
        raise Invalid("ballot", "not_open")
    await apply_pending(uow, secret=secret, now=now, ballot_id=ballot_id, everything=True)
    if secret is not None:
        await papers.ensure_sheets(uow, ballot, secret)  # every voter's receipt answers "not counted" from now on
    sheets, candidates = await _count(uow, ballot)
    outcome = rank(_standing_votes(candidates), ballot.seats)
    if outcome.tied:
        await _set_status(uow, ballot, "open", status="tie")
        community = await _community_of(uow, ballot)
        titles = {c.id: c for c, _ in candidates}
        tied = [{"id": i, "title": titles[i].title, "votes": titles[i].votes or 0} for i in outcome.tied]
        for admin, user in await membership.holders_of(uow, community_id=ballot.community_id, role=Role.ADMIN):
            _tell_user(uow, user, community, BallotTie(
                ballot_id=ballot.id or 0, year=ballot.year, round=ballot.round, seats_left=outcome.seats_left,
                tied=tied, tz=community.timezone), f"ballot_tie:{ballot.id}:{admin.id}", now)
    else:
        await _finish(uow, ballot, outcome.elected, now, sheets=sheets, candidates=candidates)
    voted, voters = await _turnout(uow, ballot_id)
    audit.record(uow, action="ballot.close", now=now, community_id=ballot.community_id,
                 actor_user_id=actor.user.id if actor is not None else None, subject_type="ballot",
                 subject_id=ballot.id, year=ballot.year, round=ballot.round, status=ballot.status, sheets=sheets,
                 voted=voted, voters=voters)
    return Tally(ballot=await _view(uow, ballot), sheets=sheets, outcome=outcome)


async def _tied_ballot(uow: UnitOfWork, actor: Actor, ballot_id: int) -> tuple[Ballot, list[tuple[BallotCandidate, int]], Outcome]:
    me = actor.require(Perm.BALLOT)
    ballot = await _ballot(uow, ballot_id, me.community_id, lock="update")
    if ballot.status != "tie":
        raise Invalid("ballot", "not_tie")
    child = (await uow.session.exec(select(Ballot.id).where(Ballot.runoff_of_id == ballot.id))).first()
    if child is not None:
        raise Invalid("ballot", "has_runoff")
    candidates = await _candidates(uow, ballot_id)
    return ballot, candidates, rank(_standing_votes(candidates), ballot.seats)


async def decide(uow: UnitOfWork, *, actor: Actor, ballot_id: int, chosen: Sequence[int], now: datetime) -> Tally:
    """Settle a tie by the admin's choice of exactly `seats_left` of the tied candidates
    (Invalid("decision", "count", seats=) / ("unknown")); then as a close without a tie. Audited.

    Invalid("ballot", "not_tie") unless the ballot waits for a decision; ("has_runoff") when a run-off
    was held instead."""
    ballot, candidates, outcome = await _tied_ballot(uow, actor, ballot_id)
    picked = list(dict.fromkeys(int(c) for c in chosen))
    if any(c not in outcome.tied for c in picked):
        raise Invalid("decision", "unknown")
    if len(picked) != len(chosen) or len(picked) != outcome.seats_left:
        raise Invalid("decision", "count", seats=outcome.seats_left)
    winners = outcome.elected + tuple(c for c in outcome.tied if c in picked)
    sheets = (await uow.session.exec(select(func.count()).select_from(BallotSheet).where(
        BallotSheet.ballot_id == ballot.id, col(BallotSheet.cast).is_(True)))).one()
    if not await _set_status(uow, ballot, "tie", status="closed"):
        raise Invalid("ballot", "not_tie")
    await _finish(uow, ballot, winners, now, sheets=int(sheets), candidates=candidates, decided=picked)
    audit.record(uow, action="ballot.decide", now=now, community_id=ballot.community_id,
                 actor_user_id=actor.user.id, subject_type="ballot", subject_id=ballot.id, chosen=sorted(picked))
    return Tally(ballot=await _view(uow, ballot), sheets=int(sheets),
                 outcome=Outcome(elected=winners, tied=(), seats_left=0))


async def runoff(uow: UnitOfWork, *, actor: Actor, ballot_id: int, closes_at: datetime, now: datetime) -> Ballot:
    """Open a run-off for a tied ballot now: round + 1, the tied candidates, choose = seats = seats_left,
    minimum 1, same voters as at this moment. The parent stays "tie" until the run-off closes; closing
    the run-off makes the parent's elected and the run-off's winners the projects and closes both.

    Invalid("closes_at", "past"), Invalid("ballot", "not_tie" / "has_runoff"), Invalid("voters", "none")."""
    parent, candidates, outcome = await _tied_ballot(uow, actor, ballot_id)
    if closes_at <= now:
        raise Invalid("closes_at", "past")
    me = actor.require(Perm.BALLOT)
    ballot = Ballot(community_id=parent.community_id, year=parent.year, round=parent.round + 1,
                    runoff_of_id=parent.id, choose=outcome.seats_left, minimum=1, seats=outcome.seats_left,
                    status="draft", opens_at=now, closes_at=closes_at, created_by_member_id=me.id or 0,
                    created_at=now)
    uow.session.add(ballot)
    await uow.session.flush()
    by_id = {c.id: c for c, _ in candidates}
    tied = sorted((by_id[i] for i in outcome.tied), key=lambda c: c.position)
    for position, c in enumerate(tied, start=1):
        uow.session.add(BallotCandidate(ballot_id=ballot.id or 0, need_id=c.need_id, position=position,
                                        title=c.title, category=c.category))
    await uow.session.flush()
    voters = await _start(uow, ballot, await _community_of(uow, ballot), now)
    audit.record(uow, action="ballot.runoff", now=now, community_id=ballot.community_id, actor_user_id=actor.user.id,
                 subject_type="ballot", subject_id=ballot.id, parent=parent.id, round=ballot.round,
                 seats=ballot.seats, candidates=len(tied), voters=voters, closes_at=closes_at.isoformat())
    return ballot


async def due(uow: UnitOfWork, *, now: datetime, secret: bytes | None = None) -> dict[str, int]:
    """The scheduler's pass: open drafts whose opens_at has come, remind (once, notice "ballot_remind",
    dedupe per voter) voters without a submission when closes_at - REMIND_BEFORE has come, close open
    ballots whose closes_at has come. Returns counts {"opened", "reminded", "closed"}.

    A draft with no representative to vote, or whose closing time passed before it opened, is left for
    the admin (nothing is sent). `secret` is the ballot key closing needs (see `close`); the batches
    between are `apply_pending`, a job of their own."""
    counts = {"opened": 0, "reminded": 0, "closed": 0}
    drafts = (await uow.session.exec(select(Ballot).where(
        Ballot.status == "draft", col(Ballot.opens_at) <= now, col(Ballot.closes_at) > now)
        .order_by(col(Ballot.id)))).all()
    for ballot in drafts:
        if not await membership.holders_of(uow, community_id=ballot.community_id, role=Role.REPRESENTATIVE):
            continue
        locked = await _ballot(uow, ballot.id or 0, lock="update")
        if locked.status != "draft":
            continue
        await _start(uow, locked, await _community_of(uow, locked), now)
        audit.record(uow, action="ballot.open", now=now, community_id=locked.community_id, subject_type="ballot",
                     subject_id=locked.id, year=locked.year, round=locked.round, by="schedule")
        counts["opened"] += 1
    reminding = (await uow.session.exec(select(Ballot).where(
        Ballot.status == "open", col(Ballot.reminded_at).is_(None), col(Ballot.closes_at) > now,
        col(Ballot.closes_at) <= now + REMIND_BEFORE).order_by(col(Ballot.id)))).all()
    for ballot in reminding:
        if ballot.opened_at is not None and ballot.opened_at > ballot.closes_at - REMIND_BEFORE:
            continue  # opened for less than a day: the opening notice was the reminder
        taken = await uow.session.execute(update(Ballot).where(
            col(Ballot.id) == ballot.id, col(Ballot.status) == "open", col(Ballot.reminded_at).is_(None))
            .values(reminded_at=now))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        community = await _community_of(uow, ballot)
        late = (await uow.session.exec(select(BallotVoter).where(
            BallotVoter.ballot_id == ballot.id, col(BallotVoter.voted_at).is_(None),
            col(BallotVoter.reminded_at).is_(None)))).all()
        for member_id, user in await _users(uow, [v.member_id for v in late]):
            _tell_user(uow, user, community, BallotReminder(
                ballot_id=ballot.id or 0, year=ballot.year, round=ballot.round,
                closes_at=ballot.closes_at.isoformat(), tz=community.timezone),
                f"ballot_remind:{ballot.id}:{member_id}", now)
            counts["reminded"] += 1
        for v in late:
            v.reminded_at = now
            uow.session.add(v)
        await uow.session.flush()
    closing = (await uow.session.exec(select(Ballot.id).where(
        Ballot.status == "open", col(Ballot.closes_at) <= now).order_by(col(Ballot.id)))).all()
    for ballot_id in closing:
        locked = await _ballot(uow, ballot_id or 0, lock="update")
        if locked.status != "open":
            continue
        await close(uow, ballot_id=ballot_id or 0, now=now, secret=secret)
        counts["closed"] += 1
    return counts
