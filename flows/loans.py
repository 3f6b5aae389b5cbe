"""Tool lending at micro spaces (#16, F-9.3): a resident asks to borrow a tool until a due date, the space's keeper
confirms the hand-over (or declines), and confirms the return.

Concurrency: the tool's `state` is the claim — `request` moves it in → requested in one conditional UPDATE (two
people asking at once: exactly one wins, the other is told it is taken), `hand_over` requested → out, `give_back`
out → in; the loan's own state moves the same way (requested → out → returned, or refused / cancelled), so two
presses of the keeper act once.

Reminders (`due`, run by the scheduler; idempotent, found from the database, so a restart loses none and sends
none twice): the day before the due date (or on it, when the loan began the day before) a friendly reminder; once
overdue, at most one polite reminder a local day, never in the private quiet hours (21:00–08:00), at most
`overdue_reminders` (community setting, default 3) — after that the keeper is told once instead. Every step is a
compare-and-set on the loan, and each message has its dedupe key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from flows import outbox
from flows.actors import Actor
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.micro_posts import in_private_quiet, private_time
from flows.notices import Notice
from flows.numbering import next_number
from flows.spaces import may_manage, tool_at
from storage.db import UnitOfWork
from storage.models import Community, Member, User
from storage.models_spaces import Loan, Space, Tool

#: The loan periods offered (days); the due date is that many local days after today.
PERIODS = (3, 7, 14)
MAX_DAYS = 30
OVERDUE_REMINDERS = 3


@dataclass(frozen=True)
class LoanRequested(Notice, kind="loan_requested"):
    """To the keeper: someone asks to borrow a tool (buttons: hand over / decline)."""

    loan: int
    tool: str
    space: str
    borrower: str
    due_on: str


@dataclass(frozen=True)
class LoanAnswered(Notice, kind="loan_answered"):
    """To the borrower: the keeper handed the tool over (`state` out), declined it (refused) or took it back
    (returned)."""

    loan: int
    tool: str
    space: str
    place: str
    state: str
    due_on: str


@dataclass(frozen=True)
class LoanDueSoon(Notice, kind="loan_due_soon"):
    loan: int
    tool: str
    space: str
    due_on: str


@dataclass(frozen=True)
class LoanOverdue(Notice, kind="loan_overdue"):
    loan: int
    tool: str
    space: str
    due_on: str
    days: int


@dataclass(frozen=True)
class LoanOverdueKeeper(Notice, kind="loan_overdue_keeper"):
    """To the keeper, once the borrower's reminders have stopped."""

    loan: int
    tool: str
    borrower: str
    member_no: int
    due_on: str
    reminders: int


async def get(uow: UnitOfWork, *, actor: Actor, number: int) -> tuple[Loan, Tool, Space]:
    me = actor.registered()
    loan = (await uow.session.exec(select(Loan).where(Loan.community_id == me.community_id,
                                                      Loan.number == number))).first()
    if loan is None:
        raise NotFound("loan", number)
    tool = await uow.session.get(Tool, loan.tool_id)
    space = await uow.session.get(Space, loan.space_id)
    assert tool is not None and space is not None
    return loan, tool, space


async def _cas(uow: UnitOfWork, model: type[Loan] | type[Tool], row_id: int | None, old: str, **values: object) -> bool:
    """One conditional UPDATE: the row moves from `old` only if nobody moved it first."""
    result = await uow.session.execute(
        update(model).where(col(model.id) == row_id, col(model.state) == old).values(**values)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _person(uow: UnitOfWork, member_id: int | None) -> tuple[Member, User] | None:
    if member_id is None:
        return None
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == member_id))).first()
    return (row[0], row[1]) if row is not None else None


def due_date(community: Community, *, now: datetime, days: int) -> date:
    if not 1 <= days <= MAX_DAYS:
        raise Invalid("days", "range", limit=MAX_DAYS)
    return local(now, community.timezone).date() + timedelta(days=days)


async def request(uow: UnitOfWork, *, actor: Actor, tool_number: int, days: int, now: datetime) -> Loan:
    """Ask to borrow a tool for `days`; the keeper is asked to hand it over. AlreadyDone("tool") when it is taken."""
    me = actor.registered()
    community = actor.home()
    tool, space = await tool_at(uow, actor=actor, number=tool_number)
    due_on = due_date(community, now=now, days=days)
    keeper = await _person(uow, space.keeper_member_id)
    if keeper is None:
        raise Invalid("space", "no_keeper")
    mine = (await uow.session.exec(select(Loan.id).where(
        Loan.tool_id == tool.id, Loan.borrower_member_id == me.id, col(Loan.state).in_(("requested", "out"))))).first()
    if mine is not None:
        raise AlreadyDone("loan:mine")  # a second press of one's own request
    if not await _cas(uow, Tool, tool.id, "in", state="requested"):
        raise AlreadyDone("tool")
    number = await next_number(uow, community_id=community.id or 0, number=Loan.number,
                               community_column=Loan.community_id)
    loan = Loan(community_id=community.id or 0, number=number, space_id=space.id or 0, tool_id=tool.id or 0,
                borrower_member_id=me.id or 0, due_on=due_on, requested_at=now)
    uow.session.add(loan)
    await uow.session.flush()
    k_member, k_user = keeper
    row = outbox.notify(uow, tg_chat_id=k_user.tg_id, lang=k_user.language or community.locale, now=now,
                        community_id=community.id, recipient_user_id=k_user.id, dedupe_key=f"loan_req:{loan.id}",
                        notice=LoanRequested(loan=loan.number, tool=tool.name, space=space.name,
                                             borrower=me.display_name, due_on=due_on.isoformat()))
    row.not_before = private_time(community, now)  # not in the night (21:00–08:00)
    return loan


async def _tell_borrower(uow: UnitOfWork, community: Community, loan: Loan, tool: Tool, space: Space,
                         now: datetime) -> None:
    person = await _person(uow, loan.borrower_member_id)
    if person is None:
        return
    _, user = person
    row = outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                        community_id=community.id, recipient_user_id=user.id, dedupe_key=f"loan_{loan.state}:{loan.id}",
                        notice=LoanAnswered(loan=loan.number, tool=tool.name, space=space.name, place=space.place,
                                            state=loan.state, due_on=loan.due_on.isoformat()))
    row.not_before = private_time(community, now)  # not in the night (21:00–08:00)


async def _keeper_step(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime, old: str, new: str,
                       tool_old: str, tool_new: str, **values: object) -> Loan:
    loan, tool, space = await get(uow, actor=actor, number=number)
    if not may_manage(actor, space):
        raise Forbidden("loan:keeper")
    if not await _cas(uow, Loan, loan.id, old, state=new, **values):
        raise AlreadyDone("loan")
    if not await _cas(uow, Tool, tool.id, tool_old, state=tool_new):
        raise AlreadyDone("tool")  # cannot happen while the loan's state moved; rolls the loan back if it does
    await uow.session.refresh(loan)
    await uow.session.refresh(tool)
    await _tell_borrower(uow, actor.home(), loan, tool, space, now)
    return loan


async def hand_over(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Loan:
    """The keeper hands the tool over: the loan is out until its due date."""
    return await _keeper_step(uow, actor=actor, number=number, now=now, old="requested", new="out",
                              tool_old="requested", tool_new="out", handed_at=now)


async def refuse(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Loan:
    return await _keeper_step(uow, actor=actor, number=number, now=now, old="requested", new="refused",
                              tool_old="requested", tool_new="in")


async def give_back(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Loan:
    """The keeper confirms the tool came back."""
    return await _keeper_step(uow, actor=actor, number=number, now=now, old="out", new="returned",
                              tool_old="out", tool_new="in", returned_at=now)


async def cancel(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Loan:
    """The borrower withdraws a request the keeper has not answered yet."""
    loan, tool, _space = await get(uow, actor=actor, number=number)
    if loan.borrower_member_id != actor.registered().id:
        raise Forbidden("loan:borrower")
    if not await _cas(uow, Loan, loan.id, "requested", state="cancelled"):
        raise AlreadyDone("loan")
    await _cas(uow, Tool, tool.id, "requested", state="in")
    await uow.session.refresh(loan)
    return loan


@dataclass(frozen=True)
class LoanLine:
    loan: Loan
    tool: Tool
    space: Space
    borrower: str


async def _lines(uow: UnitOfWork, stmt: object) -> list[LoanLine]:
    rows = (await uow.session.exec(stmt)).all()  # type: ignore[call-overload]
    return [LoanLine(loan, tool, space, name) for loan, tool, space, name in rows]


def _joined() -> object:
    return (select(Loan, Tool, Space, Member.display_name).join(Tool, col(Tool.id) == col(Loan.tool_id))
            .join(Space, col(Space.id) == col(Loan.space_id)).join(Member, col(Member.id) == col(Loan.borrower_member_id)))


async def mine(uow: UnitOfWork, *, actor: Actor) -> list[LoanLine]:
    """The actor's loans still open (requested or out)."""
    me = actor.registered()
    return await _lines(uow, _joined().where(  # type: ignore[attr-defined]
        Loan.borrower_member_id == me.id, col(Loan.state).in_(("requested", "out"))).order_by(col(Loan.number)))


async def of_space(uow: UnitOfWork, *, actor: Actor, space: Space) -> list[LoanLine]:
    """A space's open loans (its keeper, admins and grid workers)."""
    if not may_manage(actor, space):
        raise Forbidden("space:manage")
    return await _lines(uow, _joined().where(  # type: ignore[attr-defined]
        Loan.space_id == space.id, col(Loan.state).in_(("requested", "out"))).order_by(col(Loan.number)))


# ---------------------------------------------------------------- the scheduler


@dataclass(frozen=True)
class Due:
    due_soon: int = 0
    overdue: int = 0
    keepers: int = 0


def overdue_limit(community: Community) -> int:
    raw = (community.settings or {}).get("overdue_reminders", OVERDUE_REMINDERS)
    return raw if isinstance(raw, int) and 0 <= raw <= 10 else OVERDUE_REMINDERS


async def due(uow: UnitOfWork, *, now: datetime) -> Due:
    """The loans' reminders that fell due (see the module's docstring); each once, whatever runs twice."""
    rows = (await uow.session.exec(
        select(Loan, Tool, Space, Community, Member, User)
        .join(Tool, col(Tool.id) == col(Loan.tool_id)).join(Space, col(Space.id) == col(Loan.space_id))
        .join(Community, col(Community.id) == col(Loan.community_id))
        .join(Member, col(Member.id) == col(Loan.borrower_member_id)).join(User, col(User.id) == col(Member.user_id))
        .where(Loan.state == "out", col(Loan.due_on) <= now.date() + timedelta(days=2),
               col(Loan.keeper_told_at).is_(None))
        .order_by(col(Loan.id)).limit(500))).all()
    soon = overdue = keepers = 0
    for loan, tool, space, community, member, user in rows:
        if in_private_quiet(community, now):
            continue
        today = local(now, community.timezone).date()
        lang = user.language or community.locale
        send = {"tg_chat_id": user.tg_id, "lang": lang, "now": now, "community_id": community.id,
                "recipient_user_id": user.id}
        if loan.reminded_at is None and loan.due_on - timedelta(days=1) <= today <= loan.due_on:
            result = await uow.session.execute(update(Loan).where(
                col(Loan.id) == loan.id, col(Loan.reminded_at).is_(None), col(Loan.state) == "out")
                .values(reminded_at=now).execution_options(synchronize_session=False))
            if result.rowcount:  # type: ignore[attr-defined]
                outbox.notify(uow, **send, dedupe_key=f"loan_soon:{loan.id}",  # type: ignore[arg-type]
                              notice=LoanDueSoon(loan=loan.number, tool=tool.name, space=space.name,
                                                 due_on=loan.due_on.isoformat()))
                soon += 1
            continue
        if today <= loan.due_on or loan.overdue_last_on == today:
            continue  # not overdue yet, or already reminded today
        sent = loan.overdue_sent
        limit = overdue_limit(community)
        claim = await uow.session.execute(update(Loan).where(
            col(Loan.id) == loan.id, col(Loan.state) == "out", col(Loan.overdue_sent) == sent,
            col(Loan.keeper_told_at).is_(None))
            .values(overdue_last_on=today, **({"overdue_sent": sent + 1} if sent < limit else {"keeper_told_at": now}))
            .execution_options(synchronize_session=False))
        if not claim.rowcount:  # type: ignore[attr-defined]
            continue  # another scheduler did it
        if sent < limit:
            outbox.notify(uow, **send, dedupe_key=f"loan_overdue:{loan.id}:{sent + 1}",  # type: ignore[arg-type]
                          notice=LoanOverdue(loan=loan.number, tool=tool.name, space=space.name,
                                             due_on=loan.due_on.isoformat(), days=(today - loan.due_on).days))
            overdue += 1
            continue
        keeper = await _person(uow, space.keeper_member_id)
        if keeper is not None:
            _, k_user = keeper
            outbox.notify(uow, tg_chat_id=k_user.tg_id, lang=k_user.language or community.locale, now=now,
                          community_id=community.id, recipient_user_id=k_user.id,
                          dedupe_key=f"loan_keeper:{loan.id}",
                          notice=LoanOverdueKeeper(loan=loan.number, tool=tool.name, borrower=member.display_name,
                                                   member_no=member.id or 0, due_on=loan.due_on.isoformat(),
                                                   reminders=sent))
            keepers += 1
    await uow.session.flush()
    return Due(due_soon=soon, overdue=overdue, keepers=keepers)
