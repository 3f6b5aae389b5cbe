"""The representatives' ballot, shared by its modules (flows.ballot is the interface): what callers may see,
the ranking rule, and the internals every part uses (the ballot row and its locks, candidates, turnout,
the notices, compare-and-set of the status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import outbox
from flows.clock import local
from flows.errors import NotFound
from flows.notices import Notice
from storage.db import UnitOfWork
from storage.models import Ballot, BallotCandidate, BallotVoter, Chat, Community, Member, Need, User

# ---------------------------------------------------------------- notices (worded in bot/handlers/ballot_notices.py)
# Times are ISO strings, shown in the community's time zone `tz`.


@dataclass(frozen=True)
class BallotOpened(Notice, kind="ballot_open"):
    """To each representative in private: the ballot is open, vote until `closes_at`."""

    ballot_id: int
    year: int
    round: int
    choose: int
    minimum: int
    closes_at: str
    candidates: int
    tz: str


@dataclass(frozen=True)
class BallotOpenedGroup(Notice, kind="ballot_open_group"):
    year: int
    round: int
    voters: int
    closes_at: str
    tz: str


@dataclass(frozen=True)
class BallotReminder(Notice, kind="ballot_remind"):
    ballot_id: int
    year: int
    round: int
    closes_at: str
    tz: str


@dataclass(frozen=True)
class BallotResult(Notice, kind="ballot_result"):
    """To the groups and the admins: the totals (rows: {title, votes, elected}) and the projects made
    (projects: {number, title, votes}); `decided`: the titles an admin chose when the votes tied at the
    cut-off (empty without a tie decided)."""

    year: int
    round: int
    rows: list[dict[str, Any]]
    voted: int
    voters: int
    sheets: int
    projects: list[dict[str, Any]]
    tz: str
    decided: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BallotTie(Notice, kind="ballot_tie"):
    """To the admins: decide among the tied (tied: {id, title, votes}) or hold a run-off."""

    ballot_id: int
    year: int
    round: int
    seats_left: int
    tied: list[dict[str, Any]]
    tz: str


# ---------------------------------------------------------------- views (what callers may see)


@dataclass(frozen=True)
class CandidateLine:
    id: int
    position: int  # 1-based order on the ballot
    title: str
    category: str
    need_number: int
    withdrawn: bool = False
    votes: int | None = None  # only after the tally


@dataclass(frozen=True)
class BallotView:
    id: int
    year: int
    round: int
    status: str  # draft|open|tie|closed
    choose: int
    minimum: int
    seats: int
    opens_at: datetime
    closes_at: datetime
    candidates: tuple[CandidateLine, ...]
    voters: int | None  # representatives entitled to vote (0 while a draft; None on a voter's sheet)
    voted: int | None  # of them, how many have submitted (None on a voter's sheet, which does not show it)


@dataclass(frozen=True)
class SheetView:
    """A voter's own ballot paper."""

    ballot: BallotView
    chosen: frozenset[int]  # candidate ids ticked on the draft
    cast: bool  # submitted at least once
    changed: bool  # the draft differs from what was submitted (or nothing was submitted yet)
    receipt: str | None  # the receipt code once submitted ("ABCD-EFGH")
    version: int = 0  # the sheet's counter: pass it back to `toggle` so a stale screen cannot apply twice


@dataclass(frozen=True)
class Outcome:
    """Where the cut-off falls, from the totals alone (see `rank`)."""

    elected: tuple[int, ...]  # candidate ids elected outright, best first
    tied: tuple[int, ...]  # candidate ids tied at the cut-off (empty when there is no tie)
    seats_left: int  # seats the tied candidates compete for (0 when there is no tie)


@dataclass(frozen=True)
class Tally:
    ballot: BallotView  # candidates carry their votes; withdrawn ones are listed but not counted
    sheets: int  # submitted sheets counted
    outcome: Outcome


@dataclass(frozen=True)
class ProjectLine:
    id: int
    number: int
    title: str
    category: str
    votes: int
    need_number: int | None


@dataclass(frozen=True)
class Receipt:
    """What a receipt code tells whoever holds it: never the choices (a coercer could demand the code)."""

    ballot: BallotView
    submitted: bool  # choices were submitted with this paper
    counted: bool  # the ballot is tallied and this paper was in it


# ---------------------------------------------------------------- pure helpers


def rank(votes: Sequence[tuple[int, int, int]], seats: int) -> Outcome:
    """Who is elected from (candidate_id, position, votes) of the candidates still standing.

    Sorted by votes, descending. If the candidate at place `seats` has as many votes as the one after
    it, all candidates with that many votes are `tied` for the `seats_left` seats not yet filled by
    those with more votes; everyone above is `elected`. With no more candidates than seats, all are
    elected. Candidates with 0 votes can be elected only to fill seats nobody else could (and may tie)."""
    order = sorted(votes, key=lambda v: (-v[2], v[1], v[0]))
    if seats <= 0:
        return Outcome(elected=(), tied=(), seats_left=0)
    if len(order) <= seats or order[seats - 1][2] != order[seats][2]:
        return Outcome(elected=tuple(v[0] for v in order[:seats]), tied=(), seats_left=0)
    cut = order[seats - 1][2]
    elected = tuple(v[0] for v in order if v[2] > cut)
    tied = tuple(v[0] for v in order if v[2] == cut)
    return Outcome(elected=elected, tied=tied, seats_left=seats - len(elected))


# ---------------------------------------------------------------- internals



def local_year(community: Community, now: datetime) -> int:
    return local(now, community.timezone).year


async def _ballot(uow: UnitOfWork, ballot_id: int, community_id: int | None = None, *,
                  lock: str | None = None) -> Ballot:
    """The ballot (NotFound when missing or of another community); lock "update" or "share" on PostgreSQL."""
    stmt = select(Ballot).where(Ballot.id == ballot_id).execution_options(populate_existing=True)
    if lock == "update":
        stmt = stmt.with_for_update()
    elif lock == "share":
        stmt = stmt.with_for_update(read=True)
    ballot = (await uow.session.exec(stmt)).first()
    if ballot is None or (community_id is not None and ballot.community_id != community_id):
        raise NotFound("ballot", ballot_id)
    return ballot


async def _candidates(uow: UnitOfWork, ballot_id: int) -> list[tuple[BallotCandidate, int]]:
    """The candidates of a ballot by position, each with its need's number."""
    rows = await uow.session.exec(
        select(BallotCandidate, Need.number).join(Need, col(Need.id) == col(BallotCandidate.need_id))
        .where(BallotCandidate.ballot_id == ballot_id).order_by(col(BallotCandidate.position))
        .execution_options(populate_existing=True))
    return [(c, int(n)) for c, n in rows.all()]


async def _turnout(uow: UnitOfWork, ballot_id: int) -> tuple[int, int]:
    voters, voted = (await uow.session.exec(
        select(func.count(col(BallotVoter.id)), func.count(col(BallotVoter.voted_at)))
        .where(BallotVoter.ballot_id == ballot_id))).one()
    return int(voted or 0), int(voters or 0)


async def _view(uow: UnitOfWork, ballot: Ballot, candidates: list[tuple[BallotCandidate, int]] | None = None,
                *, turnout: bool = True) -> BallotView:
    assert ballot.id is not None
    voted, voters = await _turnout(uow, ballot.id) if turnout else (None, None)
    if candidates is None:
        candidates = await _candidates(uow, ballot.id)
    lines = tuple(CandidateLine(id=c.id or 0, position=c.position, title=c.title, category=c.category,
                                need_number=number, withdrawn=c.withdrawn_at is not None, votes=c.votes)
                  for c, number in candidates)
    return BallotView(id=ballot.id, year=ballot.year, round=ballot.round, status=ballot.status,
                      choose=ballot.choose, minimum=ballot.minimum, seats=ballot.seats, opens_at=ballot.opens_at,
                      closes_at=ballot.closes_at, candidates=lines, voters=voters, voted=voted)


async def _users(uow: UnitOfWork, member_ids: Sequence[int]) -> list[tuple[int, User]]:
    """(member id, user) for the members, in member id order."""
    out: list[tuple[int, User]] = []
    ids = sorted(set(member_ids))
    for i in range(0, len(ids), 500):
        rows = await uow.session.exec(select(Member.id, User).join(User, col(User.id) == col(Member.user_id))
                                      .where(col(Member.id).in_(ids[i:i + 500])))
        out.extend((int(mid or 0), user) for mid, user in rows.all())
    return sorted(out, key=lambda x: x[0])


async def _groups(uow: UnitOfWork, community_id: int) -> list[Chat]:
    rows = await uow.session.exec(select(Chat).where(
        Chat.community_id == community_id, col(Chat.purpose).is_not(None),
        col(Chat.bot_status).in_(("member", "administrator"))).order_by(col(Chat.id)))
    return list(rows.all())


async def _community_of(uow: UnitOfWork, ballot: Ballot) -> Community:
    community = await uow.session.get(Community, ballot.community_id)
    assert community is not None
    return community


def _tell_user(uow: UnitOfWork, user: User, community: Community, notice: Notice, key: str, now: datetime) -> None:
    outbox.notify(uow, tg_chat_id=user.tg_id, notice=notice, lang=user.language or community.locale, now=now,
                  community_id=community.id, recipient_user_id=user.id, dedupe_key=key)


def _tell_group(uow: UnitOfWork, chat: Chat, community: Community, notice: Notice, key: str, now: datetime) -> None:
    outbox.notify(uow, tg_chat_id=chat.tg_chat_id, notice=notice, lang=community.locale, now=now,
                  community_id=community.id, dedupe_key=key)


async def _set_status(uow: UnitOfWork, ballot: Ballot, expected: str, **values: Any) -> bool:
    """Compare-and-set the ballot's status (and other columns): False when someone else moved it first."""
    result = await uow.session.execute(update(Ballot).where(col(Ballot.id) == ballot.id,
                                                            col(Ballot.status) == expected).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        setattr(ballot, name, value)
    return True
