"""Closing the needs loop (issue #12): what became of a need, told to the person who asked and to its "+1"s.

A need's stage follows it past the review: candidate → elected (当选: the vote made it one of the year's
projects) → in progress (进行中: the owner reported, with the project's colour and percent) → done (已完成:
completed and green, with the before/after picture), or not elected (未当选: a closed ballot left it out).
`my_needs` reads the stages for /myneeds in a fixed number of queries per page.

The author and every supporter of an elected need are told privately at the election (`tell_elected`, called
where the tally makes the projects: one notice per person, listing all their elected needs) and once more
when its project is finished (`tell_done`, called where the comparison post goes out with an "after" photo):
each person once even when they are author and supporter (the dedupe key is looked up first, and the schema
refuses a second row), never in quiet hours (a notice queued between QUIET_FROM and QUIET_UNTIL local time
waits until QUIET_UNTIL), and only to members of the need's community whom the bot can still reach."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, time
from typing import Any

from sqlmodel import col, select

from flows import needs, outbox, project_colour, quiet
from flows.clock import local
from flows.membership import Actor
from flows.notices import Notice
from flows.paging import Page
from flows.project_colour import Colour
from flows.project_notices import Comparison
from storage.db import UnitOfWork
from storage.models import (
    Ballot,
    BallotCandidate,
    Community,
    Member,
    Need,
    NeedSupport,
    OutboxMessage,
    Project,
    User,
)

#: Private notices wait out the night, in the community's local time.
QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)
#: The stages /myneeds shows past the review (a need's own status before that: open, merged, rejected, candidate).
ELECTED, IN_PROGRESS, DONE, NOT_ELECTED = "elected", "in_progress", "done", "not_elected"


def after_quiet_hours(now: datetime, tz: str) -> datetime:
    """`now`, or the end of the quiet hours when `now` falls in them (local time `tz`)."""
    return quiet.after(now, tz, start=QUIET_FROM, until=QUIET_UNTIL)


# ---------------------------------------------------------------- notices


@dataclass(frozen=True)
class NeedsElected(Notice, kind="need_elected"):
    """The needs of one person the representatives' vote made projects of the year, in one notice: each
    {need_number, project_number, title, votes, author (the recipient asked for it; else they supported it
    with "+1"), channel (how it was raised: "door_visit" is a grid worker's entry for the resident)}."""

    year: int
    community: str
    needs: list[dict[str, Any]]


@dataclass(frozen=True)
class NeedDone(Comparison, Notice, kind="need_done"):
    """A need whose project is finished, with the before/after picture (the comparison's fields)."""

    need_number: int
    author: bool
    channel: str


async def _needers(uow: UnitOfWork, need: Need) -> list[tuple[Member, User, bool]]:
    """The author, then the supporters (by the order of their "+1"), each once, with whether they are the
    author: members of the need's community the bot can still reach."""
    supporters = list((await uow.session.exec(select(NeedSupport.member_id).where(
        NeedSupport.need_id == need.id).order_by(col(NeedSupport.id)))).all())
    order = list(dict.fromkeys([need.author_member_id, *supporters]))
    rows = {m.id: (m, u) for m, u in (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .where(col(Member.id).in_(order), col(Member.community_id) == need.community_id,
               col(User.unreachable_at).is_(None)))).all()}
    return [(*rows[mid], mid == need.author_member_id) for mid in order if mid in rows]


async def _taken(uow: UnitOfWork, keys: list[str]) -> set[str]:
    """The dedupe keys already used (a notice queued, sent, or purged to its key)."""
    if not keys:
        return set()
    return set((await uow.session.exec(select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.dedupe_key).in_(keys)))).all())  # type: ignore[arg-type]


async def _tell(uow: UnitOfWork, need: Need, community: Community, prefix: str, now: datetime,
                make: Callable[[bool], Notice]) -> list[OutboxMessage]:
    """Queue `make(author?)` to each of the need's people not told yet (by the dedupe key), after quiet hours."""
    people = await _needers(uow, need)
    keys = {m.id: f"{prefix}:{need.id}:{m.id}" for m, _, _ in people}
    taken = await _taken(uow, list(keys.values()))
    wake = after_quiet_hours(now, community.timezone)
    rows = []
    for member, user, author in people:
        key = keys[member.id]
        if key in taken:
            continue
        row = outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                            community_id=community.id, recipient_user_id=user.id, dedupe_key=key,
                            notice=make(author))
        row.not_before = wake
        rows.append(row)
    return rows


async def tell_elected(uow: UnitOfWork, *, community: Community, ballot_id: int, projects: Sequence[Project],
                       now: datetime) -> int:
    """Tell the authors and supporters of the needs the vote (`ballot_id`, the round that made `projects`)
    elected: one notice per person listing their needs, after quiet hours, once (dedupe key per ballot and
    person). Returns how many people were told."""
    people: dict[int, tuple[User, list[dict[str, Any]]]] = {}
    year = projects[0].year if projects else 0
    for project in sorted(projects, key=lambda p: p.number):
        need = await uow.session.get(Need, project.need_id) if project.need_id else None
        if need is None:
            continue
        for member, user, author in await _needers(uow, need):
            people.setdefault(member.id or 0, (user, []))[1].append({
                "need_number": need.number, "project_number": project.number, "title": project.title,
                "votes": project.votes, "author": author, "channel": need.channel})
    keys = {mid: f"need_elected:{ballot_id}:{mid}" for mid in people}
    taken = await _taken(uow, list(keys.values()))
    wake = after_quiet_hours(now, community.timezone)
    told = 0
    for mid, (user, items) in people.items():
        if keys[mid] in taken:
            continue
        row = outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                            community_id=community.id, recipient_user_id=user.id, dedupe_key=keys[mid],
                            notice=NeedsElected(year=year, community=community.name, needs=items))
        row.not_before = wake
        told += 1
    return told


async def tell_done(uow: UnitOfWork, *, community: Community, project: Project, picture: dict[str, Any],
                    now: datetime) -> int:
    """Tell the authors and supporters of the project's need that it is finished, with the before/after
    picture (`picture`: the comparison post's fields, flows.acceptance); the sender composes it."""
    need = await uow.session.get(Need, project.need_id) if project.need_id else None
    if need is None:
        return 0
    fields = {f.name: picture.get(f.name) for f in dataclass_fields(Comparison)}

    def done(author: bool) -> Notice:
        return NeedDone(need_number=need.number, author=author, channel=need.channel, **fields)

    rows = await _tell(uow, need, community, "need_done", now, done)
    if fields["before"] or fields["after"]:
        for row in rows:  # the sender downloads the photos and composes the picture (bot/outbox.py, op "compose")
            row.payload = {**row.payload, "op": "compose", "picture": "comparison"}
    return len(rows)


# ---------------------------------------------------------------- /myneeds


@dataclass(frozen=True)
class MyNeed:
    """A need of /myneeds with its stage past the review (`stage` is the need's status until the vote)."""

    line: needs.NeedLine
    stage: str
    supported: bool = False  # the actor did not ask for it but supports it with "+1"
    project_id: int | None = None
    project_number: int | None = None
    project_title: str | None = None
    colour: str | None = None  # Colour value, for a project
    percent: int = 0
    completed_on: str | None = None  # ISO day, local
    votes: int | None = None


def stage_of(project: Project | None, colour: Colour | None, *, was_on_closed_ballot: bool, status: str) -> str:
    if project is None:
        return NOT_ELECTED if status == "candidate" and was_on_closed_ballot else status
    if project.completed_at is not None and colour == Colour.GREEN:
        return DONE
    if project.percent > 0 or project.last_report_at is not None or project.completed_at is not None:
        return IN_PROGRESS
    return ELECTED


async def my_needs(uow: UnitOfWork, *, actor: Actor, now: datetime, page: int = 1, size: int = 5) -> Page[MyNeed]:
    """The actor's needs — their own, those entered for them, and those they support with "+1" (they are told of
    these too) — newest first, each with its stage."""
    me = actor.registered()
    theirs = select(NeedSupport.need_id).where(NeedSupport.member_id == me.id)
    shown = await needs._paged(uow, [Need.community_id == me.community_id,
                                     (col(Need.author_member_id) == me.id) | col(Need.id).in_(theirs)], page, size)
    authored = set((await uow.session.exec(select(Need.id).where(
        col(Need.id).in_([n.id for n in shown.items]), Need.author_member_id == me.id))).all())
    ids = [n.id for n in shown.items]
    made = {p.need_id: p for p in (await uow.session.exec(select(Project).where(
        col(Project.need_id).in_(ids)))).all()} if ids else {}
    verdict = await project_colour.verdicts(uow, list(made.values()), now) if made else {}
    balloted = set((await uow.session.exec(
        select(BallotCandidate.need_id).join(Ballot, col(Ballot.id) == col(BallotCandidate.ballot_id))
        .where(col(BallotCandidate.need_id).in_(ids), col(Ballot.status) == "closed").distinct())).all()) if ids else set()
    tz = actor.home().timezone
    items = []
    for n in shown.items:
        p = made.get(n.id)
        v = verdict.get(p.id or 0) if p is not None else None
        items.append(MyNeed(
            line=n, stage=stage_of(p, v.colour if v else None, was_on_closed_ballot=n.id in balloted, status=n.status),
            supported=n.id not in authored,
            project_id=p.id if p else None, project_number=p.number if p else None,
            project_title=p.title if p else None,
            colour=v.colour.value if v else None, percent=p.percent if p else 0,
            completed_on=local(p.completed_at, tz).date().isoformat() if p and p.completed_at else None,
            votes=p.votes if p else None))
    return Page(items=items, page=shown.page, pages=shown.pages, total=shown.total)
